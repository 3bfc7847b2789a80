#!/usr/bin/env bash
# The Debian package on this machine (SPEC §14): install it, check what it put where (user,
# store, conffiles, man pages, units rated by systemd-analyze, lintian), run the daemon
# exactly as the unit would (its argv, user, capabilities, limits, umask and environment),
# serve, reload, rotate the log, then remove and purge it and find the store kept.
# Needs root; it installs and removes the package updcache, so it refuses to run over an
# updcache it did not install itself.
# Usage: it_package.sh UPDCACHE_DEB
DEB=${1:?usage: $0 updcache_VERSION_ARCH.deb}
set -- /usr/bin/updcache # lib.sh's tool: the installed one
. "$(dirname "$0")/lib.sh"
MARK=/var/lib/updcache.it_package # beside the store: a file in it would make it not empty
[ "$(id -u)" = 0 ] || { echo "it_package: needs root (dpkg -i)" >&2; exit 77; }
if dpkg-query -W -f='${Status}' updcache 2>/dev/null | grep -q installed ||
    { [ -e /var/lib/updcache ] && [ ! -e "$MARK" ]; }; then
    if [ ! -e "$MARK" ]; then
        echo "it_package: updcache is installed here, or /var/lib/updcache exists, and not by this test: refusing to touch it" >&2
        exit 2
    fi
fi
DPID=
pkg_cleanup() {
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    pkill -u updcache -x updcached 2>/dev/null # none may outlive the test
    dpkg --purge updcache >/dev/null 2>&1
    [ -e "$MARK" ] && rm -rf /var/lib/updcache "$MARK"
}
cleanup_hooks+=(pkg_cleanup)
[ -e "$MARK" ] && pkg_cleanup # what an interrupted run of this test left

# --- Install.
touch "$MARK"
dpkg -i "$DEB" >"$T/dpkg.out" 2>&1
check "dpkg -i" test $? = 0
dpkg-query -W -f='${Status}' updcache 2>/dev/null | grep -q 'install ok installed' ||
    { cat "$T/dpkg.out" >&2; bad "the package is not installed"; finish; exit 1; }
