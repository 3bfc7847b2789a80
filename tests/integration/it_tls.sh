#!/usr/bin/env bash
# The TLS companion listener on 127.0.0.1 with a certificate made by the test: protocol
# versions (openssl s_client), every cell of the SPEC §2 table on both ports, tokens and
# roles, pages of envelopes, file locations, admin stats and Prometheus metrics (parsed
# by prometheus_client), client reports on both ports (listed by `updcache reports`),
# bad input on the TLS port (the listener keeps serving), the port pairing rule.
# Usage: it_tls.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
NAME=tls.updcache.test
mkdir -p "$T/src" "$T/s"
"$UC" mkcert "$NAME" --out "$T/pki" >/dev/null 2>&1
make_conf "$T/s" <<EOF2
name = $NAME
listen = 127.0.0.1
port_file = $T/ports
pid_file = $T/pid
header_timeout = 2s
max_body_bytes = 4K
workers = 2
[tls]
cert = $T/pki/$NAME.pem
key = $T/pki/$NAME.key
[auth]
downstreams = ds1:secret-one, ds2:secret-two
admin_token = adm-token-123
cookie_ttl = 3s
EOF2
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/src/a.cab" 5000
make_file "$T/src/b.psf" 70000
"$UC" add --config "$C" --key "$T/k" --title one "$T/src/a.cab" >/dev/null 2>&1
"$UC" add --config "$C" --key "$T/k" --title two "$T/src/b.psf" >/dev/null 2>&1
"$UC" add --config "$C" --key "$T/k" --title three "$T/src/a.cab" "$T/src/b.psf" >/dev/null 2>&1
mkdir -p "$T/s/store/SelfUpdate/wuident"
printf 'selfupdate bytes\n' >"$T/s/store/SelfUpdate/wuident/wuident.cab"

start_tls_daemon "$UCD" "$C" "$T/ports" "$T/daemon.err" || { bad "daemon did not start"; finish; }
check "port file names both ports" test "$PP" = $((P - 1))
S=https://$NAME:$P
H=http://127.0.0.1:$PP
tcurl() { curl -sS -m 10 --cacert "$T/pki/ca.pem" --resolve "$NAME:$P:127.0.0.1" "$@"; }
code() { tcurl -o "$T/body" -w '%{http_code}' "$@" || true; }
pcode() { curl -sS -m 10 -o "$T/body" -w '%{http_code}' "$@" || true; }
dss() { tcurl -u "${1:-ds1:secret-one}" -X POST "$S/DSSAuthWebService/token" | jq -r .cookie; }
client() { tcurl -H 'Content-Type: application/json' -d '{"client":"pc-7"}' "$S/SimpleAuthWebService/token" | jq -r .cookie; }

