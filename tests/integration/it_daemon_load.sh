#!/usr/bin/env bash
# updcached under real clients and many connections: aria2c -x8 -s8 segmented download
# of 64 MiB, curl -C - resume, a sparse file past 4 GiB (HEAD size, a range past 4 GiB),
# 5,000 connections held while a new request is still served, and max_connections:
# past it new connections are closed at once while the existing ones keep working.
# Usage: it_daemon_load.sh UPDCACHE UPDCACHED UPDCACHE_BENCH INDEX_PUT
. "$(dirname "$0")/lib.sh"
UCD=${2:?} BENCH=${3:?} PUT=${4:?}
set -e
start_daemon() { start_plain_daemon "$UCD" "$@"; }
"$UC" keygen --out "$T/k" >/dev/null 2>&1
mkdir -p "$T/src"
make_file "$T/src/big.cab" $((64 * 1024 * 1024))
make_file "$T/src/s.cab" 4096
start_daemon "$T/a" "workers = 2"
"$UC" add --config "$T/a/uc.conf" --key "$T/k" --title t "$T/src"/* >/dev/null 2>&1
url_of() { # FILE -> /Content/XX/SHA1.cab
    local h
    h=$(sha1sum <"$1" | cut -c1-40)
    h=${h^^}
    printf '/Content/%s/%s.cab' "${h: -2}" "$h"
}
BIG=$(url_of "$T/src/big.cab")
SMALL=$(url_of "$T/src/s.cab")
s=$(sha1sum <"$T/src/s.cab" | cut -c1-40)
B=http://127.0.0.1:$P

if command -v aria2c >/dev/null; then
    rm -f "$T/aria.out"
    aria2c -q -x8 -s8 -k1M --allow-overwrite=true -d "$T" -o aria.out "$B$BIG"
    check "aria2c -x8 -s8: sha256 equal" test "$(sha256sum <"$T/aria.out")" = "$(sha256sum <"$T/src/big.cab")"
else
    echo "SKIP: aria2c not installed"
fi
head -c 10000000 "$T/src/big.cab" >"$T/resume.out"
curl -sS -m 30 -C - -o "$T/resume.out" "$B$BIG"
check "curl -C - resumes to the whole file" cmp -s "$T/resume.out" "$T/src/big.cab"

# A sparse file past 4 GiB, published by moving it (copying 5 GiB is not a test's job).
truncate -s $((5 * 1024 * 1024 * 1024 + 3)) "$T/sparse.wim"
printf 'past-4GiB' | dd of="$T/sparse.wim" bs=1 seek=$((4 * 1024 * 1024 * 1024 + 100)) conv=notrunc 2>/dev/null
SP=$("$PUT" "$T/a/store" "$T/sparse.wim" .wim)
check "HEAD gives the exact size past 4 GiB" bash -c "curl -sS -m 10 -I '$B/$SP' | grep -q '^Content-Length: $((5 * 1024 * 1024 * 1024 + 3))'"
got=$(curl -sS -m 10 -r $((4 * 1024 * 1024 * 1024 + 98))-$((4 * 1024 * 1024 * 1024 + 110)) "$B/$SP" | od -An -c | tr -d ' \n')
check "range past 4 GiB returns the right bytes ($got)" test "$got" = '\0\0past-4GiB\0\0'

# 5,000 connections held open while a new request is still served.
"$BENCH" --port "$P" --url "$SMALL" -c 0 --idle 5000 -t 2 -d 4 --json "$T/idle.json" >/dev/null 2>&1 &
bp=$!
sleep 2.5
check "a new request is served with 5,000 held" test "$(curl -sS -m 5 "$B$SMALL" | sha1sum | cut -c1-40)" = "$s"
wait $bp || true
check "5,000 idle connections stayed open" test "$(jq .idle_open "$T/idle.json")" -ge 5000
kill $DPID
wait $DPID 2>/dev/null || true

# max_connections: past it, new connections are closed at once; the held ones still work.
start_daemon "$T/m" "max_connections = 20
workers = 1" "$T/a/store"
"$BENCH" --port "$P" --url "$SMALL" -c 0 --idle 20 -t 1 -d 3 --json "$T/m20.json" >/dev/null 2>&1 &
bp=$!
sleep 1
start=$(date +%s%N)
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P$SMALL" 2>/dev/null || true)
ms=$((($(date +%s%N) - start) / 1000000))
check "past max_connections: refused at once (code $code, $ms ms)" test "$code" = 000 -a "$ms" -lt 1000
wait $bp || true
check "the 20 held connections were kept" test "$(jq .idle_open "$T/m20.json")" -eq 20
check "served again once they closed" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P$SMALL")" = 200
check "no sanitizer report" bash -c "! grep -q Sanitizer '$T/a/daemon.err' '$T/m/daemon.err'"
finish
