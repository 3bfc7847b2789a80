#!/usr/bin/env bash
# updcached on 127.0.0.1: the SPEC §3 headers on GET and HEAD, bodies by digest (memory
# and splice paths), case-insensitive paths and the msdownload alias, ranges and
# conditionals, pipelining and connection handling, refused bad input (the server keeps
# serving), slowloris cut-off, files added while running, access log rotation, SIGTERM.
# Usage: it_daemon.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
mkdir -p "$T/src"
make_conf "$T/s" <<EOF2
http_port = 0
port_file = $T/ports
pid_file = $T/pid
access_log = $T/access.log
header_timeout = 2s
keepalive_timeout = 5s
workers = 2
EOF2
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/src/small.cab" 4096
make_file "$T/src/mid.psf" $((1024 * 1024 + 7))
make_file "$T/src/over-buffer.exe" $((200 * 1024))
make_file "$T/src/large.esd" $((3 * 1024 * 1024 + 13))
: >"$T/src/empty.txt"
"$UC" add --config "$C" --key "$T/k" --title t "$T/src"/* >/dev/null 2>&1
url_of() { content_url "$1"; }

"$UCD" --config "$C" 2>"$T/daemon.err" &
DPID=$!
cleanup_hooks+=("kill $DPID 2>/dev/null")
for _ in $(seq 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
P=$(sed -n 's/^http=//p' "$T/ports")
check "port file written after listen" test -n "$P"
B=http://127.0.0.1:$P
PY="python3 $(dirname "$0")/rawhttp.py"

# --- GET and HEAD: exactly the SPEC §3 headers, the right bytes.
U=$(url_of "$T/src/small.cab")
curl -sS -m 5 -D "$T/h" -o "$T/body" "$B$U"
check "GET 200" grep -q '^HTTP/1.1 200 OK' "$T/h"
check "body digest" cmp -s "$T/body" "$T/src/small.cab"
for h in "Content-Length: 4096" "Content-Type: application/octet-stream" "Accept-Ranges: bytes" \
    "Cache-Control: public, max-age=31536000, immutable"; do
    check "header $h" grep -qi "^$h"$'\r'"\$" "$T/h"
done
want=$(openssl dgst -sha256 -binary "$T/src/small.cab" | base64)
check "Repr-Digest is the SHA-256" grep -q "^Repr-Digest: sha-256=:$want:" "$T/h"
check "strong ETag" grep -qE '^ETag: "[0-9a-f]{32}"' "$T/h"
check "Last-Modified" grep -qE '^Last-Modified: [A-Z][a-z]{2}, [0-9]{2} ' "$T/h"
check "no Transfer-Encoding" bash -c "! grep -qi '^Transfer-Encoding' '$T/h'"
curl -sS -m 5 -I "$B$U" >"$T/hh"
check "HEAD 200 with exact length" grep -q '^Content-Length: 4096' "$T/hh"
check "HEAD has the GET's ETag" grep -q "$(grep '^ETag' "$T/h" | tr -d '\r')" "$T/hh"
for f in mid.psf over-buffer.exe empty.txt; do
    curl -sS -m 10 -o "$T/body" "$B$(url_of "$T/src/$f")"
    check "$f served byte for byte" cmp -s "$T/body" "$T/src/$f"
done
check "lower-case path" test "$(curl -sS -m 5 "$B${U,,}" | sha1sum)" = "$(sha1sum <"$T/src/small.cab")"
s=$(sha1sum <"$T/src/small.cab" | cut -c1-40)
check "msdownload alias" test "$(curl -sS -m 5 "$B/c/msdownload/update/software/x/kb1_$s.cab" | sha1sum)" = "$(sha1sum <"$T/src/small.cab")"
check "msdownload alias resolves by SHA-1 alone (any extension)" test "$(curl -sS -m 5 "$B/c/msdownload/update/software/x/kb1_$s.exe" | sha1sum)" = "$(sha1sum <"$T/src/small.cab")"
check "Content name with another extension 404" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$B${U%.cab}.exe")" = 404
check "Content name with -express.cab for a .cab 404" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$B${U%.cab}-express.cab")" = 404
check "Content extension in upper case 200" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$B${U%.cab}.CAB")" = 200
wrong="/Content/00/${s^^}.cab"
[ "${s: -2}" != 00 ] || wrong="/Content/01/${s^^}.cab"
check "wrong XX folder 404" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$B$wrong")" = 404
check "TLS-only root 403" test "$(curl -sS -m 5 -o "$T/body" -w '%{http_code}' "$B/ClientWebService/x")" = 403
check "403 says to configure TLS" grep -q "updcache configure-ssl" "$T/body"

# --- Ranges and conditionals (status, Content-Range, bytes).
M=$(url_of "$T/src/mid.psf")
SIZE=$((1024 * 1024 + 7))
range() { # RANGE WANT_STATUS FIRST LAST
    local got
    got=$(curl -sS -m 5 -D "$T/rh" -o "$T/rb" -w '%{http_code}' -H "Range: $1" "$B$M")
    check "Range $1 -> $2" test "$got" = "$2"
    if [ "$2" = 206 ]; then
        check "Range $1 Content-Range" grep -q "^Content-Range: bytes $3-$4/$SIZE" "$T/rh"
        check "Range $1 bytes" cmp -s "$T/rb" <(tail -c +$(($3 + 1)) "$T/src/mid.psf" | head -c $(($4 - $3 + 1)))
    fi
}
range "bytes=0-99" 206 0 99
range "bytes=1048576-" 206 1048576 $((SIZE - 1))
range "bytes=-7" 206 $((SIZE - 7)) $((SIZE - 1))
range "bytes=100-2000000" 206 100 $((SIZE - 1))
range "bytes=0-0,0-10" 206 0 10
range "bytes=2000000-" 416
check "416 names the size" grep -q "^Content-Range: bytes \*/$SIZE" "$T/rh"
range "bytes=0-" 206 0 $((SIZE - 1))
range "bytes=0-0" 206 0 0
range "bytes=-0" 416
range "bytes=-99999999" 206 0 $((SIZE - 1))
range "bytes=$((SIZE - 1))-" 206 $((SIZE - 1)) $((SIZE - 1))
range "bytes=$SIZE-$SIZE" 416
range "bytes= 10-20" 206 10 20
range "bytes=10-20,15-30" 206 10 30
range "bytes=0-99999999999999999999" 206 0 $((SIZE - 1))
range "bytes=-99999999999999999999" 206 0 $((SIZE - 1))
range "bytes=99999999999999999999-" 416
range "bytes=5-1" 200
range "pages=0-1" 200
check "two ranges -> 206" test "$(curl -sS -m 5 -D "$T/rh" -o "$T/rb" -w '%{http_code}' -H 'Range: bytes=0-1,4-5' "$B$M")" = 206
b=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\([a-z0-9]*\).*/\1/p' "$T/rh")
{
    printf -- '--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/%s\r\n\r\n' "$b" "$SIZE"
    head -c 2 "$T/src/mid.psf"
    printf -- '\r\n--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 4-5/%s\r\n\r\n' "$b" "$SIZE"
    tail -c +5 "$T/src/mid.psf" | head -c 2
    printf -- '\r\n--%s--\r\n' "$b"
} >"$T/want"
check "multipart/byteranges body" cmp -s "$T/rb" "$T/want"
check "multipart Content-Length" grep -q "^Content-Length: $(stat -c %s "$T/want")" "$T/rh"

