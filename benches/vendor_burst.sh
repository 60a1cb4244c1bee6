#!/usr/bin/env bash
# A burst of leads against a fake of HubSpot and Google that enforces their
# real limits (HubSpot 100 calls per 10 s, Gmail 250 quota units per second,
# 429 with Retry-After past them) and adds 100 ms to every call
# (benches/vendor_fake.py). Reports the leads drafted per second, the time
# to the last draft, the 429s received, the vendor calls per lead, and one
# lead's submit-to-draft time on the quiet system afterwards.
#
#   benches/vendor_burst.sh [sqlite|postgres] [PROCESSES] [LEADS] [WORKERS]
#
# postgres needs FORMLEAD_BENCH_POSTGRES_URL (an admin URL; a fresh database
# is created per run). PROCESSES=2 runs `serve` plus one `worker`. BIN=path
# runs another build (e.g. an older one, for a before/after pair).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
PROCESSES="${2:-1}"
LEADS="${3:-1000}"
WORKERS="${4:-auto}"
TARGET="${CARGO_TARGET_DIR:-target}"
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p formlead-server >/dev/null 2>&1
  BIN="$TARGET/release/formlead"
fi
WORK=$(mktemp -d /tmp/formlead-burst.XXXXXX)
FAKE_PORT=$((20000 + RANDOM % 20000))
PORT=$((FAKE_PORT + 1))
FAKE="http://127.0.0.1:$FAKE_PORT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

python3 benches/vendor_fake.py --port "$FAKE_PORT" >"$WORK/fake.log" 2>&1 &
pids+=($!)

case "$BACKEND" in
  sqlite) DB="sqlite://$WORK/formlead.db" ;;
  postgres)
    ADMIN="${FORMLEAD_BENCH_POSTGRES_URL:?set FORMLEAD_BENCH_POSTGRES_URL}"
    NAME="formlead_burst_$(date +%s)_$$"
    psql "$ADMIN" -qc "CREATE DATABASE $NAME" >/dev/null
    DB="${ADMIN%/*}/$NAME" ;;
  *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
esac

export DATABASE_URL="$DB" FORMLEAD_BIND="127.0.0.1:$PORT" FORMLEAD_WORKERS="$WORKERS"
export HUBSPOT_WEBHOOK_SECRET="bench-webhook-secret-0123456789"
export HUBSPOT_ACCESS_TOKEN="pat-na1-bench" HUBSPOT_API_BASE="$FAKE"
export GOOGLE_CLIENT_ID="bench.apps.googleusercontent.com" GOOGLE_CLIENT_SECRET="bench" GOOGLE_REFRESH_TOKEN="bench"
export GOOGLE_TOKEN_URL="$FAKE/token" GMAIL_API_BASE="$FAKE" GOOGLE_CALENDAR_API_BASE="$FAKE/calendar/v3"
export SENDER_EMAIL="sam@northwind.example" FORMLEAD_LOG="warn"

"$BIN" serve >"$WORK/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$PROCESSES" = 2 ]; then
  "$BIN" worker >"$WORK/worker.log" 2>&1 &
  pids+=($!)
  sleep 1
fi

completed() {
  curl -fs "http://127.0.0.1:$PORT/api/dashboard/workflows?status=completed&limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

START=$(date +%s.%N)
"$BIN" simulate --count "$LEADS" --concurrency 32 --url "http://127.0.0.1:$PORT" >"$WORK/simulate.log" 2>&1
ACCEPTED=$(date +%s.%N)
FIRST=""
while :; do
  n=$(completed)
  now=$(date +%s.%N)
  [ -z "$FIRST" ] && [ "$n" -gt 0 ] && FIRST=$now
  [ "$n" -ge "$LEADS" ] && break
  if python3 -c "import sys; sys.exit(0 if $now - $START > 900 else 1)"; then
    echo "timed out with $n of $LEADS drafted" >&2; break
  fi
  sleep 0.25
done
END=$(date +%s.%N)
STATS=$(curl -fs "$FAKE/stats")

# One lead on the quiet system: submit to draft, from the workflow's record.
sleep 12
"$BIN" simulate --count 1 --url "http://127.0.0.1:$PORT" >/dev/null 2>&1
sleep 3
QUIET=$(curl -fs "http://127.0.0.1:$PORT/api/dashboard/workflows?limit=1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["workflows"][0]["id"])')
QUIET_MS=$(curl -fs "http://127.0.0.1:$PORT/api/dashboard/workflows/$QUIET" | python3 -c '
import json, sys
from datetime import datetime
d = json.load(sys.stdin)
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print(round((t(d["drafts"][0]["created_at"]) - t(d["submission"]["received_at"])).total_seconds() * 1000))')

python3 - "$BACKEND" "$PROCESSES" "$WORKERS" "$LEADS" "$START" "$ACCEPTED" "$FIRST" "$END" "$QUIET_MS" "$STATS" <<'PY'
import json, sys
backend, procs, workers, leads, start, accepted, first, end, quiet, stats = sys.argv[1:]
leads = int(leads); start, accepted, first, end = map(float, (start, accepted, first or end, end))
stats = json.loads(stats)
total = end - start
print(f"{backend}, {procs} process(es), {workers} workers, {leads} leads")
print(f"  accepted in {accepted - start:.1f} s; first draft after {first - start:.1f} s")
print(f"  last draft after {total:.1f} s: {leads / total:.1f} leads/s over the burst")
for vendor in ("hubspot", "gmail", "google_calendar", "google_oauth"):
    s = stats.get(vendor)
    if not s:
        continue
    ops = ", ".join(f"{k} {v}" for k, v in sorted(s["operations"].items()))
    print(f"  {vendor}: {s['calls']} calls ({s['calls'] / leads:.2f}/lead, {s['units']} units), "
          f"429s {s['rate_limited']}; {ops}")
print(f"  one lead on the quiet system: submit to draft {quiet} ms")
PY
