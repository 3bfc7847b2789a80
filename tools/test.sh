#!/usr/bin/env bash
# Install what is missing, build, run the whole test suite (unit + integration).
#   tools/test.sh            the normal build, in build/
#   tools/test.sh --asan     the AddressSanitizer + UndefinedBehaviorSanitizer build, in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
if [ "${1:-}" = "--asan" ]; then
    bash tools/build.sh build-asan -DUC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    cd build-asan
else
    bash tools/build.sh build
    cd build
fi
ctest --output-on-failure -j "$(nproc)"