# --- Ranges too large for the output buffer: sent by transmit.c (sendfile of the
# page-cache-resident file, part heads interleaved), each body checked byte for byte.
L=$(url_of "$T/src/large.esd")
LSIZE=$((3 * 1024 * 1024 + 13))
curl -sS -m 10 -o "$T/lb" "$B$L"
check "large file whole, byte for byte" cmp -s "$T/lb" "$T/src/large.esd"
bigrange() { # RANGE FIRST LAST
    curl -sS -m 10 -D "$T/rh" -o "$T/rb" -H "Range: $1" "$B$L"
    check "large Range $1: 206 $2-$3" grep -q "^Content-Range: bytes $2-$3/$LSIZE" "$T/rh"
    check "large Range $1: bytes" cmp -s "$T/rb" <(tail -c +$(($2 + 1)) "$T/src/large.esd" | head -c $(($3 - $2 + 1)))
}
bigrange "bytes=100-2500000" 100 2500000
bigrange "bytes=-2000000" $((LSIZE - 2000000)) $((LSIZE - 1))
bigrange "bytes=1048576-" 1048576 $((LSIZE - 1))
curl -sS -m 10 -D "$T/rh" -o "$T/rb" -H 'Range: bytes=0-99999,1500000-2600000,-5000' "$B$L"
b=$(sed -n 's/^Content-Type: multipart\/byteranges; boundary=\([a-z0-9]*\).*/\1/p' "$T/rh")
{
    first=1
    for pr in 0:99999 1500000:2600000 $((LSIZE - 5000)):$((LSIZE - 1)); do
        a=${pr%:*} z=${pr#*:}
        [ $first = 1 ] || printf '\r\n'
        first=0
        printf -- '--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %s-%s/%s\r\n\r\n' "$b" "$a" "$z" "$LSIZE"
        tail -c +$((a + 1)) "$T/src/large.esd" | head -c $((z - a + 1))
    done
    printf -- '\r\n--%s--\r\n' "$b"
} >"$T/want"
check "large multipart/byteranges body" cmp -s "$T/rb" "$T/want"
check "large multipart Content-Length" grep -q "^Content-Length: $(stat -c %s "$T/want")" "$T/rh"
etag=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' "$T/h")
lm=$(sed -n 's/^Last-Modified: \(.*\)\r$/\1/p' "$T/h")
check "If-None-Match 304" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$B$U")" = 304
check "If-Modified-Since 304" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$B$U")" = 304
check "If-Match mismatch 412" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'If-Match: "nope"' "$B$U")" = 412
check "If-Range match keeps 206" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "If-Range: $etag" -r 0-9 "$B$U")" = 206
check "If-Range mismatch gives 200" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'If-Range: "old"' -r 0-9 "$B$U")" = 200
check "If-None-Match * 304" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'If-None-Match: *' "$B$U")" = 304
check "If-None-Match weak match 304" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "If-None-Match: W/$etag" "$B$U")" = 304
check "If-None-Match other 200" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'If-None-Match: "x"' "$B$U")" = 200
check "If-Unmodified-Since past 412" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT' "$B$U")" = 412
check "If-Range date match keeps 206" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "If-Range: $lm" -r 0-9 "$B$U")" = 206
check "304 carries the ETag" bash -c "curl -sS -m 5 -D - -o /dev/null -H 'If-None-Match: $etag' '$B$U' | grep -q '^ETag: $etag'"
check "HEAD with Range answers like GET" test "$(curl -sS -m 5 -I -o /dev/null -w '%{http_code}' -r 0-9 "$B$U")" = 206

