#!/usr/bin/env bash
# Two fill = on-demand nodes behind HAProxy (Debian's package; `balance uri`, `hash-type
# consistent`, as a cache tier is balanced), SPEC §13: each cold file, asked for by
# several clients through HAProxy, is filled once, on one node; the root serves each of
# its blocks once; every client gets the right bytes.
# Usage: it_fill_lb.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
command -v haproxy >/dev/null || { bad "haproxy is not installed (tools/deps.sh installs it)"; finish; }
MIB=$((1024 * 1024))
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
mkdir -p "$T/src"
# Fixed bytes (AES-CTR of zeros under a key per file), so the URLs, and where HAProxy's
# hash puts them, are the same in every run: random files put all eight on one node in
# about 1 run of 100, which failed "both nodes hold some" below by chance.
for i in 1 2 3 4 5 6 7 8; do
    head -c $((2 * MIB + i * 1000)) /dev/zero |
        openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$i")" -iv "$(printf '%032x' 0)" >"$T/src/f$i.cab"
done
sha1_of() { local s; s=$(sha1sum <"$1" | cut -c1-40); echo "${s^^}"; }

tls_node "$T/root" root.lb.test "ds1:sec-one, ds2:sec-two"
run_rc 0 "the root publishes" "$UC" add --config "$T/root/uc.conf" --key "$T/pub" --title lb "$T"/src/*.cab
start_tls_daemon "$UCD" "$T/root/uc.conf" "$T/root/ports" "$T/root/err" || { bad "root did not start"; finish; }
RP=$P
ports=()
for n in 1 2; do
    tls_node "$T/od$n" "od$n.lb.test" ""
    sync_from "$T/od$n" root.lb.test "$RP" "$T/root/pki/ca.pem" "ds$n" "$([ $n = 1 ] && echo sec-one || echo sec-two)" "$T/pub.pub"
    echo "fill = on-demand" >>"$T/od$n/uc.conf"
    run_rc 0 "od$n: an on-demand sync" "$UC" sync --once --config "$T/od$n/uc.conf"
    start_tls_daemon "$UCD" "$T/od$n/uc.conf" "$T/od$n/ports" "$T/od$n/err" || { bad "od$n did not start"; finish; }
    ports+=("$PP")
done

H=$((20000 + RANDOM % 12000))
cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend caches
    bind 127.0.0.1:$H
    default_backend nodes
backend nodes
    balance uri
    hash-type consistent
    server od1 127.0.0.1:${ports[0]}
    server od2 127.0.0.1:${ports[1]}
EOF
run_rc 0 "the HAProxy config is valid" haproxy -c -f "$T/haproxy.cfg"
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
cleanup_hooks+=("kill $! 2>/dev/null")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$H/" && break; sleep 0.05; done

# Three clients per file, all files at once.
pids=()
for i in 1 2 3 4 5 6 7 8; do
    for c in 1 2 3; do
        curl -sS -m 60 -o "$T/got.$i.$c" "http://127.0.0.1:$H$(content_url "$T/src/f$i.cab")" &
        pids+=($!)
    done
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
right=0
for i in 1 2 3 4 5 6 7 8; do for c in 1 2 3; do cmp -s "$T/got.$i.$c" "$T/src/f$i.cab" && right=$((right + 1)); done; done
check "every client got the right bytes ($right of 24)" test "$right" = 24
sleep 1.5
once=0 placed=0 spread=""
for i in 1 2 3 4 5 6 7 8; do
    s=$(sha1_of "$T/src/f$i.cab")
    n=$(grep -c "GET $(content_url "$T/src/f$i.cab") HTTP/1.1\" 206" "$T/root/access.log" || true)
    [ "$n" = 3 ] && once=$((once + 1)) # 2 MiB and a bit: 3 blocks
    on=0
    for k in 1 2; do "$UC" ls --files --config "$T/od$k/uc.conf" | grep -q "^present	$s" && on=$((on + 1)) && spread+=$k; done
    [ "$on" = 1 ] && placed=$((placed + 1))
done
check "the root served each block of each file once ($once of 8 files)" test "$once" = 8
check "each file is on exactly one node ($placed of 8)" test "$placed" = 8
check "both nodes hold some of them (nodes: $spread)" bash -c "[[ '$spread' == *1* && '$spread' == *2* ]]"
finish
