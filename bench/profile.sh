#!/usr/bin/env bash
# Where a server's CPU goes under a saturating heartbeat load: samples the daemon (or the null
# server, for comparison) with `perf record -e cpu-clock` while bench/load_generator sends
# heartbeats from K nodes over 32 connections, then prints the share of samples by part of the
# program (kernel and network, the HTTP stack, JSON, the node store, the lifecycle, the
# scheduler, metrics, allocation, locks) and the 40 hottest functions.
#
#   bench/profile.sh                       the daemon, 10,000 nodes, 10 s
#   SERVER=null NODES=100000 bench/profile.sh
#   LOAD=placement bench/profile.sh        placements (4 connections) under 10,000 heartbeats/s
#
# Needs perf (Debian's linux-perf) and a build with the benchmarks: BUILD (default build/bench,
# as bench/run.sh makes it). The raw profile stays in $BUILD/profile-<server>-<nodes>.data for
# `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build/bench}
SERVER=${SERVER:-daemon}
NODES=${NODES:-10000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
LOAD=${LOAD:-heartbeats}
LOADGEN="$BUILD/bench/load_generator"
DATA="$BUILD/profile-$LOAD-$SERVER-$NODES.data"

command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
port=$((10000 + RANDOM % 22000))
case $SERVER in
daemon) "$BUILD/src/macvmorx" server --bind 127.0.0.1 --port "$port" --threads "$THREADS" --log-level warn --in-memory 2>/dev/null & ;;
null) "$BUILD/bench/null_server" --mode router --port "$port" --threads "$THREADS" 2>/dev/null & ;;
*) echo "SERVER is daemon or null" >&2; exit 2 ;;
esac
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done

# Every node once, then the load with the profiler attached for its measured window.
"$LOADGEN" --port "$port" --server-pid "$pid" --nodes "$NODES" --connections "$CONNECTIONS" --heartbeats "$NODES" --warmup 0 >/dev/null
case $LOAD in
heartbeats) load_args=() ;;
placement) load_args=(--rate 10000 --schedule-connections 4) ;;
*) echo "LOAD is heartbeats or placement" >&2; exit 2 ;;
esac
"$LOADGEN" --port "$port" --server-pid "$pid" --nodes "$NODES" --connections "$CONNECTIONS" --duration "$((DURATION + 2))" \
    --warmup 1 --label "profile-$LOAD-$NODES:$SERVER" "${load_args[@]}" &
load=$!
sleep 1
perf record -q -e cpu-clock -F 1999 -p "$pid" -o "$DATA" -- sleep "$DURATION" 2>/dev/null
wait "$load"

report() {
    perf report -q -i "$DATA" --no-children --sort "$1" --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' |
        sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+/ /g' | cut -c1-220
}

echo "== $LOAD, $SERVER, $NODES nodes: share of the server's CPU samples by part (self time)"
report dso,symbol | awk '
{
    share = $1; sub(/%/, "", share)
    line = $0
    part = "other"
    if (line ~ /\[kernel/ || line ~ /\[k\]/) part = "kernel: TCP, epoll, scheduling"
    else if (line ~ /malloc|free|_int_|operator new|operator delete|cfree|tcache/) part = "allocation (malloc, free)"
    else if (line ~ /pthread_mutex|pthread_rwlock|__lll_|futex|shared_mutex/) part = "locks"
    else if (line ~ /simdjson/) part = "JSON: simdjson"
    else if (line ~ /nlohmann/) part = "JSON: nlohmann"
    else if (line ~ /prometheus/) part = "metrics (prometheus-cpp)"
    else if (line ~ /spdlog|fmt::/) part = "logging (spdlog, fmt)"
    else if (line ~ /protocol::|parse_heartbeat|heartbeat_fast/) part = "heartbeat parsing and checks"
    else if (line ~ /scheduling::|Scheduler/) part = "scheduler"
    else if (line ~ /lifecycle::|VmLifecycle/) part = "VM lifecycle"
    else if (line ~ /NodeStore|fleet::|ImageDistribution|Orchestrator|FleetHistory/) part = "node store and orchestrator"
    else if (line ~ /beast::|http::|asio::|Session|Router|Listener/) part = "HTTP stack (Beast, Asio, router)"
    else if (line ~ /libc\.so|memcpy|memmove|memcmp|strlen|__memc/) part = "libc (copies, compares)"
    total[part] += share
}
END { for (p in total) printf "%6.1f%%  %s\n", total[p], p }' | sort -rn

echo "== $LOAD, $SERVER, $NODES nodes: the 40 hottest functions (self time)"
report dso,symbol | head -40
