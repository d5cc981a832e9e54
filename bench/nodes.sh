#!/usr/bin/env bash
# node.invoke round trips, clawgate then the real OpenClaw gateway (one running at a time),
# measured with cg-nodesim (bench/nodesim.c). Run as `BENCH_ONLY=nodes bench/run.sh`.
#
# Per gateway, on one fresh instance (throw-away state dir or HOME):
# 1. idle RSS of the gateway's process tree with no client, then with $BENCH_HOLD_NODES
#    (100) simulated nodes connected and their surfaces approved (cg-nodesim --hold), and
#    the time those nodes took from the first connect to all approved;
# 2. for each shape in $BENCH_NODE_SHAPES (NODESxOPERATORSxINFLIGHT): fresh simulated
#    nodes, approved, then node.invoke system.which {"bins":["sh"]} from the operators,
#    round-robin over the nodes: ok answers per second, p50, p99 over the measured window;
# 3. one real node host (`openclaw node run`, throw-away HOME), approved by cg-nodesim
#    (--nodes 0 --external 1), invoked at 1x1 and 1x8 (operators x in flight); also the
#    time from launching it to its surface approved and listed connected.
# Writes bench/results/nodes.md (OUT) with the raw cg-nodesim output folded below.
# Knobs: BENCH_SECONDS (10), BENCH_WARMUP (1), BENCH_HOLD_NODES (100), BENCH_NODE_SHAPES
# ("1x1x1 10x1x32 10x4x8 100x4x16"), BENCH_SETUP_TIMEOUT (180 s per cg-nodesim setup),
# SKIP_OPENCLAW=1, SKIP_NODE_HOST=1, BUILD, CLAWGATE_PEER_DIR, OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
CG=$BUILD/clawgate
NS=$BUILD/cg-nodesim
HOLD_NODES=${BENCH_HOLD_NODES:-100}
SHAPES=${BENCH_NODE_SHAPES:-1x1x1 10x1x32 10x4x8 100x4x16}
SETUP_TIMEOUT=${BENCH_SETUP_TIMEOUT:-180}
OUT=${OUT:-$ROOT/bench/results/nodes.md}
HOST_SHAPES="1x1 1x8"

for f in "$CG" "$NS"; do
  [ -x "$f" ] || { echo "missing $f: run 'make' first" >&2; exit 1; }
done
for s in $SHAPES; do
  [[ $s =~ ^[0-9]+x[0-9]+x[0-9]+$ ]] || { echo "BENCH_NODE_SHAPES: '$s' is not NxKxM" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/clawgate-bench-nodes.XXXXXX)
