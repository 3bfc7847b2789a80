#!/usr/bin/env bash
# The single-recv fallback (UPDCACHED_NO_MULTISHOT=1) never lets a receive still in
# flight write into memory another connection now owns: A's head times out (408)
# while its receive is armed, B's head arrives, then A's late bytes. With one worker
# and header_timeout = 2s the freed buffer of A is B's next allocation, so before the
# fix B was answered with the file A's bytes named. Run three times.
# Usage: it_recv_reuse.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
mkdir -p "$T/src"
make_conf "$T/s" <<EOF2
http_port = 0
port_file = $T/ports
access_log = off
header_timeout = 2s
keepalive_timeout = 5s
workers = 1
EOF2
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/src/x.cab" 3000
make_file "$T/src/y.cab" 5000
"$UC" add --config "$C" --key "$T/k" --title t "$T/src"/* >/dev/null 2>&1
url_of() { content_url "$1"; }
UPDCACHED_NO_MULTISHOT=1 "$UCD" --config "$C" 2>"$T/daemon.err" &
DPID=$!
cleanup_hooks+=("kill $DPID 2>/dev/null")
for _ in $(seq 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
P=$(sed -n 's/^http=//p' "$T/ports")
check "port file written" test -n "$P"
check "fallback receive path in use" grep -q "one recv at a time" "$T/daemon.err"
PY="python3 $(dirname "$0")/rawhttp.py"
for i in 1 2 3; do
    check "run $i: B gets its own file" $PY reuse "$P" "$(url_of "$T/src/x.cab")" \
        "$(url_of "$T/src/y.cab")" "$T/src/x.cab"
done
kill -TERM $DPID
for _ in $(seq 60); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
wait $DPID || true
check "no sanitizer report from the daemon" bash -c "! grep -q Sanitizer '$T/daemon.err'"
grep -A30 Sanitizer "$T/daemon.err" >&2 || true
finish
