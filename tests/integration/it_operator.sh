#!/usr/bin/env bash
# What a new operator meets (issue 11): an existing empty store directory, as systemd's
# StateDirectory= or a package's postinst makes it, is made into a store by whichever of
# the daemon or a tool comes first, also when both start at the same moment; a
# non-empty directory that is not a store is refused, naming what is there.
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
finish
