#!/usr/bin/env bash
# updcache sync when things go wrong: a truncated body, a range answered with the whole
# file (200), a content server that has gone away (each a clear error and a retry,
# nothing half-published, the next run completes and resumes); the downstream keeps
# serving while it syncs; SIGKILL at random moments of a sync of 20 files of 8 MiB
# (20 trials): the store verifies clean after each, and the next sync completes,
# fetching only what is missing; a disk that fills mid-file.
# Usage: it_sync_faults.sh UPDCACHE UPDCACHED BADSERVER
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached badserver}
BAD=${3:?usage: $0 updcache updcached badserver}
TRIALS=${UC_SYNC_CRASH_TRIALS:-20}
set -e
mkdir -p "$T/src"
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
"$UC" mkcert root.updcache.test --out "$T/root/pki" >/dev/null 2>&1
make_conf "$T/root" <<EOF2
name = root.updcache.test
listen = 127.0.0.1
port_file = $T/root/ports
access_log = $T/root/access.log
workers = 2
[tls]
cert = $T/root/pki/root.updcache.test.pem
key = $T/root/pki/root.updcache.test.key
[auth]
downstreams = ds:sec
EOF2
# The badserver's body (byte i = i % 251) published at the root, so it can stand in for
# the root's plain port.
SIZE=300000
"$BAD" --dump-body --size $SIZE --port-file /dev/null >"$T/src/pattern.cab"
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title pattern "$T/src/pattern.cab" >/dev/null 2>&1
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P RPP=$PP
ds() { # DIR [content_url]: a downstream config
    mkdir -p "$1"
    {
        printf '[server]\nstore = %s/store\nlisten = 127.0.0.1\nhttp_port = 0\nport_file = %s/ports\n' "$1" "$1"
        printf '[upstream]\nurl = https://root.updcache.test:%s/\nca_file = %s\n' "$RP" "$T/root/pki/ca.pem"
        printf 'resolve = root.updcache.test:%s:127.0.0.1\npublisher_keys = %s.pub\n' "$RP" "$T/pub"
        printf 'downstream_id = ds\ndownstream_secret = sec\n'
        [ -z "${2:-}" ] || printf 'content_url = %s\n' "$2"
    } >"$1/uc.conf"
}
badserver() { # MODE -> BP (port), BPID
    rm -f "$T/bad.port"
    "$BAD" --mode "$1" --size $SIZE --port-file "$T/bad.port" --max-requests 100 --seconds 60 &
    BPID=$!
    cleanup_hooks+=("kill $BPID 2>/dev/null")
    for _ in $(seq 100); do [ -s "$T/bad.port" ] && break; sleep 0.05; done
    BP=$(cat "$T/bad.port")
}
pat=$(sha1sum <"$T/src/pattern.cab" | cut -c1-40)
pat=${pat^^}
PART="s-$pat.part"
published() { "$UC" ls --files --config "$1/uc.conf" 2>/dev/null | grep -c "^present" || true; }
same_20() { # STORE WHEN: f01..f20.psf are in STORE byte for byte
    local i s
    for i in $(seq -w 1 20); do
        s=$(sha1sum <"$T/src/f$i.psf" | cut -c1-40)
        s=${s^^}
        cmp -s "$1/Content/${s: -2}/$s.psf" "$T/src/f$i.psf" || bad "f$i.psf differs $2"
    done
    ok
}

# --- A truncated body: retried, then a clear error; nothing published; the part stays.
badserver short
ds "$T/d1" "http://127.0.0.1:$BP/"
run_rc 1 "truncated body: sync fails" "$UC" sync --once --config "$T/d1/uc.conf"
check "truncated body: retried" has "$ERR" "retrying \\(attempt 2 of 4\\)"
check "truncated body: says how much came" has "$ERR" "(after 299900 of 300000 bytes|ended after 299900 of 300000)"
check "truncated body: nothing published" test "$(published "$T/d1")" = 0
run_rc 0 "truncated body: store verifies clean" "$UC" verify --config "$T/d1/uc.conf"
psize=$(stat -c %s "$T/d1/store/tmp/$PART" 2>/dev/null || echo 0)
check "truncated body: the partial file is kept for resume ($psize bytes)" test "$psize" -ge 299900 -a "$psize" -lt $SIZE
kill $BPID 2>/dev/null || true
sed -i '/^content_url = /d' "$T/d1/uc.conf"
run_rc 0 "truncated body: the next run completes" "$UC" sync --once --config "$T/d1/uc.conf"
sleep 1.2
check "truncated body: it fetched only the missing $((SIZE - psize)) bytes" grep -q "\"GET /Content/${pat: -2}/$pat.cab HTTP/1.1\" 206 $((SIZE - psize)) " "$T/root/access.log"
check "truncated body: then whole" cmp -s "$T/d1/store/Content/${pat: -2}/$pat.cab" "$T/src/pattern.cab"

