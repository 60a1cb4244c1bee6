#!/usr/bin/env bash
# Workflow throughput and memory over a long run: starts `formlead serve`
# (release build, embedded default: a new SQLite file, in-process workers,
# sandbox adapters), accepts COUNT leads in one burst, then prints every 10 s
# how many workflows completed and the server's RSS, until all are done.
# ROUNDS repeats the burst on the same server (memory must level off).
#
#   cargo build --release -p formlead-server
#   benches/drain.sh                    # 30,000 leads, one round
#   COUNT=30000 ROUNDS=3 benches/drain.sh
#   DATABASE_URL=postgres://... benches/drain.sh   # PostgreSQL instead
set -euo pipefail

BIN=${BIN:-$(dirname "$0")/../target/release/formlead}
COUNT=${COUNT:-30000}
ROUNDS=${ROUNDS:-1}
PORT=${PORT:-18091}
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --release -p formlead-server" >&2; exit 1; }

dir=$(mktemp -d)
export FORMLEAD_LOG=warn FORMLEAD_BIND=127.0.0.1:$PORT
export DATABASE_URL=${DATABASE_URL:-sqlite://$dir/formlead.db}
"$BIN" serve >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.1
done

rss() { awk '/^VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$server/status"; }
completed() {
    curl -sf "http://127.0.0.1:$PORT/metrics" |
        awk '/^formlead_workflows\{status="completed"\}/ {print $2}'
}

echo "idle: RSS $(rss)"
for round in $(seq "$ROUNDS"); do
    "$BIN" simulate --url "http://127.0.0.1:$PORT" --count "$COUNT" --concurrency 64 2>&1 |
        grep -E 'elapsed' | sed "s/^/round $round: burst /"
    target=$((round * COUNT))
    start=$(date +%s)
    prev=$(completed)
    while :; do
        sleep 10
        n=$(completed)
        echo "  +$(($(date +%s) - start)) s: $n completed (+$((n - prev))), RSS $(rss)"
        prev=$n
        [ "$n" -ge "$target" ] && break
    done
    echo "round $round: all $target completed in $(($(date +%s) - start)) s, RSS $(rss)"
done
