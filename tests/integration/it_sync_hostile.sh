#!/usr/bin/env bash
# updcache sync against a hostile upstream (tests/fixtures/hostile_upstream.py) and a
# real root with envelopes a downstream cannot accept:
#   - a page that says "more" without advancing "next" fails the run, it does not loop;
#   - a page of millions of tiny objects is refused before it is parsed (bounded RSS);
#   - a page with more envelopes than "limit" asked for is refused;
#   - an envelope by an unconfigured publisher and a stale revision are refused, kept in
#     quarantine/ with the reason, and the run publishes everything after them and moves
#     the anchor past them (exit 1 naming them; the next run has nothing left to do);
#   - behind a relay, files come from the paired plain port of the configured url;
#   - a content port that trickles is cut off below the floor rate and retried.
# Usage: it_sync_hostile.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
HOSTILE=$(dirname "$0")/../fixtures/hostile_upstream.py
set -e
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
"$UC" keygen --out "$T/other" >/dev/null 2>&1
"$UC" mkcert hostile.sync.test --out "$T/hpki" >/dev/null 2>&1

# hostile MODE: start the TLS fixture; sets HP (its port) and points $T/d-MODE at it.
hostile() {
    rm -f "$T/h-$1.port"
    python3 "$HOSTILE" tls "$1" --cert "$T/hpki/hostile.sync.test.pem" \
        --key "$T/hpki/hostile.sync.test.key" --port-file "$T/h-$1.port" --seconds 300 \
        --log "$T/h-$1.log" &
    cleanup_hooks+=("kill $! 2>/dev/null")
    for _ in $(seq 400); do [ -s "$T/h-$1.port" ] && break; sleep 0.05; done
    HP=$(cat "$T/h-$1.port")
    make_conf "$T/d-$1" </dev/null
    sync_from "$T/d-$1" hostile.sync.test "$HP" "$T/hpki/ca.pem" ds x "$T/pub.pub"
}

# --- "more": true and a "next" that never moves.
hostile stuck
SECONDS=0
run_rc 1 "stuck anchor: sync fails instead of looping" timeout 20 "$UC" sync --once --config "$T/d-stuck/uc.conf"
check "stuck anchor: ends at once ($SECONDS s)" test "$SECONDS" -lt 10
check "stuck anchor: says the anchor does not advance" has "$ERR" '"next": 0 does not advance past since=0'
check "stuck anchor: one page asked for ($(grep -c updates "$T/h-stuck.log"))" test "$(grep -c updates "$T/h-stuck.log")" = 1

# --- A page of 4 Mi empty objects: 8 MiB of JSON, refused before parsing.
hostile flood
run_rc 1 "flood page: refused" /usr/bin/time -f 'maxrss %M' -o "$T/flood.time" "$UC" sync --once --config "$T/d-flood/uc.conf"
check "flood page: says why" has "$ERR" "JSON values, more than 500 envelopes carry"
rss=$(sed -n 's/^maxrss //p' "$T/flood.time")
check "flood page: peak RSS ${rss} KiB stays under 256 MiB (be0ec2e: 1.5 GB)" test "${rss:-999999}" -lt $((256 * 1024))

# --- More envelopes than asked for.
hostile toomany
run_rc 1 "too many envelopes: refused" "$UC" sync --once --config "$T/d-toomany/uc.conf"
check "too many envelopes: says why" has "$ERR" "501 envelopes, more than the 500 asked for"

# --- Envelopes the downstream cannot accept, before good ones.
tls_node "$T/root" root.sync.test "ds1:sec-one, ds2:sec-two"
make_file "$T/bad.cab" 1000
"$UC" add --config "$T/root/uc.conf" --key "$T/other" --title by-other "$T/bad.cab" >/dev/null 2>&1
X=6f1c1a52-3d0e-4a7e-9b39-0c4e0f1e2a77
make_file "$T/x.cab" 1100
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title x-rev2 --id $X --revision 2 "$T/x.cab" >/dev/null 2>&1
for i in 1 2 3; do
    make_file "$T/good$i.cab" $((2000 + i))
    "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title "good-$i" "$T/good$i.cab" >/dev/null 2>&1
