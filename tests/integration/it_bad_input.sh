#!/usr/bin/env bash
# Bad input gets a clear error naming the file (and line/key, or expected/actual) and
# publishes nothing: config errors, an index written by a newer schema, and a disk
# that fills up during add (a small tmpfs store, when this host lets us mount one).
. "$(dirname "$0")/lib.sh"
set -e
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/a.cab" 50000

# Config: unknown key and bad value, each named with file:line and key; exit 2.
mkdir -p "$T/c"
printf '[server]\nstore = %s/c/store\nmax_conections = 10\n' "$T" >"$T/c/unknown.conf"
run_rc 2 "unknown config key" "$UC" add --config "$T/c/unknown.conf" --key "$T/k" --title t "$T/a.cab"
check "unknown key named with file:line" has "$ERR" "$T/c/unknown.conf:3: \[server\] max_conections: unknown key"
printf '[server]\nstore = %s/c/store\n[store]\nmax_size = lots\n' "$T" >"$T/c/value.conf"
run_rc 2 "bad config value" "$UC" ls --config "$T/c/value.conf"
check "bad value named with file:line" has "$ERR" "$T/c/value.conf:4: \[store\] max_size: bad value 'lots', expected a size"
printf '[server]\nhttps_port = 8531\nhttp_port = 8080\n' >"$T/c/ports.conf"
run_rc 2 "contradicting http_port" "$UC" ls --config "$T/c/ports.conf"
check "port pairing explained" has "$ERR" "http_port: 8080 contradicts https_port 8531.*8530"
run_rc 2 "missing config file" "$UC" ls --config "$T/c/none.conf"
check "missing config named" has "$ERR" "none.conf: cannot read config"
check "nothing created by config errors" test ! -e "$T/c/store"

# An index written by a newer schema: refused by readers and writers, nothing published.
make_conf "$T/n" </dev/null
"$UC" add --config "$T/n/uc.conf" --key "$T/k" --title t "$T/a.cab" >/dev/null 2>&1
printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 736368656d61\n 63000000\nDATA=END\n' |
    mdb_load -s meta "$T/n/store/index"
make_file "$T/b.cab" 1234
run_rc 2 "ls on newer schema" "$UC" ls --config "$T/n/uc.conf"
check "schema error names index and version" has "$ERR" "$T/n/store/index: index was written by schema version 99"
run_rc 2 "add on newer schema" "$UC" add --config "$T/n/uc.conf" --key "$T/k" --title t "$T/b.cab"
check "nothing published on newer schema" test "$(find "$T/n/store/Content" -type f | wc -l)" -eq 1
check "no tmp leftover on newer schema" test -z "$(ls -A "$T/n/store/tmp")"

# A full disk during add: a 32 MiB tmpfs store.
mkdir -p "$T/small"
if ! mount -t tmpfs -o size=32m tmpfs "$T/small" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs here (needs root); full-disk case not run"
    finish
    exit $?
fi
cleanup_hooks+=("umount '$T/small'")
S=$T/small/store
printf '[server]\nstore = %s\n[store]\nmin_free = 0\n' "$S" >"$T/small.conf"
make_file "$T/fits.cab" $((1024 * 1024))
make_file "$T/big.cab" $((20 * 1024 * 1024))
run_rc 0 "add that fits" "$UC" add --config "$T/small.conf" --key "$T/k" --title fits "$T/fits.cab"
# The disk fills while add writes: pause add once its tmp file exists, fill the file
# system, resume. (If add had already written everything by then, try again.)
hit=0
for _attempt in 1 2 3 4 5 6 7 8 9 10; do
    "$UC" add --config "$T/small.conf" --key "$T/k" --title full "$T/big.cab" >"$T/o" 2>"$T/e" &
    pid=$!
    until compgen -G "$S/tmp/*.part" >/dev/null || ! kill -0 $pid 2>/dev/null; do :; done
    kill -STOP $pid 2>/dev/null || true
    part=$(compgen -G "$S/tmp/*.part" || true)
    partial=$([ -n "$part" ] && stat -c %s "$part" || echo 0)
    head -c 64M /dev/zero >"$T/small/filler" 2>/dev/null || true
    kill -CONT $pid 2>/dev/null || true
    set +e
    wait $pid
    rc=$?
    set -e
    rm -f "$T/small/filler"
    if [ "$rc" -eq 1 ] && grep -q "No space left on device" "$T/e"; then
        hit=1
        break
    fi
    # add finished before the disk filled: undo that update's effect on the test.
    echo "attempt: add exit $rc after $partial bytes; retrying" >&2
    rm -rf "$S" && "$UC" add --config "$T/small.conf" --key "$T/k" --title fits "$T/fits.cab" >/dev/null 2>&1
done
ERR=$(cat "$T/e")
check "add hit ENOSPC mid-write (exit 1)" test "$hit" -eq 1
check "ENOSPC names the source and tmp file" has "$ERR" "big\.cab: writing tmp/.*: No space left on device"
check "says what to do" has "$ERR" "free space on the store's file system and re-run"
check "no partial file published" no_partial "$S"
check "tmp cleaned after ENOSPC" test -z "$(ls -A "$S/tmp")"
run_rc 0 "ls after ENOSPC" "$UC" ls --config "$T/small.conf"
check "only the first update listed" test "$(printf '%s\n' "$OUT" | grep -c '^[0-9]')" -eq 1
run_rc 0 "verify after ENOSPC is clean" "$UC" verify --config "$T/small.conf"
check "store content intact" content_ok "$T/small.conf" "$S"
run_rc 0 "the same add succeeds once there is space" "$UC" add --config "$T/small.conf" \
    --key "$T/k" --title again "$T/big.cab"
run_rc 0 "verify after the re-run" "$UC" verify --config "$T/small.conf"
make_file "$T/other.cab" $((3 * 1024 * 1024))
# The free-space floor refuses up front, before writing anything.
printf '[server]\nstore = %s\n[store]\nmin_free = 50%%\n' "$S" >"$T/floor.conf"
run_rc 1 "add below the min_free floor" "$UC" add --config "$T/floor.conf" --key "$T/k" \
    --title floor "$T/other.cab"
check "floor explained" has "$ERR" "not enough free space: need 3.0 MiB, .* min_free"
finish
