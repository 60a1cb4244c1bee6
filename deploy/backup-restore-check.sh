#!/usr/bin/env bash
# Backs up and restores formlead databases exactly as docs/operations.md
# says, and checks that nothing is lost: SQLite (an online `.backup` while
# the server takes leads) and, when PG_URL names a server, PostgreSQL
# (`pg_dump -Fc` / `pg_restore`). The restored copy must open and migrate.
#
#   BIN=target/debug/formlead deploy/backup-restore-check.sh
#   PG_URL=postgres://postgres@127.0.0.1:5432/postgres BIN=… deploy/backup-restore-check.sh
set -euo pipefail

BIN=${BIN:-$(dirname "$0")/../target/debug/formlead}
PG=${PG_URL:-}
[ -x "$BIN" ] || { echo "no formlead binary at $BIN" >&2; exit 1; }
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))

# Serves $1 (a DATABASE_URL), takes 30 leads, and leaves the server running.
serve_with_leads() {
    FORMLEAD_LOG=warn FORMLEAD_BIND=127.0.0.1:$port DATABASE_URL=$1 "$BIN" serve >"$work/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    "$BIN" simulate --count 30 --url "http://127.0.0.1:$port" >/dev/null
}

stop_server() {
    kill "$server"
    wait "$server" || true
    server=
}

echo "== SQLite: online backup while serving"
serve_with_leads "sqlite://$work/formlead.db"
sqlite3 "$work/formlead.db" ".backup '$work/backup.db'"
stop_server
count() { sqlite3 "$1" "SELECT COUNT(*) FROM form_submissions"; }
[ "$(count "$work/backup.db")" = 30 ] || { echo "backup holds $(count "$work/backup.db") of 30 submissions" >&2; exit 1; }
sqlite3 "$work/backup.db" "PRAGMA integrity_check" | grep -qx ok
# Restore: the copy takes the original's place and opens (migrations current).
install -m 0600 "$work/backup.db" "$work/restored.db"
FORMLEAD_LOG=warn DATABASE_URL="sqlite://$work/restored.db" "$BIN" migrate >/dev/null
[ "$(count "$work/restored.db")" = 30 ]
echo "sqlite: 30 of 30 submissions restored"

if [ -n "$PG" ]; then
    echo "== PostgreSQL: pg_dump -Fc / pg_restore"
    db="formlead_backup_check_$$"
    psql -q "$PG" -c "CREATE DATABASE $db" >/dev/null
    psql -q "$PG" -c "CREATE DATABASE ${db}_restored" >/dev/null
    url="${PG%/*}/$db"
    restored="${PG%/*}/${db}_restored"
    trap 'cleanup; psql -q "$PG" -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null 2>&1' EXIT
    serve_with_leads "$url"
    pg_dump -Fc -f "$work/formlead.dump" "$url"
    stop_server
    pg_restore --no-owner -d "$restored" "$work/formlead.dump"
    FORMLEAD_LOG=warn DATABASE_URL="$restored" "$BIN" migrate >/dev/null
    n=$(psql -qAt "$restored" -c "SELECT COUNT(*) FROM form_submissions")
    [ "$n" = 30 ] || { echo "restored $n of 30 submissions" >&2; exit 1; }
    echo "postgres: 30 of 30 submissions restored"
fi