done
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P
tls_node "$T/ds" ds.sync.test ""
sync_from "$T/ds" root.sync.test "$RP" "$T/root/pki/ca.pem" ds1 sec-one "$T/pub.pub"
make_file "$T/x5.cab" 1200
"$UC" add --config "$T/ds/uc.conf" --key "$T/pub" --title x-rev5 --id $X --revision 5 "$T/x5.cab" >/dev/null 2>&1
run_rc 1 "refused envelopes: sync exits 1" "$UC" sync --once --config "$T/ds/uc.conf"
check "refused: the unconfigured publisher's envelope named" has "$ERR" "\): refused: no signature by a trusted publisher key"
check "refused: the stale revision named" has "$ERR" "update $X\\): refused: revision 2 is not newer than the stored revision 5"
check "refused: the good updates after them are published" has "$ERR" "3 update\\(s\\) published, 3 file\\(s\\).*2 envelope\\(s\\) refused; anchor 0 -> 5"
check "refused: both kept in quarantine with a reason" test "$(find "$T/ds/store/quarantine" -name 'envelope.*.json.reason' | wc -l)" = 2
check "refused: the anchor is past them" test "$("$UC" stats --json --config "$T/ds/uc.conf" | jq .sync_anchor)" = 5
run_rc 0 "refused: the next run has nothing left to do" "$UC" sync --once --config "$T/ds/uc.conf"
check "refused: the next run publishes nothing" has "$ERR" "0 update\\(s\\) published.*anchor 5 -> 5"
for i in 1 2 3; do
    check "good-$i is in the downstream's store" test -f "$T/ds/store$(content_url "$T/good$i.cab")"
done
run_rc 0 "refused: downstream verify clean" "$UC" verify --config "$T/ds/uc.conf"

# --- The upstream behind a relay: files come from the paired port of the configured url,
# not from the address the upstream reports about itself.
python3 "$(dirname "$0")/../fixtures/relay.py" --pair "$RP:$((RP - 1))" \
    --port-file "$T/relay.ports" --seconds 300 &
cleanup_hooks+=("kill $! 2>/dev/null")
for _ in $(seq 400); do [ -s "$T/relay.ports" ] && break; sleep 0.05; done
M=$(head -1 "$T/relay.ports")
tls_node "$T/ds3" ds3.sync.test ""
sync_from "$T/ds3" root.sync.test "$M" "$T/root/pki/ca.pem" ds2 sec-two "$T/pub.pub"
run_rc 1 "behind a relay: sync runs (the unconfigured publisher's envelope makes it exit 1)" "$UC" sync --once --config "$T/ds3/uc.conf"
check "behind a relay: the four good updates are published through it" has "$ERR" "4 update\\(s\\) published, 4 file\\(s\\).*1 envelope\\(s\\) refused"
[ "$FAIL" -eq 0 ] || printf 'behind a relay: sync said:\n%s\n' "$ERR" >&2
check "behind a relay: says where the upstream claims its files are" has "$ERR" "the upstream says its files are at http://root.sync.test:$((RP - 1))/; fetching them from http://root.sync.test:$((M - 1))/"
for i in 1 2 3; do
    check "behind a relay: good-$i fetched" test -f "$T/ds3/store$(content_url "$T/good$i.cab")"
done

# --- A content port that trickles 2 bytes a second.
make_file "$T/slow.cab" 4000
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title slow "$T/slow.cab" >/dev/null 2>&1
python3 "$HOSTILE" trickle 4000 --port-file "$T/trickle.port" --seconds 300 --log "$T/trickle.log" &
cleanup_hooks+=("kill $! 2>/dev/null")
for _ in $(seq 400); do [ -s "$T/trickle.port" ] && break; sleep 0.05; done
tls_node "$T/ds2" ds2.sync.test ""
sync_from "$T/ds2" root.sync.test "$RP" "$T/root/pki/ca.pem" ds2 sec-two "$T/pub.pub"
printf 'content_url = http://127.0.0.1:%s/\n' "$(cat "$T/trickle.port")" >>"$T/ds2/uc.conf"
SECONDS=0
run_rc 1 "trickle: sync fails instead of waiting" env UPDCACHE_SYNC_FLOOR=100/2 timeout 40 "$UC" sync --once --config "$T/ds2/uc.conf"
check "trickle: cut off and retried in bounded time ($SECONDS s)" test "$SECONDS" -lt 30
check "trickle: says the transfer was too slow" has "$ERR" "too slow"
check "trickle: retried ($(grep -c Content "$T/trickle.log") requests)" test "$(grep -c Content "$T/trickle.log")" -ge 2
check "trickle: nothing of the slow file published" test ! -e "$T/ds2/store$(content_url "$T/slow.cab")"
finish
