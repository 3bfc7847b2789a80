#!/usr/bin/env bash
# import of a WSUS content folder: good files published, a file whose bytes do not match
# its SHA-1 name refused with expected and actual digests, the source left untouched,
# re-runs skip what is present.
. "$(dirname "$0")/lib.sh"
set -e
make_conf "$T/s" </dev/null
W=$T/WsusContent
mkdir -p "$W"
wsus_put() { # SRC: place SRC in W under its SHA-1 name
    local s
    s=$(sha1sum <"$1" | cut -c1-40)
    s=${s^^}
    mkdir -p "$W/${s: -2}"
    cp "$1" "$W/${s: -2}/$s.$2"
}
for n in 0 1 4096 100000; do
    make_file "$T/f$n" "$n"
    wsus_put "$T/f$n" cab
done
make_file "$T/psf" 5000
wsus_put "$T/psf" psf
# A damaged file: correct name for other bytes.
make_file "$T/orig" 3000
good=$(sha1sum <"$T/orig" | cut -c1-40)
good=${good^^}
mkdir -p "$W/${good: -2}"
make_file "$W/${good: -2}/$good.exe" 3000
actual=$(sha1sum <"$W/${good: -2}/$good.exe" | cut -c1-40)
# A name in the wrong folder, and a stray file.
psf=$(sha1sum <"$T/psf" | cut -c1-40)
psf=${psf^^}
wrong=00
[ "${psf: -2}" != 00 ] || wrong=01
mkdir -p "$W/$wrong"
cp "$T/psf" "$W/$wrong/$psf.psf"
echo stray >"$W/README"
(cd "$W" && find . -type f -exec sha256sum {} + | sort) >"$T/before"

run_rc 1 "import with bad files exits 1" "$UC" import --config "$T/s/uc.conf" "$W"
check "mismatch names the file" has "$ERR" "$good.exe: SHA-1 mismatch"
check "mismatch gives expected" has "$ERR" "expected $good"
check "mismatch gives actual" has "$ERR" "actual ${actual^^}"
check "wrong folder refused" has "$ERR" "$wrong/$psf.psf: not a WSUS content name"
check "stray file refused" has "$ERR" "README: not a content folder"
check "summary" has "$ERR" "5 imported, 0 already present, 3 refused"
check "source folder untouched" diff -q "$T/before" <(cd "$W" && find . -type f -exec sha256sum {} + | sort)
run_rc 0 "ls --files" "$UC" ls --files --config "$T/s/uc.conf"
check "five files present" test "$(printf '%s\n' "$OUT" | grep -c '^present')" -eq 5
check "bad file not indexed" bash -c "! grep -q '$good' <<<'$OUT'"
check "bad file not published" test -z "$(find "$T/s/store/Content" -name "$good*")"
check "digests of imported files" content_ok "$T/s/uc.conf" "$T/s/store"
check "psf suffix kept" has "$OUT" $'\\.psf\t'
run_rc 0 "verify after import" "$UC" verify --config "$T/s/uc.conf"

rm "$W/${good: -2}/$good.exe" "$W/README"
rm "$W/$wrong/$psf.psf" # only the misfiled copy: $wrong may hold other good files
rmdir "$W/$wrong" 2>/dev/null || true
run_rc 0 "re-run imports nothing new" "$UC" import --config "$T/s/uc.conf" "$W"
check "re-run summary" has "$ERR" "0 imported, 5 already present, 0 refused"
run_rc 1 "import of a missing folder" "$UC" import --config "$T/s/uc.conf" "$T/nowhere"
check "missing folder named" has "$ERR" "nowhere: No such file"
finish
