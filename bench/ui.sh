#!/usr/bin/env bash
# Control UI side by side (issue 11): the real OpenClaw gateway serving its own Control UI,
# clawgate serving the real UI (gateway.controlUi.root) and clawgate serving its own
# embedded UI, in headless Chromium: UI size (bytes on the wire, uncompressed, requests),
# first contentful paint, navigation start to hello-ok, to an interactive chat composer, and
# the gateway's RSS. The work is bench/ui.mjs (run with the reference peer's node, which
# has playwright-core); this checks what it needs and runs it. Writes the "Side by side"
# section of bench/results/ui.md (OUT), keeping the rest of the file. About 5 minutes.
# Knobs: BENCH_UI_RUNS (5), BENCH_UI_WARMUP (1), BENCH_UI_QUIET_MS (1000),
# BENCH_UI_COMPOSER_WAIT_MS (30000), BENCH_UI_TIMEOUT_MS (60000), SKIP_OPENCLAW=1, BUILD
# (build), CLAWGATE_PEER_DIR (~/.cache/clawgate-peer), CHROMIUM (/usr/bin/chromium), OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
NODE=$NODE_BIN/node
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

[ -x "$BUILD/clawgate" ] || { echo "missing $BUILD/clawgate: run 'make' first" >&2; exit 1; }
[ -x "$NODE" ] || { echo "missing $NODE: install the reference peer (scripts/peer.sh)" >&2; exit 1; }
[ -d "$PEER/node_modules/playwright-core" ] || {
  echo "missing playwright-core in $PEER: (cd $PEER && PATH=$NODE_BIN:\$PATH npm install --no-audit --no-fund playwright-core)" >&2
  exit 1
}
[ -x "$CHROMIUM" ] || { echo "missing $CHROMIUM: apt-get install -y chromium" >&2; exit 1; }

# The command as the report shows it (bench/ui.mjs adds the run counts).
BENCH_UI_COMMAND="make && bench/ui.sh"
[ "${SKIP_OPENCLAW:-0}" = 0 ] || BENCH_UI_COMMAND="make && SKIP_OPENCLAW=$SKIP_OPENCLAW bench/ui.sh"
export BENCH_UI_COMMAND
export CLAWGATE_BIN="$BUILD/clawgate" CLAWGATE_PEER_DIR="$PEER" CHROMIUM
exec "$NODE" "$ROOT/bench/ui.mjs"
