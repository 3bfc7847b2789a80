#!/usr/bin/env bash
# Install what building, testing and benchmarking updcache need, from Debian's archive,
# only if something is missing. Run as root on Debian 12.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang clang-format git
      liburing-dev libssl-dev openssl liblmdb-dev lmdb-utils libxxhash-dev xxhash libhttp-parser-dev
      libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libinih-dev libcmocka-dev
      jq util-linux coreutils time aria2 curl nginx lighttpd wrk gnuplot-nox
      python3 python3-prometheus-client testssl.sh bsdextrautils haproxy varnish
      help2man man-db lintian logrotate chromium fonts-dejavu-core strace)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 2
fi
echo "deps.sh: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
