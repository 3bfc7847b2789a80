#!/usr/bin/env bash
# A cache that bounds its disk (SPEC §12) on loopback with real daemons:
#   - a downstream with max_size syncs more than fits: it stays under the cap, and the
#     files evicted are exactly the least recently served (access order driven by curl);
#     the next sync does not fetch them again; verify lists them as absent, not errors;
#   - origin files are never evicted: a root over its cap gets a clear error instead;
#   - a client downloading a 64 MiB file while it is purged gets every byte right;
#   - min_free on a small tmpfs store: eviction keeps the floor;
#   - 20 SIGKILL trials of a sync that evicts: verify clean after each;
#   - purge: an evictable file answers 404, then is back after the next sync; an origin
#     file is refused without --force; the daemon serves while gc and purge run;
#   - a schema-1 store is migrated: a downstream's synced files become evictable.
# Usage: it_evict.sh UPDCACHE UPDCACHED INDEX_DOWNGRADE
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached index_downgrade}
DOWNGRADE=${3:?usage: $0 updcache updcached index_downgrade}
set -e
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
mkdir -p "$T/src"
MIB=$((1024 * 1024))
code() { curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2"; }
state_of() { # CONF FILE -> the file's state in ls --files
    local s
    s=$(sha1sum <"$2" | cut -c1-40)
    "$UC" ls --files --config "$1" | awk -F'\t' -v s="${s^^}" '$2 == s { print $1 }'
}

# --- The root: five 1 MiB files, one update each.
tls_node "$T/root" root.evict.test "ds1:sec-one, ds2:sec-two, ds3:sec-three"
for f in a b c d e; do
    make_file "$T/src/$f.cab" $MIB
    "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title "$f" "$T/src/$f.cab" >/dev/null 2>&1
done
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P

# --- A downstream capped at 5 MiB takes all five, serves them in a known order.
tls_node "$T/ds" ds.evict.test ""
sync_from "$T/ds" root.evict.test "$RP" "$T/root/pki/ca.pem" ds1 sec-one "$T/pub.pub"
printf '[store]\nmax_size = 5M\n' >>"$T/ds/uc.conf"
run_rc 0 "downstream syncs five files into a 5 MiB cap" "$UC" sync --once --config "$T/ds/uc.conf"
start_tls_daemon "$UCD" "$T/ds/uc.conf" "$T/ds/ports" "$T/ds/err" || { bad "ds did not start"; finish; }
DPP=$PP
sleep 1.1
for f in b d a e c; do # oldest use first: b, then d
    check "downstream serves $f" test "$(code "$DPP" "$(content_url "$T/src/$f.cab")")" = 200
    sleep 1.1
done
sleep 1.5 # the access times reach the index within a second or two
check "ls --files shows the last use" bash -c "'$UC' ls --files --config '$T/ds/uc.conf' | awk -F'\t' '\$6 == \"evictable\"' | grep -c . | grep -qx 5"
for f in f g; do
    make_file "$T/src/$f.cab" $MIB
    "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title "$f" "$T/src/$f.cab" >/dev/null 2>&1
done
run_rc 0 "a sync of two more files" "$UC" sync --once --config "$T/ds/uc.conf"
for f in b d; do
    check "$f (least recently served) was evicted" test "$(state_of "$T/ds/uc.conf" "$T/src/$f.cab")" = evicted
    check "$f answers 404" test "$(code "$DPP" "$(content_url "$T/src/$f.cab")")" = 404
done
for f in a c e f g; do
    check "$f is present" test "$(state_of "$T/ds/uc.conf" "$T/src/$f.cab")" = present
done
check "content stays under the cap" test "$("$UC" stats --json --config "$T/ds/uc.conf" | jq '.content_bytes <= 5 * 1048576 and .evictions == 2')" = true
check "no bytes of evicted files on disk" test "$(find "$T/ds/store/Content" -type f | wc -l)" = 5
run_rc 0 "verify: evicted files are absent, not errors" "$UC" verify --config "$T/ds/uc.conf"
check "verify lists them" test "$(grep -c '^evicted: ' <<<"$OUT")" = 2
sleep 1.2
before=$(grep -c "GET /Content/" "$T/root/access.log" || true)
run_rc 0 "the next sync" "$UC" sync --once --config "$T/ds/uc.conf"
sleep 1.2
check "the next sync fetches nothing evicted again" test "$(grep -c "GET /Content/" "$T/root/access.log" || true)" = "$before"

# --- purge: an evictable file is gone at once, back after the next sync.
s=$(sha1sum <"$T/src/a.cab" | cut -c1-40)
run_rc 0 "purge an evictable file" "$UC" purge --config "$T/ds/uc.conf" "$s"
check "purge says what it removed" has "$OUT" "purged $(content_url "$T/src/a.cab" | cut -c2-)"
check "a purged file answers 404" test "$(code "$DPP" "$(content_url "$T/src/a.cab")")" = 404
run_rc 0 "the next sync" "$UC" sync --once --config "$T/ds/uc.conf"
check "the purged file is back" test "$(code "$DPP" "$(content_url "$T/src/a.cab")")" = 200
so=$(sha1sum <"$T/src/c.cab" | cut -c1-40)
run_rc 1 "purge of an origin file without --force" "$UC" purge --config "$T/root/uc.conf" "$so"
check "origin refusal explained" has "$ERR" "the origin copy .*--force"
check "the origin file still served" test "$(code "$((RP - 1))" "$(content_url "$T/src/c.cab")")" = 200

# --- 20 SIGKILL trials of a sync that evicts.
tls_node "$T/ds3" ds3.evict.test ""
sync_from "$T/ds3" root.evict.test "$RP" "$T/root/pki/ca.pem" ds3 sec-three "$T/pub.pub"
printf '[store]\nmax_size = 3M\n' >>"$T/ds3/uc.conf"
sed -i 's/^parallel = 4/parallel = 2/' "$T/ds3/uc.conf"
for i in $(seq 20); do
    make_file "$T/src/k$i.cab" $((MIB / 2))
    "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title "k$i" "$T/src/k$i.cab" >/dev/null 2>&1
    UPDCACHE_SYNC_RATE=4M "$UC" sync --once --config "$T/ds3/uc.conf" >/dev/null 2>&1 &
    spid=$!
    sleep "0.$((RANDOM % 6))"
    kill -KILL $spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
    [ -d "$T/ds3/store/index" ] || continue # killed before the store existed
    run_rc 0 "kill trial $i: verify clean" "$UC" verify --config "$T/ds3/uc.conf"
    [ "$FAIL" -eq 0 ] || printf '%s\n' "$OUT" >&2
    check "kill trial $i: present files have their digests" content_ok "$T/ds3/uc.conf" "$T/ds3/store"
done
run_rc 0 "after the trials a sync completes" "$UC" sync --once --config "$T/ds3/uc.conf"
check "... under its cap" test "$("$UC" stats --json --config "$T/ds3/uc.conf" | jq '.content_bytes <= 3 * 1048576')" = true

# --- The daemon serves while gc and purge run; a 64 MiB download survives its purge.
make_file "$T/src/big.wim" $((64 * MIB))
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title big "$T/src/big.wim" >/dev/null 2>&1
sed -i 's/^max_size = 5M/max_size = 80M/' "$T/ds/uc.conf"
run_rc 0 "sync of a 64 MiB file" "$UC" sync --once --config "$T/ds/uc.conf"
curl -sS -m 60 --limit-rate 16M -o "$T/inflight" "http://127.0.0.1:$DPP$(content_url "$T/src/big.wim")" &
cpid=$!
(for _ in $(seq 60); do code "$DPP" "$(content_url "$T/src/c.cab")"; echo; done) >"$T/during" &
lpid=$!
sleep 1
check "download in flight at the purge" kill -0 $cpid
run_rc 0 "purge while a client downloads it" "$UC" purge --config "$T/ds/uc.conf" "$(sha1sum <"$T/src/big.wim" | cut -c1-40)"
run_rc 0 "gc while the daemon serves" "$UC" gc --config "$T/ds/uc.conf"
wait $cpid
wait $lpid
check "the download completed with every byte right" cmp -s "$T/inflight" "$T/src/big.wim"
check "every request during gc and purge answered 200" test "$(grep -c '^200$' "$T/during")" = 60

# --- Origin files are never evicted: a root over its cap fails clearly.
make_conf "$T/o" <<EOF2
[store]
max_size = 3M
EOF2
make_file "$T/src/o1.cab" $((2 * MIB))
make_file "$T/src/o2.cab" $((2 * MIB))
run_rc 0 "origin add under the cap" "$UC" add --config "$T/o/uc.conf" --key "$T/pub" --title o1 "$T/src/o1.cab"
run_rc 1 "origin add over the cap is refused" "$UC" add --config "$T/o/uc.conf" --key "$T/pub" --title o2 "$T/src/o2.cab"
check "the refusal names the numbers" has "$ERR" "content 2.0 MiB of max_size 3.0 MiB .*the rest are origin files, which are never evicted"
check "nothing half-written" test -z "$(ls -A "$T/o/store/tmp")"
check "the first file is still there" test "$(state_of "$T/o/uc.conf" "$T/src/o1.cab")" = present
run_rc 0 "verify clean" "$UC" verify --config "$T/o/uc.conf"

# --- min_free on a small tmpfs: eviction keeps the floor.
mkdir -p "$T/tmpfs"
if mount -t tmpfs -o size=48M tmpfs "$T/tmpfs" 2>/dev/null; then
    cleanup_hooks+=("umount -l '$T/tmpfs'")
    tls_node "$T/ds2" ds2.evict.test ""
    sed -i "s|^store = .*|store = $T/tmpfs/store|" "$T/ds2/uc.conf"
    sync_from "$T/ds2" root.evict.test "$RP" "$T/root/pki/ca.pem" ds2 sec-two "$T/pub.pub"
    printf '[store]\nmin_free = 40M\n' >>"$T/ds2/uc.conf"
    run_rc 1 "a sync that cannot keep the floor fails clearly" "$UC" sync --once --config "$T/ds2/uc.conf"
    check "... naming the floor" has "$ERR" "not enough free space.*floor min_free = 40.0 MiB"
    free_kib=$(df -k --output=avail "$T/tmpfs" | tail -1)
    check "the floor is kept (${free_kib} KiB free)" test "$free_kib" -ge $((40 * 1024 - 64))
    check "small files fit above the floor" test "$(state_of "$T/ds2/uc.conf" "$T/src/a.cab")" = present
    run_rc 0 "verify clean on the tmpfs store" "$UC" verify --config "$T/ds2/uc.conf"
else
    bad "cannot mount a tmpfs (needs root): min_free not tested"
fi

# --- A schema-1 store is migrated by its first writable open.
kill "$(cat "$T/ds/pid")" 2>/dev/null || true
sleep 0.5
"$DOWNGRADE" "$T/ds/store"
check "downgraded store reads as origin-only" test "$("$UC" ls --files --config "$T/ds/uc.conf" | awk -F'\t' '$6 == "evictable"' | wc -l)" = 0
run_rc 0 "a writable open migrates it" "$UC" gc --config "$T/ds/uc.conf"
check "synced files are evictable again" test "$("$UC" ls --files --config "$T/ds/uc.conf" | awk -F'\t' '$1 == "present" && $6 == "origin"' | wc -l)" = 0
check "the content is counted again" test "$("$UC" stats --json --config "$T/ds/uc.conf" | jq '.content_bytes > 0 and .evictable_bytes == .content_bytes')" = true
run_rc 0 "the root's files stay origin through a migration" "$DOWNGRADE" "$T/o/store"
"$UC" gc --config "$T/o/uc.conf" >/dev/null 2>&1
check "root: all origin" test "$("$UC" ls --files --config "$T/o/uc.conf" | awk -F'\t' '$6 == "evictable"' | wc -l)" = 0
finish
