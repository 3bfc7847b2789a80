#!/usr/bin/env bash
# gc removes leftovers of dead ingests and orphans, keeps a live ingest's tmp file
# (it holds an flock) and every indexed file; --dry-run changes nothing.
. "$(dirname "$0")/lib.sh"
set -e
make_conf "$T/s" </dev/null
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/a.cab" 10000
"$UC" add --config "$C" --key "$T/k" --title t "$T/a.cab" >/dev/null 2>&1
S=$T/s/store
make_file "$S/tmp/999.1.part" 5000
make_file "$S/tmp/999.2.part" 7000
echo orphan >"$S/Content/12/1111111111111111111111111111111111111112.cab"
# A live ingest: someone holds the lock on this one.
make_file "$S/tmp/live.part" 100
flock -o -x "$S/tmp/live.part" sleep 20 >/dev/null 2>&1 </dev/null &
holder=$!
cleanup_hooks+=("kill $holder 2>/dev/null")
for _ in $(seq 50); do
    flock -n -x "$S/tmp/live.part" true || break
    sleep 0.1
done

run_rc 0 "gc --dry-run" "$UC" gc --dry-run --config "$C"
check "dry run lists stale tmp" has "$OUT" "would remove tmp/999.1.part"
check "dry run lists orphan" has "$OUT" "would remove Content/12/1111111111111111111111111111111111111112.cab"
check "dry run removed nothing" test -e "$S/tmp/999.1.part"
run_rc 0 "gc" "$UC" gc --config "$C"
check "summary" has "$ERR" "removed 3 files"
check "stale tmp removed" test ! -e "$S/tmp/999.2.part"
check "orphan removed" test ! -e "$S/Content/12/1111111111111111111111111111111111111112.cab"
check "live ingest's file kept" test -e "$S/tmp/live.part"
check "indexed file kept" content_ok "$C" "$S"
run_rc 0 "verify after gc" "$UC" verify --config "$C"
kill $holder 2>/dev/null || true
wait $holder 2>/dev/null || true
run_rc 0 "gc after the holder ends" "$UC" gc --config "$C"
check "released file removed" test ! -e "$S/tmp/live.part"
finish