SERVER_PID=""
HOLDER_PID=""
HOST_PID=""
cleanup() {
  [ -n "$HOLDER_PID" ] && kill "$HOLDER_PID" 2>/dev/null || true
  [ -n "$HOST_PID" ] && kill_tree "$HOST_PID"
  [ -n "$SERVER_PID" ] && kill_tree "$SERVER_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT
touch "$TMP/raw.txt"

declare -A R # results: R[<who>.<metric>]
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

# Seconds a cg-nodesim run may take in all before it is sent SIGTERM (it then reports).
run_limit() { awk -v s="$SETUP_TIMEOUT" -v w="$WARMUP" -v d="$SECONDS_PER_RUN" 'BEGIN{printf "%d", s + w + d + 30}'; }

# nodesim <who> <key> <url> [cg-nodesim args...]: one load run, results under R[who.key.*].
nodesim() {
  local who=$1 key=$2 url=$3 line
  shift 3
  echo "  $key: cg-nodesim $*" >&2
  line=$(timeout -s TERM "$(run_limit)" "$NS" --url "$url" --token "$TOKEN" \
    --duration "$SECONDS_PER_RUN" --warmup "$WARMUP" --setup-timeout "$SETUP_TIMEOUT" \
    --cpu-pids "$(tree_pids "$SERVER_PID" | paste -sd,)" "$@" 2>>"$TMP/nodesim.err" || true)
  echo "    $line" >&2
  echo "$who $key $line" >>"$TMP/raw.txt"
  R[$who.$key.rps]=$(json_field "$line" rps | xargs -r printf '%.0f')
  if [ "$(json_field "$line" requests)" -gt 0 ] 2>/dev/null; then # latencies of ok answers
    R[$who.$key.p50]=$(json_field "$line" p50_ms)
    R[$who.$key.p99]=$(json_field "$line" p99_ms)
  fi
  R[$who.$key.err]=$(json_field "$line" errors)
  R[$who.$key.cpu_gw]=$(json_field "$line" cpu_gateway_pct | xargs -r printf '%.0f')
  R[$who.$key.cpu_ns]=$(json_field "$line" cpu_nodesim_pct | xargs -r printf '%.0f')
  R[$who.$key.cpu_rest]=$(json_field "$line" cpu_rest_pct | xargs -r printf '%.0f')
  R[$who.$key.nre]=$(json_field "$line" node_result_errors)
  R[$who.$key.cerr]=$(json_field "$line" connect_errors)
  R[$who.$key.setup]=$(json_field "$line" setup_ms | xargs -r printf '%.0f')
  [ -n "${R[$who.$key.cpu_gw]}" ] && R[$who.$key.cpu]="${R[$who.$key.cpu_gw]} / ${R[$who.$key.cpu_ns]} / ${R[$who.$key.cpu_rest]}"
  local first
  first=$(sed -nE 's/.*"first_error":"(.*)"}$/\1/p' <<<"$line")
  [ -n "$first" ] && R[$who.$key.first]=$first
  sleep 2 # the gateway drops the run's connections
}

# hold_nodes <who> <url>: tree RSS with HOLD_NODES approved simulated nodes connected.
hold_nodes() {
  local who=$1 url=$2 line="" before after
  before=$(tree_rss_kb "$SERVER_PID")
  echo "  holding $HOLD_NODES approved nodes" >&2
  "$NS" --url "$url" --token "$TOKEN" --nodes "$HOLD_NODES" --hold \
    --setup-timeout "$SETUP_TIMEOUT" >"$TMP/hold.out" 2>>"$TMP/nodesim.err" &
  HOLDER_PID=$!
  for _ in $(seq 1 $((SETUP_TIMEOUT * 10 + 100))); do
    grep -q hold "$TMP/hold.out" && break
    kill -0 "$HOLDER_PID" 2>/dev/null || break
    sleep 0.1
  done
  line=$(cat "$TMP/hold.out")
  if [ -n "$line" ]; then
    sleep 3 # let the approvals' follow-up work settle
    after=$(tree_rss_kb "$SERVER_PID")
    R[$who.hold.rss]=$(mib "$after")
    R[$who.hold.per]=$(awk -v a="$after" -v b="$before" -v n="$(json_field "$line" approved)" \
      'BEGIN{if (n > 0) printf "%.0f", (a - b) / n}')
    R[$who.hold.setup]=$(awk -v s="$(json_field "$line" seconds)" 'BEGIN{if (s != "") printf "%.0f", s * 1000}')
    R[$who.hold.n]=$(json_field "$line" approved)
  fi
  kill -TERM "$HOLDER_PID" 2>/dev/null || true
  wait "$HOLDER_PID" 2>/dev/null || true
  HOLDER_PID=""
  echo "    $line; tree VmRSS $before -> ${after:-?} KiB" >&2
  echo "$who hold $line tree_rss_before_kb=$before tree_rss_after_kb=${after:-}" >>"$TMP/raw.txt"
  sleep 3 # the gateway drops the nodes
}

# node_host <who> <port> <url>: one real node host, approved and invoked.
node_host() {
  local who=$1 port=$2 url=$3 shape
  if [ -n "${SKIP_NODE_HOST:-}" ] || [ ! -x "$OPENCLAW" ]; then return 0; fi
  rm -rf "$TMP/node-home"
  mkdir -p "$TMP/node-home"
  echo "  real node host (openclaw node run)" >&2
  env -u OPENCLAW_STATE_DIR -u OPENCLAW_CONFIG_PATH -u OPENCLAW_GATEWAY_PASSWORD \
    PATH="$NODE_BIN:$PATH" HOME="$TMP/node-home" OPENCLAW_GATEWAY_TOKEN="$TOKEN" \
    setsid "$OPENCLAW" node run --host 127.0.0.1 --port "$port" --no-tls \
    >"$TMP/$who-node-host.log" 2>&1 &
  HOST_PID=$!
  # The first run also times launch -> connected, device paired, surface approved.
  for shape in $HOST_SHAPES; do
    nodesim "$who" "host.$shape" "$url" --nodes 0 --external 1 \
      --operators "${shape%x*}" --inflight "${shape#*x}"
  done
  R[$who.host.launch]=${R[$who.host.${HOST_SHAPES%% *}.setup]:-}
  kill -0 "$HOST_PID" 2>/dev/null || { echo "    the node host exited:" >&2; tail -5 "$TMP/$who-node-host.log" >&2; }
  kill_tree "$HOST_PID"
  HOST_PID=""
}

measure() {
  local who=$1 port=$2 url="ws://127.0.0.1:$2" s n k m
  R[$who.idle]=$(mib "$(tree_rss_kb "$SERVER_PID")")
  hold_nodes "$who" "$url"
  for s in $SHAPES; do
    IFS=x read -r n k m <<<"$s"
    nodesim "$who" "sim.$s" "$url" --nodes "$n" --operators "$k" --inflight "$m"
  done
  node_host "$who" "$port" "$url"
}

# ---- clawgate ----
echo "clawgate ($CG)" >&2
PORT=$(free_port 19400)
mkdir -p "$TMP/clawgate"
t0=$(now_ms)
setsid "$CG" run --port "$PORT" --auth token --token "$TOKEN" --state-dir "$TMP/clawgate" \
  >"$TMP/clawgate.log" 2>&1 &
SERVER_PID=$!
wait_ready "$PORT" "$t0" >/dev/null
sleep 1
measure cg "$PORT"
kill_tree "$SERVER_PID"
SERVER_PID=""
sleep 1

# ---- the real OpenClaw gateway ----
OC_VERSION="OpenClaw (not run)"
if [ -z "${SKIP_OPENCLAW:-}" ] && [ -x "$OPENCLAW" ] && [ -x "$NODE_BIN/node" ]; then
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
  if wait_ready "$PORT" "$t0" >/dev/null; then
    sleep 3 # start-up work settles before the idle footprint
    measure oc "$PORT"
  else
    tail -20 "$TMP/openclaw.log" >&2
  fi
  kill_tree "$SERVER_PID"
  SERVER_PID=""
else
  echo "the real gateway is skipped or not installed (scripts/peer.sh): OpenClaw column n/a" >&2
fi

# ---- report ----
v() { local x=${R[$1]:-}; echo "${x:-n/a}"; }
ratio() {
  local a=${R[$1]:-} b=${R[$2]:-}
  [ -n "$a" ] && [ -n "$b" ] || { echo ""; return; }
  awk -v a="$a" -v b="$b" -v d="$3" 'BEGIN{
    if (d == "none") { print ""; exit }
    if (d == "higher") r = (b > 0) ? a / b : 0; else r = (a > 0) ? b / a : 0;
    if (r <= 0) { print ""; exit }
    printf (r >= 10 ? "%.0fx" : "%.1fx"), r }'
}
row() { printf '| %s | %s | %s | %s |\n' "$1" "$(v "cg.$2")" "$(v "oc.$2")" "$(ratio "cg.$2" "oc.$2" "$3")"; }
label_shape() { local n k m; IFS=x read -r n k m <<<"$1"; echo "$n sim node(s), $k operator(s) x $m in flight"; }
# sum_of <who> <suffix>: the sum of R[who.*.suffix].
sum_of() {
  local k total=0
  for k in "${!R[@]}"; do [[ $k == "$1".*."$2" ]] && total=$((total + ${R[$k]:-0})); done
  echo "$total"
}
errors_line() {
  local who=$1 k first=""
  for k in "${!R[@]}"; do [[ $k == "$who".*.first ]] && [ -z "$first" ] && first=${R[$k]}; done
  echo "node.invoke ok:false (measured) $(sum_of "$who" err), node.invoke.result refused $(sum_of "$who" nre), node connections failed $(sum_of "$who" cerr)${first:+; first error: \`$first\`}"
}

