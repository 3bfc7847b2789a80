#!/usr/bin/env bash
# updcache configure-ssl: each refusal (single-label name, IP literal, a certificate for
# another name, a key that is not the certificate's, an expired certificate) exits
# non-zero with a clear message and leaves the config byte for byte; then a successful
# run on a running daemon swaps the certificate: s_client sees the new one, the PID is
# the same, and a plain-port download in flight completes with the right bytes.
# Usage: it_configure_ssl.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
NAME=cs.updcache.test
mkdir -p "$T/src"
"$UC" mkcert "$NAME" --out "$T/a" >/dev/null 2>&1
"$UC" mkcert "$NAME" --out "$T/b" >/dev/null 2>&1
"$UC" mkcert "other.updcache.test" --out "$T/o" >/dev/null 2>&1
make_conf "$T/s" <<EOF2
listen = 127.0.0.1
port_file = $T/ports
pid_file = $T/pid
workers = 2
EOF2
C=$T/s/uc.conf

# An expired certificate for NAME, signed by CA a (openssl ca can backdate).
mkdir -p "$T/exp"
(
    cd "$T/exp"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out exp.key 2>/dev/null
    openssl req -new -key exp.key -subj "/CN=$NAME" -addext "subjectAltName=DNS:$NAME" -out exp.csr 2>/dev/null
    printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n' >ca.cnf
    : >index.txt
    echo 01 >serial
    openssl ca -batch -config ca.cnf -cert "$T/a/ca.pem" -keyfile "$T/a/ca.key" -in exp.csr \
        -out exp.pem -startdate 20200101000000Z -enddate 20210101000000Z -notext 2>/dev/null
)
check "expired test certificate made" test -s "$T/exp/exp.pem"

cp "$C" "$T/conf.before"
refuse() { # WHAT WANT_RC PATTERN ARGS...
    local what=$1 want=$2 pat=$3
    shift 3
    run_rc "$want" "configure-ssl refuses $what" "$UC" configure-ssl "$@" --config "$C"
    check "$what: message" has "$ERR" "$pat"
    check "$what: says nothing changed" has "$ERR" "nothing changed"
    check "$what: config untouched" cmp -s "$C" "$T/conf.before"
}
refuse "a single-label name" 2 "single-label name is not fully qualified" \
    updates --cert "$T/a/$NAME.pem" --key "$T/a/$NAME.key"
refuse "an IP literal" 2 "an IP address is not a fully qualified domain name" \
    127.0.0.1 --cert "$T/a/$NAME.pem" --key "$T/a/$NAME.key"
refuse "a certificate for another name" 1 "is not a certificate for $NAME" \
    "$NAME" --cert "$T/o/other.updcache.test.pem" --key "$T/o/other.updcache.test.key"
refuse "a key that is not the certificate's" 1 "is not the private key of" \
    "$NAME" --cert "$T/a/$NAME.pem" --key "$T/b/$NAME.key"
refuse "an expired certificate" 1 "expired on 2021-01-01" \
    "$NAME" --cert "$T/exp/exp.pem" --key "$T/exp/exp.key"
refuse "a missing certificate" 1 "No such file" \
    "$NAME" --cert "$T/nope.pem" --key "$T/a/$NAME.key"

# --- Configure with certificate a, start the daemon on a free port pair.
run_rc 0 "configure-ssl with certificate a" "$UC" configure-ssl "$NAME" --cert "$T/a/$NAME.pem" \
    --key "$T/a/$NAME.key" --https-port 8531 --config "$C"