# --- SelfUpdate files are replaced in place: a short max-age, never immutable, and an
# ETag that changes with the bytes even when size and mtime are kept.
mkdir -p "$T/s/store/SelfUpdate/wuident"
SU=$T/s/store/SelfUpdate/wuident/wuident.cab
make_file "$SU" 3000
curl -sS -m 5 -D "$T/suh" -o "$T/sub" "$B/SelfUpdate/wuident/wuident.cab"
check "SelfUpdate served" cmp -s "$T/sub" "$SU"
check "SelfUpdate not immutable" bash -c "! grep -qi immutable '$T/suh'"
ma=$(sed -n 's/^Cache-Control: public, max-age=\([0-9]*\)\r$/\1/p' "$T/suh")
check "SelfUpdate max-age at most an hour (${ma:-none})" test "${ma:-99999}" -le 3600
e1=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' "$T/suh")
touch -r "$SU" "$T/su.ref"
sleep 0.05
head -c 3000 /dev/urandom | dd of="$SU" conv=notrunc status=none
touch -r "$T/su.ref" "$SU"
check "SelfUpdate rewritten with the same size and mtime" test "$(stat -c %s.%y "$SU")" = "$(stat -c 3000.%y "$T/su.ref")"
curl -sS -m 5 -D "$T/suh" -o "$T/sub" -H "If-None-Match: $e1" "$B/SelfUpdate/wuident/wuident.cab"
check "SelfUpdate old ETag no longer matches: 200 with the new bytes" cmp -s "$T/sub" "$SU"
e2=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' "$T/suh")
check "SelfUpdate ETag changed ($e1 -> $e2)" test -n "$e2" -a "$e1" != "$e2"
check "SelfUpdate unchanged: 304" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "If-None-Match: $e2" "$B/SelfUpdate/wuident/wuident.cab")" = 304