{
  echo "# clawgate vs OpenClaw gateway: node.invoke round trips"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -sr); $("$CG" --version 2>/dev/null | head -1 || echo 'clawgate ?') vs $OC_VERSION."
  echo "Load: cg-nodesim, ${SECONDS_PER_RUN} s measured per row after ${WARMUP} s warm-up; one gateway running at a time."
  echo
  echo "| metric | clawgate | OpenClaw | clawgate advantage |"
  echo "|---|---:|---:|---:|"
  row "idle RSS of the process tree, no client (MiB)" idle lower
  row "idle RSS with $HOLD_NODES sim nodes connected and approved (MiB)" hold.rss lower
  row "  per node (KiB)" hold.per lower
  row "$HOLD_NODES nodes: first connect to all approved (ms)" hold.setup lower
  for s in $SHAPES; do
    row "$(label_shape "$s"): ok req/s" "sim.$s.rps" higher
    row "  p50 (ms)" "sim.$s.p50" lower
    row "  p99 (ms)" "sim.$s.p99" lower
    row "  CPU: gateway / cg-nodesim / rest of machine (% of a core)" "sim.$s.cpu" none
  done
  row "real node host: launch to approved and listed (ms)" host.launch lower
  for s in $HOST_SHAPES; do
    row "real node host, ${s%x*} operator x ${s#*x} in flight: ok req/s" "host.$s.rps" higher
    row "  p50 (ms)" "host.$s.p50" lower
    row "  p99 (ms)" "host.$s.p99" lower
    row "  CPU: gateway / cg-nodesim / rest of machine (% of a core)" "host.$s.cpu" none
  done
  echo
  echo "Method: each row connects its own simulated nodes (own Ed25519 device each, auto-paired on loopback), approves their surfaces with node.pair.list + node.pair.approve, waits until node.list shows them connected and approved, then keeps node.invoke \`system.which {\"bins\":[\"sh\"]}\` (unique idempotencyKey, timeoutMs 30000) in flight round-robin over them; a simulated node answers each node.invoke.request at once with node.invoke.result \`{ok:true, payloadJSON}\`. req/s counts ok answers in the measured window; p50/p99 are over those. RSS: VmRSS summed over the gateway's process tree, before any client, and 3 s after $HOLD_NODES nodes were approved (the admin connection closed). CPU: utime+stime of the gateway's process tree and of cg-nodesim over the measured window, and the rest of the machine's busy time (/proc/stat minus those two: other processes, loopback work charged to neither), in % of one core ($(nproc) cores in all; cg-nodesim, one thread, runs on the same machine; in the real node host rows the rest includes the node host itself). The rows run on one gateway instance, in table order, so nodes paired by earlier rows stay in its pairing state (disconnected)."
  echo
  echo "Errors, all rows (the first error's text, warm-up included): clawgate: $(errors_line cg). OpenClaw: $(errors_line oc)."
} >"$TMP/report.md"
{ echo; echo "cg-nodesim stderr:"; cat "$TMP/nodesim.err"; } >>"$TMP/raw.txt" 2>/dev/null || true
write_report "$TMP/report.md" "$TMP/raw.txt" "$OUT"
