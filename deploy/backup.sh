#!/usr/bin/env bash
# Back up the assistant's PostgreSQL database into one file (pg_dump's custom format).
#   BPBOT_DATABASE_URL=postgresql://bpbot:...@127.0.0.1:5432/bpbot deploy/backup.sh [DIR]
# DIR (default $BPBOT_BACKUP_DIR, else ./backups) receives bpbot-YYYYMMDD-HHMMSS.dump;
# backups older than $BPBOT_BACKUP_KEEP_DAYS days (default 14) are deleted there, so the
# retention period of personal data holds for backups too. Prints the file's path.
# Restore with deploy/restore.sh. Needs pg_dump of the server's major version or newer.
set -euo pipefail

# shellcheck source=pg_url.sh
. "$(dirname "$0")/pg_url.sh"
pg_connection "A SQLite file is backed up by copying it while the server is stopped."
dir="${1:-${BPBOT_BACKUP_DIR:-backups}}"
keep="${BPBOT_BACKUP_KEEP_DAYS:-14}"
mkdir -p "$dir"
umask 077  # the dump holds personal data
target="$dir/bpbot-$(date -u +%Y%m%d-%H%M%S).dump"
# Written beside the target and renamed: a half-written file never looks like a backup.
pg_dump --format=custom --no-owner --no-privileges --file="$target.partial" "$url"
mv "$target.partial" "$target"
find "$dir" -maxdepth 1 -name 'bpbot-*.dump' -mtime "+$keep" -print -delete >&2
echo "$target"
