#!/usr/bin/env bash
# Streaming chat, clawgate then the real OpenClaw gateway (one running at a time), both on
# the same local OpenAI-compatible provider (bench/fake-llm-server.mjs, one process for
# the whole run), measured with cg-chatsim (bench/chatsim.c). Run as
# `BENCH_ONLY=chat bench/run.sh`.
#
# Per gateway, on one fresh instance (throw-away state dir or HOME, the provider as
# models.providers.bench, model bench/m1):
# 1. idle RSS of the process tree; two warm-up runs (not counted);
# 2. latency: $BENCH_CHAT_RUNS (50) chat.send, one after the other, each on a new session,
#    20 chunks of 8 bytes 20 ms apart: the provider's first SSE byte to the client's first
#    `chat` delta (p50/p99), chat.send to the provider's request, the last byte to `final`;
# 3. fan-out: 100 operator connections (one read+write sending, 99 operator.read), one run
#    of 2,000 chunks of 8 bytes, 1 ms apart, then again all at once: delta events and text
#    bytes per second summed over the clients, and whether every client got the full text;
# 4. sessions: 1,000 sessions x 50 exchanges (100 turns each), 32 runs in flight, a
#    one-chunk reply, for at most $BENCH_CHAT_TIME_LIMIT s (300): exchanges done, runs/s,
#    the tree's peak RSS meanwhile and its idle RSS 10 s after, the state on disk. When the
#    real gateway stops short, clawgate is measured again, fresh, at the count it reached.
# Writes bench/results/chat.md (OUT) with the raw cg-chatsim output folded below.
# Knobs: BENCH_CHAT_RUNS (50), BENCH_CHAT_CLIENTS (100), BENCH_CHAT_CHUNKS (2000),
# BENCH_CHAT_SESSIONS (1000), BENCH_CHAT_EXCHANGES (50 per session), BENCH_CHAT_INFLIGHT (32),
# BENCH_CHAT_TIME_LIMIT (300 s per gateway for the sessions row), SKIP_OPENCLAW=1, BUILD,
# CLAWGATE_PEER_DIR, OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
CG=$BUILD/clawgate
CS=$BUILD/cg-chatsim
RUNS=${BENCH_CHAT_RUNS:-50}
CLIENTS=${BENCH_CHAT_CLIENTS:-100}
CHUNKS=${BENCH_CHAT_CHUNKS:-2000}
SESSIONS=${BENCH_CHAT_SESSIONS:-1000}
EXCHANGES=${BENCH_CHAT_EXCHANGES:-50}
INFLIGHT=${BENCH_CHAT_INFLIGHT:-32}
TIME_LIMIT=${BENCH_CHAT_TIME_LIMIT:-300}
RUN_TIMEOUT=120
OUT=${OUT:-$ROOT/bench/results/chat.md}

for f in "$CG" "$CS"; do
  [ -x "$f" ] || { echo "missing $f: run 'make' first" >&2; exit 1; }
