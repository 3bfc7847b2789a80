#!/usr/bin/env bash
# updcache sync on loopback with real daemons: a chain root -> ds1 -> ds2 (payloads of
# 0 B to 64 MiB; identical bytes and envelopes at every level, verify clean); an
# incremental run fetches only what is new (counted in the root's access log); a
# tampered file is quarantined, answers 404, the rest is published and sync names it
# with both digests; a tampered envelope publishes nothing of its update; refusals
# (IP literal, single label, untrusted CA, CA only through SSL_CERT_FILE or
# CURL_CA_BUNDLE, wrong publisher key, wrong DSS secret) publish nothing; a partial
# download left by an interrupted run is resumed with Range.
# Usage: it_sync.sh UPDCACHE UPDCACHED ENVELOPE_PUT
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached envelope_put}
EPUT=${3:?usage: $0 updcache updcached envelope_put}
set -e
mkdir -p "$T/src"
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
"$UC" keygen --out "$T/other" >/dev/null 2>&1
node() { tls_node "$@"; }
upstream() { sync_from "$1" "$2" "$3" "$4" "$5" "$6" "${7:-$T/pub.pub}"; }
url_of() { content_url "$1"; }
# --- The root and its content.
node "$T/root" root.updcache.test "ds1:sec-one, ds9:sec-nine"
: >"$T/src/empty.txt"
printf 'x' >"$T/src/one.exe"
make_file "$T/src/four.cab" 4096
make_file "$T/src/mib.psf" $((1024 * 1024 + 7))
make_file "$T/src/big.wim" $((64 * 1024 * 1024))
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title chain "$T/src"/{empty.txt,one.exe,four.cab,mib.psf,big.wim} >/dev/null 2>&1
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P RPP=$PP

# --- Level 1 and level 2.
node "$T/ds1" ds1.updcache.test "ds2:sec-two"
upstream "$T/ds1" root.updcache.test "$RP" "$T/root/pki/ca.pem" ds1 sec-one
run_rc 0 "ds1 syncs from the root" "$UC" sync --once --config "$T/ds1/uc.conf"
check "ds1 sync summary" has "$ERR" "1 update\\(s\\) published, 5 file\\(s\\)"
start_tls_daemon "$UCD" "$T/ds1/uc.conf" "$T/ds1/ports" "$T/ds1/err" || { bad "ds1 did not start"; finish; }
D1P=$P D1PP=$PP
node "$T/ds2" ds2.updcache.test ""
upstream "$T/ds2" ds1.updcache.test "$D1P" "$T/ds1/pki/ca.pem" ds2 sec-two
run_rc 0 "ds2 syncs from ds1" "$UC" sync --once --config "$T/ds2/uc.conf"
start_tls_daemon "$UCD" "$T/ds2/uc.conf" "$T/ds2/ports" "$T/ds2/err" || { bad "ds2 did not start"; finish; }
D2PP=$PP
for f in empty.txt one.exe four.cab mib.psf big.wim; do
    u=$(url_of "$T/src/$f")
    check "$f: root serves it" cmp -s <(curl -sS -m 20 "http://127.0.0.1:$RPP$u") "$T/src/$f"
    check "$f: ds1 serves the same bytes" cmp -s <(curl -sS -m 20 "http://127.0.0.1:$D1PP$u") "$T/src/$f"
    check "$f: ds2 serves the same bytes" cmp -s <(curl -sS -m 20 "http://127.0.0.1:$D2PP$u") "$T/src/$f"
done
for n in ds1 ds2; do
    run_rc 0 "$n verify clean" "$UC" verify --config "$T/$n/uc.conf"
done
"$UC" stats --json --config "$T/ds1/uc.conf" >"$T/ds1.stats"
check "stats: one sync run, 5 files, 64 MiB+ synced" test "$(jq -c '[.sync_runs, .sync_files, .sync_bytes > 67108864, .updates]' "$T/ds1.stats")" = "[1,5,true,1]"
check "stats: the last run's end time" test "$(jq ".sync_last_run >= $(($(date +%s) - 300))" "$T/ds1.stats")" = true
check "stats: the root counted its ingest" test "$("$UC" stats --json --config "$T/root/uc.conf" | jq -c '[.ingest_files, .ingest_bytes]')" = "[5,$((1 + 4096 + 1024 * 1024 + 7 + 64 * 1024 * 1024))]"
# The envelope at level three is the publisher's, byte for byte, and verifies with its key.
page() { tls_page "$@"; }
check "envelopes identical at levels 1 and 2" test "$(page "$T/root" root.updcache.test "$RP" ds1 sec-one)" = "$(page "$T/ds1" ds1.updcache.test "$D1P" ds2 sec-two)"
printf '\n[upstream]\npublisher_keys = %s\n' "$T/pub.pub" >"$T/keys.conf"
"$UC" ls --config "$T/ds2/uc.conf" >"$T/ds2.ls" 2>&1 || true
check "ds2 lists the update" grep -q "chain" "$T/ds2.ls"

