#!/usr/bin/env bash
# testssl.sh (Debian's) against the TLS listener: no SSLv2, SSLv3, TLS 1.0 or 1.1; TLS 1.2
# and 1.3 offered; no NULL, anonymous, EXPORT, LOW, RC4 or 3DES suites. Labelled slow.
# Usage: it_testssl.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
command -v testssl >/dev/null || { echo "testssl not installed (tools/deps.sh)"; exit 77; }
NAME=ts.updcache.test
"$UC" mkcert "$NAME" --out "$T/pki" >/dev/null 2>&1
make_conf "$T/s" <<EOF2
name = $NAME
listen = 127.0.0.1
port_file = $T/ports
workers = 1
[tls]
cert = $T/pki/$NAME.pem
key = $T/pki/$NAME.key
EOF2
start_tls_daemon "$UCD" "$T/s/uc.conf" "$T/ports" "$T/daemon.err" || { bad "daemon did not start"; finish; }
timeout 300 testssl --quiet --color 0 --warnings off -p -s -4 --jsonfile "$T/ts.json" \
    "127.0.0.1:$P" >"$T/ts.txt" 2>&1 || true
finding() { jq -r --arg id "$1" '.[] | select(.id == $id) | .finding' "$T/ts.json"; }
for id in SSLv2 SSLv3 TLS1 TLS1_1; do
    check "testssl: $id not offered" test "$(finding "$id")" = "not offered"
done
check "testssl: TLS 1.2 offered" test "$(finding TLS1_2)" = "offered"
check "testssl: TLS 1.3 offered" has "$(finding TLS1_3)" "^offered"
for id in cipherlist_NULL cipherlist_aNULL cipherlist_EXPORT cipherlist_LOW cipherlist_3DES_IDEA; do
    check "testssl: $id not offered" test "$(finding "$id")" = "not offered"
done
check "testssl: no RC4" test "$(finding RC4)" = "not vulnerable"
check "testssl: strong suites offered" test "$(finding cipherlist_STRONG)" = "offered"
[ "$FAIL" -eq 0 ] || cat "$T/ts.txt" >&2
kill -TERM $DPID
wait $DPID || true
finish