done
NODE=$NODE_BIN/node
[ -x "$NODE" ] || NODE=$(command -v node || true)
[ -n "$NODE" ] || { echo "no node to run the provider (scripts/peer.sh installs one)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/clawgate-bench-chat.XXXXXX)
SERVER_PID=""
PROVIDER_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill_tree "$SERVER_PID"
  [ -n "$PROVIDER_PID" ] && kill_tree "$PROVIDER_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT
touch "$TMP/raw.txt" "$TMP/chatsim.err"

declare -A R # results: R[<who>.<metric>]
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
fmt() { [ -n "$1" ] && printf "%.${2:-1}f" "$1" || true; }

# ---- the provider ----
PLOG=$TMP/provider.log
setsid "$NODE" "$ROOT/bench/fake-llm-server.mjs" --port 0 --log "$PLOG" >"$TMP/provider.out" 2>&1 &
PROVIDER_PID=$!
for _ in $(seq 1 100); do
  grep -q port "$TMP/provider.out" && break
  sleep 0.1
done
PPORT=$(sed -nE 's/.*"port":([0-9]+).*/\1/p' "$TMP/provider.out")
[ -n "$PPORT" ] || { echo "the provider did not start:" >&2; cat "$TMP/provider.out" >&2; exit 1; }
echo "provider on 127.0.0.1:$PPORT ($NODE)" >&2
PROVIDER_JSON="{\"baseUrl\":\"http://127.0.0.1:$PPORT/v1\",\"apiKey\":\"x\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"m1\",\"name\":\"M1\"}]}"

# chatsim <who> <key> <url> [cg-chatsim args...]: one run, the JSON line in R[who.key.line].
chatsim() {
  local who=$1 key=$2 url=$3 line limit
  shift 3
  limit=$((TIME_LIMIT + RUN_TIMEOUT * 3 + 200))
  echo "  $key: cg-chatsim $*" >&2
  line=$(timeout -s TERM "$limit" "$CS" --url "$url" --token "$TOKEN" --provider-log "$PLOG" \
    --run-timeout "$RUN_TIMEOUT" --cpu-pids "$(tree_pids "$SERVER_PID" | paste -sd,)" "$@" \
    2>>"$TMP/chatsim.err" || true)
  echo "    $line" >&2
  echo "$who $key $line" >>"$TMP/raw.txt"
  R[$who.$key.line]=$line
}
f() { json_field "${R[$1.line]:-}" "$2"; } # f <who.key> <field>

cpu_of() {
  local l=${R[$1.line]:-} g c r
  g=$(json_field "$l" cpu_gateway_pct) c=$(json_field "$l" cpu_chatsim_pct) r=$(json_field "$l" cpu_rest_pct)
  [ -n "$g" ] && printf '%.0f / %.0f / %.0f' "$g" "$c" "$r"
}

# sessions <who> <key> <url> [max exchanges]: the sessions row, with the tree's RSS sampled.
sessions() {
  local who=$1 key=$2 url=$3 max=${4:-0} before peak=0 after
  before=$(tree_rss_kb "$SERVER_PID")
  : >"$TMP/rss.samples"
  (
    while :; do
      tree_rss_kb "$SERVER_PID" >>"$TMP/rss.samples" 2>/dev/null || true
      sleep 1
    done
  ) &
  SAMPLER_PID=$!
  chatsim "$who" "$key" "$url" --mode sessions --sessions "$SESSIONS" --turns "$EXCHANGES" \
    --inflight "$INFLIGHT" --time-limit "$TIME_LIMIT" --max-exchanges "$max"
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  peak=$(sort -n "$TMP/rss.samples" | tail -1)
  sleep 10 # idle after the load
  after=$(tree_rss_kb "$SERVER_PID")
  R[$who.$key.before]=$(mib "$before")
  R[$who.$key.peak]=$(mib "${peak:-0}")
  R[$who.$key.after]=$(mib "$after")
  R[$who.$key.done]=$(f "$who.$key" exchanges)
  R[$who.$key.rps]=$(fmt "$(f "$who.$key" runs_per_s)" 0)
  R[$who.$key.p50]=$(fmt "$(f "$who.$key" send_to_final_p50_ms)" 1)
  R[$who.$key.p99]=$(fmt "$(f "$who.$key" send_to_final_p99_ms)" 1)
  R[$who.$key.secs]=$(fmt "$(f "$who.$key" seconds)" 1)
  R[$who.$key.cpu]=$(cpu_of "$who.$key")
  local n=${R[$who.$key.done]:-0}
  [ "${n:-0}" -gt 0 ] 2>/dev/null && R[$who.$key.per]=$(awk -v a="$after" -v b="$before" -v n="$n" -v s="$SESSIONS" \
    'BEGIN{t = n < s ? n : s; printf "%.1f", (a - b) / t}')
  echo "$who $key tree_rss_before_kb=$before peak_kb=$peak idle_after_kb=$after" >>"$TMP/raw.txt"
}

measure() {
  local who=$1 url=$2 k
  R[$who.idle]=$(mib "$(tree_rss_kb "$SERVER_PID")")
  chatsim "$who" warmup "$url" --mode latency --runs 2 --gap-ms 200
  chatsim "$who" lat "$url" --mode latency --runs "$RUNS"
  R[$who.lat.ok]="$(f "$who.lat" ok)/$RUNS"
  for k in first_byte_to_delta send_to_provider send_to_delta last_byte_to_final; do
    R[$who.lat.$k.p50]=$(fmt "$(f "$who.lat" "${k}_p50_ms")" 1)
    R[$who.lat.$k.p99]=$(fmt "$(f "$who.lat" "${k}_p99_ms")" 1)
  done
  for k in paced:1 burst:0; do
    chatsim "$who" "fan.${k%:*}" "$url" --mode fanout --clients "$CLIENTS" --chunks "$CHUNKS" \
      --delay-ms "${k#*:}" --size 8
    local fk=$who.fan.${k%:*}
    R[$fk.dps]=$(fmt "$(f "$fk" deltas_per_s)" 0)
    R[$fk.kbps]=$(awk -v b="$(f "$fk" text_bytes_per_s)" 'BEGIN{if (b != "") printf "%.0f", b / 1024}')
    R[$fk.wire]=$(awk -v b="$(f "$fk" frame_bytes_per_s)" 'BEGIN{if (b != "") printf "%.1f", b / 1048576}')
    R[$fk.per]="$(f "$fk" deltas_per_client_min)-$(f "$fk" deltas_per_client_max)"
    R[$fk.full]="$(f "$fk" finals_ok)/$CLIENTS"
    R[$fk.joined]="$(f "$fk" joined_ok)/$CLIENTS"
    R[$fk.first]=$(fmt "$(f "$fk" first_byte_to_first_delta_ms)" 1)
    R[$fk.drain]=$(fmt "$(f "$fk" last_byte_to_last_final_ms)" 0)
    R[$fk.stream]=$(fmt "$(f "$fk" provider_stream_ms)" 0)
    R[$fk.cpu]=$(cpu_of "$fk")
    sleep 2
  done
  sessions "$who" sess "$url"
}

# start_clawgate <dir>: a fresh clawgate on the provider.
start_clawgate() {
  local dir=$1
  mkdir -p "$dir"
  echo "{\"models\":{\"providers\":{\"bench\":$PROVIDER_JSON}},\"agents\":{\"defaults\":{\"model\":\"bench/m1\"}}}" \
    >"$dir/clawgate.json"
  PORT=$(free_port 19500)
  setsid "$CG" run --port "$PORT" --auth token --token "$TOKEN" --state-dir "$dir" \
    >"$dir.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$PORT" "$(now_ms)" >/dev/null
  sleep 1
}

# ---- clawgate ----
echo "clawgate ($CG)" >&2
start_clawgate "$TMP/clawgate"
measure cg "ws://127.0.0.1:$PORT"
R[cg.disk]=$(du -sk "$TMP/clawgate" | awk '{printf "%.1f", $1/1024}')
kill_tree "$SERVER_PID"
SERVER_PID=""
sleep 1

# ---- the real OpenClaw gateway ----
OC_VERSION="OpenClaw (not run)"
if [ -z "${SKIP_OPENCLAW:-}" ] && [ -x "$OPENCLAW" ] && [ -x "$NODE_BIN/node" ]; then
  OC_VERSION=$(PATH=$NODE_BIN:$PATH HOME=$TMP/oc-home "$OPENCLAW" --version 2>/dev/null | head -1 || echo "OpenClaw ?")
  echo "$OC_VERSION" >&2
  PORT=$(free_port 19500)
  mkdir -p "$TMP/oc-home/.openclaw"
  echo "{\"models\":{\"providers\":{\"bench\":$PROVIDER_JSON}},\"agents\":{\"defaults\":{\"model\":{\"primary\":\"bench/m1\"}}}}" \
    >"$TMP/oc-home/.openclaw/openclaw.json"
  env -u OPENCLAW_STATE_DIR -u OPENCLAW_CONFIG_PATH -u OPENCLAW_GATEWAY_TOKEN \
    -u OPENCLAW_GATEWAY_PASSWORD -u OPENCLAW_GATEWAY_PORT \
    PATH="$NODE_BIN:$PATH" HOME="$TMP/oc-home" \
    setsid "$OPENCLAW" gateway run --allow-unconfigured --port "$PORT" --auth token \
    --token "$TOKEN" --bind loopback >"$TMP/openclaw.log" 2>&1 &
  SERVER_PID=$!
  if wait_ready "$PORT" "$(now_ms)" >/dev/null; then
    sleep 3 # start-up work settles before the idle footprint
    measure oc "ws://127.0.0.1:$PORT"
    R[oc.disk]=$(du -sk "$TMP/oc-home/.openclaw" | awk '{printf "%.1f", $1/1024}')
  else
    tail -20 "$TMP/openclaw.log" >&2
  fi
  kill_tree "$SERVER_PID"
  SERVER_PID=""
  sleep 1
else
  echo "the real gateway is skipped or not installed (scripts/peer.sh): OpenClaw column n/a" >&2
fi

# ---- clawgate again, at the point the real gateway reached ----
TARGET=$((SESSIONS * EXCHANGES))
OC_DONE=${R[oc.sess.done]:-}
if [ -n "$OC_DONE" ] && [ "$OC_DONE" -gt 0 ] 2>/dev/null && [ "$OC_DONE" -lt "$TARGET" ]; then
  echo "clawgate again, fresh, stopped at the real gateway's $OC_DONE exchanges" >&2
  start_clawgate "$TMP/clawgate2"
  sessions cg same "ws://127.0.0.1:$PORT" "$OC_DONE"
  kill_tree "$SERVER_PID"
  SERVER_PID=""
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
row2() { printf '| %s | %s | %s | %s |\n' "$1" "$(v "$2")" "$(v "$3")" "$(ratio "$2" "$3" "$4")"; }

{
  echo "# clawgate vs OpenClaw gateway: streaming chat"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -sr); $("$CG" --version 2>/dev/null | head -1 || echo 'clawgate ?') vs $OC_VERSION."
  echo "Load: cg-chatsim; provider: bench/fake-llm-server.mjs (OpenAI-compatible, api openai-completions, SSE) on $("$NODE" --version); one gateway running at a time."
  echo
  echo "| metric | clawgate | OpenClaw | clawgate advantage |"
  echo "|---|---:|---:|---:|"
  row "idle RSS of the process tree, no client (MiB)" idle lower
  row "latency, $RUNS runs (new session each, 20 chunks 20 ms apart): runs with a final" lat.ok none
  row "  provider's first byte to the client's first delta, p50 (ms)" lat.first_byte_to_delta.p50 lower
  row "  same, p99 (ms)" lat.first_byte_to_delta.p99 lower
  row "  chat.send to the provider's request, p50 (ms)" lat.send_to_provider.p50 lower
  row "  same, p99 (ms)" lat.send_to_provider.p99 lower
  row "  chat.send to the first delta, p50 (ms)" lat.send_to_delta.p50 lower
  row "  provider's last byte to final, p50 (ms)" lat.last_byte_to_final.p50 lower
  for k in paced burst; do
    if [ "$k" = paced ]; then label="$CLIENTS clients, $CHUNKS chunks of 8 B 1 ms apart"; else label="$CLIENTS clients, $CHUNKS chunks of 8 B at once"; fi
    row "$label: delta events/s (sum over clients)" "fan.$k.dps" higher
    row "  deltaText KiB/s (sum over clients)" "fan.$k.kbps" higher
    row "  frame MiB/s on the wire (sum)" "fan.$k.wire" none
    row "  delta events per client (min-max)" "fan.$k.per" none
    row "  clients whose final text is complete" "fan.$k.full" none
    row "  clients whose deltas join to the full text" "fan.$k.joined" none
    row "  provider's first byte to the first delta (ms)" "fan.$k.first" lower
    row "  provider stream length (ms)" "fan.$k.stream" none
    row "  provider's last byte to the last client's final (ms)" "fan.$k.drain" lower
    row "  CPU: gateway / cg-chatsim / rest of machine (% of a core)" "fan.$k.cpu" none
  done
  row "sessions: exchanges done of $((SESSIONS * EXCHANGES)) ($SESSIONS x $EXCHANGES, $INFLIGHT in flight, limit $TIME_LIMIT s)" sess.done higher
  row "  seconds taken" sess.secs none
  row "  runs/s" sess.rps higher
  row "  chat.send to final, p50 (ms)" sess.p50 lower
  row "  chat.send to final, p99 (ms)" sess.p99 lower
  row "  CPU: gateway / cg-chatsim / rest of machine (% of a core)" sess.cpu none
  row "  RSS of the tree before (MiB)" sess.before lower
  row "  peak RSS during the load (MiB, sampled every 1 s)" sess.peak lower
  row "  idle RSS 10 s after the load (MiB)" sess.after lower
  row "  growth per session touched (KiB)" sess.per lower
  row "  state on disk afterwards (MiB)" disk lower
  if [ -n "${R[cg.same.done]:-}" ]; then
    row2 "clawgate fresh, stopped at the real gateway's ${R[oc.sess.done]} exchanges: idle RSS after (MiB)" cg.same.after oc.sess.after lower
    row2 "  peak RSS during the load (MiB)" cg.same.peak oc.sess.peak lower
    row2 "  seconds taken" cg.same.secs oc.sess.secs lower
  fi
  echo
  echo "Method: one provider process (bench/fake-llm-server.mjs) serves both gateways as \`models.providers.bench\` (api \`openai-completions\`, model \`bench/m1\`); each chat.send message carries a marker \`chatsim:<runId>:<chunks>:<delayMs>:<size>\` that tells it what to stream, and it logs per run the CLOCK_MONOTONIC time it received the request, wrote its first SSE data chunk (the role chunk and the first text chunk in one write) and its last. cg-chatsim (one libuv thread, operator connections with the shared token, no device) timestamps the \`chat\` events it receives on the same clock. Latency: ${RUNS} chat.send one after the other (100 ms apart), each on a new session, after two uncounted warm-up runs. Fan-out: $CLIENTS connections (the sender with operator.read+write, the rest operator.read), one run on a new session; rates are summed over all clients over the window from the first delta any client got to the last final, deltaText bytes counted as sent (the \`message\` field of each delta repeats the whole text so far, hence the wire figure); a client's text is complete when its final's text equals the provider's (both trimmed). Sessions: work item n goes to session n mod $SESSIONS as its exchange n div $SESSIONS, $INFLIGHT in flight on one connection, each answered with one short chunk; an exchange counts when its \`final\` arrives; the run stops sending at the time limit and waits for the runs in flight. RSS: VmRSS summed over the gateway's process tree (the real gateway runs helper processes); peak sampled every second during the sessions load, idle 10 s after it. CPU: utime+stime of the gateway's process tree and of cg-chatsim over the row, and the rest of the machine's busy time (/proc/stat; in % of one core, $(nproc) cores in all; the provider's own CPU is in the rest)."
} >"$TMP/report.md"
{ echo; echo "cg-chatsim stderr:"; cat "$TMP/chatsim.err"; } >>"$TMP/raw.txt" 2>/dev/null || true
write_report "$TMP/report.md" "$TMP/raw.txt" "$OUT"