# --- Incremental: only the new files are fetched.
make_file "$T/src/new1.cab" 3000
make_file "$T/src/new2.msu" 70000
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title second "$T/src/new1.cab" "$T/src/new2.msu" "$T/src/four.cab" >/dev/null 2>&1
sleep 1.2 # the root's access log is flushed each tick
before=$(grep -c "GET /Content/" "$T/root/access.log" || true)
run_rc 0 "incremental sync" "$UC" sync --once --config "$T/ds1/uc.conf"
sleep 1.2
after=$(grep -c "GET /Content/" "$T/root/access.log" || true)
check "incremental: exactly the 2 new files fetched ($((after - before)))" test $((after - before)) = 2
check "incremental: new file served by ds1" cmp -s <(curl -sS -m 5 "http://127.0.0.1:$D1PP$(url_of "$T/src/new2.msu")") "$T/src/new2.msu"
run_rc 0 "nothing new: sync fetches nothing" "$UC" sync --once --config "$T/ds1/uc.conf"
check "nothing new: summary" has "$ERR" "0 update\\(s\\) published, 0 file\\(s\\)"

# --- Resume: a partial download left by an interrupted run is continued with Range.
make_file "$T/src/resume.esd" $((5 * 1024 * 1024))
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title resume "$T/src/resume.esd" >/dev/null 2>&1
rs=$(sha1sum <"$T/src/resume.esd" | cut -c1-40)
head -c $((2 * 1024 * 1024)) "$T/src/resume.esd" >"$T/ds1/store/tmp/s-${rs^^}.part"
run_rc 0 "sync resumes a partial file" "$UC" sync --once --config "$T/ds1/uc.conf"
check "resumed file is whole" cmp -s <(curl -sS -m 5 "http://127.0.0.1:$D1PP$(url_of "$T/src/resume.esd")") "$T/src/resume.esd"
sleep 1.2
check "the root sent only the rest" grep -q "\"GET $(url_of "$T/src/resume.esd") HTTP/1.1\" 206 $((3 * 1024 * 1024))" "$T/root/access.log"

# --- Tamper: ds1 fetches files from a copy of the root whose copy of one file has a
# flipped byte (what a relay flipping a byte in transit delivers).
make_file "$T/src/good.cab" 50000
make_file "$T/src/evil.cab" 60000
make_file "$T/src/other.txt" 7000
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title tampered "$T/src/good.cab" "$T/src/evil.cab" >/dev/null 2>&1
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title untouched "$T/src/other.txt" >/dev/null 2>&1
cp -a "$T/root/store" "$T/evil-store"
ev="$T/evil-store$(url_of "$T/src/evil.cab")"
chmod u+w "$ev"
printf '\xff' | dd of="$ev" bs=1 seek=1000 conv=notrunc 2>/dev/null
printf '[server]\nstore = %s\nlisten = 127.0.0.1\nhttp_port = 0\nport_file = %s/evil.ports\n' "$T/evil-store" "$T" >"$T/evil.conf"
"$UCD" --config "$T/evil.conf" 2>"$T/evil.err" &
EPID=$!
cleanup_hooks+=("kill $EPID 2>/dev/null")
for _ in $(seq 100); do [ -s "$T/evil.ports" ] && break; sleep 0.05; done
EP=$(sed -n 's/^http=//p' "$T/evil.ports")
printf 'content_url = http://127.0.0.1:%s/\n' "$EP" >>"$T/ds1/uc.conf"
run_rc 1 "tampered file: sync exits 1" "$UC" sync --once --config "$T/ds1/uc.conf"
es=$(sha1sum <"$T/src/evil.cab" | cut -c1-40)
es=${es^^}
check "names the file and both SHA-1s" has "$ERR" "Content/${es: -2}/$es.cab.*SHA-1 [0-9A-F]{40} \\(expected $es\\)"
check "names both SHA-256s" has "$ERR" "SHA-256 [0-9a-f]{64} \\(expected $(sha256sum <"$T/src/evil.cab" | cut -c1-64)\\)"
check "tampered file answers 404 on ds1" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$D1PP$(url_of "$T/src/evil.cab")")" = 404
check "tampered file quarantined with a reason" bash -c "ls '$T/ds1/store/quarantine/' | grep -q '.reason'"
check "its good sibling is published" cmp -s <(curl -sS -m 5 "http://127.0.0.1:$D1PP$(url_of "$T/src/good.cab")") "$T/src/good.cab"
check "another update of the run is published" cmp -s <(curl -sS -m 5 "http://127.0.0.1:$D1PP$(url_of "$T/src/other.txt")") "$T/src/other.txt"
"$UC" ls --config "$T/ds1/uc.conf" >"$T/ds1.ls" 2>&1 || true
check "the tampered update's record is not published" bash -c "! grep -q tampered '$T/ds1.ls'"
sed -i '/^content_url = /d' "$T/ds1/uc.conf"
run_rc 0 "the next sync from the real root completes it" "$UC" sync --once --config "$T/ds1/uc.conf"
check "then the file is served" cmp -s <(curl -sS -m 5 "http://127.0.0.1:$D1PP$(url_of "$T/src/evil.cab")") "$T/src/evil.cab"
run_rc 0 "ds1 verify clean after all that" "$UC" verify --config "$T/ds1/uc.conf"

