#!/usr/bin/env bash
# Side-by-side benchmark: clawgate, then the real OpenClaw gateway, one after the other
# (never both running at once), measured with the same load generator (cg-loadgen).
#
# For each gateway: start to /readyz (ms), idle VmRSS after start with no clients,
# req/s + p50/p99 for `health` and `config.get` at 1 connection x 32 in flight and at
# 64 connections x 1 in flight, and memory per held connection at $BENCH_HOLD
# connections (VmRSS delta / connections held), over ws and, for clawgate, wss (the real
# gateway does not serve TLS itself: n/a), and connects per second (cg-loadgen
# --connect-rate: $BENCH_CONNECT_LOOPS loops of connect, hello-ok, close) with the shared
# token alone and with a signed device identity per loop, with the CPU the gateway and the
# load generator used meanwhile. Prints a markdown table and writes it to
# bench/results/latest.md. Environment knobs: BUILD (default build), BENCH_SECONDS (10),
# BENCH_WARMUP (1), BENCH_HOLD (5000), BENCH_CONNECT_LOOPS (8), CLAWGATE_PEER_DIR
# (~/.cache/clawgate-peer). BENCH_ONLY=connect runs only the connect-rate rows (both
# gateways; about a minute with the real gateway's start) and writes
# bench/results/connect.md instead. BENCH_ONLY=nodes runs bench/nodes.sh (node.invoke round
# trips through simulated nodes and a real node host; bench/results/nodes.md).
# BENCH_ONLY=chat runs bench/chat.sh (streaming chat on a local provider: first-byte
# latency, fan-out to 100 clients, 1,000 sessions; bench/results/chat.md).
# `bench/run.sh --scenario loop-blocking` runs bench/loop_blocking.sh instead.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--scenario" ]; then
  case "${2:-}" in
    loop-blocking) exec "$ROOT/bench/loop_blocking.sh" ;;
    *) echo "usage: $0 [--scenario loop-blocking]" >&2; exit 2 ;;
  esac
fi
. "$ROOT/bench/lib.sh"
CG=$BUILD/clawgate
HOLD=${BENCH_HOLD:-5000}
CONNECT_LOOPS=${BENCH_CONNECT_LOOPS:-8}
ONLY=${BENCH_ONLY:-}
case "$ONLY" in
  "") OUT=$ROOT/bench/results/latest.md ;;
  connect) OUT=$ROOT/bench/results/connect.md ;;
  nodes) exec "$ROOT/bench/nodes.sh" ;;
  chat) exec "$ROOT/bench/chat.sh" ;;
  *) echo "BENCH_ONLY: 'connect', 'nodes' or 'chat'" >&2; exit 2 ;;
esac

for f in "$CG" "$LG"; do
  [ -x "$f" ] || { echo "missing $f: run 'make' first" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/clawgate-bench.XXXXXX)
SERVER_PID=""
HOLDER_PID=""
cleanup() {
  [ -n "$HOLDER_PID" ] && kill "$HOLDER_PID" 2>/dev/null || true
  if [ -n "$SERVER_PID" ]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# CPU ticks of a process and its live descendants: utime + stime, plus cutime + cstime
# (children that ended and were waited for).
tree_ticks() {
  local total=0 pid stat f
  for pid in $(ps -o pid= --ppid "$1"); do total=$((total + $(tree_ticks "$pid"))); done
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo "$total"; return; }
  read -r -a f <<<"${stat##*) }" # fields from 3 (state) on; utime..cstime are 14..17
  echo $((total + f[11] + f[12] + f[13] + f[14]))
}
CLK_TCK=$(getconf CLK_TCK)

# CPU ticks the whole machine spent busy (user, nice, system, irq, softirq; all cores).
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }

