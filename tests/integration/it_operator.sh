#!/usr/bin/env bash
# What a new operator meets (issue 11): an existing empty store directory, as systemd's
# StateDirectory= or a package's postinst makes it, is made into a store by whichever of
# the daemon or a tool comes first, also when both start at the same moment; a
# non-empty directory that is not a store is refused, naming what is there. The index
# never stops the store: a flood of client reports into a small [store] index_size
# prunes the oldest and publishing goes on; a map that really fills is a clear error
# that loses nothing published, and the next publish after gc's pruning works.
# --check-config checks [tls] as configure-ssl does and exits 2 naming the file.
# Usage: it_operator.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
"$UC" keygen --out "$T/pub" >/dev/null 2>&1
make_file "$T/f.cab" 5000

# --- The daemon first, on an empty directory.
mkdir -p "$T/e1/store"
start_plain_daemon "$UCD" "$T/e1" "" "$T/e1/store"
check "daemon serves from an empty directory" test -n "$P"
check "daemon made the layout" test -d "$T/e1/store/Content/FF" -a -d "$T/e1/store/index"
printf '[server]\nstore = %s\n' "$T/e1/store" >"$T/e1/tool.conf"
run_rc 0 "add into the store the daemon made" "$UC" add --config "$T/e1/tool.conf" --key "$T/pub" --title t "$T/f.cab"
check "the daemon serves the added file" test "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P$(content_url "$T/f.cab")")" = 200
kill "$DPID" && wait "$DPID" 2>/dev/null || true

# --- A tool first, on an empty directory.
mkdir -p "$T/e2/store"
printf '[server]\nstore = %s\n' "$T/e2/store" >"$T/e2/uc.conf"
run_rc 0 "add into an empty directory" "$UC" add --config "$T/e2/uc.conf" --key "$T/pub" --title t "$T/f.cab"
run_rc 0 "verify clean" "$UC" verify --config "$T/e2/uc.conf"

# --- Both at the same moment, 10 times.
for i in $(seq 10); do
    d=$T/race$i
    mkdir -p "$d/store"
    printf '[server]\nstore = %s\n' "$d/store" >"$d/tool.conf"
    start_plain_daemon "$UCD" "$d" "" "$d/store" &
    "$UC" add --config "$d/tool.conf" --key "$T/pub" --title race "$T/f.cab" >/dev/null 2>"$d/add.err" &
    apid=$!
    wait %1 2>/dev/null || true
    if wait "$apid"; then ok; else bad "race $i: add failed: $(cat "$d/add.err")"; fi
    for _ in $(seq 100); do [ -s "$d/ports" ] && break; sleep 0.05; done
    p=$(sed -n 's/^http=//p' "$d/ports" 2>/dev/null || true)
    check "race $i: the daemon started ($(head -c 300 "$d/daemon.err" 2>/dev/null))" test -n "$p"
    check "race $i: the daemon serves the file" test "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${p:-1}$(content_url "$T/f.cab")")" = 200
    run_rc 0 "race $i: verify clean" "$UC" verify --config "$d/tool.conf"
    pkill -f "$d/uc.conf" 2>/dev/null || true
done

# --- A non-empty directory that is not a store.
mkdir -p "$T/ne/store"
echo hello >"$T/ne/store/notes.txt"
mkdir "$T/ne/store/photos"
printf '[server]\nstore = %s\n' "$T/ne/store" >"$T/ne/tool.conf"
run_rc 1 "add refuses a non-empty directory" "$UC" add --config "$T/ne/tool.conf" --key "$T/pub" --title t "$T/f.cab"
check "the refusal names what was found" has "$ERR" "not an updcache store and not empty \\(found .*'notes.txt'"
check "nothing was written there" test "$(ls -A "$T/ne/store" | wc -l)" = 2
start_plain_daemon "$UCD" "$T/ne" "" "$T/ne/store"
check "the daemon refuses it too" test -z "$P"
check "the daemon names what was found" grep -q "not an updcache store and not empty" "$T/ne/daemon.err"
# --- --check-config and [tls].
"$UC" mkcert a.operator.test --out "$T/pki" >/dev/null 2>&1
"$UC" mkcert b.operator.test --out "$T/pki2" >/dev/null 2>&1
openssl ecparam -name prime256v1 -genkey -noout -out "$T/old.key" 2>/dev/null
openssl req -new -key "$T/old.key" -subj /CN=a.operator.test -addext subjectAltName=DNS:a.operator.test -out "$T/old.csr" 2>/dev/null
openssl x509 -req -in "$T/old.csr" -signkey "$T/old.key" -out "$T/old.pem" -days -1 -copy_extensions copy 2>/dev/null
tlsconf() { # CERT KEY [NAME] -> $T/tls.conf
    printf '[server]\nstore = %s\nhttps_port = 8531\nname = %s\n[tls]\ncert = %s\nkey = %s\n' \
        "$T/tlsstore" "${3:-a.operator.test}" "$1" "$2" >"$T/tls.conf"
}
tlsconf "$T/pki/a.operator.test.pem" "$T/pki/a.operator.test.key"
run_rc 0 "check-config: a good [tls]" "$UCD" --config "$T/tls.conf" --check-config
tlsconf "$T/pki/missing.pem" "$T/pki/a.operator.test.key"
run_rc 2 "check-config: a missing certificate" "$UCD" --config "$T/tls.conf" --check-config
check "check-config: names the missing file" has "$ERR" "$T/pki/missing.pem: No such file"
printf 'not a certificate\n' >"$T/junk.pem"
tlsconf "$T/junk.pem" "$T/pki/a.operator.test.key"
run_rc 2 "check-config: a file that does not parse" "$UCD" --config "$T/tls.conf" --check-config
check "check-config: names the unparsable file" has "$ERR" "$T/junk.pem: no PEM certificate"
tlsconf "$T/pki/a.operator.test.pem" "$T/pki2/b.operator.test.key"
run_rc 2 "check-config: a key of another certificate" "$UCD" --config "$T/tls.conf" --check-config
check "check-config: says the key does not match" has "$ERR" "b.operator.test.key is not the private key of"
tlsconf "$T/pki2/b.operator.test.pem" "$T/pki2/b.operator.test.key" a.operator.test
run_rc 2 "check-config: a certificate for another name" "$UCD" --config "$T/tls.conf" --check-config
check "check-config: names the name" has "$ERR" "a.operator.test"
tlsconf "$T/old.pem" "$T/old.key"
run_rc 2 "check-config: an expired certificate" "$UCD" --config "$T/tls.conf" --check-config
check "check-config: says it expired" has "$ERR" "old.pem expired on"

