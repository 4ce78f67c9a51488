#!/bin/sh
# Creates the secret files docker-compose.yml mounts, each only where it is needed, and keeps every one
# that already exists (a rerun changes no password):
#   redis_password            Redis's admin (the default user): redis-acl and Redis's healthcheck only
#   redis-users/<user>        one password per Redis ACL user (shared/acl.py): ingest strategy risk executor notifier cli
#   grafana_admin_password    Grafana's admin
#   api_token                 the control API's bearer token (Authorization: Bearer <token>)
#   private_key               with --paper only: a fresh signing key for the paper exchange (never live money;
#                             live, put your own key there yourself)
# Usage: deploy/make-secrets.sh [--paper] [DIR]   (DIR: SECRETS_DIR, default deploy/secrets next to this script)
# The folder is 0700, which keeps the files from other users of the host; the files are 0444 (Docker's own
# default for secrets) because the containers read them as their own users (polydesk 10001, grafana 472).
set -eu

paper=false
if [ "${1:-}" = "--paper" ]; then paper=true; shift; fi
dir=${1:-$(dirname "$0")/secrets}

umask 077
mkdir -p "$dir/redis-users"
chmod 700 "$dir" "$dir/redis-users"

random_hex() {  # $1 bytes of the kernel's randomness as hex
    head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

make_secret() {  # $1 file, $2 bytes
    if [ -s "$1" ]; then
        echo "kept     $1"
    else
        random_hex "$2" > "$1"
        echo "created  $1"
    fi
    chmod 444 "$1"
}

make_secret "$dir/redis_password" 24
for user in ingest strategy risk executor notifier cli; do
    make_secret "$dir/redis-users/$user" 24
done
make_secret "$dir/grafana_admin_password" 18
make_secret "$dir/api_token" 32
if $paper; then
    make_secret "$dir/private_key" 32
elif [ ! -e "$dir/private_key" ]; then
    echo "missing  $dir/private_key: put the signing key there (one line, hex), or rerun with --paper" >&2
fi