# --- A range answered with the whole file: detected, started over, completed.
badserver norange
ds "$T/d2" "http://127.0.0.1:$BP/"
mkdir -p "$T/d2/store/tmp"
"$UC" ls --config "$T/d2/uc.conf" >/dev/null 2>&1 || true # makes the store layout
head -c 100000 "$T/src/pattern.cab" >"$T/d2/store/tmp/$PART"
run_rc 0 "range answered with 200: sync completes" "$UC" sync --once --config "$T/d2/uc.conf"
check "range answered with 200: said so" has "$ERR" "asked for bytes 100000- and got the whole file \\(200\\); starting over"
check "range answered with 200: bytes right" cmp -s "$T/d2/store/Content/${pat: -2}/$pat.cab" "$T/src/pattern.cab"
kill $BPID 2>/dev/null || true

# --- The content server gone: retries, a clear error, nothing published.
badserver good
kill $BPID 2>/dev/null || true
wait $BPID 2>/dev/null || true
ds "$T/d3" "http://127.0.0.1:$BP/"
run_rc 1 "content server gone: sync fails" "$UC" sync --once --config "$T/d3/uc.conf"
check "content server gone: retried" has "$ERR" "retrying"
check "content server gone: says it could not connect" has "$ERR" "[Cc]ould(n't| not) connect|Connection refused|Failed to connect"
check "content server gone: nothing published" test "$(published "$T/d3")" = 0
sed -i '/^content_url = /d' "$T/d3/uc.conf"
run_rc 0 "content server back: completes" "$UC" sync --once --config "$T/d3/uc.conf"

# --- 20 files of 8 MiB; the downstream serves while it syncs; SIGKILL trials.
ds "$T/d4"
run_rc 0 "crash store: the small update first" "$UC" sync --once --config "$T/d4/uc.conf"
for i in $(seq -w 1 20); do make_file "$T/src/f$i.psf" $((8 * 1024 * 1024)); done
for g in 0 1 2 3; do
    files=()
    for i in $(seq 1 5); do files+=("$T/src/f$(printf '%02d' $((g * 5 + i))).psf"); done
    "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title "group $g" "${files[@]}" >/dev/null 2>&1
