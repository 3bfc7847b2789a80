#!/usr/bin/env bash
# updcached under real clients and many connections: aria2c -x8 -s8 segmented download
# of 64 MiB, curl -C - resume, a sparse file past 4 GiB (HEAD size, a range past 4 GiB),
# 5,000 connections held while a new request is still served, a file dropped from the
# page cache served while another connection is answered, and max_connections:
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
# Ranges past 4 GiB too large for the output buffer (transmit.c: splice while the
# sparse pages are not cached, sendfile once they are), checked against the file.
SPF=$T/a/store/$SP
G4=$((4 * 1024 * 1024 * 1024))
for r in "$((G4 - 1048576))-$((G4 + 1048576))" "-3000000" "$((G4 + 50))-"; do
    curl -sS -m 30 -o "$T/r4" -r "$r" "$B/$SP"
    case $r in
    -*) first=$((5 * 1024 * 1024 * 1024 + 3 - ${r#-})) last=$((5 * 1024 * 1024 * 1024 + 2)) ;;
    *-) first=${r%-} last=$((5 * 1024 * 1024 * 1024 + 2)) ;;
    *) first=${r%-*} last=${r#*-} ;;
    esac
    check "range $r past 4 GiB: bytes" cmp -s "$T/r4" <(dd if="$SPF" iflag=skip_bytes,count_bytes skip="$first" count=$((last - first + 1)) bs=1M status=none)
done
curl -sS -m 30 -D "$T/r4h" -o "$T/r4" -r "0-99999,$((G4 + 90))-$((G4 + 200099))" "$B/$SP"
b=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\([a-z0-9]*\).*/\1/p' "$T/r4h")
{
    printf -- '--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-99999/%s\r\n\r\n' "$b" $((5 * 1024 * 1024 * 1024 + 3))
    head -c 100000 "$SPF"
    printf -- '\r\n--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %s-%s/%s\r\n\r\n' "$b" $((G4 + 90)) $((G4 + 200099)) $((5 * 1024 * 1024 * 1024 + 3))
    dd if="$SPF" iflag=skip_bytes,count_bytes skip=$((G4 + 90)) count=200010 bs=1M status=none
    printf -- '\r\n--%s--\r\n' "$b"
} >"$T/r4want"
check "multipart with a part past 4 GiB: body" cmp -s "$T/r4" "$T/r4want"

# 5,000 connections held open while a new request is still served.
"$BENCH" --port "$P" --url "$SMALL" -c 0 --idle 5000 -t 2 -d 4 --json "$T/idle.json" >/dev/null 2>&1 &
bp=$!
sleep 2.5
check "a new request is served with 5,000 held" test "$(curl -sS -m 5 "$B$SMALL" | sha1sum | cut -c1-40)" = "$s"
wait $bp || true
check "5,000 idle connections stayed open" test "$(jq .idle_open "$T/idle.json")" -ge 5000
kill $DPID
wait $DPID 2>/dev/null || true

# A file dropped from the page cache is read through the ring (never on the loop) and
# served right, while the same single worker keeps answering another connection.
start_daemon "$T/c" "workers = 1" "$T/a/store"
BIGF=$T/a/store$BIG
drop_cache() {
    python3 -c 'import os,sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}
drop_cache "$BIGF"
res=$(fincore -nb -o RES "$BIGF" | tr -d ' ')
check "big file dropped from the page cache ($res bytes resident)" test "$res" -lt $((8 * 1024 * 1024))
curl -sS -m 60 --limit-rate 24M -o "$T/cold.out" "http://127.0.0.1:$P$BIG" &
cp=$!
during=0 smallbad=0
for _ in $(seq 400); do
    kill -0 $cp 2>/dev/null || break
    if [ "$(curl -sS -m 5 "http://127.0.0.1:$P$SMALL" | sha1sum | cut -c1-40)" = "$s" ]; then
        during=$((during + 1))
    else
        smallbad=$((smallbad + 1))
    fi
done
wait $cp || true
check "cold file served byte for byte" cmp -s "$T/cold.out" "$T/src/big.cab"
check "small file answered while the cold one streamed ($during times, $smallbad bad)" test "$during" -ge 5 -a "$smallbad" = 0
drop_cache "$BIGF"
curl -sS -m 60 -o "$T/cold.out" -r 20000000-40000000 "http://127.0.0.1:$P$BIG"
check "cold range served byte for byte" cmp -s "$T/cold.out" <(tail -c +20000001 "$T/src/big.cab" | head -c 20000001)
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
check "no sanitizer report" bash -c "! grep -q Sanitizer '$T/a/daemon.err' '$T/c/daemon.err' '$T/m/daemon.err'"
finish