# --- Protocol versions. The client is allowed TLS 1.1 (SECLEVEL=0), so a refusal is the
# server's.
sc() { timeout 10 openssl s_client -connect "127.0.0.1:$P" -servername "$NAME" -CAfile "$T/pki/ca.pem" "$@" </dev/null 2>&1 || true; }
out=$(sc -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
check "TLS 1.1 refused by the server" grep -q 'New, (NONE), Cipher is (NONE)' <<<"$out"
out=$(sc -tls1_2)
check "TLS 1.2 accepted" grep -q 'New, TLSv1.2' <<<"$out"
check "TLS 1.2 suite is ECDHE with AEAD" grep -qE 'New, TLSv1.2, Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)' <<<"$out"
out=$(sc -tls1_3)
check "TLS 1.3 accepted" grep -q 'New, TLSv1.3' <<<"$out"
check "certificate verifies against the test CA" grep -q 'Verify return code: 0 (ok)' <<<"$out"
sc -tls1_3 -showcerts | openssl x509 -noout -ext subjectAltName >"$T/san" 2>/dev/null || true
check "certificate names the server" grep -q "DNS:$NAME" "$T/san"

# --- SPEC §2, every cell, both ports.
A=$(sha1sum <"$T/src/a.cab" | cut -c1-40)
A=${A^^}
CU="/Content/${A: -2}/$A.cab"
for root in SimpleAuthWebService DSSAuthWebService ServerSyncWebService APIRemoting30 ClientWebService; do
    check "plain $root: 403" test "$(pcode "$H/$root/x")" = 403
    check "plain $root names the https URL" grep -q "https://$NAME:$P/$root/x" "$T/body"
done
check "plain Content served" cmp -s <(curl -sS -m 5 "$H$CU") "$T/src/a.cab"
check "TLS Content refused 403" test "$(code "$S$CU")" = 403
check "TLS Content: no file bytes" bash -c "! cmp -s '$T/body' '$T/src/a.cab' && test \$(stat -c %s '$T/body') -lt 1000"
check "TLS Content points at the plain port" grep -q "http://$NAME:$PP$CU" "$T/body"
check "TLS msdownload alias refused 403" test "$(code "$S/c/msdownload/update/x/kb_$A.cab")" = 403
for port in plain tls; do
    if [ $port = plain ]; then u=$H; c=pcode; else u=$S; c=code; fi
    check "$port SelfUpdate served" test "$($c "$u/SelfUpdate/wuident/wuident.cab")" = 200
    check "$port SelfUpdate bytes" cmp -s "$T/body" "$T/s/store/SelfUpdate/wuident/wuident.cab"
    check "$port Inventory report 202" test "$($c -H 'Content-Type: application/json' -d "{\"client\":\"pc-$port\",\"inventory\":{\"os\":\"x\"}}" "$u/Inventory/report")" = 202
    check "$port Reporting events 202" test "$($c -d "{\"client\":\"pc-$port\",\"events\":[{\"id\":1},{\"id\":2}]}" "$u/ReportingWebService/events")" = 202
    check "$port Inventory GET 405" test "$($c "$u/Inventory/report")" = 405
done
# Served on TLS: the token roots answer with cookies, the others with credentials.
check "TLS DSSAuth token" test -n "$(dss)"
check "TLS SimpleAuth token" test -n "$(client)"
CK=$(dss)
check "TLS ServerSyncWebService served" test "$(code -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates")" = 200
CC=$(client)
check "TLS ClientWebService served" test "$(code -H "Authorization: Bearer $CC" "$S/ClientWebService/updates")" = 200
check "TLS APIRemoting30 served" test "$(code -H 'Authorization: Bearer adm-token-123' "$S/APIRemoting30/stats")" = 200

# --- Tokens and roles.
check "no cookie: 401" test "$(code "$S/ServerSyncWebService/updates")" = 401
forged=${CK%?}0
[ "$forged" != "$CK" ] || forged=${CK%?}1
check "forged cookie: 401" test "$(code -H "Authorization: Bearer $forged" "$S/ServerSyncWebService/updates")" = 401
check "client cookie on ServerSyncWebService: 403" test "$(code -H "Authorization: Bearer $CC" "$S/ServerSyncWebService/updates")" = 403
check "dss cookie on ClientWebService: 403" test "$(code -H "Authorization: Bearer $CK" "$S/ClientWebService/updates")" = 403
check "wrong Basic credentials: 401" test "$(code -u ds1:wrong -X POST "$S/DSSAuthWebService/token")" = 401
check "wrong credentials logged" grep -q "DSSAuthWebService refused downstream id 'ds1': wrong credentials" "$T/daemon.err"
# Issue 17: a newline in the id was written raw (a forged log line).
code -H "Authorization: Basic $(printf 'ds1\nFORGED LINE:x' | base64 -w0)" -X POST "$S/DSSAuthWebService/token" >/dev/null
sleep 0.2
check "an id with a newline is logged escaped" grep -qF "refused downstream id 'ds1\x0AFORGED LINE'" "$T/daemon.err"
check "and forges no line" bash -c "! grep -q '^FORGED LINE' '$T/daemon.err'"
check "second downstream gets a cookie" test -n "$(dss ds2:secret-two)"
check "token needs POST: 405" test "$(code "$S/DSSAuthWebService/token")" = 405
check "SimpleAuth without a client name: 400" test "$(code -d '{}' "$S/SimpleAuthWebService/token")" = 400
old=$(dss)
sleep 3.2
check "expired cookie: 401" test "$(code -H "Authorization: Bearer $old" "$S/ServerSyncWebService/updates")" = 401
check "expired cookie says so" grep -q "expired" "$T/body"

