#!/usr/bin/env bash
# Block digests and fill = on-demand records (SPEC §13), real daemons on loopback:
#   - `add` signs block_size and blocks_sha256 (SHA-256 of the 1 MiB blocks' SHA-256s,
#     recomputed here with python3) into each file's record, for a file of 3.5 MiB, one of
#     exactly 2 MiB and an empty one;
#   - GET /ServerSyncWebService/blocks/<SHA1> on the TLS port answers the list (downstream
#     cookie; 401 without, 404 for a SHA-1 without one, 400 for a bad one);
#   - a fill = all downstream computes the same lists from the bytes it verified and serves
#     them in turn;
#   - a fill = on-demand downstream stores the records and the lists, fetches no file
#     (the root's access log has no /Content/ request), lists the files as absent, serves
#     the lists verbatim to its own downstream, and verify is clean;
#   - a list that does not hash to the signed blocks_sha256 (changed in the root's index)
#     is refused by name, the record is not stored and the anchor stays.
# Usage: it_blocks.sh UPDCACHE UPDCACHED BLOCKS_PUT
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached blocks_put}
BPUT=${3:?usage: $0 updcache updcached blocks_put}
set -e
MIB=$((1024 * 1024))
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
mkdir -p "$T/src"
make_file "$T/src/big.cab" $((3 * MIB + MIB / 2))
make_file "$T/src/even.cab" $((2 * MIB))
: >"$T/src/empty.cab"

