#!/usr/bin/env bash
# Install what is missing, build, run the whole test suite (unit + integration).
#   tools/test.sh            the normal build, in build/
#   tools/test.sh --asan     the AddressSanitizer + UndefinedBehaviorSanitizer build, in build-asan/
#   tools/test.sh --tsan     the ThreadSanitizer build, in build-tsan/
#   tools/test.sh --package  build the Debian package (tools/package.sh), install it on this
#                            machine, check and remove it (root; tests/integration/it_package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
if [ "${1:-}" = "--package" ]; then
    deb=$(bash tools/package.sh)
    exec bash tests/integration/it_package.sh "$deb"
elif [ "${1:-}" = "--asan" ]; then
    bash tools/build.sh build-asan -DUC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    cd build-asan
elif [ "${1:-}" = "--tsan" ]; then
    # ThreadSanitizer for the threaded parts (hashing across cores, the tools' workers).
    bash tools/build.sh build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-fsanitize=thread \
        -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DUC_MAN=OFF
    export TSAN_OPTIONS=halt_on_error=1
    export UC_CRASH_TRIALS=${UC_CRASH_TRIALS:-10}
    cd build-tsan
else
    bash tools/build.sh build
    cd build
fi
ctest --output-on-failure -j "$(nproc)"
