#!/usr/bin/env bash
# Builds the benchmarks and runs every row of docs/benchmarks.md: for 1,000, 10,000 and
# 100,000 nodes, the null server and then the daemon, back to back, on loopback.
#
#   bench/run.sh                  everything (about 12 minutes on 2 cores, build included)
#   NODES="10000" bench/run.sh    one fleet size
#   SKIP_MICRO=1 SKIP_EXTRA=1     leave out the micro-benchmarks (but those of the scaling table) /
#                                 the extra references
#
# Every figure is printed as a `RESULT ...` line (and each command before it, after `+`), and a
# table at the end gives the daemon's figures as ratios to the null server's of the same run,
# with the server's CPU time per answer (from /proc/PID/stat over the measured window), and a
# scaling table puts each figure at 1,000 / 10,000 / 100,000 nodes beside its ceiling.
# Results also go to $BUILD/bench-results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build/bench}
NODES=${NODES:-"1000 10000 100000"}
DURATION=${DURATION:-10}      # seconds measured per load row (100,000 nodes: half)
WARMUP=${WARMUP:-2}
RATE=${RATE:-10000}           # heartbeats/s of the fixed-rate rows and under placements
CONNECTIONS=${CONNECTIONS:-32}
SERVER_THREADS=${SERVER_THREADS:-2}
REPEAT=${REPEAT:-2}           # saturation rows run this many times, alternating; the best counts
# The daemon's node listing of this fleet is 668-669 bytes per node (micro_benchmarks,
# BM_ListNodesThroughRouter); the null server answers GET /api/nodes with as many bytes.
LIST_BYTES_PER_NODE=${LIST_BYTES_PER_NODE:-669}
RESULTS="$BUILD/bench-results.txt"

LOADGEN="$BUILD/bench/load_generator"
NULL_SERVER="$BUILD/bench/null_server"
DAEMON="$BUILD/src/macvmorx"
MICRO="$BUILD/bench/micro_benchmarks"

log() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
run() {
    log "+ $*"
    "$@" | tee -a "$RESULTS" || log "FAILED: $*"
}

# ---------------------------------------------------------------------------------------------
# Build

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-O2" \
    -DMACVMORX_BUILD_TESTS=OFF -DMACVMORX_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$BUILD" -j2 --target macvmorx load_generator null_server micro_benchmarks >/dev/null

: >"$RESULTS"
log "# $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, kernel $(uname -r)"

# ---------------------------------------------------------------------------------------------
# Servers

SERVER_PID=""

free_port() {
    local port
    for _ in $(seq 100); do
        # Below the ephemeral range (32768 and up), where the load generator's own sockets live.
        port=$((10000 + RANDOM % 22000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# wait_for_port PORT PID: until PID (still running) accepts on PORT.
wait_for_port() {
    for _ in $(seq 200); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            kill -0 "$2" 2>/dev/null && return 0
            return 1
        fi
        sleep 0.05
    done
    return 1
}

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

# start_server KIND THREADS [LIST_BYTES]: KIND is null (macvmorx's HTTP stack, null handlers),
# bare (a minimal Beast server) or daemon (records in memory: what a durable placement costs is
# bench/durable_placement.sh's). Sets PORT and SERVER_PID. Tries another port if the
# server cannot bind the one picked (another process may have taken it meanwhile).
start_server() {
    local kind=$1 threads=$2 list_bytes=${3:-2}
    for _ in 1 2 3; do
        PORT=$(free_port)
        case $kind in
        null) log "+ $NULL_SERVER --mode router --port $PORT --threads $threads --list-bytes $list_bytes"
            "$NULL_SERVER" --mode router --port "$PORT" --threads "$threads" --list-bytes "$list_bytes" 2>/dev/null &
            ;;
        bare) log "+ $NULL_SERVER --mode bare --port $PORT --threads $threads --list-bytes $list_bytes"
            "$NULL_SERVER" --mode bare --port "$PORT" --threads "$threads" --list-bytes "$list_bytes" 2>/dev/null &
            ;;
        daemon) log "+ $DAEMON server --bind 127.0.0.1 --port $PORT --threads $threads --log-level warn --in-memory"
            "$DAEMON" server --bind 127.0.0.1 --port "$PORT" --threads "$threads" --log-level warn --in-memory 2>>"$BUILD/daemon-stderr.txt" &
            ;;
        daemon-without-sweep) # the periodic sweep (offline monitor, VM deadlines) every hour instead of 5 s
            log "+ $DAEMON server --bind 127.0.0.1 --port $PORT --threads $threads --log-level warn --in-memory --monitor-interval 1h"
            "$DAEMON" server --bind 127.0.0.1 --port "$PORT" --threads "$threads" --log-level warn --in-memory --monitor-interval 1h 2>>"$BUILD/daemon-stderr.txt" &
            ;;
        esac
        SERVER_PID=$!
        if wait_for_port "$PORT" "$SERVER_PID"; then return 0; fi
        stop_server
    done
    echo "could not start the $kind server" >&2
    return 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }

# load ROW SERVER ARGS...: one load generator run against the server on $PORT.
load() {
    local row=$1 server=$2
    shift 2
    run "$LOADGEN" --port "$PORT" --server-pid "$SERVER_PID" --label "$row:$server" "$@"
}

