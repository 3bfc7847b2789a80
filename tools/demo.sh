#!/usr/bin/env bash
# The embedded default: install what is missing, build, then make a publisher key,
# publish a few generated sample payloads as one signed update into a demo store
# (demo/store), list it and verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
bash tools/build.sh build
UC=$PWD/build/tools/updcache
D=$PWD/demo
# A fresh demo store each run, so re-running shows the same result.
rm -rf "$D/store"
mkdir -p "$D/payloads"
printf '[server]\nstore = store\n' >"$D/updcache.conf"
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
echo "The demo store is $D/store. Try:"
echo "  $UC ls --files --config $D/updcache.conf"
echo "  $UC verify --fast --config $D/updcache.conf"
echo "  $UC --help"
