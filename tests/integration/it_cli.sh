#!/usr/bin/env bash
# The command-line surface: help and exit codes, keygen, add of small and empty files,
# ls, verify, and refusals that publish nothing.
. "$(dirname "$0")/lib.sh"
set -e

run_rc 0 "updcache --help" "$UC" --help
check "help lists subcommands" has "$OUT" "keygen.*"
run_rc 2 "unknown subcommand" "$UC" frobnicate
check "unknown subcommand named" has "$ERR" "unknown subcommand 'frobnicate'"
for c in keygen add import ls verify gc; do
    run_rc 0 "$c --help" "$UC" "$c" --help
    check "$c --help says usage" has "$OUT" "usage: updcache $c"
done
run_rc 2 "add without key" "$UC" add --title x /etc/hostname

# keygen: private 0600, public alongside, key id printed, no silent overwrite.
run_rc 0 keygen "$UC" keygen --out "$T/pub.key"
check "key id is 64 hex" has "$OUT" '^[0-9a-f]{64}$'
KEYID=$OUT
check "private key mode 0600" test "$(stat -c %a "$T/pub.key")" = 600
check "public key written" grep -q "BEGIN PUBLIC KEY" "$T/pub.key.pub"
check "private key is PKCS#8" grep -q "BEGIN PRIVATE KEY" "$T/pub.key"
run_rc 1 "keygen refuses to overwrite" "$UC" keygen --out "$T/pub.key"
check "overwrite refusal explains --force" has "$ERR" "force"
check "key unchanged" grep -q . "$T/pub.key"
raw=$(openssl pkey -pubin -in "$T/pub.key.pub" -outform DER | tail -c 32 | sha256sum | cut -c1-64)
check "key id = sha256(raw public key) per openssl" test "$raw" = "$KEYID"

make_conf "$T/a" </dev/null
make_file "$T/a.cab" 4096
: >"$T/empty.txt"
printf x >"$T/one.bin"
make_file "$T/big-express.cab" $((1024 * 1024 + 7))
run_rc 0 "add" "$UC" add --config "$T/a/uc.conf" --key "$T/pub.key" --title "Demo" \
    --classification "Security Updates" "$T/a.cab" "$T/empty.txt" "$T/one.bin" "$T/big-express.cab"
ID=$(printf '%s\n' "$OUT" | head -1)
check "add prints update id" has "$ID" '^[0-9a-f-]{36}$'
sha1=$(sha1sum <"$T/big-express.cab" | cut -c1-40)
sha1=${sha1^^}
check "add prints content path" has "$OUT" "Content/${sha1: -2}/$sha1-express.cab"
check "add reports rates" has "$ERR" "4 files, $((4096 + 1 + 1024 * 1024 + 7)) bytes"
run_rc 0 "ls" "$UC" ls --config "$T/a/uc.conf"
check "ls shows update" has "$OUT" "$ID	r1	.*	Security Updates	Demo	4 files"
check "ls shows empty file present" has "$OUT" "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709.txt	0	present	empty.txt"
check "content digests" content_ok "$T/a/uc.conf" "$T/a/store"
check "published files are 0444" test -z "$(find "$T/a/store/Content" -type f ! -perm 0444)"
run_rc 0 "verify" "$UC" verify --config "$T/a/uc.conf"
check "verify counts 4 files" has "$ERR" "4 files .* 0 problems"
run_rc 0 "verify --fast" "$UC" verify --fast --config "$T/a/uc.conf"

# The signed envelope verifies with openssl alone: PAE over the payload, Ed25519.
env=$(mdb_dump -s updates -p "$T/a/store/index" 2>/dev/null | grep -o '{"payload.*' | head -1 || true)
if [ -n "$env" ] && command -v jq >/dev/null; then
    printf '%s' "$env" | jq -r .payload | base64 -d >"$T/payload"
    printf '%s' "$env" | jq -r '.signatures[0].sig' | base64 -d >"$T/sig"
    type=application/vnd.updcache.update+json
    { printf 'DSSEv1 %d %s %d ' ${#type} "$type" "$(stat -c %s "$T/payload")"; cat "$T/payload"; } >"$T/pae"
    check "openssl verifies the DSSE signature" openssl pkeyutl -verify -pubin \
        -inkey "$T/pub.key.pub" -rawin -in "$T/pae" -sigfile "$T/sig" -out /dev/null
fi

# Refusals publish nothing: a missing file among good ones, a wrong key, a stale revision.
before=$(find "$T/a/store/Content" -type f | wc -l)
make_file "$T/new.cab" 1000
run_rc 1 "add with a missing file" "$UC" add --config "$T/a/uc.conf" --key "$T/pub.key" \
    --title x "$T/new.cab" "$T/does-not-exist.cab"
check "missing file named" has "$ERR" "does-not-exist.cab: No such file"
run_rc 1 "add with a public key as signing key" "$UC" add --config "$T/a/uc.conf" \
    --key "$T/pub.key.pub" --title x "$T/new.cab"
check "bad key named" has "$ERR" "pub.key.pub: not a PEM PKCS#8 private key"
run_rc 1 "same id, same revision" "$UC" add --config "$T/a/uc.conf" --key "$T/pub.key" \
    --title x --id "$ID" --revision 1 "$T/new.cab"
check "stale revision explained" has "$ERR" "raise --revision"
run_rc 0 "same id, higher revision" "$UC" add --config "$T/a/uc.conf" --key "$T/pub.key" \
    --title "Demo v2" --id "$ID" --revision 2 "$T/new.cab"
after=$(find "$T/a/store/Content" -type f | wc -l)
check "only the accepted add published a file" test "$after" -eq $((before + 1))
run_rc 0 "ls after revision" "$UC" ls --config "$T/a/uc.conf"
check "one update, revision 2" test "$(printf '%s\n' "$OUT" | grep -c "^[0-9]")" -eq 1
check "revision 2 listed" has "$OUT" "$ID	r2	.*Demo v2"
run_rc 0 "verify after refusals" "$UC" verify --config "$T/a/uc.conf"
printf '[server]\nstore = %s/nope\n' "$T" >"$T/nope.conf"
run_rc 1 "ls on a store that does not exist" "$UC" ls --config "$T/nope.conf"
check "missing store explained" has "$ERR" "no store here yet"
finish
