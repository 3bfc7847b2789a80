#!/usr/bin/env bash
# The TLS port under load and across reloads (issue 17), real daemon on loopback:
#   - 1,100 silent TCP connections (over max_connections = 1000) do not lock the port:
#     the oldest silent ones give way and a real client is served;
#   - a slow download of a SelfUpdate file (500 KB/s for about 10 s) completes with
#     header_timeout = 2s: that timeout is for a request head, not a whole connection
#     (it was libmicrohttpd's idle timeout, and a full socket waits longer than that);
#   - SIGHUP moving `listen` moves the TLS listener too, not only the plain one;
#   - ten SIGHUPs in a burst with a keep-alive connection opened before each: the
#     connections of the newest instances keep working (the oldest drain is cut first).
# Usage: it_tls_limits.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
NAME=limits.updcache.test
tls_node "$T/n" "$NAME" "ds1:sec-one"
sed -i 's/^workers = 2$/workers = 2\nmax_connections = 1000\nheader_timeout = 2s\nkeepalive_timeout = 30s/' "$T/n/uc.conf"
C=$T/n/uc.conf
mkdir -p "$T/n/store/SelfUpdate"
make_file "$T/n/store/SelfUpdate/wuident.cab" $((5 * 1024 * 1024))
start_tls_daemon "$UCD" "$C" "$T/n/ports" "$T/n/err" || { bad "daemon did not start"; finish; }
tcurl() { curl -sS -m 30 --cacert "$T/n/pki/ca.pem" --resolve "$NAME:$P:${ADDR:-127.0.0.1}" "$@"; }
config_code() { tcurl -o /dev/null -w '%{http_code}' "https://$NAME:$P/ServerSyncWebService/config" 2>/dev/null || true; }
check "the TLS port answers" test "$(config_code)" = 401

# --- A silent flood over max_connections.
python3 - "$P" "$T/flood.ready" <<'PY' &
import socket, sys, time
socks = []
for _ in range(1100):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    socks.append(s)
open(sys.argv[2], "w").close()
time.sleep(4)
PY
fpid=$!
for _ in $(seq 100); do [ -e "$T/flood.ready" ] && break; sleep 0.05; done
check "1,100 silent connections were opened" test -e "$T/flood.ready"
check "a real client is served during the flood" test "$(config_code)" = 401
wait "$fpid" || true
check "the flood left no stuck pending slots (served after)" test "$(config_code)" = 401

# --- A slow download is not cut by header_timeout.
t0=$(date +%s)
tcurl --limit-rate 500k -o "$T/slow.got" "https://$NAME:$P/SelfUpdate/wuident.cab" 2>"$T/slow.err" || true
t1=$(date +%s)
check "a 500 KB/s TLS download of 5 MiB completes ($((t1 - t0)) s, header_timeout 2s)" cmp -s "$T/slow.got" "$T/n/store/SelfUpdate/wuident.cab"

# --- A burst of reloads with a keep-alive connection before each. Timeouts long enough
# that no connection goes idle-expired during it: what is cut, the reloads cut.
kill "$DPID"
wait "$DPID" 2>/dev/null || true
sed -i 's/^header_timeout = 2s$/header_timeout = 30s/' "$C"
start_tls_daemon "$UCD" "$C" "$T/n/ports" "$T/n/err2" || { bad "daemon did not restart"; finish; }
cat >"$T/burst.py" <<'PY'
import os, signal, socket, ssl, sys, time
port, name, ca, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
req = ("GET /ServerSyncWebService/config HTTP/1.1\r\nHost: %s\r\n\r\n" % name).encode()

def ask(s):
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            return False
        data += b
    head, _, rest = data.partition(b"\r\n\r\n")
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    while len(rest) < n:
        b = s.recv(65536)
        if not b:
            return False
        rest += b
    return head.startswith(b"HTTP/1.1 401")

conns = []
for i in range(10):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=name)
    s.settimeout(10)
    assert ask(s), "connection %d: no first answer" % (i + 1)
    conns.append(s)
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.4)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=name)
s.settimeout(10)
conns.append(s)
ok = []
for i, s in enumerate(conns):
    try:
        ok.append(ask(s))
    except OSError:
        ok.append(False)
print(" ".join("%d:%s" % (i + 1, "ok" if v else "cut") for i, v in enumerate(ok)))
PY
res=$(python3 "$T/burst.py" "$P" "$NAME" "$T/n/pki/ca.pem" "$DPID" 2>&1 || true)
echo "burst of reloads: $res" >&2
check "after 10 reloads the newest connections still work ($res)" has "$res" "8:ok 9:ok 10:ok 11:ok"

# --- SIGHUP moving listen moves the TLS listener.
sed -i 's/^listen = 127.0.0.1$/listen = 127.0.0.2/' "$C"
kill -HUP "$DPID"
for _ in $(seq 100); do ADDR=127.0.0.2 config_code | grep -q 401 && break; sleep 0.1; done
check "after the move the TLS port answers on 127.0.0.2" test "$(ADDR=127.0.0.2 config_code)" = 401
check "and no longer on 127.0.0.1" bash -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$P' 2>/dev/null"
kill "$DPID" 2>/dev/null || true
wait "$DPID" 2>/dev/null || true
check "no sanitizer report from the daemon" bash -c "! grep -q Sanitizer '$T/n/err' '$T/n/err2'"
finish
