#!/usr/bin/env bash
# Build the Debian package from the tree: a release build in build-pkg/ with Debian's
# hardening flags (dpkg-buildflags), installed under /usr, packed by CPack.
#   tools/package.sh [DIR]     prints the path of the .deb it built
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
dir=${1:-build-pkg}
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cmake -S . -B "$dir" -DUC_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX=/usr -DUC_TESTS=OFF \
    -DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
rm -f "$dir"/updcache_*.deb
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log" >&2; exit 1; }
ls "$PWD/$dir"/updcache_*.deb