check "config names the server" grep -qx "name = $NAME" "$C"
check "config has the absolute certificate path" grep -qx "cert = $T/a/$NAME.pem" "$C"
check "URLs printed (port kept, not 443)" has "$OUT" "https://$NAME:8531/"
check "content URL on the paired port" has "$OUT" "http://$NAME:8530/Content/"
start_tls_daemon "$UCD" "$C" "$T/ports" "$T/daemon.err" || { bad "daemon did not start"; finish; }
PID1=$(cat "$T/pid")
fp() { # the SHA-256 fingerprint of the certificate the TLS port presents
    timeout 10 openssl s_client -connect "127.0.0.1:$P" -servername "$NAME" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
fa=$(openssl x509 -in "$T/a/$NAME.pem" -noout -fingerprint -sha256)
fb=$(openssl x509 -in "$T/b/$NAME.pem" -noout -fingerprint -sha256)
check "TLS port presents certificate a" test "$(fp)" = "$fa"

# --- A slow plain-port download, then configure-ssl with certificate b on the same port.
make_file "$T/src/big.bin" $((16 * 1024 * 1024))
"$UC" keygen --out "$T/k" >/dev/null 2>&1
"$UC" add --config "$C" --key "$T/k" --title big "$T/src/big.bin" >/dev/null 2>&1
s=$(sha1sum <"$T/src/big.bin" | cut -c1-40)
s=${s^^}
curl -sS -m 30 --limit-rate 2M -o "$T/inflight" "http://127.0.0.1:$PP/Content/${s: -2}/$s.bin" &
CPID=$!
sleep 0.7
run_rc 0 "configure-ssl with certificate b on the running daemon" "$UC" configure-ssl "$NAME" \
    --cert "$T/b/$NAME.pem" --key "$T/b/$NAME.key" --config "$C"
check "configure-ssl told the daemon" has "$ERR" "reached the running updcached \\(pid $PID1, from the mark it keeps in the store\\)"
for _ in $(seq 50); do [ "$(fp)" = "$fb" ] && break; sleep 0.1; done
check "TLS port now presents certificate b" test "$(fp)" = "$fb"
check "same process (PID $PID1)" test "$(cat "$T/pid")" = "$PID1"
check "process still alive" kill -0 "$PID1"
check "download still in flight at the swap" kill -0 $CPID
wait $CPID
check "download in flight completed with the right bytes" cmp -s "$T/inflight" "$T/src/big.bin"
check "metadata still served with certificate b" test "$(curl -sS -m 5 --cacert "$T/b/ca.pem" --resolve "$NAME:$P:127.0.0.1" -o /dev/null -w '%{http_code}' "https://$NAME:$P/ServerSyncWebService/updates")" = 401

kill -TERM $DPID
wait $DPID || true
check "no sanitizer report from the daemon" bash -c "! grep -q Sanitizer '$T/daemon.err'"

# --- No pid_file: configure-ssl still reaches the daemon that serves the store, and
# says plainly when none runs (also after one was killed and left its mark behind).
sed -i '/^pid_file/d' "$C"
start_tls_daemon "$UCD" "$C" "$T/ports" "$T/daemon2.err" || { bad "daemon 2 did not start"; finish; }
run_rc 0 "configure-ssl without pid_file" "$UC" configure-ssl "$NAME" --cert "$T/a/$NAME.pem" --key "$T/a/$NAME.key" --config "$C"
check "... reached the running daemon" has "$ERR" "reached the running updcached \\(pid $DPID, from the mark it keeps in the store\\)"
for _ in $(seq 50); do [ "$(fp)" = "$fa" ] && break; sleep 0.1; done
check "... and it took the new certificate" test "$(fp)" = "$fa"
# A moved port stops accepting at once; the new pair accepts (SPEC §7). The pair is
# picked below the ephemeral range (32768 up), where the clients of tests running beside
# this one take their ports; one taken anyway between the check and the daemon's bind
# makes the daemon keep its config ("keeping the running config"): another pair then.
for _ in 1 2 3 4; do
    for _ in 1 2 3 4 5 6 7 8; do
        NP=$((20000 + RANDOM % 12000))
        ss -Htln "( sport = :$NP or sport = :$((NP - 1)) )" | grep -q . || break
    done
    kept=$(grep -c "keeping the running config" "$T/daemon2.err" || true)
    run_rc 0 "configure-ssl --https-port moves the daemon" "$UC" configure-ssl "$NAME" --https-port "$NP" --config "$C"
    for _ in $(seq 400); do # 20 s: TSan on a loaded host
        grep -q "^https=$NP$" "$T/ports" 2>/dev/null && break
        [ "$(grep -c "keeping the running config" "$T/daemon2.err" || true)" = "$kept" ] || break
        sleep 0.05
    done
    grep -q "^https=$NP$" "$T/ports" 2>/dev/null && break
    tail -n 3 "$T/daemon2.err" >&2
done
accepts() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
check "the new TLS port accepts" accepts "$NP"
check "the new plain port accepts" accepts "$((NP - 1))"
check "the old TLS port stopped accepting" bash -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$P' 2>/dev/null"
check "the old plain port stopped accepting" bash -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PP' 2>/dev/null"
kill -KILL $DPID
wait $DPID 2>/dev/null || true
run_rc 0 "configure-ssl with no daemon running" "$UC" configure-ssl "$NAME" --cert "$T/b/$NAME.pem" --key "$T/b/$NAME.key" --config "$C"
check "... says no daemon was reached (the killed one's mark is stale)" has "$ERR" "no running updcached serves $T/s/store"
grep -A20 Sanitizer "$T/daemon.err" >&2 || true
# --- Issue 17: the config keeps its mode, owner and symlink; BOM and CRLF files are
# edited in place; a name longer than a CN may be goes into the SAN alone.
mkdir -p "$T/etc"
cp "$C" "$T/etc/real.conf"
chmod 0640 "$T/etc/real.conf"
chgrp nogroup "$T/etc/real.conf"
ln -s "$T/etc/real.conf" "$T/etc/link.conf"
run_rc 0 "configure-ssl through a symlink to a 0640 config" "$UC" configure-ssl "$NAME" --cert "$T/a/$NAME.pem" --key "$T/a/$NAME.key" --config "$T/etc/link.conf"
check "the symlink is still a symlink" test -L "$T/etc/link.conf"
check "its target was edited" grep -q "^cert = $T/a/$NAME.pem" "$T/etc/real.conf"
check "the mode is kept (0640, not 0644)" test "$(stat -c %a "$T/etc/real.conf")" = 640
check "the group is kept" test "$(stat -c %G "$T/etc/real.conf")" = nogroup
check "no temporary file is left" test "$(find "$T/etc" -name '*.tmp.*' | wc -l)" = 0
printf '\xEF\xBB\xBF[server]\r\nstore = %s/bom-store\r\nlisten = 127.0.0.1\r\n' "$T" >"$T/etc/bom.conf"
run_rc 0 "configure-ssl on a config with a BOM and CRLF lines" "$UC" configure-ssl "$NAME" --cert "$T/a/$NAME.pem" --key "$T/a/$NAME.key" --config "$T/etc/bom.conf"
check "the BOM stays" test "$(head -c 3 "$T/etc/bom.conf" | xxd -p)" = efbbbf
check "one [server] section" test "$(grep -c 'server\]' "$T/etc/bom.conf")" = 1
check "every line still ends in CRLF" test "$(grep -c $'\r$' "$T/etc/bom.conf")" = "$(wc -l <"$T/etc/bom.conf")"
run_rc 0 "the edited BOM/CRLF config loads" "$UCD" --check-config --config "$T/etc/bom.conf"
LONG=abcdefghij0123456789abcdefghij.abcdefghij0123456789abcdefghij.updcache.test
run_rc 0 "mkcert for a ${#LONG}-character name" "$UC" mkcert "$LONG" --out "$T/long"
check "the long name is in the SAN" bash -c "openssl x509 -in '$T/long/$LONG.pem' -noout -ext subjectAltName | grep -q 'DNS:$LONG'"
check "and not in a CN" bash -c "! openssl x509 -in '$T/long/$LONG.pem' -noout -subject | grep -q CN"
run_rc 0 "configure-ssl accepts it" "$UC" configure-ssl "$LONG" --cert "$T/long/$LONG.pem" --key "$T/long/$LONG.key" --config "$T/etc/bom.conf"
finish
