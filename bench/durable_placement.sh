#!/usr/bin/env bash
# Durable placement on each engine, and failover time (docs/benchmarks.md, "High availability on
# PostgreSQL"). On loopback, on this machine:
#
#   1. a real PostgreSQL made for the run (initdb in a temporary folder, fsync and synchronous
#      commit on, as in production), and SQLite in a temporary data directory (WAL,
#      synchronous=NORMAL, the daemon's default);
#   2. for each engine, the daemon with 1,000 nodes reported once, then placements at 1, 4 and
#      32 client connections (each placement answered once committed, then deleted, untimed, so
#      the slots do not run out): placements/s, p50 and p99;
#   3. two daemons on PostgreSQL with a 3 s lease (the default), the leader killed (SIGKILL)
#      $FAILOVERS times: the time from the kill to the follower answering GET /readyz with 200.
#
#   bench/durable_placement.sh           (about 3 minutes on 2 cores, after the build)
#   PLACEMENTS=4000 FAILOVERS=3 bench/durable_placement.sh
#   NODES=100000 ENGINES=sqlite FAILOVERS=0 ...   SQLite alone, a larger fleet, no failover
#   BUILD=/tmp/release SKIP_BUILD=1 ...   a release build made already (with the benchmarks)
#
# Prints `RESULT ...` lines like bench/run.sh, and a table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build/bench}
NODES=${NODES:-1000}
PLACEMENTS=${PLACEMENTS:-6000}
FAILOVERS=${FAILOVERS:-5}
ENGINES=${ENGINES:-"sqlite postgres"}
RESULTS="$BUILD/durable-placement-results.txt"
LOADGEN="$BUILD/bench/load_generator"
DAEMON="$BUILD/src/macvmorx"

if [ -z "${SKIP_BUILD:-}" ]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-O2" \
        -DMACVMORX_BUILD_TESTS=OFF -DMACVMORX_BUILD_BENCHMARKS=ON >/dev/null
    cmake --build "$BUILD" -j2 --target macvmorx load_generator >/dev/null
fi

WORK=$(mktemp -d /tmp/macvmorx-bench-XXXXXX)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
: >"$RESULTS"
log "# $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; $(basename "$(dirname "$PG_BIN")") PostgreSQL"

# PostgreSQL refuses to run as root: as the postgres user then.
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() { # PORT [STATUS]: until GET /readyz answers STATUS (200)
    for _ in $(seq 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = "${2:-200}" ] && return 0
        sleep 0.01
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
PG_PORT=$(free_port)
as_postgres "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U macvmorx >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
database() { # NAME: a new database, its URL
    as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U macvmorx "$1"
    echo "postgresql://macvmorx@127.0.0.1:$PG_PORT/$1"
}

# ---------------------------------------------------------------------------------------------
# Durable placement

declare -A TABLE
for engine in $ENGINES; do
    for connections in 1 4 32; do
        port=$(free_port)
        case $engine in
        sqlite) records=(--data-dir "$WORK/data-$connections") ;;
        postgres) records=(--database-url "$(database "placements$connections")") ;;
        esac
        "$DAEMON" server --bind 127.0.0.1 --port "$port" --threads 2 --log-level warn "${records[@]}" \
            2>>"$WORK/daemon.log" &
        pid=$!
        PIDS+=("$pid")
        wait_ready "$port"
        "$LOADGEN" --port "$port" --nodes "$NODES" --connections 32 --heartbeats "$NODES" --warmup 0 >/dev/null
        line=$("$LOADGEN" --port "$port" --server-pid "$pid" --label "durable-$engine-$connections" --nodes "$NODES" \
            --connections 0 --schedule-connections "$connections" --schedules "$PLACEMENTS" --warmup 0 |
            grep '^RESULT .*role=schedule')
        log "$line"
        TABLE[$engine,$connections]=$(awk '{ for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%.0f/s, %.0f / %.0f µs", v["rps"], v["p50_us"], v["p99_us"] }' <<<"$line")
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
    done
done

# ---------------------------------------------------------------------------------------------
# Failover

if ((FAILOVERS > 0)); then
url=$(database failover)
start_daemon() { # PORT: a daemon on the failover database; sets LAST_PID
    "$DAEMON" server --bind 127.0.0.1 --port "$1" --database-url "$url" --advertise-url "http://127.0.0.1:$1" \
        --log-level warn 2>>"$WORK/daemon.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}
port_a=$(free_port) port_b=$(free_port)
start_daemon "$port_a"
pid_a=$LAST_PID
wait_ready "$port_a"
start_daemon "$port_b"
pid_b=$LAST_PID
wait_ready "$port_b" 503
sleep 1.5 # the follower has read the lease
times=()
for round in $(seq "$FAILOVERS"); do
    kill -KILL "$pid_a"
    started=$(date +%s%N)
    wait "$pid_a" 2>/dev/null || true
    wait_ready "$port_b"
    took=$((($(date +%s%N) - started) / 1000000))
    times+=("$took")
    log "RESULT label=failover-$round role=failover ms=$took"
    # The killed one comes back as the follower of the next round.
    start_daemon "$port_a"
    pid_a=$pid_b port=$port_a port_a=$port_b port_b=$port pid_b=$LAST_PID
    wait_ready "$port_b" 503
    sleep 1.5
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(sed -n "$(((FAILOVERS + 1) / 2))p" <<<"$sorted")
worst=$(tail -1 <<<"$sorted")

fi

log ""
log "| client connections ($NODES nodes) | SQLite (WAL): placements/s, p50 / p99 | PostgreSQL (same machine): placements/s, p50 / p99 |"
log "|---|---|---|"
for connections in 1 4 32; do
    log "| $connections | ${TABLE[sqlite,$connections]:-} | ${TABLE[postgres,$connections]:-} |"
done
log ""
if ((FAILOVERS > 0)); then
    log "Failover (SIGKILL of the leader to the follower's /readyz 200, lease 3 s, $FAILOVERS rounds): median $median ms, worst $worst ms"
fi