# --- Pages of envelopes (verbatim: the signature still verifies) and file locations.
CK=$(dss)
tcurl -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates?since=0&limit=2" >"$T/p1"
check "page 1: two envelopes, more" test "$(jq -c '[(.updates|length), .more]' "$T/p1")" = "[2,true]"
next=$(jq .next "$T/p1")
tcurl -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates?since=$next&limit=2" >"$T/p2"
check "page 2: the third, no more" test "$(jq -c '[(.updates|length), .more]' "$T/p2")" = "[1,false]"
check "envelopes are DSSE" test "$(jq -r '.updates[0].payloadType' "$T/p1")" = "application/vnd.updcache.update+json"
titles=$(jq -r '.updates[].payload' "$T/p1" "$T/p2" | while read -r p; do base64 -d <<<"$p" | jq -r .title; done | tr '\n' ' ')
check "all three updates in change order ($titles)" test "$titles" = "one two three "
# Issue 17: UINT64_MAX wrapped to 0 (the first page again); above INT64_MAX the anchor
# cannot go back out as a JSON integer. A fresh cookie first: cookie_ttl is 3 s here, and
# the checks above took longer than that once under TSan with a second test beside it.
CK=$(dss)
check "since=2^64-1 refused" test "$(code -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates?since=18446744073709551615")" = 400
check "since=2^63 refused" test "$(code -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates?since=9223372036854775808")" = 400
check "since=2^63-1 is an empty page" test "$(tcurl -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates?since=9223372036854775807" | jq -c '[(.updates|length), .more]')" = "[0,false]"
check "limit above 5000 refused" test "$(code -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/updates?limit=5001")" = 400
tcurl -H "Authorization: Bearer $CK" "$S/ServerSyncWebService/config" >"$T/cfg"
check "config names the ports and content URL" test "$(jq -c '[.name,.https_port,.http_port,.content_url]' "$T/cfg")" = "[\"$NAME\",$P,$PP,\"http://$NAME:$PP/\"]"
CC=$(client)
tcurl -H "Authorization: Bearer $CC" "$S/ClientWebService/files/$A" >"$T/loc"
check "file location: digests" test "$(jq -r .sha256 "$T/loc")" = "$(sha256sum <"$T/src/a.cab" | cut -c1-64)"
url=$(jq -r .url "$T/loc")
check "file location: plain URL ($url)" test "$url" = "http://$NAME:$PP$CU"
check "file location URL serves the bytes" cmp -s <(curl -sS -m 5 --resolve "$NAME:$PP:127.0.0.1" "$url") "$T/src/a.cab"
check "unknown file: 404" test "$(code -H "Authorization: Bearer $CC" "$S/ClientWebService/files/$(printf '0%.0s' $(seq 40))")" = 404

# --- Admin: stats and metrics.
check "admin without token: 401" test "$(code "$S/APIRemoting30/metrics")" = 401
check "admin wrong token: 401" test "$(code -H 'Authorization: Bearer nope' "$S/APIRemoting30/metrics")" = 401
tcurl -H 'Authorization: Bearer adm-token-123' "$S/APIRemoting30/metrics" >"$T/metrics"
# Issue 17: bytes counted are bytes sent (a HEAD of a 6 MB file counted 6,000,000).
https_bytes() { tcurl -H 'Authorization: Bearer adm-token-123' "$S/APIRemoting30/metrics" | awk '$1 == "updcache_body_bytes_sent_total{port=\"https\"}" {print $2}'; }
head -c 3000000 /dev/urandom >"$T/s/store/SelfUpdate/big.cab"
b0=$(https_bytes)
tcurl -I "$S/SelfUpdate/big.cab" >/dev/null
b1=$(https_bytes)
# The metrics page itself is counted as it is sent: less than 64 KB between the readings.
check "a HEAD of a 3 MB file counts no body bytes ($b0 -> $b1)" test $((b1 - b0)) -lt 65536
tcurl -o /dev/null "$S/SelfUpdate/big.cab"
b2=$(https_bytes)
check "a GET of it counts its 3,000,000 bytes ($b1 -> $b2)" test $((b2 - b1 - 3000000)) -ge 0 -a $((b2 - b1 - 3000000)) -lt 65536
cat >"$T/prom.py" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
for line in text.splitlines():
    if line and not line.startswith("#"):
        name = line.split("{")[0].split(" ")[0]
        suffixes = ("", "_total", "_sum", "_count")  # counters, and a summary's two samples
        assert any(name == f + x for f in fams for x in suffixes), "sample without family: " + line
