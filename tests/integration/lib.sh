# Shared helpers for the integration scripts: a temp work dir removed at exit, a store
# config, checks that count passes and failures, and the closing "N passed, N failed".
# Usage: source lib.sh; the script's $1 is the updcache binary.
set -u
UC=${1:?usage: $0 path/to/updcache}
T=$(mktemp -d "${TMPDIR:-/tmp}/ucit.XXXXXX")
PASS=0
FAIL=0
export UPDCACHE_NO_PROGRESS=1
cleanup_hooks=()
cleanup() {
    for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do eval "$h" || true; done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); }
bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL: $*" >&2
}

# check DESCRIPTION CONDITION...: run the condition, count it.
check() {
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}

# run_rc WANT DESCRIPTION CMD...: run, keep stdout/stderr in $OUT/$ERR, compare exit code.
run_rc() {
    local want=$1 what=$2
    shift 2
    set +e
    "$@" >"$T/.out" 2>"$T/.err"
    local rc=$?
    set -e
    OUT=$(cat "$T/.out")
    ERR=$(cat "$T/.err")
    if [ "$rc" -eq "$want" ]; then
        ok
    else
        bad "$what: exit $rc, expected $want; stderr: $ERR"
    fi
}

# has TEXT PATTERN: grep -E on a string.
has() { printf '%s\n' "$1" | grep -Eq -- "$2"; }

# make_conf DIR: a config whose store is DIR/store; extra lines from stdin if any.
make_conf() {
    local dir=$1
    mkdir -p "$dir"
    printf '[server]\nstore = %s/store\n' "$dir" >"$dir/uc.conf"
    if [ ! -t 0 ]; then cat >>"$dir/uc.conf"; fi
}

# make_file PATH BYTES: deterministic-looking random content of exact size.
make_file() { head -c "$2" /dev/urandom >"$1"; }

# content_ok STORE: every present file in `ls --files` has its digests on disk.
content_ok() {
    local conf=$1 store=$2 state sha1 sha256 size path rest got
    while IFS=$'\t' read -r state sha1 sha256 size path rest; do
        [ "$state" = present ] || continue
        [ -f "$store/$path" ] || { echo "missing $path" >&2; return 1; }
        got=$(sha1sum <"$store/$path" | cut -c1-40)
        [ "${got^^}" = "$sha1" ] || { echo "$path: sha1 $got != $sha1" >&2; return 1; }
        got=$(sha256sum <"$store/$path" | cut -c1-64)
        [ "$got" = "$sha256" ] || { echo "$path: sha256 $got != $sha256" >&2; return 1; }
        [ "$(stat -c %s "$store/$path")" = "$size" ] || return 1
    done < <("$UC" ls --files --config "$conf")
}

# no_partial STORE: every file under Content/ holds exactly the bytes its name claims.
no_partial() {
    local f name got
    while IFS= read -r f; do
        name=$(basename "$f")
        got=$(sha1sum <"$f" | cut -c1-40)
        [ "${got^^}" = "${name:0:40}" ] || { echo "partial or wrong: $f" >&2; return 1; }
    done < <(find "$1/Content" -type f)
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}

# start_plain_daemon UPDCACHED DIR EXTRA-CONFIG-LINES [STORE]: a plain-port daemon on a port
# the kernel picks, config DIR/uc.conf, stderr in DIR/daemon.err. Sets P and DPID.
start_plain_daemon() {
    local ucd=$1 dir=$2
    mkdir -p "$dir"
    printf '[server]\nstore = %s\n' "${4:-$dir/store}" >"$dir/uc.conf"
    cat >>"$dir/uc.conf" <<EOF2
http_port = 0
port_file = $dir/ports
access_log = off
$3
EOF2
    rm -f "$dir/ports"
    "$ucd" --config "$dir/uc.conf" 2>"$dir/daemon.err" &
    DPID=$!
    cleanup_hooks+=("kill $DPID 2>/dev/null")
    for _ in $(seq 200); do
        [ -s "$dir/ports" ] && break
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.05
    done
    P=$(sed -n 's/^http=//p' "$dir/ports" 2>/dev/null || true)
}