# blocks FILE: the hex SHA-256 of each 1 MiB block, one per line.
blocks() { python3 -c 'import hashlib,sys
f=open(sys.argv[1],"rb")
while True:
    b=f.read(1<<20)
    if not b: break
    print(hashlib.sha256(b).hexdigest())' "$1"; }
# blocks_sha256 FILE: SHA-256 of the raw block digests in order.
blocks_sha256() { blocks "$1" | xxd -r -p | sha256sum | cut -c1-64; }
sha1_of() { local s; s=$(sha1sum <"$1" | cut -c1-40); echo "${s^^}"; }
# cookie DIR NAME PORT ID SECRET
cookie() { curl -sS -m 10 --cacert "$1/pki/ca.pem" --resolve "$2:$3:127.0.0.1" -u "$4:$5" -X POST "https://$2:$3/DSSAuthWebService/token" | jq -r .cookie; }
# get_blocks DIR NAME PORT COOKIE SHA1 OUT -> HTTP status
get_blocks() { curl -sS -m 10 --cacert "$1/pki/ca.pem" --resolve "$2:$3:127.0.0.1" -H "Authorization: Bearer $4" -o "$6" -w '%{http_code}' "https://$2:$3/ServerSyncWebService/blocks/$5"; }

# --- The root: one update of three files.
tls_node "$T/root" root.blocks.test "ds1:sec-one, ds2:sec-two"
run_rc 0 "add three files" "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title blocks "$T/src/big.cab" "$T/src/even.cab" "$T/src/empty.cab"
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P
page=$(tls_page "$T/root" root.blocks.test "$RP" ds1 sec-one)
rec=$(jq -r '.[0].payload' <<<"$page" | base64 -d)
for f in big even empty; do
    s=$(sha1_of "$T/src/$f.cab")
    fr=$(jq -c --arg s "${s,,}" '.files[] | select(.sha1 == $s)' <<<"$rec")
    check "$f: the record has block_size 1 MiB" test "$(jq .block_size <<<"$fr")" = $MIB
    check "$f: blocks_sha256 is the SHA-256 of its block digests" test "$(jq -r .blocks_sha256 <<<"$fr")" = "$(blocks_sha256 "$T/src/$f.cab")"
done
check "a 3.5 MiB file has 4 blocks, 2 MiB has 2" test "$(blocks "$T/src/big.cab" | wc -l),$(blocks "$T/src/even.cab" | wc -l)" = "4,2"

CK=$(cookie "$T/root" root.blocks.test "$RP" ds1 sec-one)
for f in big even; do
    s=$(sha1_of "$T/src/$f.cab")
    check "$f: blocks/ answers 200" test "$(get_blocks "$T/root" root.blocks.test "$RP" "$CK" "$s" "$T/$f.list")" = 200
    check "$f: the answer is the block digests" test "$(xxd -p -c 32 "$T/$f.list")" = "$(blocks "$T/src/$f.cab")"
done
s=$(sha1_of "$T/src/big.cab")
check "blocks/ without a cookie is 401" test "$(get_blocks "$T/root" root.blocks.test "$RP" "" "$s" /dev/null)" = 401
check "blocks/ of an unknown SHA-1 is 404" test "$(get_blocks "$T/root" root.blocks.test "$RP" "$CK" 0123456789ABCDEF0123456789ABCDEF01234567 /dev/null)" = 404
check "blocks/ of a bad SHA-1 is 400" test "$(get_blocks "$T/root" root.blocks.test "$RP" "$CK" xyz /dev/null)" = 400

# --- fill = all: the downstream computes the lists from the verified bytes.
tls_node "$T/all" all.blocks.test "leaf:sec-leaf"
sync_from "$T/all" root.blocks.test "$RP" "$T/root/pki/ca.pem" ds1 sec-one "$T/pub.pub"
run_rc 0 "a fill = all downstream syncs" "$UC" sync --once --config "$T/all/uc.conf"
start_tls_daemon "$UCD" "$T/all/uc.conf" "$T/all/ports" "$T/all/err" || { bad "all did not start"; finish; }
AP=$P
CK=$(cookie "$T/all" all.blocks.test "$AP" leaf sec-leaf)
check "fill = all: its list is the root's" test "$(get_blocks "$T/all" all.blocks.test "$AP" "$CK" "$s" "$T/all.list")" = 200
check "fill = all: same bytes" cmp -s "$T/all.list" "$T/big.list"

# --- fill = on-demand: records and lists, no file bytes.
tls_node "$T/od" od.blocks.test "leaf:sec-leaf"
sync_from "$T/od" root.blocks.test "$RP" "$T/root/pki/ca.pem" ds2 sec-two "$T/pub.pub"
echo "fill = on-demand" >>"$T/od/uc.conf"
sleep 1.2
before=$(grep -c "GET /Content/" "$T/root/access.log" || true)
run_rc 0 "an on-demand downstream syncs" "$UC" sync --once --config "$T/od/uc.conf"
check "on-demand sync says one update published" has "$ERR" "1 update\(s\) published, 0 file\(s\), 0 bytes"
sleep 1.2
check "on-demand sync fetched no file from the root" test "$(grep -c "GET /Content/" "$T/root/access.log" || true)" = "$before"
check "no file bytes under Content/" test "$(find "$T/od/store/Content" -type f | wc -l)" = 0
check "the three files are listed as absent (evicted)" test "$("$UC" ls --files --config "$T/od/uc.conf" | awk -F'\t' '$1 == "evicted"' | wc -l)" = 3
run_rc 0 "verify: absent files are not errors" "$UC" verify --config "$T/od/uc.conf"
start_tls_daemon "$UCD" "$T/od/uc.conf" "$T/od/ports" "$T/od/err" || { bad "od did not start"; finish; }
OP=$P
odpage=$(tls_page "$T/od" od.blocks.test "$OP" leaf sec-leaf)
check "on-demand: it passes the envelope down verbatim" test "$(jq -c '.[0]' <<<"$odpage")" = "$(jq -c '.[0]' <<<"$page")"
CK=$(cookie "$T/od" od.blocks.test "$OP" leaf sec-leaf)
for f in big even; do
    s=$(sha1_of "$T/src/$f.cab")
    check "on-demand: $f's list is served" test "$(get_blocks "$T/od" od.blocks.test "$OP" "$CK" "$s" "$T/od.$f.list")" = 200
    check "on-demand: $f's list verbatim" cmp -s "$T/od.$f.list" "$T/$f.list"
done
run_rc 0 "a second on-demand sync is a no-op" "$UC" sync --once --config "$T/od/uc.conf"

# --- A list that does not hash to the signed digest is refused.
make_file "$T/src/late.cab" $((MIB + 5))
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title late "$T/src/late.cab" >/dev/null 2>&1
sl=$(sha1_of "$T/src/late.cab")
# One bit of the first digest flipped.
bad_list=$(blocks "$T/src/late.cab" | tr -d '\n' | python3 -c 'import sys; h=sys.stdin.read(); print("%x" % (int(h[0], 16) ^ 1) + h[1:])')
run_rc 0 "a list in the root's index is changed" "$BPUT" "$T/root/store" "$sl" "$bad_list"
tls_node "$T/od2" od2.blocks.test ""
sync_from "$T/od2" root.blocks.test "$RP" "$T/root/pki/ca.pem" ds2 sec-two "$T/pub.pub"
echo "fill = on-demand" >>"$T/od2/uc.conf"
run_rc 1 "a sync that gets a bad list fails" "$UC" sync --once --config "$T/od2/uc.conf"
check "it names the list, the signed digest and what it got" has "$ERR" "blocks/$sl: 64 bytes hashing to [0-9a-f]{64}; the signed record of late.cab \(1048581 bytes\) says 64 bytes hashing to $(blocks_sha256 "$T/src/late.cab")"
check "that record is not stored" bash -c "! '$UC' ls --files --config '$T/od2/uc.conf' | grep -q '$sl'"
check "the first update is stored" test "$("$UC" ls --files --config "$T/od2/uc.conf" | awk -F'\t' '$1 == "evicted"' | wc -l)" = 3
finish