helps = {l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")}
types = {l.split()[2]: l.split()[3] for l in text.splitlines() if l.startswith("# TYPE ")}
for name, kind in types.items():
    assert name in helps, "no HELP for " + name
    if kind == "counter":
        assert name.endswith("_total"), "counter without _total: " + name
req = fams["updcache_requests"]
assert req.type == "counter", req.type
got = {(s.labels["port"], s.labels["root"], s.labels["code"]): s.value for s in req.samples}
assert got.get(("https", "ServerSyncWebService", "401"), 0) >= 2, got
assert got.get(("http", "Content", "200"), 0) >= 1, got
assert got.get(("http", "ServerSyncWebService", "403"), 0) >= 1, got
print("ok", len(fams))
PY
check "metrics parse as Prometheus text" /usr/bin/python3 "$T/prom.py" "$T/metrics"
check "metrics count lost access log lines" grep -q '^updcache_access_log_lines_dropped_total 0$' "$T/metrics"
tcurl -H 'Authorization: Bearer adm-token-123' "$S/APIRemoting30/stats" >"$T/stats"
check "stats JSON counts the store" test "$(jq -c '[.store.updates, .store.files]' "$T/stats")" = "[3,2]"
check "stats JSON counts reports" test "$(jq '.reports.accepted' "$T/stats")" -ge 4

# --- Reports recorded (both ports), listed by `updcache reports`.
sleep 0.3
"$UC" reports --config "$C" >"$T/reports"
check "four reports listed" test "$(wc -l <"$T/reports")" = 4
check "reports from both ports" test "$(jq -r '.record.port' "$T/reports" | sort -u | tr '\n' ' ')" = "http https "
check "report body kept" grep -q '"events":\[{"id":1},{"id":2}\]' "$T/reports"
check "reports --limit" test "$("$UC" reports --config "$C" --limit 1 | wc -l)" = 1

# --- Bad input on the TLS port; the listener keeps serving after each.
big=$(head -c 6000 /dev/zero | tr '\0' a)
check "oversized report: 413" test "$(code -d "{\"client\":\"$big\"}" "$S/ReportingWebService/events")" = 413
big20=$(head -c 20000 /dev/zero | tr '\0' a)
check "oversized token request (20 KB, limit 4K): 413, no cookie" test "$(code -H 'Content-Type: application/json' -d "{\"client\":\"c1\",\"pad\":\"$big20\"}" "$S/SimpleAuthWebService/token")" = 413
check "oversized DSS token request: 413" test "$(code -u ds1:secret-one -d "$big20" "$S/DSSAuthWebService/token")" = 413
check "oversized report on the plain port: 413" test "$(pcode -d "{\"client\":\"$big\"}" "$H/ReportingWebService/events")" = 413
# Issue 17: ambiguous framing was accepted (202) on the TLS port; SPEC §3's rule applies.
cat >"$T/framing.py" <<'PY'
import socket, ssl, sys
port, name, ca, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=name)
s.settimeout(10)
body = b'{"client":"c1","events":[]}'
head = "POST /ReportingWebService/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" % name
head += extra.replace("\\n", "\r\n") % {"n": len(body)}
s.sendall(head.encode() + b"\r\n" + body)
data = b""
while True:
    try:
        b = s.recv(65536)
    except (OSError, ssl.SSLError):
        break
    if not b:
        break
    data += b