# --- Raw connections: pipelining, HTTP/1.0, Connection: close, bad input.
raw() { # BYTES (printf format) -> the response bytes until the server closes (or 3 s)
    exec 3<>"/dev/tcp/127.0.0.1/$P"
    printf "$1" >&3
    timeout 3 cat <&3 || true
    exec 3>&-
}
E=$(url_of "$T/src/empty.txt")
out=$(raw "GET $U HTTP/1.1\r\nHost: a\r\n\r\nGET $E HTTP/1.1\r\nHost: a\r\n\r\nHEAD $U HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" | tr -d '\0' | grep -a '^Content-Length' | tr -d '\r' | tr '\n' ' ')
check "three pipelined responses in order" test "$out" = "Content-Length: 4096 Content-Length: 0 Content-Length: 4096 "
start=$(date +%s%N)
out=$(raw "GET $E HTTP/1.0\r\n\r\n")
check "HTTP/1.0 answered" has "$out" "^HTTP/1.1 200"
check "HTTP/1.0 closes (no wait for keep-alive)" test $((($(date +%s%N) - start) / 1000000)) -lt 2500
start=$(date +%s%N)
out=$(raw "GET $E HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
check "Connection: close honoured" test $((($(date +%s%N) - start) / 1000000)) -lt 2500
refused() { # NAME BYTES WANT_STATUS
    local out
    out=$(raw "$2" | tr -d '\0')
    check "$1 -> $3" has "$out" "^HTTP/1.1 $3 "
    check "$1: no file bytes" bash -c "! printf '%s' \"\$1\" | grep -qa 'Repr-Digest'" _ "$out"
}
refused "CL and TE" "POST /ReportingWebService/e HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc" 400
refused "duplicate CL" "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" 400
refused "NUL in header" "GET $U HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n" 400
refused "dot-dot" "GET /Content/../index/data.mdb HTTP/1.1\r\nHost: a\r\n\r\n" 400
refused "encoded dot-dot" "GET /Content/%%2e%%2e/index/data.mdb HTTP/1.1\r\nHost: a\r\n\r\n" 400
refused "encoded slash" "GET /Content/AB%%2fx.cab HTTP/1.1\r\nHost: a\r\n\r\n" 400
refused "backslash" "GET /Content\\\\..\\\\index HTTP/1.1\r\nHost: a\r\n\r\n" 400
refused "encoded NUL" "GET $U%%00.txt HTTP/1.1\r\nHost: a\r\n\r\n" 400
refused "unknown method" "BREW $U HTTP/1.1\r\nHost: a\r\n\r\n" 501
refused "POST on content" "POST $U HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" 405
big=$(head -c 100000 /dev/zero | tr '\0' a)
refused "100 KB header" "GET $U HTTP/1.1\r\nHost: a\r\nX-Big: $big\r\n\r\n" 431
ten=$(head -c 10000 /dev/zero | tr '\0' a)
refused "10 KB header line in a 16 KB head" "GET $U HTTP/1.1\r\nHost: a\r\nX-Big: $ten\r\n\r\n" 431
for m in POST PUT GET; do
    refused "$m on a TLS-only root" "$m /DSSAuthWebService/token HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" 403
done
check "the 403 to a POST names what to do" has "$(raw "POST /DSSAuthWebService/token HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" | tr -d '\0')" "TLS only"
long=$(head -c 20000 /dev/zero | tr '\0' a)
refused "20 KB request line" "GET /$long HTTP/1.1\r\nHost: a\r\n\r\n" 414
NONE=/Content/00/0000000000000000000000000000000000000000.cab
check "HEAD errors end at their head (pipelined GET intact)" $PY head_error "$P" "$NONE" "$U" "$T/src/small.cab"
check "half-close after the requests: every response, then close" $PY halfclose "$P" "$U" "$T/src/small.cab" "$(url_of "$T/src/mid.psf")" "$T/src/mid.psf"
check "Content-Length past 32 bits: 413, nothing smuggled" $PY bigcl "$P"
printf '[server]\nstore = %s/s/store\nmax_body_bytes = 5G\n' "$T" >"$T/big.conf"
run_rc 2 "max_body_bytes = 5G refused" "$UCD" --config "$T/big.conf" --check-config
check "max_body_bytes refusal names the key and the cap" has "$ERR$OUT" "max_body_bytes: 5G is too large: at most 64M"
check "Expect: 100-continue answered (100, or the refusal at once)" $PY expect "$P"
check "absolute-form targets served" $PY absform "$P" "$U" "$T/src/small.cab"
check "still serving after bad input" test "$(curl -sS -m 5 "$B$U" | sha1sum)" = "$(sha1sum <"$T/src/small.cab")"

# --- Slowloris: a head that never completes is cut off after header_timeout (2 s).
start=$(date +%s%N)
out=$(raw "GET $U HTTP/1.1\r\nHost: a\r\n")
ms=$((($(date +%s%N) - start) / 1000000))
check "slowloris answered 408" has "$out" "^HTTP/1.1 408"
check "slowloris cut off after ~2 s ($ms ms)" test "$ms" -ge 1500 -a "$ms" -lt 2900

check "1,000 silent connections closed after header_timeout; a keep-alive one stays" $PY silent "$P" "$U" 1000

# --- A file added while the daemon runs is served at once.
make_file "$T/src/late.msu" 12345
"$UC" add --config "$C" --key "$T/k" --title late "$T/src/late.msu" >/dev/null 2>&1
check "file added while running is served" cmp -s <(curl -sS -m 5 "$B$(url_of "$T/src/late.msu")") "$T/src/late.msu"

# --- A symlink planted in the store is not followed out of it (never served).
make_file "$T/src/planted.cab" 6000
"$UC" add --config "$C" --key "$T/k" --title planted "$T/src/planted.cab" >/dev/null 2>&1
PL=$(url_of "$T/src/planted.cab")
# the same size as the record, so nothing but the open can tell them apart
{ printf 'secret bytes outside the store\n'; head -c 5969 /dev/zero | tr '\0' s; } >"$T/outside.txt"
rm -f "$T/s/store$PL"
ln -s "$T/outside.txt" "$T/s/store$PL"
code=$(curl -sS -m 5 -o "$T/body" -w '%{http_code}' "$B$PL")
check "symlink in the store not followed ($code)" test "$code" = 404 -o "$code" = 403
check "symlink target's bytes never sent" bash -c "! grep -q 'secret bytes' '$T/body'"
check "symlink refusal logged" grep -q "a symlink in the store; not followed" "$T/daemon.err"

# --- A hot (cached) file that verify --repair quarantines is not served any more.
for _ in 1 2 3; do curl -sS -m 5 -o /dev/null "$B$U"; done
F=$T/s/store$U
chmod u+w "$F"
printf 'X' | dd of="$F" bs=1 seek=10 conv=notrunc 2>/dev/null
# Its output is kept: CI once saw this answer other than 404 under ASan, and the next
# time should say whether the repair itself failed or the daemon served the file anyway.
"$UC" verify --repair --config "$C" >"$T/repair.out" 2>&1 || true
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$B$U")
if [ "$code" != 404 ]; then
    echo "quarantined hot file answered $code; verify --repair said:" >&2
    cat "$T/repair.out" >&2
fi
check "quarantined hot file answers 404 ($code)" test "$code" = 404
"$UC" add --config "$C" --key "$T/k" --title again "$T/src/small.cab" >/dev/null 2>&1
check "re-published file served again" cmp -s <(curl -sS -m 5 "$B$U") "$T/src/small.cab"

# --- The open-file cache never serves what the index no longer calls present: a large
# file (kept open by both workers after a few GETs) quarantined, then re-published
# with the same SHA-1 as a new inode (the old one, corrupt, is in quarantine/), then
# purged.
getl() { curl -sS -m 10 -o "$1" -w '%{http_code}' "$B$L"; }
for i in 1 2 3 4 5 6; do getl "$T/lb$i" >/dev/null; done
check "large file served from the open-file cache" cmp -s "$T/lb6" "$T/src/large.esd"
LF=$T/s/store$L
chmod u+w "$LF"
printf 'X' | dd of="$LF" bs=1 seek=3000000 conv=notrunc 2>/dev/null
"$UC" verify --repair --config "$C" >/dev/null 2>&1 || true
codes=$(for i in 1 2 3 4 5 6; do getl /dev/null; echo; done | sort -u | tr '\n' ' ')
check "quarantined open file answers 404 on every connection ($codes)" test "$codes" = "404 "
"$UC" add --config "$C" --key "$T/k" --title again "$T/src/large.esd" >/dev/null 2>&1
bad=0
for i in 1 2 3 4 5 6; do
    getl "$T/lb" >/dev/null
    cmp -s "$T/lb" "$T/src/large.esd" || bad=$((bad + 1))
done
check "re-published (new inode): the new bytes, never the quarantined ones ($bad bad)" test "$bad" = 0
"$UC" purge --config "$C" --force "$(sha1sum <"$T/src/large.esd" | cut -c1-40)" >/dev/null 2>&1
codes=$(for i in 1 2 3 4 5 6; do getl /dev/null; echo; done | sort -u | tr '\n' ' ')
check "purged open file answers 404 on every connection ($codes)" test "$codes" = "404 "
"$UC" add --config "$C" --key "$T/k" --title again2 "$T/src/large.esd" >/dev/null 2>&1
check "served again after purge and add" cmp -s <(curl -sS -m 10 "$B$L") "$T/src/large.esd"

# --- Receive path: multishot recv with a provided buffer ring on this kernel, unless the
# test asks for the single-shot fallback (ctest runs this script both ways).
if [ -n "${UPDCACHED_NO_MULTISHOT:-}" ]; then
    check "fallback receive path in use" grep -q "one recv at a time" "$T/daemon.err"
else
    check "multishot receive in use" grep -q "multishot recv and a provided buffer ring" "$T/daemon.err"
fi

# --- 1000 pipelined GETs in one burst (about 80 KB of heads: more than the server
# buffers ahead of a response, so receiving pauses and resumes): all answered, in order.
: >"$T/burst"
for i in $(seq 999); do printf 'GET %s HTTP/1.1\r\nHost: a\r\nX-N: %d\r\n\r\n' "$U" "$i" >>"$T/burst"; done
printf 'GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' "$E" >>"$T/burst"
exec 3<>"/dev/tcp/127.0.0.1/$P"
cat "$T/burst" >&3 &
timeout 20 cat <&3 >"$T/burst.out" || true
exec 3>&-
check "1000 pipelined: 999 full bodies" test "$(grep -ac '^Content-Length: 4096' "$T/burst.out")" = 999
check "1000 pipelined: the last one answered last" test "$(grep -a '^Content-Length' "$T/burst.out" | tail -1 | tr -d '\r')" = "Content-Length: 0"
check "1000 pipelined: every byte" test "$(stat -c %s "$T/burst.out")" -gt $((999 * 4096))

# --- A client that stops reading a large response is cut off after keepalive_timeout
# (5 s) without progress, and the server keeps serving.
make_file "$T/src/big.bin" $((48 * 1024 * 1024))
"$UC" add --config "$C" --key "$T/k" --title big "$T/src/big.bin" >/dev/null 2>&1
start=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf 'GET %s HTTP/1.1\r\nHost: a\r\n\r\n' "$(url_of "$T/src/big.bin")" >&3
for _ in $(seq 100); do grep -q "no progress" "$T/daemon.err" && break; sleep 0.1; done
ms=$((($(date +%s%N) - start) / 1000000))
got=$(timeout 10 cat <&3 | wc -c)
exec 3>&-
check "stalled reader cut off after ~5 s ($ms ms)" test "$ms" -ge 4500 -a "$ms" -lt 8000
check "stalled reader got a part only ($got bytes)" test "$got" -lt $((48 * 1024 * 1024))
check "still serving after a stalled reader" cmp -s <(curl -sS -m 5 "$B$U") "$T/src/small.cab"
# A reader that never reads, with a small MSS and receive window as on a slow link: the
# server's send buffer is small and fills. While it is full the worker keeps serving
# others: from the page cache (sendfile) and from the disk (the splice path) alike.
BIGF=$T/s/store$(url_of "$T/src/big.bin")
cat "$BIGF" >/dev/null
check "a stuck reader of a cached file holds up no one" $PY stuck "$P" "$(url_of "$T/src/big.bin")" "$U" "$T/src/small.cab"
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$BIGF"
check "a stuck reader of a file on disk holds up no one" $PY stuck "$P" "$(url_of "$T/src/big.bin")" "$U" "$T/src/small.cab"

# --- Access log, rotation on SIGUSR1, SIGTERM.
# A request line of quotes (each escaped to 4 bytes) and a 3000-byte User-Agent: the
# line is written with its fields cut and marked, not dropped.
q=$(head -c 1500 /dev/zero | tr '\0' '"')
ua=$(head -c 3000 /dev/zero | tr '\0' u)
raw "GET /$q HTTP/1.1\r\nHost: a\r\nUser-Agent: $ua\r\nConnection: close\r\n\r\n" >/dev/null
sleep 1.2 # one tick: the buffer is flushed
check "escaped long request line logged, cut with a marker" grep -qE '"GET /(\\x22)+\.\.\." 400 0 "-" "u+\.\.\." [0-9]+$' "$T/access.log"
check "access log has request lines" grep -qE '"GET /Content/.* HTTP/1.1" 200 4096 "-" "curl/' "$T/access.log"
check "access log has request time" grep -qE '" [0-9]+$' "$T/access.log"
mv "$T/access.log" "$T/access.log.1"
kill -USR1 $DPID
sleep 0.3
curl -sS -m 5 -o /dev/null "$B$U"
sleep 1.2
check "SIGUSR1 reopened the log" grep -q "GET $U" "$T/access.log"
# A log that cannot be written: the lines lost are counted and said, not dropped silently.
sed "s|^access_log = .*|access_log = /dev/full|; s|^port_file = .*|port_file = $T/ports2|; /^pid_file/d" "$C" >"$T/full.conf"
"$UCD" --config "$T/full.conf" 2>"$T/full.err" &
FPID=$!
cleanup_hooks+=("kill $FPID 2>/dev/null")
for _ in $(seq 100); do [ -s "$T/ports2" ] && break; sleep 0.05; done
curl -sS -m 5 -o /dev/null "http://127.0.0.1:$(sed -n 's/^http=//p' "$T/ports2")$U" || true
for _ in $(seq 30); do grep -q "lines lost" "$T/full.err" && break; sleep 0.1; done
check "unwritable access log: lost lines reported" grep -q "access log write failed: No space left on device; 1 lines lost" "$T/full.err"
kill -TERM $FPID
wait $FPID || true
kill -TERM $DPID
for _ in $(seq 60); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
check "SIGTERM: exited" bash -c "! kill -0 $DPID 2>/dev/null"
wait $DPID || true
check "pid file removed" test ! -e "$T/pid"
check "no sanitizer report from the daemon" bash -c "! grep -q Sanitizer '$T/daemon.err'"
grep -A20 Sanitizer "$T/daemon.err" >&2 || true
finish