# The same for the TLS listener, with curl (not timed).
wait_ready_tls() {
  local port=$1
  for _ in $(seq 1 600); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 "https://127.0.0.1:$port/readyz" || true)" = 200 ] && return 0
    sleep 0.1
  done
  echo "TLS listener not ready" >&2
  return 1
}

declare -A R # results: R[<who>.<metric>]

# load <who> <url> <method> <connections> <inflight> [extra loadgen args...]
load() {
  local who=$1 url=$2 method=$3 conns=$4 inflight=$5 key line
  shift 5
  key="$method.${conns}x$inflight"
  echo "  $method, $conns connection(s) x $inflight in flight, ${SECONDS_PER_RUN} s" >&2
  line=$("$LG" --url "$url" --token "$TOKEN" --method "$method" --connections "$conns" \
    --inflight "$inflight" --duration "$SECONDS_PER_RUN" --warmup "$WARMUP" "$@" 2>>"$TMP/loadgen.err" || true)
  echo "    $line" >&2
  echo "$who $line" >>"$TMP/raw.txt"
  R[$who.$key.rps]=$(printf '%.0f' "$(json_field "$line" rps)")
  R[$who.$key.p50]=$(json_field "$line" p50_ms)
  R[$who.$key.p99]=$(json_field "$line" p99_ms)
  R[$who.$key.err]=$(json_field "$line" errors)
}

# hold <who> <key> <url> [extra loadgen args...]: memory per held connection.
hold() {
  local who=$1 key=$2 url=$3 before after held line
  shift 3
  before=$(rss_kb "$SERVER_PID")
  echo "  holding $HOLD connections over ${url%%:*}" >&2
  "$LG" --url "$url" --token "$TOKEN" --hold "$HOLD" "$@" >"$TMP/hold.out" 2>>"$TMP/loadgen.err" &
  HOLDER_PID=$!
  for _ in $(seq 1 1200); do
    grep -q held "$TMP/hold.out" && break
    kill -0 "$HOLDER_PID" 2>/dev/null || break
    sleep 0.1
  done
  sleep 1
  after=$(rss_kb "$SERVER_PID")
  line=$(cat "$TMP/hold.out")
  kill -TERM "$HOLDER_PID" 2>/dev/null || true
  wait "$HOLDER_PID" 2>/dev/null || true
  HOLDER_PID=""
  echo "    $line; VmRSS $before -> $after KiB" >&2
  echo "$who hold-$key $line rss_before_kb=$before rss_after_kb=$after" >>"$TMP/raw.txt"
  held=$(json_field "$line" held)
  if [ -n "$held" ] && [ "$held" -gt 0 ]; then
    R[$who.hold.$key]=$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN{printf "%.1f", (a-b)/n}')
    [ "$held" -lt "$HOLD" ] && R[$who.hold.$key]="${R[$who.hold.$key]} ($held held)"
  fi
  return 0
}