# ---------------------------------------------------------------------------------------------
# Rows

for nodes in $NODES; do
    duration=$DURATION warmup=$WARMUP lists=20
    if ((nodes >= 100000)); then duration=$((DURATION / 2)) warmup=1 lists=5; fi
    if ((nodes <= 1000)); then lists=50; fi
    list_bytes=$((nodes * LIST_BYTES_PER_NODE))
    log "# $nodes nodes; load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine)"

    for server in null daemon; do
        start_server "$server" "$SERVER_THREADS" "$list_bytes"
        empty=$(rss_kib)
        # Every node once, so the timed rows update known nodes.
        load "populate-$nodes" "$server" --nodes "$nodes" --connections "$CONNECTIONS" --heartbeats "$nodes" --warmup 0
        sleep 1
        loaded=$(rss_kib)
        log "RSS label=populated-$nodes:$server nodes=$nodes vms=0-2 empty_kib=$empty loaded_kib=$loaded bytes_per_node=$(((loaded - empty) * 1024 / nodes))"
        load "heartbeats-saturation-$nodes" "$server" --nodes "$nodes" --connections "$CONNECTIONS" --duration "$duration" --warmup "$warmup"
        load "heartbeats-fixed-rate-$nodes" "$server" --nodes "$nodes" --connections "$CONNECTIONS" --rate "$RATE" --duration "$duration" --warmup "$warmup"
        load "placement-under-heartbeats-$nodes" "$server" --nodes "$nodes" --connections "$CONNECTIONS" --rate "$RATE" --schedule-connections 4 --duration "$duration" --warmup "$warmup"
        load "node-listing-$nodes" "$server" --nodes "$nodes" --connections 0 --list-connections 1 --lists "$lists" --warmup 0
        stop_server
    done

    # The machine is shared: saturation again, null and daemon alternating; the summary keeps
    # each server's best run.
    for ((round = 2; round <= REPEAT; ++round)); do
        for server in null daemon; do
            start_server "$server" "$SERVER_THREADS"
            load "populate-$nodes" "$server" --nodes "$nodes" --connections "$CONNECTIONS" --heartbeats "$nodes" --warmup 0 >/dev/null
            load "heartbeats-saturation-$nodes" "$server" --nodes "$nodes" --connections "$CONNECTIONS" --duration "$duration" --warmup "$warmup"
            stop_server
        done
    done

    # Memory of idle nodes (no VMs, three cached images), in a fresh daemon.
    start_server daemon "$SERVER_THREADS"
    empty=$(rss_kib)
    load "populate-idle-$nodes" daemon --nodes "$nodes" --connections "$CONNECTIONS" --heartbeats "$nodes" --warmup 0 --max-vms 0
    sleep 1
    loaded=$(rss_kib)
    log "RSS label=idle-$nodes:daemon nodes=$nodes vms=0 empty_kib=$empty loaded_kib=$loaded bytes_per_node=$(((loaded - empty) * 1024 / nodes))"
    stop_server
done

# Other references at 10,000 nodes: a bare Beast server, one server thread, and wrk.
if [[ "${SKIP_EXTRA:-0}" != 1 ]]; then
    for threads in 2 1; do
        for server in bare null daemon; do
            start_server "$server" "$threads"
            load "populate-10000" "$server" --nodes 10000 --connections "$CONNECTIONS" --heartbeats 10000 --warmup 0 >/dev/null
            load "heartbeats-saturation-10000-server-threads-$threads" "$server" --nodes 10000 --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP"
            if [[ $threads == 2 ]] && command -v wrk >/dev/null; then
                run wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/heartbeat.lua "http://127.0.0.1:$PORT/api/heartbeat" -- 10000 |
                    awk -v label="wrk-heartbeats-10000:$server" '/Requests\/sec/ { print "RESULT label=" label " role=heartbeat rps=" $2 }' |
                    tee -a "$RESULTS"
            fi
            stop_server
        done
    done
fi

# What the periodic sweep costs heartbeats: 100,000 nodes (100,000 reported VMs) at a fixed rate,
# with the sweep every 5 s (the default) and every hour.
if [[ "${SKIP_EXTRA:-0}" != 1 ]]; then
    for server in daemon daemon-without-sweep; do
        start_server "$server" "$SERVER_THREADS"
        load "populate-100000" "$server" --nodes 100000 --connections "$CONNECTIONS" --heartbeats 100000 --warmup 0 >/dev/null
        load "sweep-impact-fixed-rate-100000" "$server" --nodes 100000 --connections "$CONNECTIONS" --rate "$RATE" --duration "$DURATION" --warmup 1
        stop_server
    done
fi

if [[ "${SKIP_MICRO:-0}" != 1 ]]; then
    run "$MICRO" --benchmark_min_time=0.5
else
    # The scaling table's in-process rows only: the listing refreshes and the sweep.
    run "$MICRO" --benchmark_min_time=0.5 --benchmark_filter='BM_NodeListingRefresh|BM_SweepNothingDue'
fi

# ---------------------------------------------------------------------------------------------
# Summary: the daemon against the null server of the same run

bench/summarize.sh "$RESULTS"
