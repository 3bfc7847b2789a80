#!/usr/bin/env bash
# updcached SIGHUP: the config is re-read and applied without a restart and without
# cutting connections: a new header timeout, a new access log, a moved plain port (the
# port file follows; a download in flight on the old port completes); a broken config
# is refused with its file:line and the running one is kept.
# Usage: it_daemon_reload.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
mkdir -p "$T/src"
conf() { # HEADER_TIMEOUT ACCESS_LOG LISTEN
    make_conf "$T/s" <<EOF2
http_port = 0
listen = $3
port_file = $T/ports
access_log = $2
header_timeout = $1
keepalive_timeout = 30s
workers = 2
EOF2
}
conf 3s "$T/a1.log" 127.0.0.1
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/src/small.cab" 4096
make_file "$T/src/mid.psf" $((2 * 1024 * 1024))
"$UC" add --config "$C" --key "$T/k" --title t "$T/src"/* >/dev/null 2>&1
url_of() { content_url "$1"; }
U=$(url_of "$T/src/small.cab")
M=$(url_of "$T/src/mid.psf")

"$UCD" --config "$C" 2>"$T/daemon.err" &
DPID=$!
cleanup_hooks+=("kill $DPID 2>/dev/null")
for _ in $(seq 100); do [ -s "$T/ports" ] && break; sleep 0.05; done
P=$(sed -n 's/^http=//p' "$T/ports")
check "started" test -n "$P"

slowloris_ms() { # HOST PORT -> ms until the server answers a head that never ends
    local start out
    start=$(date +%s%N)
    exec 3<>"/dev/tcp/$1/$2"
    printf 'GET / HTTP/1.1\r\nHost: a\r\n' >&3
    out=$(timeout 6 cat <&3 || true)
    exec 3>&-
    case $out in "HTTP/1.1 408"*) ;; *) echo 99999; return ;; esac
    echo $((($(date +%s%N) - start) / 1000000))
}
hup() { # wait for the daemon to log the reload or its refusal
    local n
    n=$(grep -c "SIGHUP" "$T/daemon.err" || true)
    kill -HUP $DPID
    for _ in $(seq 50); do
        [ "$(grep -c "SIGHUP" "$T/daemon.err" || true)" -gt "$n" ] && break
        sleep 0.1
    done
    sleep 0.4 # the workers move over at their next wake-up
}

ms=$(slowloris_ms 127.0.0.1 "$P")
check "header_timeout 3s before reload ($ms ms)" test "$ms" -ge 2700 -a "$ms" -lt 4000

# A keep-alive connection opened before the reload, used after it.
exec 4<>"/dev/tcp/127.0.0.1/$P"
printf 'HEAD %s HTTP/1.1\r\nHost: a\r\n\r\n' "$U" >&4
IFS= read -r line <&4
check "keep-alive connection before reload" has "$line" "^HTTP/1.1 200"

# --- Reload: a shorter header timeout, another access log.
conf 1s "$T/a2.log" 127.0.0.1
hup
check "reload logged" grep -q "SIGHUP: config .* reloaded (generation 2)" "$T/daemon.err"
ms=$(slowloris_ms 127.0.0.1 "$P")
check "header_timeout 1s after reload ($ms ms)" test "$ms" -ge 800 -a "$ms" -lt 1900
curl -sS -m 5 -o /dev/null "http://127.0.0.1:$P$U"
sleep 0.6 # a tick flushes the log
check "new access log written" grep -q "GET $U" "$T/a2.log"
n1=$(grep -c "GET $U" "$T/a1.log" || true)
check "old access log no longer written" test "$n1" = 0
printf 'HEAD %s HTTP/1.1\r\nHost: a\r\n\r\n' "$U" >&4
line=""
for _ in $(seq 30); do IFS= read -r -t 2 line <&4 || break; case $line in HTTP/*) break ;; esac; done
check "keep-alive connection survives the reload" has "$line" "^HTTP/1.1 200"
exec 4>&-

# --- A broken config: refused with file:line, the running one kept.
printf 'bogus_key = 1\n' >>"$C"
hup
check "broken config refused with file:line" grep -q "uc.conf:[0-9]*: \[server\] bogus_key" "$T/daemon.err"
check "broken config: running config kept" grep -q "keeping the running config" "$T/daemon.err"
check "still serving after refused reload" cmp -s <(curl -sS -m 5 "http://127.0.0.1:$P$U") "$T/src/small.cab"

# --- A moved plain port (another listen address): the port file follows, the old port
# is closed for new connections, a download in flight on it completes.
curl -sS -m 20 --limit-rate 1M -o "$T/inflight" "http://127.0.0.1:$P$M" &
CPID=$!
sleep 0.5
conf 1s "$T/a2.log" 127.0.0.2
hup
P2=$(sed -n 's/^http=//p' "$T/ports")
check "port file names the new port" test -n "$P2"
check "served on the new address" cmp -s <(curl -sS -m 5 "http://127.0.0.2:$P2$U") "$T/src/small.cab"
check "old address refuses new connections" bash -c "! curl -sS -m 3 -o /dev/null 'http://127.0.0.1:$P$U' 2>/dev/null"
wait $CPID
check "download in flight across the move completed" cmp -s "$T/inflight" "$T/src/mid.psf"

kill -TERM $DPID
wait $DPID || true
check "no sanitizer report from the daemon" bash -c "! grep -q Sanitizer '$T/daemon.err'"
grep -A20 Sanitizer "$T/daemon.err" >&2 || true
finish