# tls_node DIR NAME DOWNSTREAMS: a TLS node config (DIR/uc.conf) with its own lab
# certificate for NAME, accepting the ID:SECRET list DOWNSTREAMS (none when empty).
tls_node() {
    "$UC" mkcert "$2" --out "$1/pki" >/dev/null 2>&1
    make_conf "$1" <<EOF2
name = $2
listen = 127.0.0.1
port_file = $1/ports
pid_file = $1/pid
access_log = $1/access.log
workers = 2
[tls]
cert = $1/pki/$2.pem
key = $1/pki/$2.key
[auth]
downstreams = $3
EOF2
    [ -n "$3" ] || sed -i '/^downstreams = $/d' "$1/uc.conf" # a leaf accepts no downstreams
}

# sync_from DIR UP_NAME UP_PORT UP_CA ID SECRET KEY.pub: point DIR/uc.conf at an upstream.
sync_from() {
    cat >>"$1/uc.conf" <<EOF2
[upstream]
url = https://$2:$3/
ca_file = $4
resolve = $2:$3:127.0.0.1
publisher_keys = $7
downstream_id = $5
downstream_secret = $6
parallel = 4
EOF2
}

# tls_page CONF-DIR NAME PORT ID SECRET: the updates array of a node's first page.
tls_page() {
    local ck
    ck=$(curl -sS -m 10 --cacert "$1/pki/ca.pem" --resolve "$2:$3:127.0.0.1" -u "$4:$5" -X POST "https://$2:$3/DSSAuthWebService/token" | jq -r .cookie)
    curl -sS -m 10 --cacert "$1/pki/ca.pem" --resolve "$2:$3:127.0.0.1" -H "Authorization: Bearer $ck" "https://$2:$3/ServerSyncWebService/updates" | jq -c .updates
}

# content_url FILE: /Content/XX/<SHA1>.<ext> of a file.
content_url() {
    local s
    s=$(sha1sum <"$1" | cut -c1-40)
    s=${s^^}
    printf '/Content/%s/%s.%s' "${s: -2}" "$s" "${1##*.}"
}

# start_tls_daemon UPDCACHED CONF PORTSFILE ERRFILE: pick a free pair of ports P (TLS) and
# P-1 (plain), write "https_port = P" into CONF's [server] section, start the daemon and
# wait for its port file. A pair taken in between makes the daemon exit with "Address
# already in use": retried with another pair. Pairs are picked below the ephemeral range
# (32768 up), where clients of the tests running beside take their ports. Sets DPID, P
# (TLS) and PP (plain).
start_tls_daemon() {
    local ucd=$1 conf=$2 ports=$3 err=$4 try
    for try in 1 2 3 4 5 6 7 8; do
        P=$((20000 + RANDOM % 12000))
        if ss -Htln "( sport = :$P or sport = :$((P - 1)) )" | grep -q .; then continue; fi
        sed -i "/^https_port *=/d; s/^\[server\]\$/[server]\nhttps_port = $P/" "$conf"
        rm -f "$ports"
        "$ucd" --config "$conf" 2>"$err" &
        DPID=$!
        for _ in $(seq 100); do
            [ -s "$ports" ] && grep -q '^https=' "$ports" && break
            kill -0 $DPID 2>/dev/null || break
            sleep 0.05
        done
        if grep -q '^https=' "$ports" 2>/dev/null; then
            PP=$(sed -n 's/^http=//p' "$ports")
            cleanup_hooks+=("kill $DPID 2>/dev/null")
            return 0
        fi
        kill $DPID 2>/dev/null
        wait $DPID 2>/dev/null
        grep -q "Address already in use" "$err" || { cat "$err" >&2; return 1; }
    done
    return 1
}
