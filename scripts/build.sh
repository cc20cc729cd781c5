#!/usr/bin/env bash
# Configures and builds into build/ (or $1), passing any further arguments
# to cmake. Example: scripts/build.sh build-asan -DA0_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