done
"$UCD" --config "$T/d4/uc.conf" 2>"$T/d4.err" &
D4PID=$!
cleanup_hooks+=("kill $D4PID 2>/dev/null")
for _ in $(seq 100); do [ -s "$T/d4/ports" ] && break; sleep 0.05; done
D4P=$(sed -n 's/^http=//p' "$T/d4/ports")
# While it syncs (slowed to 4 MB/s per transfer), the downstream serves what it has.
UPDCACHE_SYNC_RATE=4M "$UC" sync --once --config "$T/d4/uc.conf" >/dev/null 2>&1 &
SPID=$!
sleep 0.3
got=$(curl -sS -m 5 "http://127.0.0.1:$D4P/Content/${pat: -2}/$pat.cab" | sha1sum | cut -c1-40)
alive=no
kill -0 $SPID 2>/dev/null && alive=yes
check "served while syncing (sync still running: $alive)" test "${got^^}" = "$pat" -a "$alive" = yes
kill -9 $SPID 2>/dev/null || true
wait $SPID 2>/dev/null || true
# Each trial: a sync from where the last one left off, killed at a random moment (the
# transfers capped so that a whole sync takes about a second), verify, then a full sync
# that must fetch exactly the files still missing; then the downstream starts empty again.
killed=0
TOTAL=$((20 * 8 * 1024 * 1024 + SIZE))
for t in $(seq "$TRIALS"); do
    UPDCACHE_SYNC_RATE=24M "$UC" sync --once --config "$T/d4/uc.conf" >/dev/null 2>"$T/trial.err" &
    SPID=$!
    # A random moment once the transfers run (a part file exists): the first 0.5 s of a
    # sync that lasts about a second, so the kill lands in the middle of it.
    for _ in $(seq 500); do
        compgen -G "$T/d4/store/tmp/*.part" >/dev/null && break
        kill -0 $SPID 2>/dev/null || break
        sleep 0.01
    done
    sleep "0.$((RANDOM % 5))"
    if kill -9 $SPID 2>/dev/null; then
        killed=$((killed + 1))
    else
        echo "trial $t: sync ended before the kill:" >&2
        cat "$T/trial.err" >&2
    fi
    wait $SPID 2>/dev/null || true
    if ! "$UC" verify --config "$T/d4/uc.conf" >"$T/v.out" 2>&1; then
        bad "trial $t: verify after SIGKILL"
        cat "$T/v.out" >&2
    else
        ok
    fi
    # What the next sync must still fetch: the files not present, less what their part
    # files already hold.
    present=$("$UC" ls --files --config "$T/d4/uc.conf" 2>/dev/null | awk -F'\t' '$1 == "present" {s += $4} END {print s + 0}')
    parts=$(find "$T/d4/store/tmp" -name 's-*.part' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    want=$((TOTAL - present - parts))
    sleep 1.1 # one access-log flush of the root
    lines=$(wc -l <"$T/root/access.log")
    if ! "$UC" sync --once --config "$T/d4/uc.conf" >"$T/s.out" 2>&1; then
        bad "trial $t: the sync after the kill failed"
        cat "$T/s.out" >&2
    fi
    sleep 1.1
    got=$(tail -n +$((lines + 1)) "$T/root/access.log" | grep '"GET /Content/' | awk '{s += $10} END {print s + 0}')
    [ "$got" = "$want" ] && ok ||
        bad "trial $t: the next sync fetched $got bytes; $want were missing (parts held $parts)"
    [ "$(published "$T/d4")" = 21 ] && ok || bad "trial $t: not all 21 files present after the next sync"
    [ "$t" = "$TRIALS" ] || { kill $D4PID; wait $D4PID 2>/dev/null; rm -rf "$T/d4/store"; }
    if [ "$t" != "$TRIALS" ]; then
        "$UCD" --config "$T/d4/uc.conf" 2>>"$T/d4.err" &
        D4PID=$!
        cleanup_hooks+=("kill $D4PID 2>/dev/null")
        for _ in $(seq 100); do [ -d "$T/d4/store/index" ] && break; sleep 0.05; done
    fi
done
echo "sync crash trials: $killed of $TRIALS kills landed while sync ran" >&2
check "most kills landed mid-sync ($killed of $TRIALS)" test "$killed" -ge $((TRIALS * 3 / 4))
same_20 "$T/d4/store" "after the crash trials"
run_rc 0 "verify clean at the end" "$UC" verify --config "$T/d4/uc.conf"
check "no part files left" test -z "$(ls "$T/d4/store/tmp/")"
kill $D4PID 2>/dev/null || true

# --- The disk fills mid-file: the write, on its own thread beside the hashing, fails;
# the error names the part file and what to do; nothing is published; once there is
# room the next run resumes and every file is right.
mkdir -p "$T/full"
if mount -t tmpfs -o size=256M tmpfs "$T/full" 2>/dev/null; then
    cleanup_hooks+=("umount -l '$T/full'")
    ds "$T/full/d"
    sed -i "s|^store = .*|store = $T/full/d/store|" "$T/full/d/uc.conf"
    UPDCACHE_SYNC_RATE=2M "$UC" sync --once --config "$T/full/d/uc.conf" >/dev/null 2>"$T/full.err" &
    SP=$!
    sleep 1
    dd if=/dev/zero of="$T/full/filler" bs=1M 2>/dev/null || true # until the disk is full
    wait $SP && rc=0 || rc=$?
    check "full disk: sync fails (exit $rc)" test "$rc" = 1
    check "full disk: the error names the part file and the fix" grep -Eq \
        "store/tmp/s-[0-9A-F]{40}\.part: writing: No space left on device; free space on the store's file system and re-run" "$T/full.err"
    check "full disk: nothing half-published" test -z "$(find "$T/full/d/store/Content" -type f -size -8M -name '*.psf')"
    rm -f "$T/full/filler"
    run_rc 0 "full disk: store verifies clean" "$UC" verify --config "$T/full/d/uc.conf"
    run_rc 0 "full disk: with room again, the next run completes" "$UC" sync --once --config "$T/full/d/uc.conf"
    same_20 "$T/full/d/store" "after the disk was full"
    run_rc 0 "full disk: verify clean at the end" "$UC" verify --config "$T/full/d/uc.conf"
else
    bad "cannot mount a tmpfs (needs root): the full-disk case is not tested"
fi
finish
