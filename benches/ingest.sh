#!/usr/bin/env bash
# Webhook ingest: starts a fresh `formlead serve` (release build, embedded
# default: a new SQLite file, in-process workers, sandbox adapters) for each
# run, drives it with `formlead simulate` (signed v3 requests) and prints
# accepted/s, client-side p50/p99 to the 202, and the server's CPU time per
# lead. Ends with the median, min and max over the runs.
#
#   cargo build --release -p formlead-server
#   benches/ingest.sh                 # 5 runs, 10,000 leads, 64 connections
#   RATE=1000 benches/ingest.sh       # paced at 1,000 req/s (p99 target)
#   RUNS=7 COUNT=20000 benches/ingest.sh
#   DATABASE_URL=postgres://... benches/ingest.sh   # PostgreSQL instead
#
# The load generator runs on the same machine and shares its cores. Each
# run starts with `sync`: every 202 waits for an fsync of the WAL, and dirty
# pages another process left behind (a release build writes hundreds of MB)
# would otherwise be written back during the run and queue ahead of those
# fsyncs. "steal" is the share of the cores' time the hypervisor gave to
# other guests during the run.
set -euo pipefail

BIN=${BIN:-$(dirname "$0")/../target/release/formlead}
CLIENT=${CLIENT:-$BIN}   # the binary whose `simulate` drives the load
RUNS=${RUNS:-5}
COUNT=${COUNT:-10000}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18090}
TICKS=$(getconf CLK_TCK)
DB=${DATABASE_URL:-}

[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --release -p formlead-server" >&2; exit 1; }

# Ticks of all cores: busy+idle, and stolen (fields of /proc/stat's "cpu" line).
cpu_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat; }

rates=()
for run in $(seq "$RUNS"); do
    dir=$(mktemp -d)
    export FORMLEAD_LOG=warn FORMLEAD_BIND=127.0.0.1:$PORT
    export DATABASE_URL=${DB:-sqlite://$dir/formlead.db}
    sync
    "$BIN" serve >"$dir/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
        sleep 0.1
    done
    cpu0=$(awk '{print $14 + $15}' "/proc/$server/stat")
    read -r all0 steal0 < <(cpu_ticks)
    out=$("$CLIENT" simulate --url "http://127.0.0.1:$PORT" --count "$COUNT" \
        --concurrency "$CONCURRENCY" ${RATE:+--rate "$RATE"} 2>&1) || {
        echo "$out" >&2
        kill "$server"
        exit 1
    }
    cpu1=$(awk '{print $14 + $15}' "/proc/$server/stat")
    read -r all1 steal1 < <(cpu_ticks)
    kill "$server"
    wait "$server" 2>/dev/null || true
    rm -rf "$dir"
    rate=$(echo "$out" | grep -oP '\(\K[0-9]+(?= accepted/s)')
    latency=$(echo "$out" | grep -oP 'latency:\s+\K.*')
    cpu_us=$(( (cpu1 - cpu0) * 1000000 / TICKS / COUNT ))
    steal=$(( (steal1 - steal0) * 100 / (all1 - all0 > 0 ? all1 - all0 : 1) ))
    echo "run $run: $rate accepted/s, $latency, server CPU ${cpu_us} µs/lead, steal ${steal} %"
    rates+=("$rate")
done
printf '%s\n' "${rates[@]}" | sort -n |
    awk '{a[NR] = $1} END {print "accepted/s: median " a[int((NR + 1) / 2)] ", min " a[1] ", max " a[NR] " over " NR " runs"}'