# connect_rate <who> <key> <url> [extra loadgen args...]: connects per second, each loop
# connecting, waiting for hello-ok and closing; with the CPU the gateway (process tree)
# and the load generator used over the whole run (warm-up included), in % of one core.
connect_rate() {
  local who=$1 key=$2 url=$3 line g0 g1 m0 m1 user sys real TIMEFORMAT='%3U %3S %3R'
  shift 3
  echo "  connect rate, $key, $CONNECT_LOOPS loops, ${SECONDS_PER_RUN} s" >&2
  m0=$(machine_ticks)
  g0=$(tree_ticks "$SERVER_PID")
  { time "$LG" --url "$url" --token "$TOKEN" --connect-rate --connections "$CONNECT_LOOPS" \
    --duration "$SECONDS_PER_RUN" --warmup "$WARMUP" "$@" >"$TMP/rate.out" 2>>"$TMP/loadgen.err"; } \
    2>"$TMP/rate.time" || true
  g1=$(tree_ticks "$SERVER_PID")
  m1=$(machine_ticks)
  line=$(cat "$TMP/rate.out")
  read -r user sys real <"$TMP/rate.time"
  R[$who.connect.$key.cpu_gw]=$(awk -v t=$((g1 - g0)) -v hz="$CLK_TCK" -v r="$real" 'BEGIN{printf "%.0f", 100 * t / hz / r}')
  R[$who.connect.$key.cpu_lg]=$(awk -v u="$user" -v s="$sys" -v r="$real" 'BEGIN{printf "%.0f", 100 * (u + s) / r}')
  # The rest of the machine: other processes (other work on a shared machine shows here),
  # kernel threads, and loopback packet processing not charged to either process.
  R[$who.connect.$key.cpu_rest]=$(awk -v m=$((m1 - m0)) -v hz="$CLK_TCK" -v r="$real" \
    -v g="${R[$who.connect.$key.cpu_gw]}" -v l="${R[$who.connect.$key.cpu_lg]}" \
    'BEGIN{x = 100 * m / hz / r - g - l; printf "%.0f", x < 0 ? 0 : x}')
  local cpu="cpu_gateway_pct=${R[$who.connect.$key.cpu_gw]} cpu_loadgen_pct=${R[$who.connect.$key.cpu_lg]} cpu_rest_pct=${R[$who.connect.$key.cpu_rest]}"
  echo "    $line; $cpu" >&2
  echo "$who connect-$key $line $cpu" >>"$TMP/raw.txt"
  R[$who.connect.$key.cps]=$(printf '%.0f' "$(json_field "$line" cps)")
  R[$who.connect.$key.p50]=$(json_field "$line" p50_ms)
  R[$who.connect.$key.p99]=$(json_field "$line" p99_ms)
  R[$who.connect.$key.cerr]=$(json_field "$line" errors) # not .err: those are the load rows'
  R[$who.connect.$key.tokens]=$(json_field "$line" device_tokens)
  R[$who.connect.$key.n]=$(json_field "$line" connects)
}

# Last on each gateway: connect churn (and the devices it pairs) would inflate the memory
# the hold row starts from. After a hold, the gateway first gets time to drop its 5000
# connections.
measure_connects() {
  [ -z "$ONLY" ] && sleep 3
  connect_rate "$1" token "$2"
  connect_rate "$1" device "$2" --device
}

measure_loads() {
  local who=$1 url=$2
  for m in health config.get; do
    load "$who" "$url" "$m" 1 32
    load "$who" "$url" "$m" 64 1
  done
}

# ---- clawgate, plain ----
echo "clawgate ($CG)" >&2
PORT=$(free_port 19400)
STATE=$TMP/clawgate
mkdir -p "$STATE"
t0=$(now_ms)
setsid "$CG" run --port "$PORT" --auth token --token "$TOKEN" --state-dir "$STATE" \
  >"$TMP/clawgate.log" 2>&1 &
SERVER_PID=$!
R[cg.ready]=$(wait_ready "$PORT" "$t0")
sleep 1
R[cg.idle]=$(awk -v k="$(rss_kb "$SERVER_PID")" 'BEGIN{printf "%.1f", k/1024}')
R[cg.idletree]=$(awk -v k="$(tree_rss_kb "$SERVER_PID")" 'BEGIN{printf "%.1f", k/1024}')
if [ -z "$ONLY" ]; then
  measure_loads cg "ws://127.0.0.1:$PORT"
  hold cg ws "ws://127.0.0.1:$PORT"
fi
measure_connects cg "ws://127.0.0.1:$PORT"
stop_server

# ---- clawgate, TLS ----
if [ -z "$ONLY" ]; then
  echo "clawgate with gateway.tls.enabled" >&2
  PORT=$(free_port 19400)
  STATE=$TMP/clawgate-tls
  mkdir -p "$STATE"
  echo '{"gateway":{"tls":{"enabled":true}}}' >"$STATE/clawgate.json"
  setsid "$CG" run --port "$PORT" --auth token --token "$TOKEN" --state-dir "$STATE" \
    >"$TMP/clawgate-tls.log" 2>&1 &
  SERVER_PID=$!
  wait_ready_tls "$PORT"
  sleep 1
  hold cg wss "wss://127.0.0.1:$PORT" --ca-file "$STATE/tls/gateway-cert.pem"
  stop_server
