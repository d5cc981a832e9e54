#!/usr/bin/env bash
# Loop-blocking scenario: does one client's heavy request stall everyone else?
#
# For each gateway: `health` latency (p50/p99/max, req/s) on $BENCH_CONNECTIONS (32)
# connections x 1 in flight, measured five times: alone; while another client loops
# `logs.tail {maxBytes: 1000000}` (1 connection x 1 in flight, on a log prefilled past
# 1 MB so every tail reads the full 1 MB); the same with `limit: 5000`, the most lines a
# tail returns; while another client loops `config.patch` (a merge patch that sets
# messages.groupChat.historyLimit to a new number each time, with the baseHash of the
# previous answer); and with the first tail loop and the patch loop at once. Each load
# is its own cg-loadgen process, so parsing 1 MB answers never delays the health client.
#
# Gateways, one running at a time: clawgate ($CG, default $BUILD/clawgate) and, when
# $CG_BASELINE is set, a second clawgate binary (say, a build of main, for a
# before/after), each started afresh for every row and the two taking turns row by row,
# so load from elsewhere on the machine drifts into both alike; then the real OpenClaw
# gateway when the reference peer is installed, started once (it takes ~10 s; it keeps
# its log where logging.file says, here in the throw-away HOME).
# Prints a markdown table and writes it, with the raw loadgen output, to $OUT
# (bench/results/loop-blocking.md). Knobs: BUILD, CG, CG_BASELINE, BENCH_SECONDS (10),
# BENCH_WARMUP (1), BENCH_CONNECTIONS (32), LOG_FILL_BYTES (1500000), OUT,
# CLAWGATE_PEER_DIR (~/.cache/clawgate-peer), SKIP_OPENCLAW (unset).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
CG=${CG:-$BUILD/clawgate}
CG_BASELINE=${CG_BASELINE:-}
CONNS=${BENCH_CONNECTIONS:-32}
LOG_FILL=${LOG_FILL_BYTES:-1500000}
OUT=${OUT:-$ROOT/bench/results/loop-blocking.md}
TAIL_PARAMS='{"maxBytes":1000000}'
TAIL_5000_PARAMS='{"maxBytes":1000000,"limit":5000}'
PATCH_PARAMS='{"raw":"{\"messages\":{\"groupChat\":{\"historyLimit\":{{n}}}}}"}'

for f in "$CG" "$LG" ${CG_BASELINE:+"$CG_BASELINE"}; do
  [ -x "$f" ] || { echo "missing $f: run 'make' first" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/clawgate-loop-bench.XXXXXX)
SERVER_PID=""
LOADERS=()
cleanup() {
  for p in "${LOADERS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$SERVER_PID" ]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# fill_log <file> <bytes>: JSON lines (~150 bytes each) until the file passes <bytes>.
fill_log() {
  mkdir -p "$(dirname "$1")"
  awk -v bytes="$2" -v t="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" 'BEGIN {
    for (i = 0; size < bytes; i++) {
      line = sprintf("{\"time\":\"%s\",\"level\":\"info\",\"subsystem\":\"bench\",\"message\":\"filler line %d, so that logs.tail has a full megabyte to read\"}", t, i)
      print line
      size += length(line) + 1
    }
  }' >>"$1"
}

declare -A R # results: R[<who>.<row>.<metric>]
ROWS="alone tail tail5000 patch both"

# background <who> <row> <name> <url> <loadgen args...>: a loop that runs until killed.
background() {
  local who=$1 row=$2 name=$3 url=$4
  shift 4
  "$LG" --url "$url" --token "$TOKEN" --connections 1 --inflight 1 \
    --duration 100000 --warmup 0 "$@" \
    >"$TMP/$who.$row.$name" 2>>"$TMP/loadgen.err" &
  LOADERS+=($!)
}

