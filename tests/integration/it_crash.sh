#!/usr/bin/env bash
# Crash safety of add (SPEC §4): SIGKILL `updcache add` at random moments, at least 50
# trials over files from 0 bytes to 64 MiB. After each kill: verify is clean, every file
# ls lists as present has the right digests on disk, nothing partial sits under
# Content/, gc leaves it clean, and re-running the same add completes.
# UC_CRASH_TRIALS overrides the trial count (default 50).
. "$(dirname "$0")/lib.sh"
set -e
TRIALS=${UC_CRASH_TRIALS:-50}
make_conf "$T/s" </dev/null
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/base" $((64 * 1024 * 1024))
mkdir -p "$T/src"

# Files unique to trial $1 (so each trial really writes), sizes 0 B to 64 MiB.
make_trial_files() {
    local i=$1 mark
    mark=$(printf 'trial %05d ' "$i")
    rm -f "$T/src"/*
    : >"$T/src/empty.txt"
    printf '%s' "${mark:0:1}" >"$T/src/one.bin"
    { printf '%s' "$mark"; head -c $((4096 - ${#mark})) "$T/base"; } >"$T/src/small.cab"
    { printf '%s' "$mark"; head -c $((1024 * 1024 + 7 - ${#mark})) "$T/base"; } >"$T/src/mid-express.cab"
    { printf '%s' "$mark"; head -c $((RANDOM * 512 % (16 * 1024 * 1024))) "$T/base"; } >"$T/src/var.msu"
    if [ $((i % 3)) -eq 0 ]; then
        { printf '%s' "$mark"; head -c $((64 * 1024 * 1024 - ${#mark})) "$T/base"; } >"$T/src/huge.wim"
    fi
}

# Not a shell function: `$!` of a backgrounded function is a subshell, and SIGKILL must
# reach updcache itself.
ADD=("$UC" add --config "$C" --key "$T/k")

# Calibrate the kill window for both trial shapes (with and without the 64 MiB file) on
# uninterrupted runs, so kills land across the whole run: staging, fsync, publish.
calibrate() {
    make_trial_files "$1"
    local t0
    t0=$(date +%s%N)
    "${ADD[@]}" --title "trial $1" "$T/src"/* >/dev/null 2>&1
    echo $(( ($(date +%s%N) - t0) / 1000000 * 11 / 10 + 2 ))
}
window_big=$(calibrate 0)
window_small=$(calibrate 1000001)
echo "kill windows: 0..$window_small ms (up to 16 MiB), 0..$window_big ms (with 64 MiB)"
mid_run=0
ran=0
for i in $(seq 1 "$TRIALS"); do
    # Bound the store's size: start afresh every 10 trials.
    if [ $((i % 10)) -eq 0 ]; then rm -rf "$T/s/store"; fi
    make_trial_files "$i"
    ran=$((ran + 1))
    "${ADD[@]}" --title "trial $i" "$T/src"/* >/dev/null 2>"$T/add.err" &
    pid=$!
    big=$([ $((i % 3)) -eq 0 ] && echo 1 || echo 0)
    window_ms=$([ "$big" = 1 ] && echo "$window_big" || echo "$window_small")
    ms=$((RANDOM % window_ms))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    # The machine's speed drifts (other tests, other tenants): a kill that came too late
    # shrinks that shape's window, one that landed mid-run lets it grow back a little.
    if kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; then
        mid_run=$((mid_run + 1))
        window_ms=$((window_ms * 21 / 20 + 1))
    else
        window_ms=$((window_ms * 4 / 5 + 1))
    fi
    if [ "$big" = 1 ]; then window_big=$window_ms; else window_small=$window_ms; fi
    wait "$pid" 2>/dev/null || true
    [ -d "$T/s/store" ] || continue # killed before the store existed
    run_rc 0 "trial $i (killed at ${ms} ms): verify clean" "$UC" verify --config "$C"
    [ "$FAIL" -eq 0 ] || printf '%s\n' "$OUT" >&2
    check "trial $i: present files have their digests" content_ok "$C" "$T/s/store"
    check "trial $i: nothing partial under Content/" no_partial "$T/s/store"
    run_rc 0 "trial $i: gc after the crash" "$UC" gc --config "$C"
    run_rc 0 "trial $i: re-run completes" "${ADD[@]}" --title "trial $i" "$T/src"/*
    run_rc 0 "trial $i: verify after re-run" "$UC" verify --config "$C"
    check "trial $i: tmp/ empty after re-run and gc" test -z "$(ls -A "$T/s/store/tmp")"
    run_rc 0 "trial $i: ls" "$UC" ls --config "$C"
    check "trial $i: the re-run's update is listed" has "$OUT" "	trial $i	"
    [ "$FAIL" -eq 0 ] || break
done
echo "$mid_run of $ran kills landed while add was running"
check "all $TRIALS trials ran" test "$ran" -eq "$TRIALS"
check "most kills landed mid-run ($mid_run of $ran)" test "$mid_run" -ge $((ran / 2))
finish
