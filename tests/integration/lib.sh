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
    local conf=$1 store=$2 state sha1 sha256 size path got
    while IFS=$'\t' read -r state sha1 sha256 size path; do
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

# start_tls_daemon UPDCACHED CONF PORTSFILE ERRFILE: pick a free pair of ports P (TLS) and
# P-1 (plain), write "https_port = P" into CONF's [server] section, start the daemon and
# wait for its port file. A pair taken in between makes the daemon exit with "Address
# already in use": retried with another pair. Sets DPID, P (TLS) and PP (plain).
start_tls_daemon() {
    local ucd=$1 conf=$2 ports=$3 err=$4 try
    for try in 1 2 3 4 5 6 7 8; do
        P=$((20000 + RANDOM % 30000))
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
