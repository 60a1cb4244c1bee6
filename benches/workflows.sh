#!/usr/bin/env bash
# Workflow throughput: starts a fresh `formlead serve` (release build,
# sandbox adapters, in-process workers) per run, accepts a burst of COUNT
# leads, and waits until every workflow has completed. Prints per run:
# workflows/s over the drain (burst start → last completed), p50/p99
# accept → draft (from the database: the draft's creation minus the
# submission's receipt), and the CPU time per workflow (its accept
# included) of the server, and of the whole machine (with the database
# server and the load generator). Ends with the median, min and max workflows/s.
#
#   cargo build --release -p formlead-server
#   benches/workflows.sh                           # SQLite, 3 runs, 20,000 leads
#   RUNS=5 COUNT=30000 benches/workflows.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benches/workflows.sh
#       (each run gets a database of its own on that server, dropped after)
#   BIN=/path/to/other/formlead benches/workflows.sh   # another build
set -euo pipefail

BIN=${BIN:-$(dirname "$0")/../target/release/formlead}
RUNS=${RUNS:-3}
COUNT=${COUNT:-20000}
PORT=${PORT:-18092}
PG=${DATABASE_URL:-}
TICKS=$(getconf CLK_TCK)
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --release -p formlead-server" >&2; exit 1; }

now_ms() { date +%s%3N; }
completed() {
    curl -sf "http://127.0.0.1:$PORT/metrics" |
        awk '/^formlead_workflows\{status="completed"\}/ {print $2}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy time of the whole machine (server, database, load generator).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

rates=()
for run in $(seq "$RUNS"); do
    dir=$(mktemp -d)
    if [ -n "$PG" ]; then
        db="formlead_bench_$(date +%s)_$run"
        psql -q "$PG" -c "CREATE DATABASE $db" >/dev/null
        url="${PG%/*}/$db"
        query() { psql -qAt "$url" -c "$1"; }
        latencies="SELECT (EXTRACT(EPOCH FROM d.created_at - s.received_at) * 1000)::bigint
            FROM draft_emails d JOIN workflows w ON w.id = d.workflow_id
            JOIN form_submissions s ON s.id = w.submission_id ORDER BY 1"
    else
        url="sqlite://$dir/formlead.db"
        query() { sqlite3 "$dir/formlead.db" "$1"; }
        latencies="SELECT d.created_at - s.received_at
            FROM draft_emails d JOIN workflows w ON w.id = d.workflow_id
            JOIN form_submissions s ON s.id = w.submission_id ORDER BY 1"
    fi
    sync
    FORMLEAD_LOG=warn FORMLEAD_BIND=127.0.0.1:$PORT DATABASE_URL=$url \
        "$BIN" serve >"$dir/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
        sleep 0.1
    done
    cpu0=$(cpu_ticks "$server")
    busy0=$(busy_ticks)
    start=$(now_ms)
    "$BIN" simulate --url "http://127.0.0.1:$PORT" --count "$COUNT" --concurrency 64 >/dev/null 2>&1
    while [ "$(completed)" -lt "$COUNT" ]; do sleep 0.2; done
    end=$(now_ms)
    cpu1=$(cpu_ticks "$server")
    busy1=$(busy_ticks)
    kill "$server"
    wait "$server" 2>/dev/null || true
    rate=$(awk -v n="$COUNT" -v ms=$((end - start)) 'BEGIN {printf "%.0f", n * 1000 / ms}')
    cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICKS" -v n="$COUNT" 'BEGIN {printf "%.0f", t * 1e6 / hz / n}')
    busy=$(awk -v t=$((busy1 - busy0)) -v hz="$TICKS" -v n="$COUNT" 'BEGIN {printf "%.0f", t * 1e6 / hz / n}')
    pct=$(query "$latencies" | awk '{v[NR] = $1} END {
        p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
        printf "p50 %d ms, p99 %d ms", p50, p99 }')
    echo "run $run: $COUNT workflows in $((end - start)) ms: $rate workflows/s, accept → draft $pct, server CPU $cpu µs/workflow, machine $busy µs/workflow"
    rates+=("$rate")
    if [ -n "$PG" ]; then psql -q "$PG" -c "DROP DATABASE $db" >/dev/null; fi
    rm -rf "$dir"
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{v[NR] = $1} END {
    printf "workflows/s: median %d, min %d, max %d over %d runs\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
