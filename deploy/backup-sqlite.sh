#!/usr/bin/env bash
# Daily off-host backup of polydesk's SQLite state (risk: PnL, inventory, kill switch; executor: orders).
# Uses SQLite's online backup (consistent while the services run, WAL included), then copies off-host.
# Usage: backup-sqlite.sh STATE_DIR DEST   (DEST: an rsync/scp target such as backup@host:/srv/polydesk/)
set -euo pipefail
state_dir=${1:?state dir}; dest=${2:?destination}
stamp=$(date -u +%Y-%m-%d)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for db in "$state_dir"/*.db "$state_dir"/*.sqlite; do
  [ -e "$db" ] || continue
  python3 - "$db" "$work/$(basename "$db").$stamp" <<'PY'
import sqlite3, sys
src, out = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with out:
    src.backup(out)
PY
  gzip "$work/$(basename "$db").$stamp"
done
rsync -a "$work"/ "$dest"
