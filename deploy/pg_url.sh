# Sourced by backup.sh and restore.sh: reads BPBOT_DATABASE_URL into $url (without the
# password) and exports the password as PGPASSWORD, which libpq reads: the password never
# shows in the process list, where any local user could read a command line.
pg_connection() {
  local given="${BPBOT_DATABASE_URL:-}"
  case "$given" in
    postgresql://*|postgres://*) ;;
    postgresql+psycopg://*) given="postgresql://${given#postgresql+psycopg://}" ;;
    *) echo "Error: BPBOT_DATABASE_URL must name the PostgreSQL database (postgresql://...);" \
            "found '${given:-nothing}'. $1" >&2
       exit 2 ;;
  esac
  local parts
  parts=$(BPBOT_PG_URL="$given" python3 -c '
import os, urllib.parse as u
p = u.urlsplit(os.environ["BPBOT_PG_URL"])
host = p.hostname or ""
netloc = (u.quote(u.unquote(p.username), safe="") + "@" if p.username else "")
netloc += ("[" + host + "]" if ":" in host else host) + (":" + str(p.port) if p.port else "")
print(u.urlunsplit((p.scheme, netloc, p.path, p.query, "")))
print(u.unquote(p.password or ""))')
  url="${parts%%$'\n'*}"
  if [ "$parts" != "$url" ]; then
    PGPASSWORD="${parts#*$'\n'}"
    [ -n "$PGPASSWORD" ] && export PGPASSWORD
  fi
}
