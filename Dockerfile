# One image for every polydesk process (ingest, strategy, risk, executor, paper exchange, the CLI).
# Builds on the official python image and on the Debian stand-in `make test-compose` imports when no
# registry is reachable (Debian's python3 + python3-venv): polydesk lives in its own virtualenv, so it needs
# only a `python3` with `venv`, whichever image provides it. Every dependency ships a manylinux wheel for
# 3.11, so no compiler is installed.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/polydesk PATH=/opt/polydesk/bin:$PATH
RUN python3 -m venv /opt/polydesk && useradd --create-home --uid 10001 polydesk
WORKDIR /app
# The dependencies first, from pyproject.toml alone: a change in the code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --only-binary :all: -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY README.md ./
COPY polydesk ./polydesk
COPY shared ./shared
COPY services ./services
COPY paperexchange ./paperexchange
COPY bench ./bench
RUN pip install --no-deps . && mkdir -p /data/state /data/logs /data/redis-acl \
    && chown -R polydesk /data && chmod 700 /data/state /data/redis-acl
USER polydesk
ENV POLYDESK_STATE_DIR=/data/state POLYDESK_LOG_DIR=/data/logs
ENTRYPOINT ["polydesk"]
