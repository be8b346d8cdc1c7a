#!/usr/bin/env bash
# Runs the dashboard's tests in a real browser: Debian's chromium, driven headless by
# playwright-core, against the given macvmorx binary (the dashboard built into it; set
# MACVMORX_WEB_DIR=web to test the files on disk instead), and checks that the committed
# stylesheet is what the pinned Tailwind builds of web/src. Screenshots and daemon logs go to
# test-artifacts/. Exits non-zero when a test fails.
#
#   tests/browser/run.sh build/release/src/macvmorx
#
# Two test files run at once (BROWSER_TEST_JOBS): each starts its own daemons and Chromium, and
# mostly waits on them (171 s one at a time, 98 s two at a time on 2 cores).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/macvmorx" >&2
  exit 2
fi
binary=$(realpath "$1")
if [ -n "${MACVMORX_WEB_DIR:-}" ]; then
  # Resolved here, before the cd below, so that a path relative to the caller's directory works.
  if [ ! -f "$MACVMORX_WEB_DIR/index.html" ] && [ ! -f "$MACVMORX_WEB_DIR/src/index.html" ]; then
    echo "MACVMORX_WEB_DIR=$MACVMORX_WEB_DIR holds no index.html, nor src/index.html" >&2
    exit 2
  fi
  MACVMORX_WEB_DIR=$(realpath "$MACVMORX_WEB_DIR")
  export MACVMORX_WEB_DIR
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
started=$(date +%s)

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "Installing Debian's chromium"
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "the browser tests need Node.js 20 or later (playwright-core does)" >&2
  exit 1
fi

# Tailwind, pinned by web/package-lock.json: a test builds the stylesheet again.
(cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error

export MACVMORX_BIN="$binary" CHROMIUM="$chromium" MACVMORX_ARTIFACTS="$root/test-artifacts"
rm -rf "$MACVMORX_ARTIFACTS/screenshots" "$MACVMORX_ARTIFACTS/logs"
status=0
node --test --test-concurrency="${BROWSER_TEST_JOBS:-2}" --test-timeout=180000 --test-reporter=spec ./*.test.mjs || status=$?
echo "Browser tests took $(( $(date +%s) - started )) seconds; screenshots in test-artifacts/screenshots/"
exit "$status"
