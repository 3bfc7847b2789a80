#!/usr/bin/env bash
# verify finds a flipped bit (full and --fast), an orphan and a missing file; --repair
# quarantines the bad file with a reason and marks it pending; the store then verifies.
. "$(dirname "$0")/lib.sh"
set -e
make_conf "$T/s" </dev/null
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
for n in 1 2 3; do make_file "$T/f$n.cab" $((200000 * n)); done
"$UC" add --config "$C" --key "$T/k" --title t "$T"/f*.cab >/dev/null 2>&1
s=$(sha1sum <"$T/f2.cab" | cut -c1-40)
s=${s^^}
F=$T/s/store/Content/${s: -2}/$s.cab
want256=$(sha256sum <"$F" | cut -c1-64)

# Flip one bit in the middle of f2's published copy.
chmod u+w "$F"
off=123457
b=$(dd if="$F" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $((b ^ 4)))" | dd of="$F" bs=1 seek=$off conv=notrunc 2>/dev/null
chmod 0444 "$F"
got1=$(sha1sum <"$F" | cut -c1-40)

run_rc 1 "verify finds the flipped bit" "$UC" verify --config "$C"
check "names file and SHA-1 expected/actual" has "$OUT" "Content/${s: -2}/$s.cab: SHA-1 mismatch: expected ${s,,}, actual $got1"
check "one problem counted" has "$ERR" "1 problem,"
run_rc 1 "verify --fast finds it through XXH3" "$UC" verify --fast --config "$C"
check "--fast names XXH3" has "$OUT" "$s.cab: XXH3-128 mismatch: expected [0-9a-f]{32}, actual [0-9a-f]{32}"
check "--fast used XXH3 only" has "$ERR" "checked with XXH3-128 in"

run_rc 1 "verify --repair reports what it repaired" "$UC" verify --repair --config "$C"
check "moved to quarantine" has "$OUT" "moved to quarantine/; marked pending"
check "file gone from Content" test ! -e "$F"
q=$(find "$T/s/store/quarantine" -name "$s.cab.*" ! -name '*.reason')
check "quarantined copy kept" test -n "$q"
check "reason written" grep -q "SHA-1 mismatch" "$q.reason"
run_rc 0 "verify after repair is clean" "$UC" verify --config "$C"
check "pending listed" has "$OUT" "pending: Content/${s: -2}/$s.cab"
check "pending counted" has "$ERR" "0 problems, 1 pending"
run_rc 0 "ls --files" "$UC" ls --files --config "$C"
check "marked pending in index" has "$OUT" "^pending	$s	$want256"

# Publishing the good bytes again brings the file back.
run_rc 0 "re-add restores" "$UC" add --config "$C" --key "$T/k" --title again "$T/f2.cab"
run_rc 0 "clean after re-add" "$UC" verify --config "$C"
check "no pending left" has "$ERR" "0 problems, 0 pending"

# An orphan under Content/ and a missing published file.
echo junk >"$T/s/store/Content/AB/0000000000000000000000000000000000000AAB.cab"
s3=$(sha1sum <"$T/f3.cab" | cut -c1-40)
s3=${s3^^}
rm -f "$T/s/store/Content/${s3: -2}/$s3.cab"
run_rc 1 "verify finds orphan and missing file" "$UC" verify --config "$C"
check "orphan named" has "$OUT" "Content/AB/0000000000000000000000000000000000000AAB.cab: orphan"
check "missing named" has "$OUT" "$s3.cab: missing"
check "two problems" has "$ERR" "2 problems"
run_rc 1 "repair" "$UC" verify --repair --config "$C"
run_rc 0 "clean after repair" "$UC" verify --config "$C"
check "orphan quarantined" test -n "$(find "$T/s/store/quarantine" -name 'orphan.*AAB.cab*')"
finish