check "a system user updcache" bash -c '[ "$(id -u updcache)" -lt 1000 ] && getent group updcache >/dev/null'
check "its shell does not log in" bash -c 'getent passwd updcache | grep -Eq ":/(usr/)?s?bin/(nologin|false)$"'
check "the store /var/lib/updcache, updcache's, 0750" test "$(stat -c '%U:%G %a' /var/lib/updcache)" = "updcache:updcache 750"
check "the log directory, updcache's" test "$(stat -c '%U' /var/log/updcache)" = updcache
check "the config is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' updcache | grep -q '/etc/updcache/updcache.conf '"
check "the logrotate file is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' updcache | grep -q '/etc/logrotate.d/updcache '"
out=$(/usr/bin/updcached --check-config 2>&1)
check "updcached --check-config on the shipped config (exit 0)" test $? = 0
check "check-config names the store and the port" grep -q 'store=/var/lib/updcache' <<<"$out"
for key in $(sed -n 's/^ *{"\([a-z]*\)", "\([a-z_]*\)", K_.*/\1.\2/p' "$(dirname "$0")/../../cache/config.c"); do
    sec=${key%%.*} k=${key#*.}
    check "the shipped config shows [$sec] $k" bash -c "awk -v s='[$sec]' '/^\\[/ {in_s = (\$0 == s)} in_s' /etc/updcache/updcache.conf | grep -Eq '^#?$k ='"
done
check "the shipped config is every key's default but access_log" test "$(grep -Ec '^[a-z_]+ =' /etc/updcache/updcache.conf)" = 1

# --- Man pages open, and updcache(1) holds every subcommand's --help as the tool prints it.
for m in man8/updcached.8.gz man1/updcache.1.gz man5/updcache.conf.5.gz; do
    MANWIDTH=80 man -l "/usr/share/man/$m" >"$T/man.txt" 2>"$T/man.err"
    check "man -l $m" test $? = 0 -a -s "$T/man.txt"
    check "man $m: no troff warnings" test ! -s "$T/man.err"
done
MANWIDTH=200 man -l /usr/share/man/man1/updcache.1.gz >"$T/updcache.1.txt" 2>/dev/null
for cmd in $(updcache --help | awk '/^subcommands:/ {on = 1; next} on && NF == 0 {exit} on {print $1}'); do
    line=$(updcache "$cmd" --help | head -1)
    check "updcache(1) has '$line'" grep -qF -- "$line" "$T/updcache.1.txt"
done
check "updcached(8) documents SIGHUP and SIGUSR1" bash -c "MANWIDTH=80 man -l /usr/share/man/man8/updcached.8.gz 2>/dev/null | grep -q SIGUSR1"
check "updcache.conf(5) documents max_size" bash -c "MANWIDTH=80 man -l /usr/share/man/man5/updcache.conf.5.gz 2>/dev/null | grep -q 'max_size = 0'"

# --- lintian and systemd-analyze.
lintian --fail-on error "$DEB" >"$T/lintian" 2>&1
check "lintian: no errors" test $? = 0
grep -v 'running with root privileges' "$T/lintian" | sed 's/^/lintian: /' >&2
U=/lib/systemd/system
[ -e $U/updcached.service ] || U=/usr/lib/systemd/system
systemd-analyze verify $U/updcached.service $U/updcache-sync.service $U/updcache-sync.timer >"$T/verify" 2>&1
check "systemd-analyze verify: the three units" test $? = 0
[ -s "$T/verify" ] && sed 's/^/systemd-analyze verify: /' "$T/verify" >&2
systemd-analyze security --offline=yes $U/updcached.service >"$T/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for updcached.service: \([0-9.]*\) .*/\1/p' "$T/security")
echo "systemd-analyze security: updcached.service exposure ${score:-?} ($(grep -o 'exposure level.*' "$T/security"))" >&2
check "systemd-analyze security: updcached.service exposure <= 4.0 (OK)" awk -v s="${score:-99}" 'BEGIN {exit !(s <= 4.0)}'
check "the unit admits io_uring's calls" grep -q '^SystemCallFilter=.*io_uring_setup io_uring_enter io_uring_register' $U/updcached.service

# --- The daemon the way the unit starts it. A port below 1024 shows the capability works
# (and is needed: the same start without it fails).
unit() { sed -n "s/^$1=//p" $U/updcached.service | tail -1; }
PORT=
for p in 80 280 591 777 888; do
    ss -Htln "( sport = :$p )" | grep -q . || { PORT=$p; break; }
done
sed -i "s/^#http_port = 8530/http_port = $PORT/; s/^#max_ranges = 64/max_ranges = 64/" /etc/updcache/updcache.conf
caps=$(unit AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g')
# What systemd gives a service with User= (no Environment= in the unit): a fixed PATH, the
# user's identity and home, the directories it made.
uenv=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    LANG=C.UTF-8 USER=updcache LOGNAME=updcache HOME=/var/lib/updcache SHELL=/usr/sbin/nologin
    STATE_DIRECTORY=/var/lib/updcache LOGS_DIRECTORY=/var/log/updcache)
check "the unit sets no Environment= the test would miss" bash -c "! grep -q '^Environment' $U/updcached.service"
# LimitNOFILE as the unit says, unless this machine's hard limit is lower and cannot be
# raised (a container without CAP_SYS_RESOURCE): then that limit, and the test says so.
NOFILE=$(unit LimitNOFILE)
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NOFILE" ] &&
    ! prlimit --nofile="$NOFILE" true 2>/dev/null; then
    echo "it_package: this machine's open-file hard limit is $(ulimit -Hn), below the unit's $NOFILE, and cannot be raised here: running with $(ulimit -Hn)" >&2
    NOFILE=$(ulimit -Hn)
fi
# as_unit CAPS CMD...: exec CMD as the unit's User/Group with CAPS ambient and bounding,
# the unit's umask, open-file limit and no-new-privileges. It replaces the shell that runs
# it: with & the background pid is the command's own; in the foreground, run_as_unit.
as_unit() {
    local c=$1
    shift
    umask "$(unit UMask)"
    exec prlimit --nofile="$NOFILE" -- \
        setpriv --reuid="$(unit User)" --regid="$(unit Group)" --init-groups \
        ${c:+--inh-caps="+$c" --ambient-caps="+$c"} --bounding-set="-all${c:+,+$c}" \
        $([ "$(unit NoNewPrivileges)" = yes ] && echo --no-new-privs) -- "${uenv[@]}" "$@"
}
run_as_unit() { (as_unit "$@"); }
read -r -a argv <<<"$(unit ExecStart)"
read -r -a pre <<<"$(unit ExecStartPre)"
check "ExecStartPre (check-config) as the unit's user" run_as_unit "$caps" "${pre[@]}" >/dev/null
as_unit "" "${argv[@]}" 2>"$T/nocap.err" &
nocap=$!
sleep 2
if kill -0 $nocap 2>/dev/null; then kill $nocap; bad "without CAP_NET_BIND_SERVICE port $PORT was bound"; else ok; fi
wait $nocap 2>/dev/null
check "without the capability: the bind error is named" grep -q "Permission denied" "$T/nocap.err"
as_unit "$caps" "${argv[@]}" 2>"$T/daemon.err" &
DPID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
check "the daemon serves on port $PORT as updcache" test "$(ps -o user= -p $DPID)" = updcache
[ "$(ps -o user= -p $DPID)" = updcache ] || { ps -ef | grep -v grep | grep updcached; sed 's/^/updcached: /' "$T/daemon.err"; } >&2
check "its open-file limit is the unit's LimitNOFILE ($NOFILE)" test "$(awk '/^Max open files/ {print $4}' /proc/$DPID/limits)" = "$NOFILE"
check "its capabilities are the unit's only" bash -c "grep -q '^CapEff:.*0000000000000400$' /proc/$DPID/status"
# Publish as the service user (what the README tells an operator).
head -c 3000000 /dev/urandom >"$T/payload.cab"
chmod 0644 "$T/payload.cab"
chmod 0755 "$T"
run_as_unit "" updcache keygen --out /var/lib/updcache/publisher.key >/dev/null 2>&1
check "updcache add as the service user" run_as_unit "" updcache add --key /var/lib/updcache/publisher.key --title pkg "$T/payload.cab" >"$T/add.out" 2>&1
path=/$(grep -o 'Content/[^ ]*' "$T/add.out" | head -1)
[ "$path" != / ] || sed 's/^/updcache add: /' "$T/add.out" >&2
curl -sS -m 10 -o "$T/got" "http://127.0.0.1:$PORT$path"
check "a published file served: its bytes" cmp -s "$T/got" "$T/payload.cab"
check "a two-part range: 206 multipart" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -r 0-9,100-109 "http://127.0.0.1:$PORT$path")" = 206
# Reload as ExecReload does it (kill -HUP $MAINPID): a lower max_ranges is applied.
sed -i "s/^max_ranges = 64/max_ranges = 1/" /etc/updcache/updcache.conf
reload=$(unit ExecReload)
check "ExecReload is SIGHUP to the main pid" test "$reload" = '/bin/kill -HUP $MAINPID'
MAINPID=$DPID eval "${reload//\$MAINPID/\$MAINPID}"
for _ in $(seq 50); do grep -q 'SIGHUP: config .* reloaded' "$T/daemon.err" && break; sleep 0.1; done
check "reloaded: the daemon says so" grep -q 'SIGHUP: config /etc/updcache/updcache.conf reloaded' "$T/daemon.err"
check "reloaded: two ranges are now refused (416)" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -r 0-9,100-109 "http://127.0.0.1:$PORT$path")" = 416
check "the daemon is still the same process" kill -0 $DPID
# logrotate with the shipped file: the log moves, SIGUSR1 makes the daemon write a new one.
sleep 1.5
check "the access log is written in /var/log/updcache" grep -q "GET $path" /var/log/updcache/access.log
if command -v logrotate >/dev/null; then
    logrotate -f -s "$T/logrotate.state" /etc/logrotate.d/updcache 2>"$T/logrotate.err"
    check "logrotate: exit 0" test $? = 0
    check "logrotate: the old log moved" test -s /var/log/updcache/access.log.1
    curl -sS -m 5 -o /dev/null "http://127.0.0.1:$PORT$path"
    sleep 1.5
    check "logrotate: SIGUSR1 reopened the log (a new request in a new file)" grep -q "GET $path" /var/log/updcache/access.log
    check "logrotate: the new log is updcache's" test "$(stat -c %U /var/log/updcache/access.log)" = updcache