# row <who> <url> <row>: health on $CONNS connections with the row's loops beside it.
row() {
  local who=$1 url=$2 row=$3 line p k v
  LOADERS=()
  case $row in
    tail | both) background "$who" "$row" tail "$url" --method logs.tail --params "$TAIL_PARAMS" ;;
    tail5000) background "$who" "$row" tail "$url" --method logs.tail --params "$TAIL_5000_PARAMS" ;;
  esac
  case $row in patch | both)
    background "$who" "$row" patch "$url" --method config.patch --params "$PATCH_PARAMS" --base-hash auto ;;
  esac
  [ ${#LOADERS[@]} -gt 0 ] && sleep 1 # the loops are going before health is measured
  echo "  $who, health $CONNS x 1 ($row)" >&2
  line=$("$LG" --url "$url" --token "$TOKEN" --method health --connections "$CONNS" \
    --inflight 1 --duration "$SECONDS_PER_RUN" --warmup "$WARMUP" 2>>"$TMP/loadgen.err" || true)
  for p in "${LOADERS[@]}"; do
    kill -INT "$p" 2>/dev/null || true # cg-loadgen prints its report on SIGINT
    wait "$p" 2>/dev/null || true
  done
  LOADERS=()
  echo "    health: $line" >&2
  echo "$who $row health $line" >>"$TMP/raw.txt"
  for k in p50_ms p99_ms max_ms rps errors; do R[$who.$row.health.$k]=$(json_field "$line" $k); done
  for name in tail patch; do
    [ -f "$TMP/$who.$row.$name" ] || continue
    v=$(cat "$TMP/$who.$row.$name")
    echo "    $name: $v" >&2
    echo "$who $row $name $v" >>"$TMP/raw.txt"
    for k in p50_ms p99_ms rps errors requests; do R[$who.$row.$name.$k]=$(json_field "$v" $k); done
  done
}

measure() {
  local who=$1 url=$2 r
  for r in $ROWS; do row "$who" "$url" "$r"; done
}

# The clawgate binaries take turns, row by row, each on a fresh gateway.
measure_clawgates() {
  local r who
  for r in $ROWS; do
    for who in "${TARGETS[@]}"; do
      start_clawgate "${BIN[$who]}"
      row "$who" "ws://127.0.0.1:$PORT" "$r"
      stop_server
    done
  done
}

# start_clawgate <binary>: a fresh state dir with a config file (so config.get has a hash)
# and a log already past $LOG_FILL bytes.
start_clawgate() {
  local state=$TMP/state-$RANDOM
  mkdir -p "$state"
  echo '{}' >"$state/clawgate.json"
  fill_log "$state/logs/clawgate.log" "$LOG_FILL"
  PORT=$(free_port 19500)
  setsid "$1" run --port "$PORT" --auth token --token "$TOKEN" --state-dir "$state" \
    >"$TMP/clawgate-$PORT.out" 2>&1 &
  SERVER_PID=$!
  wait_ready "$PORT" "$(now_ms)" >/dev/null
}

TARGETS=(cg)
declare -A LABEL BIN
BIN[cg]=$CG
LABEL[cg]="clawgate"
if [ -n "$CG_BASELINE" ]; then
  TARGETS+=(base)
  BIN[base]=$CG_BASELINE
  LABEL[base]="clawgate baseline"
fi
echo "clawgate ($CG)${CG_BASELINE:+ and baseline ($CG_BASELINE)}" >&2
measure_clawgates

OC_VERSION=""
if [ -z "${SKIP_OPENCLAW:-}" ] && [ -x "$OPENCLAW" ] && [ -x "$NODE_BIN/node" ]; then
  OC_VERSION=$(PATH=$NODE_BIN:$PATH HOME=$TMP/oc-home "$OPENCLAW" --version 2>/dev/null | head -1 || echo "OpenClaw ?")
  echo "$OC_VERSION" >&2
  PORT=$(free_port 19500)
  mkdir -p "$TMP/oc-home/.openclaw"
  fill_log "$TMP/oc-logs/openclaw.log" "$LOG_FILL"
  printf '{"gateway":{"mode":"local","port":%d,"auth":{"mode":"token","token":"%s"}},"logging":{"file":"%s"}}\n' \
    "$PORT" "$TOKEN" "$TMP/oc-logs/openclaw.log" >"$TMP/oc-home/.openclaw/openclaw.json"
  env -u OPENCLAW_STATE_DIR -u OPENCLAW_CONFIG_PATH -u OPENCLAW_GATEWAY_TOKEN \
    -u OPENCLAW_GATEWAY_PASSWORD -u OPENCLAW_GATEWAY_PORT \
    PATH="$NODE_BIN:$PATH" HOME="$TMP/oc-home" \
    setsid "$OPENCLAW" gateway run --allow-unconfigured --port "$PORT" --auth token \
    --token "$TOKEN" --bind loopback >"$TMP/openclaw.out" 2>&1 &
  SERVER_PID=$!
  if wait_ready "$PORT" "$(now_ms)" >/dev/null; then
    sleep 3 # let start-up work settle
    measure oc "ws://127.0.0.1:$PORT"
    TARGETS+=(oc)
    LABEL[oc]="$OC_VERSION"
  else
    tail -20 "$TMP/openclaw.out" >&2
  fi
  stop_server
fi

# ---- report ----
v() { local x=${R[$1]:-}; echo "${x:-n/a}"; }
loop_cell() { # <who> <row> <name>: "N/s, p50 a / p99 b ms[, E errors]"
  local k="$1.$2.$3"
  [ -n "${R[$k.rps]:-}" ] || { echo "-"; return; }
  local e=${R[$k.errors]:-0} s
  s=$(printf '%.0f/s, p50 %s / p99 %s ms' "${R[$k.rps]}" "${R[$k.p50_ms]}" "${R[$k.p99_ms]}")
  [ "${e%.*}" != 0 ] && s="$s, ${e%.*} of ${R[$k.requests]%.*} refused"
  echo "$s"
}
{
  echo "# Loop blocking: health latency while other clients tail 1 MB of log and patch the config"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -sr)."
  echo "health: cg-loadgen, $CONNS connections x 1 in flight, ${SECONDS_PER_RUN} s after ${WARMUP} s warm-up."
  echo "Loops beside it (each its own cg-loadgen, 1 connection x 1 in flight): \`logs.tail $TAIL_PARAMS\`"
  echo "(or \`$TAIL_5000_PARAMS\`) on a log prefilled to $LOG_FILL bytes; \`config.patch\` setting"
  echo "messages.groupChat.historyLimit to a new value each time, baseHash from the previous answer."
  for who in "${TARGETS[@]}"; do
    echo
    case $who in
      cg) echo "## ${LABEL[$who]} ($CG, $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))" ;;
      base) echo "## ${LABEL[$who]} ($CG_BASELINE)" ;;
      *) echo "## ${LABEL[$who]}" ;;
    esac
    echo
    echo "| besides health | health p50 (ms) | health p99 (ms) | health max (ms) | health req/s | logs.tail loop | config.patch loop |"
    echo "|---|---:|---:|---:|---:|---|---|"
    for r in $ROWS; do
      case $r in
        alone) label="nothing" ;; tail) label="logs.tail loop" ;;
        tail5000) label="logs.tail loop, limit 5000" ;;
        patch) label="config.patch loop" ;; both) label="logs.tail + config.patch loops" ;;
      esac
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(v "$who.$r.health.p50_ms")" \
        "$(v "$who.$r.health.p99_ms")" "$(v "$who.$r.health.max_ms")" \
        "$(printf '%.0f' "$(v "$who.$r.health.rps")" 2>/dev/null || echo n/a)" \
        "$(loop_cell "$who" "$r" tail)" "$(loop_cell "$who" "$r" patch)"
    done
  done
} >"$TMP/report.md"
write_report "$TMP/report.md" "$TMP/raw.txt" "$OUT"
