#!/usr/bin/env bash
# The scheduling study (docs/benchmarks.md, "Scheduling: images ahead of demand and fair share"):
# the real orchestrator in process, model Macs in virtual time, pre-distribution and fair share
# each on and off on the same seed (`macvmorx simulate --scheduling-study`, src/sim/
# scheduling_study.cpp). Prints the study's Markdown tables.
#
#   bench/scheduling_study.sh                 200 Macs, 8 virtual hours (a few minutes of CPU)
#   NODES=400 HOURS=12 SEED=3 bench/scheduling_study.sh
#   EXTRA="--priority-aging 0" bench/scheduling_study.sh    any other option of the study
#   BUILD=/tmp/release SKIP_BUILD=1 ...       a release build made already
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build/bench}
NODES=${NODES:-200}
HOURS=${HOURS:-8}
SEED=${SEED:-1}
DAEMON="$BUILD/src/macvmorx"

if [ -z "${SKIP_BUILD:-}" ]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-O2" \
        -DMACVMORX_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target macvmorx >/dev/null
fi

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "unknown")
git diff --quiet HEAD -- src include 2>/dev/null || COMMIT="$COMMIT (with local changes)"
echo "commit $COMMIT, $(nproc) cores, $(uname -sr)"
echo
# 12 images of 30-60 GB, Zipf s=1.1; 1 Gbit/s per Mac; jobs of 10 minutes on average, half the
# fleet's slots busy outside the flood; the flooding tenant at 10x its rate for 20 minutes.
# shellcheck disable=SC2086
"$DAEMON" simulate --scheduling-study --nodes "$NODES" --hours "$HOURS" --warm-up 1h --seed "$SEED" \
    --study-images 12 --zipf-exponent 1.1 --min-image-gb 30 --max-image-gb 60 --bandwidth-mbps 1000 \
    --max-cached-images 5 --boot-time 20s --job-runtime 10m --heartbeat-interval 5s \
    --flood-factor 10 --flood-duration 20m ${EXTRA:-}
