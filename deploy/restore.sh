#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into a PostgreSQL database.
#   BPBOT_DATABASE_URL=postgresql://... deploy/restore.sh FILE [--replace]
# The database must exist and be empty; --replace drops the objects it holds first (the
# app processes must be stopped). Afterwards `bpbot db status` tells whether the restored
# schema needs `bpbot db upgrade` (a backup from an older release).
set -euo pipefail

file="${1:-}"
if [ -z "$file" ] || [ ! -f "$file" ]; then
  echo "Error: expected the backup file as the first argument (bpbot-....dump);" \
       "found '${file:-nothing}'." >&2
  exit 2
fi
# shellcheck source=pg_url.sh
. "$(dirname "$0")/pg_url.sh"
pg_connection "It names the database to restore into."
options=(--no-owner --no-privileges --exit-on-error --single-transaction)
if [ "${2:-}" = "--replace" ]; then
  options+=(--clean --if-exists)
else
  tables=$(psql "$url" -XAtc "SELECT count(*) FROM information_schema.tables
                               WHERE table_schema = 'public'")
  if [ "$tables" != "0" ]; then
    echo "Error: the database already holds $tables tables. Restore into an empty" \
         "database, or add --replace (with the app processes stopped) to drop them first." >&2
    exit 2
  fi
fi
pg_restore "${options[@]}" --dbname="$url" "$file"
echo "Restored $file."
