#!/usr/bin/env bash
# A file is the same file only when SHA-1, SHA-256 and size match (real SHA-1 collision
# pairs): on a root, add refuses the second file of a pair naming both digests; a
# downstream seeded by import with one file of a pair and syncing a signed record of
# the other quarantines the imported bytes, fetches and serves the signed ones; verify
# finds a record whose file has another SHA-256. Also: a stale --revision leaves
# nothing behind; one SHA-1 under two extensions in an import folder; links planted
# in a store or an import folder are not followed; the index's reader table holds a
# daemon of 130 workers and the tools beside 126.
# Usage: it_integrity.sh UPDCACHE UPDCACHED ENVELOPE_PUT
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached envelope_put}
EPUT=${3:?usage: $0 updcache updcached envelope_put}
COL=${UC_COLLISIONS:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/fixtures/sha1-collisions}
set -e
if [ ! -r "$COL/sha-mbles-1.bin" ] || [ ! -r "$COL/shattered-1.pdf" ]; then
    echo "SHA-1 collision vectors not found in $COL (set UC_COLLISIONS)" >&2
    exit 1
fi
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
sha256_of() { sha256sum <"$1" | cut -c1-64; }
b64_sha256() { openssl dgst -sha256 -binary <"$1" | base64 -w0; }
# wsus_folder DIR FILE [EXT]: FILE placed as DIR/XX/<SHA1>.EXT, a WSUS content folder
wsus_folder() {
    local u
    u=$(content_url "$2")
    u=${u#/Content/}
    mkdir -p "$1/${u%%/*}"
    cp "$2" "$1/${u%.*}.${3:-${2##*.}}"
}
cp "$COL/sha-mbles-1.bin" "$T/m1.bin"
cp "$COL/sha-mbles-2.bin" "$T/m2.bin"
cp "$COL/shattered-1.pdf" "$T/s1.pdf"
cp "$COL/shattered-2.pdf" "$T/s2.pdf"
check "the vectors collide in SHA-1" test "$(sha1sum <"$T/m1.bin")" = "$(sha1sum <"$T/m2.bin")"
check "... and differ in SHA-256" test "$(sha256_of "$T/m1.bin")" != "$(sha256_of "$T/m2.bin")"

# --- A root: the second file of a pair is refused, naming both digests.
make_conf "$T/a" </dev/null
run_rc 0 "add the first file of a pair" "$UC" add --config "$T/a/uc.conf" --key "$T/pub" --title first "$T/m1.bin"
run_rc 1 "add of the other file as another update is refused" "$UC" add --config "$T/a/uc.conf" --key "$T/pub" --title second "$T/m2.bin"
check "refusal names the stored SHA-256" has "$ERR" "$(sha256_of "$T/m1.bin")"
check "refusal names the new SHA-256" has "$ERR" "$(sha256_of "$T/m2.bin")"
check "refusal says collision" has "$ERR" "SHA-1 collision"
run_rc 1 "both files of a pair in one update are refused" "$UC" add --config "$T/a/uc.conf" --key "$T/pub" --title both "$T/m1.bin" "$T/m2.bin"
check "one-update refusal names both files and says collision" has "$ERR" "$T/m1.bin and $T/m2.bin have the same SHA-1 .*a SHA-1 collision"
"$UC" ls --config "$T/a/uc.conf" >"$T/a.ls" 2>&1
check "only the first update is recorded" bash -c "grep -q first '$T/a.ls' && ! grep -qE 'second|both' '$T/a.ls'"
run_rc 0 "root verify clean" "$UC" verify --config "$T/a/uc.conf"
check "the store holds the first file's bytes" cmp -s "$T/a/store$(content_url "$T/m1.bin")" "$T/m1.bin"
check "nothing left in tmp/" test -z "$(ls -A "$T/a/store/tmp")"

# --- A downstream seeded by import with one file of a pair, syncing the other's record.
tls_node "$T/root" root.integrity.test "ds1:sec-one"
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title signed-pdf "$T/s1.pdf" >/dev/null 2>&1
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P
tls_node "$T/ds" ds.integrity.test ""
sync_from "$T/ds" root.integrity.test "$RP" "$T/root/pki/ca.pem" ds1 sec-one "$T/pub.pub"
wsus_folder "$T/wsus" "$T/s2.pdf"
run_rc 0 "downstream imports the unsigned file of the pair" "$UC" import --config "$T/ds/uc.conf" "$T/wsus"
run_rc 0 "sync of the signed record" "$UC" sync --once --config "$T/ds/uc.conf"
check "sync says the imported bytes were quarantined" has "$ERR" "no signed record names them: quarantined"
start_tls_daemon "$UCD" "$T/ds/uc.conf" "$T/ds/ports" "$T/ds/err" || { bad "ds did not start"; finish; }
DPP=$PP
u=$(content_url "$T/s1.pdf")
curl -sS -m 10 -D "$T/ds.h" -o "$T/ds.body" "http://127.0.0.1:$DPP$u"
check "downstream serves the signed bytes" cmp -s "$T/ds.body" "$T/s1.pdf"
check "Repr-Digest is the signed file's" grep -qi "^Repr-Digest: sha-256=:$(b64_sha256 "$T/s1.pdf"):" "$T/ds.h"
check "the imported bytes are in quarantine" bash -c "for f in '$T/ds/store/quarantine/'*; do cmp -s \"\$f\" '$T/s2.pdf' && exit 0; done; exit 1"
run_rc 0 "downstream verify clean" "$UC" verify --config "$T/ds/uc.conf"

# --- verify: a record whose file in the store has another SHA-256.
env1=$(tls_page "$T/root" root.integrity.test "$RP" ds1 sec-one | jq -c '.[0]')
id1=$(jq -r .payload <<<"$env1" | base64 -d | jq -r .id)
printf '%s' "$env1" >"$T/env1.json"
make_conf "$T/v" </dev/null
run_rc 0 "a store imports the unsigned file" "$UC" import --config "$T/v/uc.conf" "$T/wsus"
"$EPUT" "$T/v/store" "$id1" 1 "$T/env1.json"
run_rc 1 "verify finds the record's file is not the signed one" "$UC" verify --config "$T/v/uc.conf"
check "verify names both SHA-256" bash -c "grep -q '$(sha256_of "$T/s1.pdf")' <<<\"\$1\" && grep -q '$(sha256_of "$T/s2.pdf")' <<<\"\$1\"" _ "$OUT"

# --- A stale --revision is refused before anything is staged or renamed.
make_conf "$T/r" </dev/null
make_file "$T/r1.cab" 1000
make_file "$T/r2.cab" 2000
ID=3b0c6a1e-7f1d-4c55-9d1e-2f6f6a0b9c11
run_rc 0 "add revision 2" "$UC" add --config "$T/r/uc.conf" --key "$T/pub" --title r --id $ID --revision 2 "$T/r1.cab"
run_rc 1 "add of revision 1 is refused" "$UC" add --config "$T/r/uc.conf" --key "$T/pub" --title r --id $ID --revision 1 "$T/r2.cab"
check "stale refusal says why" has "$ERR" "revision 2 is stored already"
check "no file of the refused add in Content/" test ! -e "$T/r/store$(content_url "$T/r2.cab")"
check "no index record of it" bash -c "! '$UC' ls --files --config '$T/r/uc.conf' | grep -q '$(sha256_of "$T/r2.cab")'"
run_rc 0 "verify clean after the refusal" "$UC" verify --config "$T/r/uc.conf"

# --- One SHA-1 under two extensions in an import folder: one imported, one reported.
make_file "$T/twice.cab" 3000
wsus_folder "$T/w2" "$T/twice.cab" cab
wsus_folder "$T/w2" "$T/twice.cab" exe
make_conf "$T/i" </dev/null
run_rc 1 "import of one SHA-1 under two names exits 1" "$UC" import --config "$T/i/uc.conf" "$T/w2"
check "the second name is reported" has "$ERR" "\\.exe: not imported: .*\\.cab has the same SHA-1"
check "one file in Content/" test "$(find "$T/i/store/Content" -type f | wc -l)" = 1
run_rc 0 "verify finds no orphan" "$UC" verify --config "$T/i/uc.conf"

# --- Links are not followed: in an import folder, in Content/, for a part file in tmp/.
make_file "$T/outside.cab" 1500
mkdir -p "$T/w3"
u=$(content_url "$T/outside.cab")
u=${u#/Content/}
mkdir -p "$T/w3/${u%%/*}"
ln -s "$T/outside.cab" "$T/w3/$u"
make_conf "$T/l" </dev/null
run_rc 1 "import refuses a symbolic link" "$UC" import --config "$T/l/uc.conf" "$T/w3"
check "import names the link" has "$ERR" "symbolic link"
check "nothing imported through the link" test -z "$(find "$T/l/store/Content" -type f)"
make_conf "$T/k" </dev/null
"$UC" add --config "$T/k/uc.conf" --key "$T/pub" --title k "$T/outside.cab" >/dev/null 2>&1
f="$T/k/store$(content_url "$T/outside.cab")"
cp "$f" "$T/elsewhere.cab"
chmod u+w "$(dirname "$f")"
rm -f "$f"
ln -s "$T/elsewhere.cab" "$f"
run_rc 1 "verify reports a link in Content/" "$UC" verify --config "$T/k/uc.conf"
check "verify says it is a link" has "$OUT" "symbolic link"
make_file "$T/src3.cab" 5000
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title third "$T/src3.cab" >/dev/null 2>&1
printf 'victim bytes\n' >"$T/victim"
s3=$(sha1sum <"$T/src3.cab" | cut -c1-40)
ln -s "$T/victim" "$T/ds/store/tmp/s-${s3^^}.part"
run_rc 1 "sync does not write through a planted part-file link" "$UC" sync --once --config "$T/ds/uc.conf"
check "sync names the link" has "$ERR" "s-${s3^^}.part: Too many levels of symbolic links"
check "the link's target is untouched" test "$(cat "$T/victim")" = "victim bytes"

# --- LMDB reader slots: 130 workers, and tools beside 126.
make_conf "$T/rd" </dev/null
"$UC" add --config "$T/rd/uc.conf" --key "$T/pub" --title rd "$T/r1.cab" >/dev/null 2>&1
start_plain_daemon "$UCD" "$T/d130" "workers = 130" "$T/rd/store"
check "a daemon with 130 workers serves" test "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P$(content_url "$T/r1.cab")")" = 200
kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
check "... and said no LMDB error" bash -c "! grep -qi 'unknown error\\|reader' '$T/d130/daemon.err'"
start_plain_daemon "$UCD" "$T/d126" "workers = 126" "$T/rd/store"
printf '[server]\nstore = %s\n' "$T/rd/store" >"$T/rd/tool.conf"
run_rc 0 "ls while 126 workers hold reader slots" "$UC" ls --files --config "$T/rd/tool.conf"
run_rc 0 "add while 126 workers hold reader slots" "$UC" add --config "$T/rd/tool.conf" --key "$T/pub" --title rd2 "$T/r2.cab"
run_rc 0 "verify while 126 workers hold reader slots" "$UC" verify --config "$T/rd/tool.conf"
kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
printf '[server]\nstore = %s\nworkers = 5000\n' "$T/rd/store" >"$T/rd/many.conf"
run_rc 2 "workers above the cap is a config error" "$UCD" --config "$T/rd/many.conf" --check-config
check "the error names the key" has "$ERR" "many.conf:3: \\[server\\] workers: 5000 is more than 1024"
finish
