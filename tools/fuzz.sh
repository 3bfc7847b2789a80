#!/usr/bin/env bash
# Build the libFuzzer targets with clang (+ASan/UBSan) and run each for SECONDS
# (default 60), starting from tests/fuzz/corpus/<target>. New corpus entries go to a
# scratch copy; crashers are left in the scratch dir and fail the run.
#   tools/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config dsse meta http_parse range route cookie config_edit api)
bash tools/deps.sh
# Only the fuzz targets (and the library they link): the daemon, tools and tests are
# built and run by tools/test.sh.
CC=clang cmake -S . -B build-fuzz -DUC_WERROR=ON -DUC_FUZZ=ON -DUC_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
work=$(mktemp -d "${TMPDIR:-/tmp}/ucfuzz.XXXXXX")
status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    cp tests/fuzz/corpus/"$t"/* "$work/$t/"
    echo "== fuzz_$t for ${secs}s"
    if ! (cd "$work" && "$OLDPWD/build-fuzz/tests/fuzz_$t" -max_total_time="$secs" \
        -max_len=4096 -print_final_stats=1 "$work/$t" 2>"$work/$t.log"); then
        echo "fuzz_$t FAILED; log and crasher in $work" >&2
        tail -n 30 "$work/$t.log" >&2
        status=1
    else
        grep -E '^#[0-9]+.*DONE' "$work/$t.log" || true
    fi
done
[ $status -ne 0 ] || rm -rf "$work"
exit $status