# --- The index under a flood of reports (index_size = 2M: reports may take 512K).
# post_reports PORT N: N reports of ~1.5 KB each over one keep-alive connection; prints
# how many were answered 202.
post_reports() {
    python3 - "$1" "$2" <<'EOF2'
import http.client, json, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
body = json.dumps({"client": "pc-flood", "events": [{"id": i, "text": "x" * 60} for i in range(20)]})
ok = 0
for _ in range(n):
    c.request("POST", "/ReportingWebService/events", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    ok += r.status == 202
print(ok)
EOF2
}
make_conf "$T/ix" <<EOF2
[store]
index_size = 2M
EOF2
start_plain_daemon "$UCD" "$T/ixd" "[store]
index_size = 2M" "$T/ix/store"
check "flood: 4,000 reports accepted" test "$(post_reports "$P" 4000)" = 4000
# The writer commits in batches: wait for the last, 90 s at most (a CI run beside the crash
# test's fsyncs once needed more than 30 s).
for _ in $(seq 450); do
    [ "$("$UC" reports --config "$T/ix/uc.conf" --since 3999 | jq .seq)" = 4000 ] && break
    sleep 0.2
done
last=$("$UC" reports --config "$T/ix/uc.conf" --limit 100000 | tail -1 | jq .seq)
n=$("$UC" reports --config "$T/ix/uc.conf" --limit 100000 | wc -l)
first=$("$UC" reports --config "$T/ix/uc.conf" --limit 1 | jq .seq)
check "flood: the oldest reports were pruned ($n kept, oldest seq $first)" test "$n" -lt 4000 -a "$first" -gt 1
check "flood: the newest are kept (last seq $last)" test "$("$UC" reports --config "$T/ix/uc.conf" --since 3999 | jq .seq)" = 4000
check "flood: no report lost to a full index" bash -c "! grep -q 'lost' '$T/ixd/daemon.err'"
run_rc 0 "flood: publishing still works" "$UC" add --config "$T/ix/uc.conf" --key "$T/pub" --title after-flood "$T/f.cab"
check "flood: the daemon still serves" test "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P$(content_url "$T/f.cab")")" = 200
kill "$DPID" && wait "$DPID" 2>/dev/null || true

# --- A map that really fills (index_size = 1M), then gc prunes old reports and the next
# publish works.
make_conf "$T/full" <<EOF2
[store]
index_size = 1M
EOF2
start_plain_daemon "$UCD" "$T/fulld" "[store]
index_size = 1M" "$T/full/store"
post_reports "$P" 120 >/dev/null
sleep 1.5
kill "$DPID" && wait "$DPID" 2>/dev/null || true
mkdir -p "$T/many"
for i in $(seq 400); do printf 'file %d\n' "$i" >"$T/many/f$i.txt"; done
filled=0
for round in $(seq 30); do
    for i in $(seq 400); do printf 'round %d file %d\n' "$round" "$i" >"$T/many/f$i.txt"; done
    if ! "$UC" add --config "$T/full/uc.conf" --key "$T/pub" --title "round $round" "$T/many"/*.txt >/dev/null 2>"$T/full.err"; then
        filled=$round
        break
    fi
done
check "full map: an add fails (round $filled of 30)" test "$filled" -gt 0
check "full map: the error says the index is full and what to do" grep -q "MDB_MAP_FULL.*the index is full: raise \[store\] index_size" "$T/full.err"
run_rc 0 "full map: verify clean (nothing published lost)" "$UC" verify --config "$T/full/uc.conf"
check "full map: every round before it is listed" test "$("$UC" ls --config "$T/full/uc.conf" | grep -cP '^\d+\t\S+\tr1\t.*\tround \d+\t')" = $((filled - 1))
printf 'reports_keep = 1s\n' >>"$T/full/uc.conf"
sleep 2.1
run_rc 0 "full map: gc prunes the old reports" "$UC" gc --config "$T/full/uc.conf"
check "full map: gc said so" has "$OUT" "pruned 120 client reports"
make_file "$T/small.cab" 100
run_rc 0 "full map: the next publish works" "$UC" add --config "$T/full/uc.conf" --key "$T/pub" --title after-gc "$T/small.cab"
finish
