# One image for every polydesk process (ingest, strategy, risk, executor, paper exchange).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 polydesk
WORKDIR /app
COPY pyproject.toml README.md ./
COPY polydesk ./polydesk
COPY shared ./shared
COPY services ./services
COPY paperexchange ./paperexchange
COPY bench ./bench
RUN pip install . && mkdir -p /data/state /data/logs && chown -R polydesk /data
USER polydesk
ENV POLYDESK_STATE_DIR=/data/state POLYDESK_LOG_DIR=/data/logs
ENTRYPOINT ["polydesk"]