# --- Refusals: each publishes nothing.
refusal() { # NAME WANT_RC PATTERN URL CA ID SECRET KEY [ENV...]
    local name=$1 want=$2 pat=$3 url=$4 ca=$5 id=$6 sec=$7 key=$8
    shift 8
    local d=$T/ref-$RANDOM
    mkdir -p "$d"
    {
        printf '[server]\nstore = %s/store\n[upstream]\nurl = %s\n' "$d" "$url"
        [ -n "$ca" ] && printf 'ca_file = %s\n' "$ca"
        printf 'resolve = root.updcache.test:%s:127.0.0.1\npublisher_keys = %s\ndownstream_id = %s\ndownstream_secret = %s\n' "$RP" "$key" "$id" "$sec"
    } >"$d/uc.conf"
    run_rc "$want" "refused: $name" env "$@" "$UC" sync --once --config "$d/uc.conf"
    check "refused: $name: message" has "$ERR" "$pat"
    check "refused: $name: nothing published" test -z "$(find "$d/store/Content" -type f 2>/dev/null)"
}
R=https://root.updcache.test:$RP/
refusal "IP literal" 2 "an IP address is not a fully qualified domain name" "https://127.0.0.1:$RP/" "$T/root/pki/ca.pem" ds9 sec-nine "$T/pub.pub"
refusal "single label" 2 "single-label name is not fully qualified" "https://root:$RP/" "$T/root/pki/ca.pem" ds9 sec-nine "$T/pub.pub"
refusal "untrusted CA" 1 "certificate of root.updcache.test is not trusted" "$R" "$T/ds1/pki/ca.pem" ds9 sec-nine "$T/pub.pub"
refusal "CA only in SSL_CERT_FILE" 1 "is not trusted" "$R" "" ds9 sec-nine "$T/pub.pub" SSL_CERT_FILE="$T/root/pki/ca.pem"
refusal "CA only in CURL_CA_BUNDLE" 1 "is not trusted" "$R" "" ds9 sec-nine "$T/pub.pub" CURL_CA_BUNDLE="$T/root/pki/ca.pem" SSL_CERT_DIR="$T/root/pki"
refusal "wrong publisher key" 1 "refused: .*; kept in quarantine/ with the reason" "$R" "$T/root/pki/ca.pem" ds9 sec-nine "$T/other.pub"
refusal "wrong DSS secret" 1 "refused downstream id 'ds9'" "$R" "$T/root/pki/ca.pem" ds9 wrong "$T/pub.pub"

# --- Tampered envelopes at the root: the payload changed under its signature, and the
# signature changed. Neither update is published; the good update beside them is.
R1=$(page "$T/root" root.updcache.test "$RP" ds1 sec-one | jq -c '.[0]')
pay=$(jq -r .payload <<<"$R1" | base64 -d | jq -c '.title = "changed title"' | base64 -w0)
jq -c --arg p "$pay" '.payload = $p' <<<"$R1" >"$T/env-payload.json"
sig=$(jq -r '.signatures[0].sig' <<<"$R1")
flip=$([ "${sig:0:1}" = A ] && echo B || echo A)${sig:1}
jq -c --arg s "$flip" '.signatures[0].sig = $s' <<<"$R1" >"$T/env-sig.json"
"$EPUT" "$T/root/store" 11111111-1111-4111-8111-111111111111 1 "$T/env-payload.json"
"$EPUT" "$T/root/store" 22222222-2222-4222-8222-222222222222 1 "$T/env-sig.json"
make_file "$T/src/after.cab" 2222
"$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title after-tamper "$T/src/after.cab" >/dev/null 2>&1
run_rc 1 "tampered envelopes: sync exits 1" "$UC" sync --once --config "$T/ds1/uc.conf"
check "tampered envelopes: both refused" test "$(grep -c 'refused: .*sync goes on past it' <<<"$ERR")" = 2
check "tampered envelopes: both kept in quarantine with a reason" test "$(find "$T/ds1/store/quarantine" -name 'envelope.*.json.reason' | wc -l)" = 2
"$UC" ls --config "$T/ds1/uc.conf" >"$T/ds1.ls" 2>&1 || true
check "tampered envelopes: neither published" bash -c "! grep -qE '11111111-|22222222-|changed title' '$T/ds1.ls'"
check "the good update beside them is published" grep -q "after-tamper" "$T/ds1.ls"

# --- --interval: runs again and again until stopped.
timeout 3.5 "$UC" sync --interval=1s --config "$T/ds2/uc.conf" 2>"$T/interval.err" || true
check "--interval=1s ran at least twice ($(grep -c 'published' "$T/interval.err") runs)" test "$(grep -c 'update(s) published' "$T/interval.err")" -ge 2

for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
for n in root ds1 ds2; do
    check "no sanitizer report from $n" bash -c "! grep -q Sanitizer '$T/$n/err'"
done
finish