fi
kill -TERM $DPID
wait $DPID
check "SIGTERM: exit 0" test $? = 0
DPID=

# --- The unit's SystemCallFilter= against every call the daemon makes: plain and TLS
# traffic, a reload, a log reopen and a drain, traced from its execve on (the filter
# answers EPERM to any call it does not admit). cachestat(2) (Linux 6.5) is newer than
# systemd 252's tables, so the filter refuses it too: UPDCACHED_NO_CACHESTAT makes the
# daemon start on the probe it then falls back to (mincore), and that is what is traced.
if command -v strace >/dev/null; then
    N=pkg.updcache.test
    updcache mkcert $N --out "$T/pki" >/dev/null 2>&1
    chown -R updcache "$T/pki"
    TP=$((20000 + RANDOM % 10000))
    sed -e "/^http_port =/d" -e "s/^\[server\]$/[server]\nname = $N\nhttps_port = $TP/" \
        -e "s|^\[tls\]$|[tls]\ncert = $T/pki/$N.pem\nkey = $T/pki/$N.key|" \
        -e "s/^\[auth\]$/[auth]\nadmin_token = tok-pkg/" /etc/updcache/updcache.conf >"$T/traced.conf"
    chmod 0644 "$T/traced.conf"
    install -d -o updcache "$T/trace" # strace runs as the service user
    uenv+=(UPDCACHED_NO_CACHESTAT=1)
    as_unit "$caps" strace -f -qq -o "$T/trace/strace.log" "${argv[0]}" --config "$T/traced.conf" 2>"$T/traced.err" &
    SPID=$!
    TU=https://$N:$TP
    tc() { curl -sS -m 10 --cacert "$T/pki/ca.pem" --resolve "$N:$TP:127.0.0.1" "$@"; }
    for _ in $(seq 100); do tc -o /dev/null "$TU/" 2>/dev/null && break; sleep 0.1; done
    DMN=$(pgrep -P $SPID -x updcached)
    [ -n "$DMN" ] || sed 's/^/traced updcached: /' "$T/traced.err" >&2
    H=http://127.0.0.1:$((TP - 1))
    curl -sS -m 10 -o /dev/null "$H$path" && curl -sS -m 10 -o /dev/null -I "$H$path" &&
        curl -sS -m 10 -o /dev/null -r 0-9,100-109 "$H$path" && curl -sS -m 10 -o /dev/null "$H/Content/00/none.cab"
    curl -sS -m 10 -o /dev/null -H 'If-None-Match: *' "$H$path" "$H$path"
    curl -sS -m 10 -o /dev/null -d '{"client":"pc","events":[]}' "$H/ReportingWebService/events"
    check "traced: TLS status page" test "$(tc -o /dev/null -w '%{http_code}' -u "x:tok-pkg" "$TU/APIRemoting30/status")" = 200
    cat /var/lib/updcache$path >/dev/null
    curl -sS -m 10 -o "$T/traced.got" "$H$path"
    check "traced: the file's bytes" cmp -s "$T/traced.got" "$T/payload.cab"
    sf=$(tc -H "Authorization: Bearer tok-pkg" "$TU/APIRemoting30/metrics" | awk '$1 == "updcache_file_bytes_sent_total{path=\"sendfile\"}" {print $2}')
    check "without cachestat: a cached file still goes out by sendfile (mincore probe; ${sf:-0} bytes)" test "${sf:-0}" -gt 0
    check "without cachestat: the log says which probe is used" grep -q 'probed with mincore' "$T/traced.err"
    kill -HUP "$DMN"
    sleep 1
    kill -USR1 "$DMN"
    curl -sS -m 10 -o /dev/null "$H$path"
    sleep 1.5 # a report writer and access-time flush run
    kill -TERM "$DMN"
    wait $SPID
    check "traced: the daemon exits 0" test $? = 0
    check "traced: reloaded under the trace" grep -q 'SIGHUP: config .* reloaded' "$T/traced.err"
    python3 "$(dirname "$0")/syscall_filter.py" $U/updcached.service "$T/trace/strace.log" "${argv[0]}" >"$T/filter.out" 2>&1
    check "the unit's SystemCallFilter admits every call the daemon made" test $? = 0
    sed 's/^/syscall filter: /' "$T/filter.out" >&2
fi

# --- Remove, purge: the store stays.
sha=$(sha1sum <"$T/payload.cab" | cut -c1-40)
check "dpkg -r" dpkg -r updcache >/dev/null 2>&1
check "removed: the binaries are gone" test ! -e /usr/bin/updcached
check "removed: the store and its file stay" bash -c "ls /var/lib/updcache/Content/*/ | grep -qi '$sha'"
check "removed: the config stays (conffile)" test -e /etc/updcache/updcache.conf
check "dpkg --purge" dpkg --purge updcache >/dev/null 2>&1
check "purged: the config is gone" test ! -e /etc/updcache/updcache.conf
check "purged: the store and its index stay" test -d /var/lib/updcache/index -a -d /var/lib/updcache/Content
finish