fi

# ---- the real OpenClaw gateway ----
OC_VERSION="OpenClaw (not installed)"
if [ -x "$OPENCLAW" ] && [ -x "$NODE_BIN/node" ]; then
  OC_VERSION=$(PATH=$NODE_BIN:$PATH HOME=$TMP/oc-home "$OPENCLAW" --version 2>/dev/null | head -1 || echo "OpenClaw ?")
  echo "$OC_VERSION" >&2
  PORT=$(free_port 19400)
  mkdir -p "$TMP/oc-home"
  t0=$(now_ms)
  env -u OPENCLAW_STATE_DIR -u OPENCLAW_CONFIG_PATH -u OPENCLAW_GATEWAY_TOKEN \
    -u OPENCLAW_GATEWAY_PASSWORD -u OPENCLAW_GATEWAY_PORT \
    PATH="$NODE_BIN:$PATH" HOME="$TMP/oc-home" \
    setsid "$OPENCLAW" gateway run --allow-unconfigured --port "$PORT" --auth token \
    --token "$TOKEN" --bind loopback >"$TMP/openclaw.log" 2>&1 &
  SERVER_PID=$!
  if R[oc.ready]=$(wait_ready "$PORT" "$t0"); then
    sleep 3 # let start-up work settle before reading the idle footprint
    R[oc.idle]=$(awk -v k="$(rss_kb "$SERVER_PID")" 'BEGIN{printf "%.1f", k/1024}')
    R[oc.idletree]=$(awk -v k="$(tree_rss_kb "$SERVER_PID")" 'BEGIN{printf "%.1f", k/1024}')
    if [ -z "$ONLY" ]; then
      measure_loads oc "ws://127.0.0.1:$PORT"
      hold oc ws "ws://127.0.0.1:$PORT"
    fi
    measure_connects oc "ws://127.0.0.1:$PORT"
  else
    R[oc.ready]=""
    tail -20 "$TMP/openclaw.log" >&2
  fi
  stop_server
else
  echo "the reference peer is not installed (scripts/peer.sh): OpenClaw column n/a" >&2
fi

