#!/usr/bin/env bash
# The long robustness run: webhook parsing, signature verification and MIME
# building under arbitrary input, MINUTES per property (default 11, so 33
# minutes in all), release build. Prints the cases run per property; any
# panic or broken invariant fails with the minimal input.
#
#   benches/robustness.sh [MINUTES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-11}"
export FORMLEAD_ROBUSTNESS_SECS=$((MINUTES * 60))
export FORMLEAD_ROBUSTNESS_SEED="${2:-$(date +%s)}"
echo "robustness: ${MINUTES} min per property, seed ${FORMLEAD_ROBUSTNESS_SEED}"
cargo test --release -p formlead-adapters --features google --test robustness \
    -- --ignored --nocapture long_run 2>&1 | grep -E "cases|panicked|failing|test result|error"
