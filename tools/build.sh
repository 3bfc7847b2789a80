#!/usr/bin/env bash
# Configure and build into DIR (default build/). Extra arguments go to cmake, e.g.
#   tools/build.sh build-asan -DUC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DUC_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