# ---- report ----
v() { local x=${R[$1]:-}; echo "${x:-n/a}"; }
# ratio <clawgate key> <openclaw key> <higher|lower>: how many times better clawgate is.
ratio() {
  local a=${R[$1]:-} b=${R[$2]:-}
  a=${a%% *}; b=${b%% *}
  [ -n "$a" ] && [ -n "$b" ] || { echo ""; return; }
  awk -v a="$a" -v b="$b" -v d="$3" 'BEGIN{
    if (d == "higher") r = (b > 0) ? a / b : 0; else r = (a > 0) ? b / a : 0;
    if (d == "none" || r <= 0) { print ""; exit }
    printf (r >= 10 ? "%.0fx" : "%.1fx"), r }'
}
row() { printf '| %s | %s | %s | %s |\n' "$1" "$(v "cg.$2")" "$(v "oc.$2")" "$(ratio "cg.$2" "oc.$2" "$3")"; }
# sum <glob>: the sum of the results whose keys match.
# shellcheck disable=SC2053 # $1 is a pattern
sum() { for k in "${!R[@]}"; do [[ $k == $1 ]] && echo "${R[$k]}"; done | awk '{s+=$1} END{print s+0}'; }
connect_rows() {
  local key label
  for key in token device; do
    [ "$key" = token ] && label="connects, shared token" || label="connects, shared token + signed device"
    row "$label, $CONNECT_LOOPS loops: connects/s" "connect.$key.cps" higher
    row "$label: p50, TCP connect to hello-ok (ms)" "connect.$key.p50" lower
    row "$label: p99 (ms)" "connect.$key.p99" lower
    row "$label: gateway CPU meanwhile (% of a core)" "connect.$key.cpu_gw" none
    row "$label: cg-loadgen CPU meanwhile (% of a core)" "connect.$key.cpu_lg" none
    row "$label: rest of the machine meanwhile (% of a core)" "connect.$key.cpu_rest" none
  done
}
connect_notes() {
  echo "Connect rows: cg-loadgen --connect-rate, $CONNECT_LOOPS loops each connecting, reading connect.challenge, sending connect, waiting for hello-ok and closing, then again; latency from the TCP connect start to hello-ok. Device rows: each loop has its own Ed25519 identity (auto-approved on its first, loopback, connect) and signs every connect over the challenge's nonce and ts; hello-oks carrying auth.deviceToken: clawgate $(v cg.connect.device.tokens) of $(v cg.connect.device.n), OpenClaw $(v oc.connect.device.tokens) of $(v oc.connect.device.n). CPU: utime+stime over the whole run (warm-up included) divided by its wall time, $(nproc) cores in all (so $(($(nproc) * 100)) % is everything); \"rest of the machine\" is the busy time of /proc/stat minus those two: other processes, kernel threads, loopback packet work charged to neither."
  echo "Connect attempts without hello-ok: clawgate $(sum 'cg.connect.*.cerr'), OpenClaw $(sum 'oc.connect.*.cerr') (the first error's text, if any, is in the raw output)."
}

if [ -n "$ONLY" ]; then
  {
    echo "# clawgate vs OpenClaw gateway: connects per second"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -sr); $("$CG" --version 2>/dev/null | head -1 || echo 'clawgate ?') vs $OC_VERSION."
    echo "Load: cg-loadgen, ${SECONDS_PER_RUN} s per row after ${WARMUP} s warm-up; one gateway running at a time."
    echo
    echo "| metric | clawgate | OpenClaw | clawgate advantage |"
    echo "|---|---:|---:|---:|"
    connect_rows
    echo
    connect_notes
  } >"$TMP/report.md"
  write_report "$TMP/report.md" "$TMP/raw.txt" "$OUT"
  exit 0
fi

{
  echo "# clawgate vs OpenClaw gateway"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -sr); $("$CG" --version 2>/dev/null | head -1 || echo 'clawgate ?') vs $OC_VERSION."
  echo "Load: cg-loadgen, ${SECONDS_PER_RUN} s per row after ${WARMUP} s warm-up; one gateway running at a time."
  echo
  echo "| metric | clawgate | OpenClaw | clawgate advantage |"
  echo "|---|---:|---:|---:|"
  row "start to /readyz (ms)" ready lower
  row "idle VmRSS, no clients (MiB)" idle lower
  row "idle RSS incl. child processes (MiB)" idletree lower
  for m in health config.get; do
    for shape in 1x32 64x1; do
      label="$m, ${shape%x*} conn x ${shape#*x} in flight"
      row "$label: req/s" "$m.$shape.rps" higher
      row "$label: p50 (ms)" "$m.$shape.p50" lower
      row "$label: p99 (ms)" "$m.$shape.p99" lower
    done
  done
  row "memory per held ws connection, $HOLD held (KiB)" hold.ws lower
  row "memory per held wss connection, $HOLD held (KiB)" hold.wss lower
  connect_rows
  echo
  echo "Errors (responses with ok:false) in the load rows: clawgate $(sum 'cg.*.err'), OpenClaw $(sum 'oc.*.err')."
  connect_notes
  echo "The real gateway does not terminate TLS itself, so it has no wss row (n/a)."
} >"$TMP/report.md"
write_report "$TMP/report.md" "$TMP/raw.txt" "$OUT"
