#!/usr/bin/env bash
# The embedded default: install what is missing, build, then make a publisher key,
# publish a few generated sample payloads as one signed update into a demo store
# (demo/store), list and verify it, make a lab certificate (updcache mkcert) and turn TLS
# on (updcache configure-ssl), and serve it with updcached: metadata over TLS, files over
# plain HTTP (Ctrl-C stops it). UPDCACHE_DEMO_PORT picks the TLS port (default 8531; the
# plain port is one below); UPDCACHE_DEMO_NO_SERVE=1 skips serving.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
bash tools/build.sh build
UC=$PWD/build/tools/updcache
D=$PWD/demo
# A fresh demo store each run, so re-running shows the same result.
rm -rf "$D/store"
mkdir -p "$D/payloads"
PORT=${UPDCACHE_DEMO_PORT:-8531}
NAME=updates.demo.updcache.test
printf '[server]\nstore = store\nlisten = 127.0.0.1\nport_file = ports\npid_file = pid\n[auth]\ndownstreams = demo-downstream:demo-secret\nadmin_token = demo-admin\n' \
    >"$D/updcache.conf"
[ -f "$D/publisher.key" ] || "$UC" keygen --out "$D/publisher.key"
# Sample payloads of the kinds WSUS serves; sizes from empty to 32 MiB.
# (process substitution: openssl ends on SIGPIPE, which pipefail would count as failure)
gen() { head -c "$2" < <(openssl enc -aes-128-ctr -nosalt -pass "pass:$1" </dev/zero 2>/dev/null) >"$D/payloads/$1"; }
gen windows11-kb5034441-x64.cab $((32 * 1024 * 1024))
gen windows11-kb5034441-x64.psf $((3 * 1024 * 1024 + 7))
gen windows11-kb5034441-x64-express.cab 65536
gen defender-update.exe 4096
: >"$D/payloads/release-notes.txt"
"$UC" add --config "$D/updcache.conf" --key "$D/publisher.key" \
    --title "2026-11 Cumulative Update (demo)" --classification "Security Updates" \
    "$D/payloads"/*
echo
echo "== updcache ls"
"$UC" ls --config "$D/updcache.conf"
echo
echo "== updcache verify"
"$UC" verify --config "$D/updcache.conf"
echo
echo "== updcache mkcert + configure-ssl (metadata over TLS as $NAME)"
"$UC" mkcert "$NAME" --out "$D/pki" >/dev/null
"$UC" configure-ssl "$NAME" --cert "$D/pki/$NAME.pem" --key "$D/pki/$NAME.key" \
    --https-port "$PORT" --config "$D/updcache.conf"
echo
[ "${UPDCACHE_DEMO_NO_SERVE:-}" = 1 ] && exit 0
rm -f "$D/ports"
"$PWD/build/cache/updcached" --config "$D/updcache.conf" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do [ -s "$D/ports" ] && break; sleep 0.05; done
[ -s "$D/ports" ] || { echo "updcached did not start" >&2; exit 1; }
P=$(sed -n 's/^http=//p' "$D/ports")
S=$(sed -n 's/^https=//p' "$D/ports")
CAB=$("$UC" ls --files --config "$D/updcache.conf" | awk -F'\t' '$5 ~ /\.cab$/ && $4 > 1000000 {print $5; exit}')
SHA=$(basename "$CAB" .cab)
echo
echo "updcached serves $D/store on http://127.0.0.1:$P/ (Ctrl-C stops it). Try:"
echo "  curl -sI http://127.0.0.1:$P/$CAB"
echo "  curl -s http://127.0.0.1:$P/$CAB | sha1sum            # = ${SHA,,}"
echo "  curl -s -r 0-1048575 -o part http://127.0.0.1:$P/$CAB  # a Delivery Optimization range"
echo "  curl -s http://127.0.0.1:$P/c/msdownload/update/software/kb5034441_${SHA,,}.cab | sha1sum"
echo "  curl -si http://127.0.0.1:$P/ClientWebService/          # 403: metadata is TLS-only"
echo "metadata over TLS on https://$NAME:$S/ (the lab CA is $D/pki/ca.pem):"
T="curl -s --cacert $D/pki/ca.pem --resolve $NAME:$S:127.0.0.1"
echo "  C=\$($T -u demo-downstream:demo-secret -X POST https://$NAME:$S/DSSAuthWebService/token | jq -r .cookie)"
echo "  $T -H \"Authorization: Bearer \$C\" 'https://$NAME:$S/ServerSyncWebService/updates?since=0&limit=10' | jq ."
echo "  $T -H 'Authorization: Bearer demo-admin' https://$NAME:$S/APIRemoting30/metrics"
echo "  $T -u admin:demo-admin https://$NAME:$S/APIRemoting30/status -o status.html   # the status page (a browser asks for the token as password)"
echo "  $T -si https://$NAME:$S/$CAB                   # 403: no file bytes on the TLS port"
echo "  $UC ls --files --config $D/updcache.conf"
wait $pid