print(data.decode(errors="replace"))
PY
fr() { python3 "$T/framing.py" "$P" "$NAME" "$T/pki/ca.pem" "$1" 2>&1 || true; }
out=$(fr 'Content-Length: %(n)d\nTransfer-Encoding: chunked\n')
check "TLS: Content-Length with Transfer-Encoding: 400" has "$out" "^HTTP/1.1 400"
check "TLS: ... in the JSON error form" has "$out" '"error": *"bad_request".*both Content-Length and Transfer-Encoding'
out=$(fr 'Content-Length: %(n)d\nContent-Length: 5\n')
check "TLS: two different Content-Lengths: 400" has "$out" "^HTTP/1.1 400.*"
check "TLS: ... named" has "$out" "Content-Length given twice with different values"
check "invalid JSON: 400" test "$(code -d '{"client": "x", ' "$S/Inventory/report")" = 400
check "invalid JSON names the problem" grep -q "not valid JSON" "$T/body"
check "events not an array: 400" test "$(pcode -d '{"client":"x","events":3}' "$H/ReportingWebService/events")" = 400
out=$(curl -sS -m 5 "http://127.0.0.1:$P/ServerSyncWebService/updates" || true)
check "plain HTTP to the TLS port: 400 naming https" has "$out" "400 Bad Request: this is the TLS port; use https://$NAME:$P/"
start=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$P"
timeout 6 cat <&3 >/dev/null || true
exec 3>&-
ms=$((($(date +%s%N) - start) / 1000000))
check "silent connection closed after header_timeout ($ms ms)" test "$ms" -ge 1500 -a "$ms" -lt 5000
start=$(date +%s%N)
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf '\x16\x03\x01\x00\xff\x01' >&3 # a handshake record that never completes
timeout 8 cat <&3 >/dev/null || true
exec 3>&-
ms=$((($(date +%s%N) - start) / 1000000))
check "stalled handshake cut off ($ms ms)" test "$ms" -lt 7000
check "TLS listener still serving" test -n "$(dss)"
check "plain port still serving" cmp -s <(curl -sS -m 5 "$H$CU") "$T/src/a.cab"

# --- Issue 17: a downstream removed (or re-keyed) by a SIGHUP loses its cookies at once.
C1=$(dss ds1:secret-one)
C2=$(dss ds2:secret-two)
upd() { code -H "Authorization: Bearer $1" "$S/ServerSyncWebService/updates"; }
check "both downstream cookies work" test "$(upd "$C1") $(upd "$C2")" = "200 200"
sed -i 's/^downstreams = .*/downstreams = ds1:secret-one-new/' "$C"
kill -HUP "$DPID"
for _ in $(seq 100); do [ "$(upd "$C2")" = 401 ] && break; sleep 0.1; done
check "after removing ds2: its cookie is refused" test "$(upd "$C2")" = 401
check "... saying why" grep -q "no longer accepted" "$T/body"
check "after changing ds1's secret: its old cookie is refused" test "$(upd "$C1")" = 401
check "a cookie for the new secret works" test "$(upd "$(dss ds1:secret-one-new)")" = 200
sed -i 's/^downstreams = .*/downstreams = ds1:secret-one, ds2:secret-two/' "$C"
kill -HUP "$DPID"
sleep 0.5

# --- The port pairing rule.
"$UC" mkcert a.example.org --out "$T/pp" >/dev/null 2>&1
PPC="cert = $T/pp/a.example.org.pem\nkey = $T/pp/a.example.org.key"
printf "[server]\nhttps_port = 443\nname = a.example.org\n[tls]\n$PPC\n" >"$T/p443.conf"
check "443 pairs with 80" bash -c "'$UCD' --config '$T/p443.conf' --check-config | grep -qx http_port=80"
printf "[server]\nhttps_port = 8531\nname = a.example.org\n[tls]\n$PPC\n" >"$T/p8531.conf"
check "8531 pairs with 8530" bash -c "'$UCD' --config '$T/p8531.conf' --check-config | grep -qx http_port=8530"
printf "[server]\nhttps_port = 8531\nhttp_port = 8080\nname = a.example.org\n[tls]\n$PPC\n" >"$T/pbad.conf"
run_rc 2 "contradicting http_port refused" "$UCD" --config "$T/pbad.conf" --check-config
check "contradiction explained" has "$ERR" "http_port: 8080 contradicts https_port 8531.*8530"

kill -TERM $DPID
for _ in $(seq 100); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
check "SIGTERM: exited" bash -c "! kill -0 $DPID 2>/dev/null"
wait $DPID || true
check "no sanitizer report from the daemon" bash -c "! grep -q Sanitizer '$T/daemon.err'"
grep -A20 Sanitizer "$T/daemon.err" >&2 || true
finish
