#!/usr/bin/env bash
# Server benchmark: updcached against nginx and lighttpd, side by side.
#
# Builds (once, then cached) a store of generated files with the real `updcache import`,
# serves it from each server on 127.0.0.1 under the same /Content/XX/<SHA1>.<ext> URLs,
# and loads each server with the client patterns of SPEC section 3: small hot files, many
# distinct small files, whole large files, the BITS mix (HEAD then GET, and 1 MiB ranges),
# Delivery Optimization's 1 MiB-aligned ranges, express downloads' many small ranges of
# .psf files, and idle keep-alive connections. Scenario tls-meta loads the TLS metadata
# endpoint instead (a ServerSyncWebService page of 500 envelopes, wrk over keep-alive TLS)
# against nginx serving the same bytes as a static file over TLS. Scenario sync times
# `updcache sync --once` of 2 GiB of signed updates from a root updcached over loopback
# against two anchors measured in the same rounds: curl fetching the same files in
# parallel to /dev/null, and the hashing limit L of bench/ingest.
#
# The machine is shared and its speed drifts by tens of percent within an hour, so each
# scenario runs against every server in turn, round after round, and only ratios taken
# within the same round are compared (median of the per-round ratios, with min-max).
# Server and load generator are pinned to different cores, one server worker.
#
# This script reports; it never fails on speed. Every wait in it is bounded.
set -euo pipefail

# ---------------------------------------------------------------------------- options

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
CACHE=/var/tmp/updcache-bench
OUT=$REPO_ROOT/bench/results
ROUNDS=3
ROUNDS_SET=0
QUICK=0
DUR=10    # seconds per measured run
WARM=2    # seconds of the separate warm-up run before each measured run
SERVER_CPU=1
GEN_CPU=0
UPDCACHE=$REPO_ROOT/build/tools/updcache
UPDCACHED=${UPDCACHED_BIN:-$REPO_ROOT/build/cache/updcached}
GEN_BIN=$REPO_ROOT/build/bench/updcache-bench
ALL_SCENARIOS=(hot4k-64 hot4k-256 distinct4k 1m 256m bits do-ranges express idle-1000 idle-10000 tls-meta ingest sync)
# Left out of --quick when three servers have to share the 5-minute budget.
QUICK_SKIP_3=(hot4k-256 idle-1000)
SCENARIOS=()
BUILD_GEN=1
KEEP_WORK=0 # set when something failed that its logs explain
# Set when a result is not to be trusted (tls-meta: answers other than 200; sync: a run
# that failed or did not verify); exit 1. FAILED_IN names the scenarios.
FAILED=0
FAILED_IN=''

usage() {
    cat <<EOF
usage: bench/run [--quick] [--rounds N] [--out DIR] [options] [SCENARIO...]

Benchmark updcached against nginx and lighttpd serving the same store on 127.0.0.1.
Prints one table of medians and of per-round ratios; writes raw results to --out.

  --quick          2 rounds of 3-second runs (1 s warm-up), ingest on small files; with
                   three servers also without ${QUICK_SKIP_3[*]}; stays under
                   5 minutes on a 2-core machine (4m15s measured before
                   tls-meta was added; it adds about 25 s, sync about 30 s
                   once its 1 GiB store is generated)
  --rounds N       rounds per scenario (default $ROUNDS, --quick 2)
  --duration S     seconds per measured run (default $DUR, --quick 3)
  --out DIR        result files (default bench/results of this repo)
  --cache DIR      the generated store, kept between runs (default $CACHE)
  --no-build       use build/bench/updcache-bench as it is (no make)
  --help           this text

scenarios (default all): ${ALL_SCENARIOS[*]}

The load generator is build/bench/updcache-bench (rebuilt with make when its source is
in the tree); without it, wrk runs the scenarios it can express and the others are n/a.

tls-meta: GET /ServerSyncWebService/updates?since=0&limit=500 (500 envelopes) with a
downstream cookie over keep-alive TLS, wrk -t1 -c32, against nginx serving a static file of
the same bytes over TLS (same certificate); lighttpd is not measured. Its store of 500
signed updates is generated once into --cache/tls. Needs wrk; responses other than 200
make its rates x and the exit status 1.

sync: \`updcache sync --once\` (parallel $SYNC_PARALLEL) into a fresh downstream store under
--cache, from a root updcached with TLS on core $SERVER_CPU publishing ${SYNC_FILES}x${SYNC_FILE_MIB} MiB = 2 GiB
(--quick: ${SYNC_FILES_QUICK}x${SYNC_FILE_MIB} MiB = 1 GiB) as signed updates of $SYNC_PER_UPDATE files, generated once
into --cache/sync-<MiB>m. Alternated in each round with curl -P$SYNC_PARALLEL fetching the same
files from the root's plain port to /dev/null (both on core $GEN_CPU); the hashing limit
L = cores/(1/sha1 + 1/sha256 + 1/xxh128) is measured each round as bench/ingest does.
Rows: both rates (MB = 10^6 bytes), L, and sync / min(L, curl). A sync run that fails or
does not verify (exit status, bytes, \`updcache verify\`) makes its round x, exit status 1.
Exit status: 0 done, 1 a step failed, 2 bad usage or missing tools.
EOF
}

die() { echo "bench/run: $*" >&2; exit 1; }
usage_err() { echo "bench/run: $*" >&2; echo "see bench/run --help" >&2; exit 2; }
note() { echo "bench/run: $*" >&2; }
# A scenario's figures are not to be trusted: exit status 1, logs kept.
failed() { # scenario
    FAILED=1 KEEP_WORK=1
    [[ ", $FAILED_IN, " == *", $1, "* ]] || FAILED_IN+="${FAILED_IN:+, }$1"
}

need_uint() { # name value
    [[ $2 =~ ^[1-9][0-9]*$ ]] || usage_err "$1 needs a positive whole number, not '$2'"
}

parse_args() {
    local dur_set=0
    while (($#)); do
        case $1 in
        --quick) QUICK=1; shift ;;
        --no-build) BUILD_GEN=0; shift ;;
        --rounds) need_uint "$1" "${2-}"; ROUNDS=$2; ROUNDS_SET=1; shift 2 ;;
        --duration) need_uint "$1" "${2-}"; DUR=$2; dur_set=1; shift 2 ;;
        --out) [[ -n ${2-} ]] || usage_err "--out needs a directory"; OUT=$2; shift 2 ;;
        --cache) [[ -n ${2-} ]] || usage_err "--cache needs a directory"; CACHE=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        -*) usage_err "unknown option '$1'" ;;
        *) valid_scenario "$1" || usage_err "unknown scenario '$1'"; SCENARIOS+=("$1"); shift ;;
        esac
    done
    if ((QUICK)); then
        ((ROUNDS_SET)) || ROUNDS=2
        ((dur_set)) || DUR=3
        WARM=1
    fi
    case $(realpath -m "$CACHE") in
    / | /var | /var/tmp | /tmp | /home | /root) usage_err "'$CACHE' is too broad; name a subdirectory" ;;
    esac
    CACHE=$(realpath -m "$CACHE")
    mkdir -p "$OUT"
    OUT=$(realpath "$OUT")
}

valid_scenario() { local s; for s in "${ALL_SCENARIOS[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }
selected() { local s; for s in "${SCENARIOS[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }
# True when a scenario other than the named ones is selected.
selected_other_than() {
    local s o
    for s in "${SCENARIOS[@]}"; do
        for o; do [[ $s == "$o" ]] && continue 2; done
        return 0
    done
    return 1
}

check_tools() {
    local t missing=()
    for t in nginx lighttpd curl jq taskset awk ss; do command -v "$t" >/dev/null || missing+=("$t"); done
    ((${#missing[@]} == 0)) || usage_err "missing: ${missing[*]} (tools/deps.sh installs them)"
    [[ -x $UPDCACHE ]] || usage_err "$UPDCACHE is missing; build first"
    (($(nproc) >= 2)) || usage_err "needs 2 cores: one for the server, one for the load generator"
}

# ---------------------------------------------------------------------------- numbers

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# median / min / max of the numeric arguments; "x" (a failed run) is skipped; no
# numbers at all prints "x". Even counts average the middle two.
median() {
    printf '%s\n' "$@" | grep -v '^x$' | sort -g | awk '{ v[NR] = $1 }
        END { if (!NR) { printf "x"; exit }
              if (NR % 2) printf "%.6f", v[(NR + 1) / 2];
              else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minv() { printf '%s\n' "$@" | grep -v '^x$' | sort -g | head -n1; }
maxv() { printf '%s\n' "$@" | grep -v '^x$' | sort -g | tail -n1; }

# Per-round ratios a_i / b_i of two space-separated lists; a round where either side
# failed (x) or b is 0 gives x.
ratios() {
    local -a a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$2"
    local i out=''
    for i in "${!a[@]}"; do
        if [[ ${a[i]} == x || ${b[i]-x} == x ]] || awk -v b="${b[i]}" 'BEGIN { exit !(b == 0) }'; then
            out+='x '
        else
            out+="$(calc "${a[i]} / ${b[i]}") "
        fi
    done
    echo "${out% }"
}

# Display with a printf format; x stays x.
fmt() { if [[ $2 == x || -z $2 ]]; then echo x; else awk -v f="$1" -v v="$2" 'BEGIN { printf f, v }'; fi; }

# ---------------------------------------------------------------------------- the store

# Files of the store, by set. A change here changes the stamp, which rebuilds the cache.
CAB_MIB=(2 8 16 32 64)
PSF_MIB=(4 16 32 64)
DISTINCT=10000
STORE_STAMP="v1 hot=4k distinct=${DISTINCT}x4k 1m 256m cab=${CAB_MIB[*]} psf=${PSF_MIB[*]}"

# Random bytes, fast: AES-CTR over zeros (as bench/ingest); the seed makes every file
# unique, since the store deduplicates by digest.
gen_blob() { # path bytes seed
    { openssl enc -aes-128-ctr -K "$(printf '%032x' "$3")" -iv "$(printf '%032d' 0)" \
        </dev/zero 2>/dev/null || true; } | head -c "$2" >"$1"
}

# Move generated files into the WSUS layout XX/<SHA1>.<ext> and note their set in the
# manifest. One perl process renames them all: 10,000 mv processes would take longer
# than everything else here.
place_files() { # set ext file...
    local set=$1 ext=$2
    shift 2
    sha1sum "$@" | perl -e '
        my ($wsus, $set, $ext) = @ARGV;
        while (<STDIN>) {
            my ($h, $f) = split " ", $_, 2; chomp $f; $h = uc $h;
            my $d = "$wsus/" . substr($h, 38, 2);
            mkdir $d unless -d $d;
            rename($f, "$d/$h.$ext") or die "rename $f: $!\n";
            print "$set\t$h\n";
        }' "$CACHE/wsus" "$set" "$ext" >>"$CACHE/manifest"
}

generate_files() {
    local gen=$CACHE/gen seed=100 m
    rm -rf "$gen" "$CACHE/wsus" "$CACHE/manifest"
    mkdir -p "$gen" "$CACHE/wsus"
    gen_blob "$gen/hot" 4096 1
    place_files hot cab "$gen/hot"
    # 10,000 distinct 4 KiB files: slices of one stream, all different.
    gen_blob "$gen/distinct" $((DISTINCT * 4096)) 2
    split -b 4096 -a 5 -d "$gen/distinct" "$gen/d."
    rm "$gen/distinct"
    place_files distinct cab "$gen"/d.*
    gen_blob "$gen/1m" $((1 << 20)) 3
    place_files 1m cab "$gen/1m"
    gen_blob "$gen/256m" $((256 << 20)) 4
    place_files 256m esd "$gen/256m"
    for m in "${CAB_MIB[@]}"; do
        seed=$((seed + 1))
        gen_blob "$gen/cab$m" $((m << 20)) "$seed"
        place_files cab cab "$gen/cab$m"
    done
    for m in "${PSF_MIB[@]}"; do
        seed=$((seed + 1))
        gen_blob "$gen/psf$m" $((m << 20)) "$seed"
        place_files psf psf "$gen/psf$m"
    done
    rmdir "$gen"
}

# URL files (PATH SIZE SHA256) per set, from what the store itself lists, so the
# digests the generator checks are the store's, not ours.
write_url_files() {
    local ls=$CACHE/ls.tsv set
    "$UPDCACHE" ls --files --config "$CACHE/updcache.conf" >"$ls"
    rm -rf "$CACHE/urls.new"
    mkdir -p "$CACHE/urls.new"
    awk -F '\t' -v dir="$CACHE/urls.new" '
        NR == FNR { set[$2] = $1; next }          # manifest: set SHA1
        ($2 in set) { printf "/%s %s %s\n", $5, $4, $3 > (dir "/" set[$2] ".txt") }
    ' "$CACHE/manifest" "$ls"
    cat "$CACHE/urls.new/cab.txt" "$CACHE/urls.new/psf.txt" >"$CACHE/urls.new/payload.txt"
    for set in hot distinct 1m 256m cab psf; do
        [[ -s $CACHE/urls.new/$set.txt ]] || die "no files of set '$set' in 'updcache ls --files'"
    done
    [[ $(wc -l <"$CACHE/urls.new/distinct.txt") -eq $DISTINCT ]] || die "distinct set incomplete"
    rm -rf "$CACHE/urls"
    mv "$CACHE/urls.new" "$CACHE/urls"
}

prepare_store() {
    if [[ -f $CACHE/stamp && $(<"$CACHE/stamp") == "$STORE_STAMP" && -d $CACHE/urls ]]; then
        note "store: reusing $CACHE/store"
        return
    fi
    local t0=$SECONDS
    note "store: generating files into $CACHE (first run only) ..."
    rm -rf "$CACHE/store" "$CACHE/urls" "$CACHE/stamp"
    mkdir -p "$CACHE"
    printf '[server]\nstore = %s\n' "$CACHE/store" >"$CACHE/updcache.conf"
    generate_files
    UPDCACHE_NO_PROGRESS=1 "$UPDCACHE" import --config "$CACHE/updcache.conf" "$CACHE/wsus" >&2 ||
        die "updcache import failed"
    rm -rf "$CACHE/wsus" # imported copies are in the store; the sources are not needed again
    write_url_files
    echo "$STORE_STAMP" >"$CACHE/stamp"
    note "store: ready in $((SECONDS - t0)) s"
}

url_file() { echo "$CACHE/urls/$1.txt"; }
first_path() { awk 'NR == 1 { print $1 }' "$(url_file "$1")"; }
first_size() { awk 'NR == 1 { print $2 }' "$(url_file "$1")"; }

# ---------------------------------------------------------------------------- load generator

# updcache-bench if it exists; its source, if in the tree, is rebuilt first (make is
# incremental). A failed rebuild keeps an older binary, with a warning.
find_generator() {
    GEN=
    if ((BUILD_GEN)) && grep -qs 'updcache-bench' "$REPO_ROOT/bench/CMakeLists.txt" &&
        [[ -d $REPO_ROOT/build ]]; then
        # The CMake target is updcache_bench (its output is named updcache-bench).
        timeout 600 make -C "$REPO_ROOT/build" updcache_bench >"$WORK/gen-build.log" 2>&1 ||
            note "warning: rebuilding updcache-bench failed (see $WORK/gen-build.log)"
    fi
    [[ -x $GEN_BIN ]] && GEN=$GEN_BIN
    HAVE_WRK=0
    command -v wrk >/dev/null && HAVE_WRK=1
    if [[ -n $GEN ]]; then
        GEN_NAME=updcache-bench
    elif ((HAVE_WRK)); then
        GEN_NAME=wrk
        note "updcache-bench not built: wrk runs the scenarios it can express, the rest are n/a"
    else
        usage_err "neither updcache-bench nor wrk is available"
    fi
}

# wrk cannot send mixes, ranges, many URLs or idle connections.
wrk_can() { case $1 in hot4k-64 | hot4k-256 | 1m | 256m) return 0 ;; esac; return 1; }

# Arguments of updcache-bench for a scenario (without duration and output).
gen_args() { # scenario
    local u
    case $1 in
    hot4k-64) echo "--urls $(url_file hot) -c 64 --mix get=100" ;;
    hot4k-256) echo "--urls $(url_file hot) -c 256 --mix get=100" ;;
    distinct4k) echo "--urls $(url_file distinct) -c 64 --mix get=100" ;;
    1m) echo "--urls $(url_file 1m) -c 16 --mix get=100" ;;
    256m) echo "--urls $(url_file 256m) -c 4 --mix get=100" ;;
    bits) echo "--urls $(url_file cab) -c 16 --mix head-get=50,range1m=25,get=25" ;;
    do-ranges) echo "--urls $(url_file payload) -c 16 --mix range1m=100" ;;
    express) echo "--urls $(url_file psf) -c 16 --mix small-ranges=100" ;;
    idle-*) u=${1#idle-}; echo "--urls $(url_file hot) -c 1 --rate 100 --idle $u" ;;
    *) die "internal error: no generator arguments for $1" ;;
    esac
}

# wrk's figures in the generator's JSON shape, so the rest of the script reads one format.
# Latency "1.23ms" -> microseconds.
wrk_to_json() { # wrk-output duration
    awk -v dur="$2" '
        function us(s) { if (s ~ /us$/) return s + 0; if (s ~ /ms$/) return s * 1000;
                         if (s ~ /s$/) return s * 1e6; return s + 0 }
        function bytes(s) { n = s + 0; if (s ~ /KB$/) n *= 1024; else if (s ~ /MB$/) n *= 1048576;
                            else if (s ~ /GB$/) n *= 1073741824; return n }
        / 50%/ { p50 = us($2) } / 90%/ { p90 = us($2) } / 99%/ { p99 = us($2) }
        /^ *Latency / { mean = us($2); max = us($4) }
        /requests in/ { req = $1; b = bytes($5) }
        /Socket errors/ { gsub(/,/, ""); ce = $4; re = $6; we = $8; te = $10 }
        /Non-2xx/ { st = $NF }
        /^Requests\/sec/ { rps = $2 }
        END { printf "{\"requests\":%d,\"duration_s\":%s,\"rps\":%s,\"bytes\":%d,\"bytes_per_s\":%f,", req, dur, rps + 0, b, b / dur
              printf "\"latency_us\":{\"p50\":%s,\"p90\":%s,\"p99\":%s,\"p999\":null,\"max\":%s,\"mean\":%s},", p50 + 0, p90 + 0, p99 + 0, max + 0, mean + 0
              printf "\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,\"status\":%d},", ce, re, we, te, st
              printf "\"status\":{},\"generator\":\"wrk\"}\n" }' "$1"
}

# One run of the load generator on core GEN_CPU, bounded by timeout, in the background:
# sets LOAD_PID. The JSON result ends up in $2 (wrk output is converted after it exits).
start_load() { # scenario json port seconds extra-args
    local scen=$1 json=$2 port=$3 secs=$4 extra=$5 limit=$(($4 + 60))
    if [[ $GEN_NAME == updcache-bench ]]; then
        local -a args
        read -r -a args <<<"$(gen_args "$scen") $extra"
        timeout -k 5 "$limit" taskset -c "$GEN_CPU" "$GEN" --host 127.0.0.1 --port "$port" \
            -t 1 -d "$secs" --timeout 10 "${args[@]}" --json "$json" >"$json.log" 2>&1 &
    else
        local set=hot conns=64
        case $scen in hot4k-256) conns=256 ;; 1m) set=1m conns=16 ;; 256m) set=256m conns=4 ;; esac
        run_wrk "$port" "$(first_path "$set")" "$conns" "$secs" "$json" &
    fi
    LOAD_PID=$!
}

run_wrk() { # port path conns seconds json
    timeout -k 5 $(($4 + 60)) taskset -c "$GEN_CPU" wrk -t1 -c"$3" -d"$4s" --timeout 10s --latency \
        "http://127.0.0.1:$1$2" >"$5.log" 2>&1 || return 1
    wrk_to_json "$5.log" "$4" >"$5"
}

# ---------------------------------------------------------------------------- servers

SERVERS=(updcache nginx lighttpd)
declare -A SPID=() SPIDS=() SPORT=() SNA=() SPREFIX=()

# A free port outside the ephemeral range (the idle scenario opens 10,000 client sockets
# there). Random, checked with ss; the caller retries if the server still fails to bind.
pick_port() {
    local i p
    for ((i = 0; i < 50; i++)); do
        p=$((10000 + RANDOM % 20000))
        [[ -z $(ss -Hltn "sport = :$p") ]] && { echo "$p"; return 0; }
    done
    return 1
}

# The template of a server with its @NAME@ fields filled in; the root defaults to the store
# of the content scenarios.
render() { # template output port prefix [root]
    local user_nginx='' user_lighttpd='' nofile
    if ((EUID == 0)); then
        user_nginx='user www-data;'
        user_lighttpd='server.username = "www-data"'
    fi
    # 40000 as a deployment would set; lighttpd refuses to start when it may not raise
    # its limit that far (no CAP_SYS_RESOURCE in a container), so stay under the hard one.
    nofile=$(ulimit -Hn)
    [[ $nofile == unlimited || $nofile -gt 40000 ]] && nofile=40000
    local user=$user_nginx
    [[ $1 == *lighttpd* ]] && user=$user_lighttpd
    sed -e "s|@PORT@|$3|g" -e "s|@PREFIX@|$4|g" -e "s|@ROOT@|${5:-$CACHE/store}|g" \
        -e "s|@WORKERS@|1|g" -e "s|@NOFILE@|$nofile|g" -e "s|@USER_LINE@|$user|g" \
        -e "s|@NAME@|$TLS_NAME|g" -e "s|@CERT@|${TLS_CERT-}|g" -e "s|@KEY@|${TLS_KEY-}|g" \
        -e "s|@CA_FILE@|${TLS_DIR-}/certs/ca.pem|g" -e "s|@PUBLISHER_KEYS@|${TLS_DIR-}/publisher.key.pub|g" \
        -e "s|@PARALLEL@|$SYNC_PARALLEL|g" \
        "$REPO_ROOT/bench/conf/$1" >"$2"
}

# Start one server in the foreground mode of each, in the background, on SERVER_CPU.
launch() { # server port prefix
    local prefix=$3
    case $1 in
    nginx)
        mkdir -p "$prefix/logs" "$prefix/tmp" "$prefix/conf"
        render nginx.conf.in "$prefix/conf/nginx.conf" "$2" "$prefix"
        taskset -c "$SERVER_CPU" nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" \
            -e "$prefix/logs/error.log" >"$prefix/stdout.log" 2>&1 &
        ;;
    lighttpd)
        mkdir -p "$prefix"
        render lighttpd.conf.in "$prefix/lighttpd.conf" "$2" "$prefix"
        # lighttpd writes its error log after dropping privileges; let it.
        ((EUID == 0)) && chown www-data "$prefix"
        taskset -c "$SERVER_CPU" lighttpd -D -f "$prefix/lighttpd.conf" >"$prefix/stdout.log" 2>&1 &
        ;;
    updcache)
        mkdir -p "$prefix"
        render updcached.conf.in "$prefix/updcached.conf" "$2" "$prefix"
        taskset -c "$SERVER_CPU" "$UPDCACHED" --config "$prefix/updcached.conf" \
            >"$prefix/stdout.log" 2>&1 &
        ;;
    esac
    SPID[$1]=$!
}

# Ready when the hot file answers 200 with its full size; at most 10 s, and not at all
# once the process has died (e.g. the port was taken after all).
wait_ready() { # server
    local i url size
    url="http://127.0.0.1:${SPORT[$1]}$(first_path hot)"
    size=$(first_size hot)
    for ((i = 0; i < 100; i++)); do
        kill -0 "${SPID[$1]}" 2>/dev/null || return 1
        [[ $(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 1 "$url" || true) == "200 $size" ]] &&
            return 0
        sleep 0.1
    done
    return 1
}

start_server() { # server
    local s=$1 try port
    SPREFIX[$s]=$WORK/$s
    if [[ $s == updcache && ! -x $UPDCACHED ]]; then
        SNA[$s]="n/a (updcached not built yet)"
        return
    fi
    for ((try = 1; try <= 5; try++)); do
        port=$(pick_port) || die "no free port found"
        SPORT[$s]=$port
        launch "$s" "$port" "${SPREFIX[$s]}"
        if wait_ready "$s"; then
            find_pids "$s"
            note "$s: pid ${SPID[$s]}, port $port, pinned to core $SERVER_CPU"
            return
        fi
        stop_server "$s"
    done
    SNA[$s]="n/a (did not start)"
    KEEP_WORK=1
    note "$s did not start: see ${SPREFIX[$s]} (kept)"
}

# TERM, then at most 5 s for it to exit; KILL (it and the workers it had) only if it is
# still there. Only the PIDs we started and listed.
stop_server() { # server
    local pid=${SPID[$1]-} i
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        note "$1 (pid $pid) ignored TERM for 5 s; killing it"
        # shellcheck disable=SC2086 # a list of PIDs
        kill -9 ${SPIDS[$1]-$pid} 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "SPID[$1]" "SPIDS[$1]"
}

restart_server() { # server
    stop_server "$1"
    start_server "$1"
}

live_servers() { local s; for s in "${SERVERS[@]}"; do [[ -z ${SNA[$s]-} ]] && echo "$s"; done; }

# The server's processes: its master and the workers it forked, listed once after start
# (no fork per RSS sample, on the generator's core).
find_pids() { # server
    local pid=${SPID[$1]}
    SPIDS[$1]="$pid $(ps -o pid= --ppid "$pid" 2>/dev/null | xargs || true)"
}
server_pids() { echo "${SPIDS[$1]}"; }

# utime + stime of the server's processes, in clock ticks.
cpu_ticks() { # server
    local pid st total=0
    local -a f
    for pid in $(server_pids "$1"); do
        st=$(<"/proc/$pid/stat") || continue
        st=${st##*) } # from field 3 on; the name may hold spaces
        read -r -a f <<<"$st"
        total=$((total + f[11] + f[12])) # fields 14 and 15
    done
    echo "$total"
}

# Sum of VmRSS (KiB) over the server's processes.
rss_kib() { # server
    local pid total=0 k v _u
    for pid in $(server_pids "$1"); do
        while read -r k v _u; do
            [[ $k == VmRSS: ]] && total=$((total + v))
        done <"/proc/$pid/status" 2>/dev/null || true
    done
    echo "$total"
}

# ---------------------------------------------------------------------------- measurements

# CPU that neither the server nor this script and its generator used during a run: other
# processes and kernel threads on this shared machine, the usual cause of a noisy round.
# Machine-wide busy and steal ticks (/proc/stat) and this shell's own and reaped
# children's ticks (/proc/$$/stat: utime stime cutime cstime; the generator is reaped
# before the second snapshot).
sys_snap() { # sets SNAP: busy steal self (ticks)
    local _c u n sy _i _w _irq _sirq steal _rest st
    read -r _c u n sy _i _w _irq _sirq steal _rest </proc/stat
    st=$(<"/proc/$$/stat")
    st=${st##*) }
    local -a f
    read -r -a f <<<"$st"
    # irq and softirq time is left out: with IRQ time accounting the kernel charges the
    # loopback traffic of our own runs there, to no process.
    SNAP="$((u + n + sy)) $steal $((f[11] + f[12] + f[13] + f[14]))"
}
others_since() { # snapshot server-ticks -> sets OTHERS_S STEAL_S (seconds)
    local b0 st0 me0 b1 st1 me1
    read -r b0 st0 me0 <<<"$1"
    sys_snap
    read -r b1 st1 me1 <<<"$SNAP"
    local other=$(((b1 - b0) - $2 - (me1 - me0)))
    OTHERS_S=$(calc "($other < 0 ? 0 : $other) / $HZ")
    STEAL_S=$(calc "($st1 - $st0) / $HZ")
}

declare -A M=() # "scenario|server|metric" -> per-round values, "x" for a failed run
record() { M[$1]="${M[$1]:+${M[$1]} }$2"; }

# Empty lists stay aligned with rounds: a server that failed a round records x.
record_fail() { # scenario server
    local m
    for m in rps gibps p99_ms cpu_us cpu_gib busy_pct rss_mib errors rss_rest_mib rss_idle_mib rss_per_conn_kib idle_open; do
        record "$1|$2|$m" x
    done
}

# The warm-up run: fills caches on both sides, and is the one that checks bodies
# (--verify-body costs the generator CPU we do not want in the measured run).
warm_up() { # scenario server
    local json=$WORK/warm-$1-$2.json extra=''
    [[ $1 == idle-* ]] && return 0
    [[ $GEN_NAME == updcache-bench ]] && extra='--verify-body'
    start_load "$1" "$json" "${SPORT[$2]}" "$WARM" "$extra"
    wait "$LOAD_PID" || note "warning: warm-up of $1 on $2 failed (see $json.log)"
    LOAD_PID=
    [[ -s $json ]] && WARM_ERRORS=$(errors_of "$json") || WARM_ERRORS=x
}

# Errors of a run: every error counter, plus responses that are neither 2xx nor 304.
errors_of() { # json
    jq '([.errors // {} | .[] | numbers] | add // 0)
        + ([.status // {} | to_entries[] | select(.key | test("^(2..|304)$") | not) | .value] | add // 0)' "$1"
}

# One measured run: CPU ticks and RSS of the server around it, RSS sampled while the
# generator runs (the loop ends when the bounded generator does).
measure() { # scenario server round
    local scen=$1 s=$2 r=$3 json=$WORK/run-$1-$2-$3.json
    local c0 c1 rest peak=0 now rc=0
    if [[ $scen == idle-* ]]; then
        # A fresh server, so that "at rest" is not what an earlier run left allocated.
        restart_server "$s"
        if [[ -n ${SNA[$s]-} ]]; then record_fail "$scen" "$s"; return; fi
    fi
    WARM_ERRORS=0
    warm_up "$scen" "$s"
    rest=$(rss_kib "$s")
    local try
    for try in 1 2; do
        c0=$(cpu_ticks "$s")
        sys_snap
        local snap=$SNAP t0=$EPOCHREALTIME
        start_load "$scen" "$json" "${SPORT[$s]}" "$DUR" "--seed $r"
        while kill -0 "$LOAD_PID" 2>/dev/null; do
            now=$(rss_kib "$s")
            ((now > peak)) && peak=$now
            sleep 0.25
        done
        rc=0
        wait "$LOAD_PID" || rc=$?
        LOAD_PID=
        c1=$(cpu_ticks "$s")
        # The window is a little longer than DUR (generator start, idle connections).
        WINDOW=$(calc "$EPOCHREALTIME - $t0")
        others_since "$snap" $((c1 - c0))
        ((rc == 0)) && [[ -s $json ]] && break
        # Once more: a failure can be passing (e.g. the generator being relinked).
        note "warning: $scen on $s, round $r, try $try: generator failed (exit $rc, see $json.log)"
        KEEP_WORK=1
        cp "$json.log" "$json.try$try.log" 2>/dev/null || true
    done
    if ((rc)) || [[ ! -s $json ]]; then
        record_fail "$scen" "$s"
        return
    fi
    ((peak > 0)) || peak=$(rss_kib "$s")
    keep_record "$scen" "$s" "$r" "$json" "$(calc "($c1 - $c0) / $HZ")" "$rest" "$peak"
}

# The raw result and the server-side figures, for the per-scenario JSON file, and the
# metrics of the table.
keep_record() { # scenario server round json cpu_s rss_rest_kib rss_peak_kib
    local scen=$1 s=$2 json=$4 cpu=$5 rest=$6 peak=$7
    record "$scen|all|others_pct" "$(calc "100 * $OTHERS_S / $WINDOW")"
    jq -c --arg server "$s" --argjson round "$3" --arg gen "$GEN_NAME" --argjson cpu "$cpu" \
        --argjson rest "$rest" --argjson peak "$peak" --arg warm "$WARM_ERRORS" \
        --argjson others "$OTHERS_S" --argjson steal "$STEAL_S" --argjson window "$WINDOW" \
        '{round: $round, server: $server, generator: $gen, result: .,
          server_cpu_s: $cpu, server_rss_rest_kib: $rest, server_rss_peak_kib: $peak,
          window_s: $window, others_cpu_s: $others, steal_s: $steal,
          warmup_errors: (if $warm == "x" then null else ($warm | tonumber) end)}' \
        "$json" >>"$WORK/rec-$scen.jsonl"
    local req bps p99 err
    read -r req bps p99 < <(jq -r '"\(.requests) \(.bytes_per_s) \(.latency_us.p99)"' "$json")
    err=$(errors_of "$json")
    [[ $WARM_ERRORS != x ]] && err=$((err + WARM_ERRORS))
    record "$scen|$s|errors" "$err"
    record "$scen|$s|rss_mib" "$(calc "$peak / 1024")"
    case $scen in
    idle-*)
        local open
        open=$(jq -r '.idle_open // 0' "$json")
        record "$scen|$s|idle_open" "$open"
        record "$scen|$s|rss_rest_mib" "$(calc "$rest / 1024")"
        record "$scen|$s|rss_idle_mib" "$(calc "$peak / 1024")"
        if ((open > 0)); then
            record "$scen|$s|rss_per_conn_kib" "$(calc "($peak - $rest) / $open")"
        else
            record "$scen|$s|rss_per_conn_kib" x
        fi
        ;;
    *)
        # Both per request and per GiB: which one the table shows depends on whether the
        # scenario is about requests (small files) or bytes (large files, ranges).
        local bytes
        bytes=$(jq -r '.bytes' "$json")
        record "$scen|$s|rps" "$(jq -r '.rps' "$json")"
        record "$scen|$s|gibps" "$(calc "$bps / 1073741824")"
        record "$scen|$s|cpu_us" "$(awk -v c="$cpu" -v n="$req" 'BEGIN { if (n > 0) printf "%.6f", c * 1e6 / n; else printf "x" }')"
        record "$scen|$s|cpu_gib" "$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { if (b > 0) printf "%.6f", c * 1073741824 / b; else printf "x" }')"
        record "$scen|$s|p99_ms" "$(calc "$p99 / 1000")"
        # Below ~90% the server waited for the generator (or for the host): then its
        # CPU per request says more than its requests/s.
        record "$scen|$s|busy_pct" "$(calc "100 * $cpu / $WINDOW")"
        ;;
    esac
}

# wrk beside updcache-bench on nginx, same round, same connections and duration: the
# generator must not be the weaker link. A round where nginx failed still records x.
cross_check() { # round
    ((HAVE_WRK)) && [[ $GEN_NAME == updcache-bench && -z ${SNA[nginx]-} ]] || return 0
    local json=$WORK/wrk-$1.json
    if run_wrk "${SPORT[nginx]}" "$(first_path hot)" 64 "$DUR" "$json"; then
        record "hot4k-64|wrk|rps" "$(jq -r '.rps' "$json")"
        jq -c --argjson round "$1" '{round: $round, server: "nginx", generator: "wrk", result: .}' \
            "$json" >>"$WORK/rec-hot4k-64.jsonl"
    else
        record "hot4k-64|wrk|rps" x
    fi
}

# Each round runs every server once; the order rotates so that no server always goes
# first (after the others have warmed the CPU, or while a neighbour is busy).
run_scenario() { # scenario
    local scen=$1 r i n s
    local -a live
    mapfile -t live < <(live_servers)
    n=${#live[@]}
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            s=${live[(i + r - 1) % n]}
            if [[ $GEN_NAME == wrk ]] && ! wrk_can "$scen"; then
                record_fail "$scen" "$s"
                continue
            fi
            measure "$scen" "$s" "$r"
            note "$scen round $r/$ROUNDS $s: $(summary "$scen" "$s")"
            # Right after updcache-bench's run on nginx, so both see the same host speed.
            if [[ $scen == hot4k-64 && $s == nginx ]]; then cross_check "$r"; fi
        done
    done
}

# The last recorded figures of a server, for the progress log.
summary() { # scenario server
    local last m out=''
    for m in rps gibps p99_ms cpu_us busy_pct rss_mib rss_per_conn_kib errors; do
        last=${M[$1|$2|$m]-}
        [[ -n $last ]] || continue
        out+="$m=$(fmt %.4g "${last##* }") "
    done
    echo "$out"
}

run_ingest() {
    local -a args=(--size-mib 512 --files 8 --rounds 3)
    ((QUICK)) && args=(--size-mib 64 --files 4 --rounds 1)
    INGEST_CMD="bench/ingest ${args[*]}"
    note "ingest: $INGEST_CMD (on both cores) ..."
    # bench/ingest uses both cores; undo this shell's pinning for it.
    if timeout -k 10 1800 taskset -c 0,1 "$REPO_ROOT/bench/ingest" "${args[@]}" --keep \
        --json "$WORK/ingest.json" >"$WORK/ingest.log" 2>&1; then
        jq -c '{round: null, server: "updcache", generator: "bench/ingest", result: .}' \
            "$WORK/ingest.json" >>"$WORK/rec-ingest.jsonl"
    else
        note "warning: bench/ingest failed (see $WORK/ingest.log)"
        KEEP_WORK=1
    fi
}

# ---------------------------------------------------------------------------- tls-meta

# The TLS metadata endpoint (SPEC section 6): a ServerSyncWebService page of 500 envelopes
# over keep-alive TLS, against nginx serving the same bytes as a static file over TLS with
# the same certificate. The scenario runs its own two servers, under the keys updcache-tls
# and nginx-tls of SPID, SPORT and the rest; the table shows them in the updcache and nginx
# columns. The load generator is wrk whatever GEN_NAME is (updcache-bench speaks no TLS).
TLS_NAME=bench.updcache.test
TLS_UPDATES=500
TLS_FILE_BYTES=300
# A change here changes the stamp, which republishes the updates.
TLS_STAMP="v1 updates=${TLS_UPDATES}x${TLS_FILE_BYTES}B name=$TLS_NAME"
TLS_CONNS=32
TLS_PATH="/ServerSyncWebService/updates?since=0&limit=$TLS_UPDATES"
TLS_DIR='' TLS_CERT='' TLS_KEY='' TLS_COOKIE='' TLS_PAGE_BYTES=''
declare -A TLS_NA=() TLS_PROTO=() # per table column: why it has no figures; protocol and cipher

# curl to one of the TLS servers by name, trusting only the bench CA: checks the certificate.
tls_curl() { # port path curl-args...
    local port=$1 path=$2
    shift 2
    curl -sS --max-time 5 --cacert "$TLS_DIR/certs/ca.pem" --resolve "$TLS_NAME:$port:127.0.0.1" \
        "$@" "https://$TLS_NAME:$port$path"
}

# A downstream cookie from updcached's DSSAuthWebService, or nothing.
tls_new_cookie() { # port [curl-args]
    local answer
    answer=$(tls_curl "$1" /DSSAuthWebService/token -u bench:benchsecret -X POST "${@:2}" 2>/dev/null || true)
    jq -r '.cookie // empty' <<<"$answer" 2>/dev/null || true
}

# A private CA and a certificate for TLS_NAME in TLS_DIR/certs, kept between runs; a new
# one when it would expire within a day.
tls_cert() { # log
    mkdir -p "$TLS_DIR"
    if [[ ! -s $TLS_KEY || ! -s $TLS_DIR/certs/ca.pem ]] ||
        ! openssl x509 -checkend 86400 -noout -in "$TLS_CERT" >/dev/null 2>&1; then
        rm -rf "$TLS_DIR/certs"
        "$UPDCACHE" mkcert "$TLS_NAME" --out "$TLS_DIR/certs" >>"$1" 2>&1 ||
            die "updcache mkcert failed (see $1)"
    fi
}

# The store of signed updates (kept in --cache/tls with its own stamp), and the certificate
# both servers use (kept too; a new one when it would expire within a day).
prepare_tls_store() {
    TLS_DIR=$CACHE/tls
    TLS_CERT=$TLS_DIR/certs/$TLS_NAME.pem
    TLS_KEY=$TLS_DIR/certs/$TLS_NAME.key
    local log=$WORK/tls-store.log
    tls_cert "$log"
    if [[ -f $TLS_DIR/stamp && $(<"$TLS_DIR/stamp") == "$TLS_STAMP" && -d $TLS_DIR/store ]]; then
        note "tls-meta: reusing $TLS_DIR/store"
        return
    fi
    local t0=$SECONDS gen=$TLS_DIR/gen i=0 f
    note "tls-meta: publishing $TLS_UPDATES signed updates into $TLS_DIR/store (first run only) ..."
    rm -rf "$TLS_DIR/store" "$TLS_DIR/stamp" "$gen" "$TLS_DIR/publisher.key" "$TLS_DIR/publisher.key.pub"
    mkdir -p "$gen"
    printf '[server]\nstore = %s\n' "$TLS_DIR/store" >"$TLS_DIR/updcache.conf"
    "$UPDCACHE" keygen --out "$TLS_DIR/publisher.key" >>"$log" 2>&1 || die "updcache keygen failed (see $log)"
    # One small file per update, each different (slices of one stream): one envelope each.
    gen_blob "$gen/all" $((TLS_UPDATES * TLS_FILE_BYTES)) 500
    split -b "$TLS_FILE_BYTES" -a 4 -d "$gen/all" "$gen/u."
    rm "$gen/all"
    for f in "$gen"/u.*; do
        i=$((i + 1))
        UPDCACHE_NO_PROGRESS=1 "$UPDCACHE" add --config "$TLS_DIR/updcache.conf" \
            --key "$TLS_DIR/publisher.key" --title "bench update $i" "$f" >>"$log" 2>&1 ||
            die "updcache add failed at update $i (see $log)"
    done
    ((i == TLS_UPDATES)) || die "tls-meta: $i updates published, not $TLS_UPDATES"
    rm -rf "$gen"
    echo "$TLS_STAMP" >"$TLS_DIR/stamp"
    note "tls-meta: store ready in $((SECONDS - t0)) s"
}

# A free port P whose P-1 is free too: updcached's TLS port and the plain port it implies
# (SPEC section 2); updcached does not start when either is taken.
pick_port_pair() {
    local i p
    for ((i = 0; i < 50; i++)); do
        p=$((10001 + RANDOM % 20000))
        [[ -z $(ss -Hltn "( sport = :$p or sport = :$((p - 1)) )") ]] && { echo "$p"; return 0; }
    done
    return 1
}

# As launch, with the TLS templates; nginx serves $prefix/page.json (tls_fetch_page).
# updcached serves TLS_DIR/store. key: the SPID entry (default server-tls).
launch_tls() { # server port prefix [key]
    local prefix=$3
    case $1 in
    updcache)
        mkdir -p "$prefix"
        render updcached-tls.conf.in "$prefix/updcached.conf" "$2" "$prefix" "$TLS_DIR/store"
        taskset -c "$SERVER_CPU" "$UPDCACHED" --config "$prefix/updcached.conf" \
            >"$prefix/stdout.log" 2>&1 &
        ;;
    nginx)
        mkdir -p "$prefix/logs" "$prefix/tmp" "$prefix/conf"
        render nginx-tls.conf.in "$prefix/conf/nginx.conf" "$2" "$prefix"
        taskset -c "$SERVER_CPU" nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" \
            -e "$prefix/logs/error.log" >"$prefix/stdout.log" 2>&1 &
        ;;
    esac
    SPID[${4:-$1-tls}]=$!
}

# Ready when updcached hands out a downstream cookie (kept in TLS_COOKIE), or when nginx
# serves the whole page; at most 10 s, and not at all once the process has died.
wait_ready_tls() { # server [key]
    local key=${2:-$1-tls} i port
    port=${SPORT[$key]}
    for ((i = 0; i < 100; i++)); do
        kill -0 "${SPID[$key]}" 2>/dev/null || return 1
        if [[ $1 == updcache ]]; then
            TLS_COOKIE=$(tls_new_cookie "$port" --max-time 1)
            [[ -n $TLS_COOKIE ]] && return 0
        else
            [[ $(tls_curl "$port" "$TLS_PATH" --max-time 1 -o /dev/null \
                -w '%{http_code} %{size_download}' 2>/dev/null || true) == "200 $TLS_PAGE_BYTES" ]] && return 0
        fi
        sleep 0.1
    done
    return 1
}

# key: the SPID, SPORT and SPREFIX entry (default server-tls; the sync scenario's root
# updcached is updcache-sync).
start_tls_server() { # server [key]
    local s=$1 key=${2:-$1-tls} try port
    SPREFIX[$key]=$WORK/$key
    for ((try = 1; try <= 5; try++)); do
        if [[ $s == updcache ]]; then
            port=$(pick_port_pair) || die "no free port pair found"
        else
            port=$(pick_port) || die "no free port found"
        fi
        SPORT[$key]=$port
        launch_tls "$s" "$port" "${SPREFIX[$key]}" "$key"
        if wait_ready_tls "$s" "$key"; then
            find_pids "$key"
            TLS_PROTO[$s]=$(tls_cipher "$port")
            note "$key: pid ${SPID[$key]}, port $port, pinned to core $SERVER_CPU, ${TLS_PROTO[$s]}"
            return 0
        fi
        stop_server "$key"
    done
    TLS_NA[$s]="n/a (did not start)"
    KEEP_WORK=1
    note "$key did not start: see ${SPREFIX[$key]} (kept)"
    return 1
}

# Protocol and cipher a default OpenSSL client (as wrk is) gets from a server.
tls_cipher() { # port
    timeout 5 openssl s_client -connect "127.0.0.1:$1" -servername "$TLS_NAME" </dev/null 2>/dev/null |
        sed -n 's/^New, \(.*\), Cipher is \(.*\)/\1 \2/p' | head -n1 || true
}

# The scenario cannot be measured as it should: no figures for either server, exit 1.
tls_fail() { # reason
    TLS_NA[updcache]="n/a ($1)"
    TLS_NA[nginx]="n/a ($1)"
    failed tls-meta
    note "ERROR: tls-meta: $1 (logs in $WORK)"
}

# The page as updcached serves it, saved as the file nginx serves: it must hold TLS_UPDATES
# envelopes, and a second request must answer the same bytes.
tls_fetch_page() {
    local port=${SPORT[updcache-tls]} page=$WORK/nginx-tls/page.json n
    mkdir -p "$WORK/nginx-tls"
    if ! tls_curl "$port" "$TLS_PATH" -f -H "Authorization: Bearer $TLS_COOKIE" -o "$page" \
        2>>"$WORK/tls-page.log" ||
        ! tls_curl "$port" "$TLS_PATH" -f -H "Authorization: Bearer $TLS_COOKIE" -o "$page.again" \
            2>>"$WORK/tls-page.log"; then
        tls_fail "the page request to updcached failed"
        return 1
    fi
    n=$(jq '.updates | length' "$page" 2>/dev/null || echo none)
    [[ $n == "$TLS_UPDATES" ]] || { tls_fail "the page holds $n updates, not $TLS_UPDATES"; return 1; }
    cmp -s "$page" "$page.again" || { tls_fail "two requests for the page answered different bytes"; return 1; }
    rm "$page.again"
    TLS_PAGE_BYTES=$(stat -c %s "$page")
}

# nginx answers updcached's page byte for byte.
tls_check_nginx() {
    local got=$WORK/nginx-tls/check.json
    if tls_curl "${SPORT[nginx-tls]}" "$TLS_PATH" -f -o "$got" 2>>"$WORK/tls-page.log" &&
        cmp -s "$got" "$WORK/nginx-tls/page.json"; then
        rm "$got"
        return 0
    fi
    tls_fail "nginx does not serve the page's bytes"
    return 1
}

# wrk over TLS on core GEN_CPU, bounded; its figures as wrk_to_json writes them.
tls_wrk() { # port seconds json
    timeout -k 5 $(($2 + 60)) taskset -c "$GEN_CPU" wrk -t1 -c"$TLS_CONNS" -d"$2s" --timeout 10s \
        --latency -H "Authorization: Bearer $TLS_COOKIE" "https://127.0.0.1:$1$TLS_PATH" >"$3.log" 2>&1 ||
        return 1
    wrk_to_json "$3.log" "$2" >"$3"
}
tls_wrk_args() {
    echo "wrk -t1 -c$TLS_CONNS -d${DUR}s --timeout 10s --latency -H 'Authorization: Bearer <downstream cookie>'" \
        "https://127.0.0.1:<port>$TLS_PATH"
}

# The last round's figures of a server become x (a run not all of whose answers were 200).
void_last() { # scenario server metric...
    local scen=$1 s=$2 m k
    shift 2
    for m; do
        k="$scen|$s|$m"
        [[ -n ${M[$k]-} ]] || continue
        if [[ ${M[$k]} == *' '* ]]; then M[$k]="${M[$k]% *} x"; else M[$k]=x; fi
    done
}

# As measure: a warm-up run, then the measured run with the server's CPU ticks and RSS
# around it. Answers other than 200 (and socket errors) void the round's rates.
measure_tls() { # server round
    local s=$1 r=$2 key=$1-tls json=$WORK/run-tls-meta-$1-$2.json warm=$WORK/warm-tls-meta-$1.json
    local GEN_NAME=wrk # keep_record's generator field
    local port c0 c1 rest peak=0 now rc=0 err snap t0 cookie
    port=${SPORT[$key]}
    if [[ $s == updcache ]]; then
        # A fresh cookie each round: cookie_ttl (1h) never runs out however long the run.
        cookie=$(tls_new_cookie "$port")
        if [[ -n $cookie ]]; then TLS_COOKIE=$cookie; else note "warning: tls-meta: no new cookie; keeping the last one"; fi
    fi
    WARM_ERRORS=x
    if tls_wrk "$port" "$WARM" "$warm"; then
        WARM_ERRORS=$(errors_of "$warm")
    else
        note "warning: warm-up of tls-meta on $s failed (see $warm.log)"
    fi
    rest=$(rss_kib "$key")
    c0=$(cpu_ticks "$key")
    sys_snap
    snap=$SNAP t0=$EPOCHREALTIME
    tls_wrk "$port" "$DUR" "$json" &
    LOAD_PID=$!
    while kill -0 "$LOAD_PID" 2>/dev/null; do
        now=$(rss_kib "$key")
        ((now > peak)) && peak=$now
        sleep 0.25
    done
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    c1=$(cpu_ticks "$key")
    WINDOW=$(calc "$EPOCHREALTIME - $t0")
    others_since "$snap" $((c1 - c0))
    if ((rc)) || [[ ! -s $json ]]; then
        note "ERROR: tls-meta on $s, round $r: wrk failed (exit $rc, see $json.log)"
        failed tls-meta
        record_fail tls-meta "$s"
        return
    fi
    ((peak > 0)) || peak=$(rss_kib "$key")
    keep_record tls-meta "$s" "$r" "$json" "$(calc "($c1 - $c0) / $HZ")" "$rest" "$peak"
    err=${M[tls-meta|$s|errors]##* }
    if [[ $err != 0 ]]; then
        note "ERROR: tls-meta on $s, round $r: $err answers other than 200 or socket errors" \
            "(see $json.log, $warm.log); the round's figures are x"
        failed tls-meta
        void_last tls-meta "$s" rps gibps p99_ms cpu_us cpu_gib busy_pct
    fi
}

run_tls_meta() {
    local r i n s
    local -a live=()
    if ((!HAVE_WRK)); then
        TLS_NA[updcache]="n/a (needs wrk)" TLS_NA[nginx]="n/a (needs wrk)"
        return
    fi
    if [[ ! -x $UPDCACHED ]]; then
        TLS_NA[updcache]="n/a (updcached not built yet)" TLS_NA[nginx]="n/a (the page comes from updcached)"
        return
    fi
    if start_tls_server updcache && tls_fetch_page; then
        live=(updcache)
        start_tls_server nginx && tls_check_nginx && live+=(nginx)
    elif [[ -z ${TLS_NA[nginx]-} ]]; then
        TLS_NA[nginx]="n/a (the page comes from updcached)"
    fi
    n=${#live[@]}
    ((n)) && note "tls-meta: page of $TLS_UPDATES envelopes, $TLS_PAGE_BYTES bytes"
    for ((r = 1; r <= ROUNDS && n; r++)); do
        for ((i = 0; i < n; i++)); do
            s=${live[(i + r - 1) % n]}
            measure_tls "$s" "$r"
            note "tls-meta round $r/$ROUNDS $s: $(summary tls-meta "$s")"
        done
    done
    stop_server updcache-tls
    stop_server nginx-tls
}

tls_line() {
    [[ -n $TLS_PAGE_BYTES ]] || return 0
    echo "tls-meta: wrk -t1 -c$TLS_CONNS on core $GEN_CPU, keep-alive HTTP/1.1 over TLS, GET $TLS_PATH" \
        "($TLS_UPDATES envelopes, $TLS_PAGE_BYTES bytes; nginx serves the same bytes as a static file);" \
        "updcache ${TLS_PROTO[updcache]:-?}, nginx ${TLS_PROTO[nginx]:-?}"
}

# ---------------------------------------------------------------------------- sync

# updcache sync (SPEC section 7) as issue 6 measures it: a downstream fetches every update
# of a root updcached over loopback into a fresh store, against two anchors taken in the
# same rounds: curl fetching the same files in parallel to /dev/null from the root's plain
# port, and the hashing limit L of bench/ingest. The root runs under the key updcache-sync
# of SPID, SPORT and the rest, started by tls-meta's helpers with the TLS_* settings
# swapped for the sync ones (locals of the calling function, which those helpers see).
SYNC_NAME=sync.updcache.test
SYNC_FILE_MIB=128
SYNC_FILES=16      # 2 GiB
SYNC_FILES_QUICK=8 # 1 GiB with --quick
SYNC_PER_UPDATE=4
SYNC_PARALLEL=8
SYNC_DIR='' SYNC_NA='' SYNC_PROTO='' SYNC_RESIDENT='' SYNC_FS=''
SYNC_NFILES=0 SYNC_TOTAL=0
SYNC_SRC=() # the root's files in its store

# Why sync has no figures; the exit status becomes 1.
sync_na() { # reason
    SYNC_NA="n/a ($1)"
    failed sync
    note "ERROR: sync: $1 (logs in $WORK)"
}

# The root's store, kept in --cache/sync-<MiB>m with its own stamp: SYNC_NFILES files of
# random bytes published as signed updates of SYNC_PER_UPDATE files each, and the
# certificate of SYNC_NAME.
prepare_sync_store() {
    SYNC_NFILES=$SYNC_FILES
    ((QUICK)) && SYNC_NFILES=$SYNC_FILES_QUICK
    SYNC_TOTAL=$((SYNC_NFILES * SYNC_FILE_MIB << 20))
    SYNC_DIR=$CACHE/sync-$((SYNC_NFILES * SYNC_FILE_MIB))m
    local TLS_NAME=$SYNC_NAME TLS_DIR=$SYNC_DIR
    local TLS_CERT=$SYNC_DIR/certs/$SYNC_NAME.pem TLS_KEY=$SYNC_DIR/certs/$SYNC_NAME.key
    local log=$WORK/sync-store.log
    local stamp="v1 files=${SYNC_NFILES}x${SYNC_FILE_MIB}MiB per-update=$SYNC_PER_UPDATE"
    tls_cert "$log"
    local have=0 need
    [[ -f $SYNC_DIR/stamp && $(<"$SYNC_DIR/stamp") == "$stamp" && -d $SYNC_DIR/store ]] && have=1
    # The downstream store of a round, plus the root's when it is to be made, plus the
    # 5% free-space floor of updcache and a margin.
    need=$(((2 - have) * SYNC_TOTAL + (1 << 30)))
    if (($(df -P -B1 "$CACHE" | awk 'NR == 2 { print $4 }') < need)); then
        sync_na "needs $((need >> 20)) MiB free in $CACHE"
        return
    fi
    if ((have)); then
        note "sync: reusing $SYNC_DIR/store"
        return
    fi
    local t0=$SECONDS gen=$SYNC_DIR/gen i u=0 f
    local -a batch=()
    note "sync: publishing ${SYNC_NFILES}x$SYNC_FILE_MIB MiB into $SYNC_DIR/store (first run only) ..."
    rm -rf "$SYNC_DIR/store" "$SYNC_DIR/stamp" "$gen" "$SYNC_DIR/publisher.key" "$SYNC_DIR/publisher.key.pub"
    mkdir -p "$gen"
    printf '[server]\nstore = %s\n' "$SYNC_DIR/store" >"$SYNC_DIR/updcache.conf"
    "$UPDCACHE" keygen --out "$SYNC_DIR/publisher.key" >>"$log" 2>&1 || die "updcache keygen failed (see $log)"
    for ((i = 1; i <= SYNC_NFILES; i++)); do
        f=$gen/sync$(printf '%02d' "$i").cab
        gen_blob "$f" $((SYNC_FILE_MIB << 20)) $((2000 + i))
        batch+=("$f")
        if ((${#batch[@]} == SYNC_PER_UPDATE || i == SYNC_NFILES)); then
            u=$((u + 1))
            UPDCACHE_NO_PROGRESS=1 "$UPDCACHE" add --config "$SYNC_DIR/updcache.conf" \
                --key "$SYNC_DIR/publisher.key" --title "bench sync update $u" "${batch[@]}" >>"$log" 2>&1 ||
                die "updcache add failed at update $u (see $log)"
            rm -f "${batch[@]}"
            batch=()
        fi
    done
    rmdir "$gen"
    echo "$stamp" >"$SYNC_DIR/stamp"
    note "sync: store ready in $((SECONDS - t0)) s"
}

# The hashing limit L of bench/ingest, measured with its commands (keep them in step
# with its openssl_mbps and xxh128_mbps): one core's SHA-1 and SHA-256 from openssl speed
# on 16 KiB blocks, XXH128 from xxhsum's benchmark (its MB is 2^20 bytes), then
# L = cores / (1/sha1 + 1/sha256 + 1/xxh128) in MB/s of 10^6 bytes. Here on core GEN_CPU,
# with the cores counted before this shell pinned itself (NCPU). xxhsum -b11 runs only
# the XXH128 row (variant 11, 100 KB sample) that bench/ingest reads from xxhsum -b, in
# 3 s instead of 12; older xxhsum without -b# falls back to bench/ingest's commands.
# A figure that cannot be measured is x.
hl_openssl_mbps() { # algorithm
    local out
    out=$(openssl speed -bytes 16384 -seconds 2 -evp "$1" 2>/dev/null) || { echo x; return; }
    awk -v a="$1" '$1 == a && $NF ~ /k$/ { v = $NF; sub(/k$/, "", v); x = v / 1000 }
        END { if (x == "") exit 1; printf "%.1f", x }' <<<"$out" || echo x
}
hl_xxh128_mbps() {
    local out
    out=$(xxhsum -b11 2>&1) && [[ $out == *XXH128* ]] || out=$(xxhsum -b -H2 2>&1) ||
        out=$(xxhsum -b 2>&1) || { echo x; return; }
    tr '\r' '\n' <<<"$out" | awk '/XXH128/ && /MB\/s/ { line = $0 }
        END { if (!match(line, /\( *[0-9.]+ MB\/s\)/)) exit 1
              s = substr(line, RSTART + 1, RLENGTH - 2); sub(/ MB\/s/, "", s)
              printf "%.1f", s * 1.048576 }' || echo x
}
measure_hash_limit() { # sets HL_SHA1 HL_SHA256 HL_XXH HL_L
    HL_SHA1=$(hl_openssl_mbps sha1)
    HL_SHA256=$(hl_openssl_mbps sha256)
    HL_XXH=x
    command -v xxhsum >/dev/null && HL_XXH=$(hl_xxh128_mbps)
    HL_L=x
    [[ $HL_SHA1 == x || $HL_SHA256 == x || $HL_XXH == x ]] ||
        HL_L=$(calc "$NCPU / (1 / $HL_SHA1 + 1 / $HL_SHA256 + 1 / $HL_XXH)")
}

# Percentage of the root's files in the page cache (fincore), or ?.
sync_resident() {
    command -v fincore >/dev/null || { echo '?'; return; }
    fincore -b -n -o RES,SIZE "${SYNC_SRC[@]}" 2>/dev/null |
        awk '{ r += $1; s += $2 } END { printf "%.0f", (s ? 100 * r / s : 0) }'
}

# Around a timed run: CPU of the root server (ticks), and a machine snapshot (sys_snap).
run_begin() {
    sync -f "$WORK" # write-back of what came before is not charged to the run
    RUN_C0=$(cpu_ticks updcache-sync)
    sys_snap
    RUN_SNAP=$SNAP RUN_T0=$EPOCHREALTIME
}
# Sets RUN_S (wall seconds), RUN_SERVER_S, RUN_CLIENT_S (CPU seconds of the root and of
# what this shell ran: updcache sync, or curl and xargs), OTHERS_S, STEAL_S.
run_end() {
    local t1=$EPOCHREALTIME c1
    c1=$(cpu_ticks updcache-sync)
    others_since "$RUN_SNAP" $((c1 - RUN_C0))
    RUN_S=$(calc "$t1 - $RUN_T0")
    RUN_SERVER_S=$(calc "($c1 - $RUN_C0) / $HZ")
    RUN_CLIENT_S=$(calc "(${SNAP##* } - ${RUN_SNAP##* }) / $HZ")
    record "sync|all|others_pct" "$(calc "100 * $OTHERS_S / $RUN_S")"
}

# One timed `updcache sync --once` into a fresh downstream store, on core GEN_CPU; then,
# outside the timing, the checks: exit status 0, every file and byte fetched, `updcache
# verify` clean, the same files listed as at the root. Sets SYNC_MBPS (x when a check
# failed) and the RUN_* figures.
sync_run() { # round
    local r=$1 ds=$WORK/sync-ds log=$WORK/sync-$1.log rc=0 why='' line
    rm -rf "$ds"
    mkdir -p "$ds"
    render updcache-downstream.conf.in "$ds/updcache.conf" "${SPORT[updcache-sync]}" "$ds" "$ds/store"
    run_begin
    UPDCACHE_NO_PROGRESS=1 timeout -k 5 900 taskset -c "$GEN_CPU" "$UPDCACHE" sync --once \
        --config "$ds/updcache.conf" >"$log" 2>&1 || rc=$?
    run_end
    SYNC_MBPS=$(calc "$SYNC_TOTAL / $RUN_S / 1e6")
    # updcache sync: 4 update(s) published, 16 file(s), 2147483648 bytes from https://...
    local re='^updcache sync: ([0-9]+) update\(s\) published, ([0-9]+) file\(s\), ([0-9]+) bytes'
    line=$(grep '^updcache sync: ' "$log" | tail -n1 || true)
    if ((rc)); then
        why="exit status $rc"
    elif [[ ! $line =~ $re ]]; then
        why="no summary line"
    elif ((BASH_REMATCH[2] != SYNC_NFILES || BASH_REMATCH[3] != SYNC_TOTAL)); then
        why="fetched ${BASH_REMATCH[2]} files, ${BASH_REMATCH[3]} bytes, not $SYNC_NFILES, $SYNC_TOTAL"
    elif ! UPDCACHE_NO_PROGRESS=1 "$UPDCACHE" verify --config "$ds/updcache.conf" >"$WORK/sync-verify-$r.log" 2>&1; then
        why="updcache verify of the downstream store failed (see $WORK/sync-verify-$r.log)"
    elif ! cmp -s <(cut -f2 "$WORK/sync-root-ls.tsv" | sort) \
        <("$UPDCACHE" ls --files --config "$ds/updcache.conf" 2>/dev/null | cut -f2 | sort); then
        why="the downstream does not list the root's files"
    fi
    rm -rf "$ds/store"
    if [[ -n $why ]]; then
        note "ERROR: sync round $r: $why (see $log); the round's figures are x"
        failed sync
        SYNC_MBPS=x
    fi
}

# The same files from the root's plain port, SYNC_PARALLEL curl processes at a time, one
# file each, to /dev/null, on core GEN_CPU. Sets CURL_MBPS (x unless every file answered
# 200 with all its bytes) and the RUN_* figures.
curl_run() { # round
    local r=$1 out=$WORK/curl-$1.txt rc=0 got
    run_begin
    timeout -k 5 900 taskset -c "$GEN_CPU" xargs -P "$SYNC_PARALLEL" -n 1 \
        curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' <"$WORK/sync-urls.txt" \
        >"$out" 2>"$out.err" || rc=$?
    run_end
    CURL_MBPS=$(calc "$SYNC_TOTAL / $RUN_S / 1e6")
    got=$(awk '$1 == 200 { n++; b += $2 } END { printf "%d %.0f", n, b }' "$out")
    if ((rc)) || [[ $got != "$SYNC_NFILES $SYNC_TOTAL" ]]; then
        note "ERROR: sync round $r: curl failed (exit $rc; files and bytes with 200: $got, see $out.err)"
        failed sync
        CURL_MBPS=x
    fi
}

run_sync() {
    [[ -z $SYNC_NA ]] || return 0
    local TLS_NAME=$SYNC_NAME TLS_DIR=$SYNC_DIR TLS_COOKIE=''
    local TLS_CERT=$SYNC_DIR/certs/$SYNC_NAME.pem TLS_KEY=$SYNC_DIR/certs/$SYNC_NAME.key
    local -A TLS_NA=() TLS_PROTO=()
    local ls=$WORK/sync-root-ls.tsv r got
    # The tests' knob that caps each transfer's rate must not throttle the measurement.
    unset UPDCACHE_SYNC_RATE
    # The root's files as its index lists them: state, SHA-1, SHA-256, size, path.
    if ! "$UPDCACHE" ls --files --config "$SYNC_DIR/updcache.conf" >"$ls" 2>"$ls.err"; then
        sync_na "updcache ls of the root store failed"
        return
    fi
    got=$(awk -F '\t' '{ n++; b += $4 } END { printf "%d %.0f", n, b }' "$ls")
    if [[ $got != "$SYNC_NFILES $SYNC_TOTAL" ]]; then
        sync_na "the root store lists $got files and bytes, not $SYNC_NFILES $SYNC_TOTAL"
        return
    fi
    mapfile -t SYNC_SRC < <(awk -F '\t' -v d="$SYNC_DIR/store/" '{ print d $5 }' "$ls")
    if ! start_tls_server updcache updcache-sync; then
        sync_na "the root updcached did not start"
        return
    fi
    SYNC_PROTO=${TLS_PROTO[updcache]-}
    awk -F '\t' -v b="http://127.0.0.1:$((SPORT[updcache-sync] - 1))/" '{ print b $5 }' "$ls" >"$WORK/sync-urls.txt"
    SYNC_FS=$(findmnt -n -o FSTYPE --target "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
    # Both sides read the root's files from the page cache.
    cat "${SYNC_SRC[@]}" >/dev/null
    SYNC_RESIDENT="$(sync_resident)%"
    note "sync: ${SYNC_NFILES}x$SYNC_FILE_MIB MiB from updcache-sync (port ${SPORT[updcache-sync]}," \
        "plain $((SPORT[updcache-sync] - 1))), root files ${SYNC_RESIDENT} in page cache"
    local ratio anchor step s_s s_srv s_cli s_oth c_s c_srv c_cli c_oth
    local -a order
    for ((r = 1; r <= ROUNDS; r++)); do
        measure_hash_limit
        record "sync|L|mbps" "$HL_L"
        # Flip the order every round: neither side always runs first.
        order=(sync curl)
        ((r % 2)) || order=(curl sync)
        for step in "${order[@]}"; do
            if [[ $step == sync ]]; then
                sync_run "$r"
                record "sync|updcache|mbps" "$SYNC_MBPS"
                s_s=$RUN_S s_srv=$RUN_SERVER_S s_cli=$RUN_CLIENT_S s_oth=$OTHERS_S
            else
                curl_run "$r"
                record "sync|curl|mbps" "$CURL_MBPS"
                c_s=$RUN_S c_srv=$RUN_SERVER_S c_cli=$RUN_CLIENT_S c_oth=$OTHERS_S
            fi
        done
        record "sync|updcache|client_busy_pct" "$(calc "100 * $s_cli / $s_s")"
        ratio=x anchor=x
        if [[ $SYNC_MBPS != x && $CURL_MBPS != x && $HL_L != x ]]; then
            anchor=curl
            awk -v l="$HL_L" -v c="$CURL_MBPS" 'BEGIN { exit !(l < c) }' && anchor=L
            if [[ $anchor == L ]]; then ratio=$(calc "$SYNC_MBPS / $HL_L"); else ratio=$(calc "$SYNC_MBPS / $CURL_MBPS"); fi
        fi
        record "sync|updcache|ratio" "$ratio"
        record "sync|all|anchor" "$anchor"
        jq -nc --argjson round "$r" --arg sync "$SYNC_MBPS" --arg curl "$CURL_MBPS" --arg L "$HL_L" \
            --arg sha1 "$HL_SHA1" --arg sha256 "$HL_SHA256" --arg xxh "$HL_XXH" --arg ratio "$ratio" \
            --arg anchor "$anchor" --argjson bytes "$SYNC_TOTAL" --argjson files "$SYNC_NFILES" \
            --argjson s_s "$s_s" --argjson s_srv "$s_srv" --argjson s_cli "$s_cli" --argjson s_oth "$s_oth" \
            --argjson c_s "$c_s" --argjson c_srv "$c_srv" --argjson c_cli "$c_cli" --argjson c_oth "$c_oth" \
            --arg order "${order[*]}" '
            def num: if . == "x" then null else tonumber end;
            {round: $round, server: "updcache", generator: "updcache sync --once / curl",
             result: {bytes: $bytes, files: $files, order: $order,
                      sync: {mbps: ($sync | num), wall_s: $s_s, client_cpu_s: $s_cli,
                             server_cpu_s: $s_srv, others_cpu_s: $s_oth},
                      curl: {mbps: ($curl | num), wall_s: $c_s, client_cpu_s: $c_cli,
                             server_cpu_s: $c_srv, others_cpu_s: $c_oth},
                      hashing_limit_mbps: {sha1: ($sha1 | num), sha256: ($sha256 | num),
                                           xxh128: ($xxh | num), L: ($L | num)},
                      sync_over_min_L_curl: ($ratio | num), min_anchor: $anchor}}' \
            >>"$WORK/rec-sync.jsonl"
        note "sync round $r/$ROUNDS: sync $(fmt %.0f "$SYNC_MBPS") MB/s (client CPU $(fmt %.1f "$s_cli") s)," \
            "curl $(fmt %.0f "$CURL_MBPS") MB/s, L $(fmt %.0f "$HL_L") MB/s, sync/min(L, curl) $(fmt %.2f "$ratio")"
    done
    SYNC_RESIDENT+=" before, $(sync_resident)% after"
    stop_server updcache-sync
}

# "median (min-max)" of a recorded list; rounds that failed (x) are counted after it.
med_spread() { # format key
    local -a v
    read -r -a v <<<"${M[$2]-}"
    local med nx out
    med=$(median "${v[@]}")
    [[ $med != x ]] || { echo x; return; }
    out="$(fmt "$1" "$med") ($(fmt "$1" "$(minv "${v[@]}")")-$(fmt "$1" "$(maxv "${v[@]}")"))"
    nx=$(printf '%s\n' "${v[@]}" | grep -c '^x$' || true)
    ((nx == 0)) || out+=", $nx x"
    echo "$out"
}

sync_rows() {
    if [[ -n $SYNC_NA ]]; then
        text_row sync "-" "$SYNC_NA" - -
        return
    fi
    # The anchors' figures stand in the nginx column (see sync_line).
    text_row sync "sync MB/s" "$(med_spread %.0f 'sync|updcache|mbps')" - -
    text_row sync "curl -P$SYNC_PARALLEL MB/s" - "$(med_spread %.0f 'sync|curl|mbps')" -
    text_row sync "hashing limit L, MB/s" - "$(med_spread %.0f 'sync|L|mbps')" -
    text_row sync "sync / min(L, curl)" "$(med_spread %.2f 'sync|updcache|ratio')" - -
}

# The footnote of the sync rows.
sync_line() {
    [[ -z $SYNC_NA && -n ${M[sync|updcache|mbps]-} ]] || return 0
    local -a busy
    read -r -a busy <<<"${M[sync|updcache|client_busy_pct]}"
    local gib nupd size_note=''
    gib=$(awk -v t="$SYNC_TOTAL" 'BEGIN { printf "%g", t / 2^30 }')
    nupd=$(((SYNC_NFILES + SYNC_PER_UPDATE - 1) / SYNC_PER_UPDATE))
    ((QUICK)) && size_note=" (--quick; issue 6 asks for 2 GiB)"
    echo "sync: ${SYNC_NFILES}x$SYNC_FILE_MIB MiB = $gib GiB$size_note in $nupd signed updates from a root updcached" \
        "(TLS ${SYNC_PROTO:-?}, 1 worker, core $SERVER_CPU) over loopback; 'updcache sync --once' (parallel $SYNC_PARALLEL," \
        "files from the plain port, SHA-1+SHA-256+XXH3 on the client, fsync per file, fresh store on $SYNC_FS" \
        "under --cache) and curl -P$SYNC_PARALLEL to /dev/null both on core $GEN_CPU, order alternating;" \
        "root files in page cache ($SYNC_RESIDENT); sync client core busy $(fmt %.0f "$(median "${busy[@]}")")% (median);" \
        "L = $NCPU/(1/sha1 + 1/sha256 + 1/xxh128) from openssl speed and xxhsum's XXH128 benchmark each round, as bench/ingest;" \
        "MB = 10^6 bytes; the anchors (curl, L) stand in the nginx column;" \
        "min(L, curl) was $(tr ' ' '\n' <<<"${M[sync|all|anchor]}" | sort | uniq -c | awk '{ printf "%s%s in %d", (NR > 1 ? ", " : ""), $2, $1 }') of $ROUNDS rounds"
}

# ---------------------------------------------------------------------------- the table

# Fixed-width columns: scenario, metric, the three servers; then one per ratio.
cols() { printf '%-12s| %-26s| %-34s| %-18s| %-18s' "$@"; }
rcol() { printf '| %-24s' "$1"; }

# Why a server has no figures for a scenario, or nothing: tls-meta runs servers of its own.
na_of() { # scenario server
    if [[ $1 == tls-meta ]]; then echo "${TLS_NA[$2]-}"; else echo "${SNA[$2]-}"; fi
}

# The server columns: the median over rounds, or the reason the server is missing.
cell() { # scenario server metric format
    local na
    na=$(na_of "$1" "$2")
    if [[ -n $na ]]; then echo "$na"; return; fi
    local -a v
    read -r -a v <<<"${M[$1|$2|$3]-}"
    ((${#v[@]})) || { echo -; return; }
    fmt "$4" "$(median "${v[@]}")"
}

# "median (min-max)" of the per-round ratios a/b; also appended to the plot data.
ratio_cell() { # scenario metric a b label
    if [[ -n $(na_of "$1" "$3") || -n $(na_of "$1" "$4") || -z ${M[$1|$3|$2]-} || -z ${M[$1|$4|$2]-} ]]; then
        echo -; return
    fi
    local -a q
    read -r -a q <<<"$(ratios "${M[$1|$3|$2]}" "${M[$1|$4|$2]}")"
    local med
    med=$(median "${q[@]}")
    [[ $med != x ]] || { echo x; return; }
    if plotted "$1" "$2"; then
        printf '%s\t%s\t%s\t%s\t%s\n' "$5" "$3/$4" "$med" "$(minv "${q[@]}")" "$(maxv "${q[@]}")" >>"$PLOT_DAT"
    fi
    echo "$(fmt %.2f "$med") ($(fmt %.2f "$(minv "${q[@]}")")-$(fmt %.2f "$(maxv "${q[@]}")"))"
}

# The chart shows the headline metrics only: throughput, CPU cost, memory per connection.
plotted() { # scenario metric
    case $2 in
    rps) [[ $1 != bits && $1 != do-ranges ]] ;;
    gibps | cpu_us | cpu_gib | rss_per_conn_kib) return 0 ;;
    *) return 1 ;;
    esac
}

# Which ratios the table shows: updcache against both, or lighttpd/nginx while updcache
# is n/a.
ratio_pairs() {
    if [[ -z ${SNA[updcache]-} ]]; then echo "updcache:nginx updcache:lighttpd"; else echo "lighttpd:nginx"; fi
}

table_row() { # scenario label metric format
    local scen=$1 label=$2 metric=$3 form=$4 pair
    cols "$scen" "$label" "$(cell "$scen" updcache "$metric" "$form")" \
        "$(cell "$scen" nginx "$metric" "$form")" "$(cell "$scen" lighttpd "$metric" "$form")"
    for pair in $(ratio_pairs); do
        rcol "$(ratio_cell "$scen" "$metric" "${pair%%:*}" "${pair##*:}" "$scen $label")"
    done
    echo
}

# A row with the same text in every server column (ingest's figures are updcache's only).
text_row() { # scenario label updcache nginx lighttpd
    cols "$1" "$2" "$3" "$4" "$5"
    local pair
    for pair in $(ratio_pairs); do rcol -; done
    echo
}

# Errors must be 0; when they are not, the row shows them.
errors_row() { # scenario
    local s v any=0
    for s in updcache nginx lighttpd; do
        for v in ${M[$1|$s|errors]-}; do [[ $v == x || $v != 0 ]] && any=1; done
    done
    ((any)) || return 0
    text_row "$1" "ERRORS per round" "$(err_list "$1" updcache)" "$(err_list "$1" nginx)" "$(err_list "$1" lighttpd)"
}
err_list() { if [[ -n $(na_of "$1" "$2") ]]; then echo n/a; else echo "${M[$1|$2|errors]:--}"; fi; }

scenario_rows() { # scenario
    local scen=$1
    case $scen in
    sync) sync_rows ;;
    ingest) ingest_rows ;;
    tls-meta)
        if [[ -n ${TLS_NA[updcache]-} && -n ${TLS_NA[nginx]-} ]]; then
            text_row tls-meta "requests/s" "${TLS_NA[updcache]}" "${TLS_NA[nginx]}" -
            return
        fi
        # lighttpd is not measured here: its column stays '-'.
        table_row tls-meta "requests/s" rps %.0f
        table_row tls-meta "p99 latency, ms" p99_ms %.2f
        table_row tls-meta "server CPU us/request" cpu_us %.1f
        table_row tls-meta "server core busy, %" busy_pct %.0f
        table_row tls-meta "server RSS peak, MiB" rss_mib %.1f
        errors_row tls-meta
        ;;
    idle-*)
        if [[ $GEN_NAME != updcache-bench ]]; then
            text_row "$scen" "RSS per idle conn" "n/a (needs updcache-bench)" - -
            return
        fi
        table_row "$scen" "RSS at rest, MiB" rss_rest_mib %.1f
        table_row "$scen" "RSS with N idle, MiB" rss_idle_mib %.1f
        table_row "$scen" "idle conns held" idle_open %.0f
        table_row "$scen" "RSS per idle conn, KiB" rss_per_conn_kib %.2f
        errors_row "$scen"
        ;;
    *)
        if [[ $GEN_NAME != updcache-bench ]] && ! wrk_can "$scen"; then
            text_row "$scen" "requests/s" "n/a (needs updcache-bench)" - -
            return
        fi
        case $scen in
        1m | 256m | bits | do-ranges)
            [[ $scen == bits || $scen == do-ranges ]] && table_row "$scen" "requests/s" rps %.0f
            table_row "$scen" "GiB/s" gibps %.2f
            table_row "$scen" "p99 latency, ms" p99_ms %.2f
            table_row "$scen" "server CPU s/GiB" cpu_gib %.3f
            ;;
        *)
            table_row "$scen" "requests/s" rps %.0f
            table_row "$scen" "p99 latency, ms" p99_ms %.2f
            table_row "$scen" "server CPU us/request" cpu_us %.1f
            ;;
        esac
        table_row "$scen" "server core busy, %" busy_pct %.0f
        table_row "$scen" "server RSS peak, MiB" rss_mib %.1f
        [[ $scen == hot4k-64 ]] && wrk_rows
        errors_row "$scen"
        ;;
    esac
}

# Generator cross-check: wrk's requests/s on nginx beside updcache-bench's, same rounds.
wrk_rows() {
    [[ -n ${M[hot4k-64|wrk|rps]-} ]] || return 0
    local -a q
    read -r -a q <<<"$(ratios "${M[hot4k-64|nginx|rps]-}" "${M[hot4k-64|wrk|rps]}")"
    local -a w
    read -r -a w <<<"${M[hot4k-64|wrk|rps]}"
    cols hot4k-64 "wrk requests/s (check)" - "$(fmt %.0f "$(median "${w[@]}")")" -
    rcol "bench/wrk $(fmt %.2f "$(median "${q[@]}")") ($(fmt %.2f "$(minv "${q[@]}")")-$(fmt %.2f "$(maxv "${q[@]}")"))"
    echo
}

# bench/ingest's key figures (median over its rounds, min-max from its per-round lists).
ingest_rows() {
    local j=$WORK/ingest.json
    if [[ ! -s $j ]]; then
        text_row ingest "-" "n/a (bench/ingest failed)" - -
        return
    fi
    local k label
    for k in "ram.add_ch:add MB/s, tmpfs copy+hash" "disk.add_overall:add MB/s, disk overall" \
        "disk.add_overall.toL:add / hashing limit L" "disk.vs_wall:add / sha+cp+sync pipeline"; do
        label=${k#*:}
        text_row ingest "$label" "$(jq -r --arg k "${k%%:*}" \
            '"\(.median[$k] * 100 | round / 100) (\(.per_round[$k] | min * 100 | round / 100)-\(.per_round[$k] | max * 100 | round / 100))"' "$j")" - -
    done
}

# How much of a core other processes took during the measured runs, per scenario.
others_line() {
    local s out=''
    local -a v
    for s in "${SCENARIOS[@]}"; do
        [[ -n ${M[$s|all|others_pct]-} ]] || continue
        read -r -a v <<<"${M[$s|all|others_pct]}"
        out+="${out:+, }$s $(fmt %.0f "$(median "${v[@]}")")/$(fmt %.0f "$(maxv "${v[@]}")")"
    done
    [[ -z $out ]] || echo "other processes' CPU during measured runs, % of one core (median/max): $out"
}

print_table() {
    local s pair
    echo
    echo "server benchmark, $DATE: $NCPU cores ($CPU_MODEL), kernel $(uname -r)"
    echo "servers on core $SERVER_CPU (1 worker each), load generator ($GEN_NAME, 1 thread) on core $GEN_CPU;" \
        "$ROUNDS rounds of ${DUR} s after a ${WARM} s warm-up, servers alternating"
    echo "server columns: median over rounds; ratios: median (min-max) of the per-round ratios"
    cols scenario metric updcache nginx lighttpd
    for pair in $(ratio_pairs); do rcol "${pair%%:*}/${pair##*:}"; done
    echo
    for s in "${SCENARIOS[@]}"; do scenario_rows "$s"; done
    others_line
    tls_line
    sync_line
    echo "versions: $VERSIONS"
    echo "command: $COMMAND"
}

# ---------------------------------------------------------------------------- results

write_results() {
    local s f
    local gen args
    for s in "${SCENARIOS[@]}"; do
        f=$OUT/$DAY-$s.json
        [[ -s $WORK/rec-$s.jsonl ]] || continue
        gen=$GEN_NAME args=''
        case $s in
        ingest) ;;
        sync) gen="updcache sync --once, curl" args=$(sync_line) ;;
        tls-meta) gen=wrk args="$(tls_wrk_args); $(tls_line)" ;;
        *) args=$(gen_args "$s" 2>/dev/null || true) ;;
        esac
        jq -s --arg s "$s" --arg date "$DATE" --arg cmd "$COMMAND" --arg cpu "$CPU_MODEL" \
            --arg kernel "$(uname -r)" --argjson ncpu "$NCPU" --arg versions "$VERSIONS" --argjson rounds "$ROUNDS" \
            --argjson dur "$DUR" --argjson warm "$WARM" --arg gen "$gen" \
            --arg pin "servers on core $SERVER_CPU, 1 worker; generator on core $GEN_CPU, 1 thread" \
            --arg args "$args" \
            '{scenario: $s, date: $date, command: $cmd, generator: $gen, generator_args: $args,
              machine: {cpu: $cpu, nproc: $ncpu, kernel: $kernel}, versions: $versions,
              pinning: $pin, rounds: $rounds, duration_s: $dur, warmup_s: $warm, runs: .}' \
            "$WORK/rec-$s.jsonl" >"$f"
    done
    note "wrote $OUT/$DAY-<scenario>.json"
}

plot() {
    command -v gnuplot >/dev/null || { note "gnuplot missing: no chart"; return; }
    [[ -s $PLOT_DAT ]] || return 0
    local png=$OUT/$DAY-ratios.png
    cp "$PLOT_DAT" "$OUT/$DAY-ratios.tsv"
    local -a pairs
    read -r -a pairs <<<"$(ratio_pairs | tr ':' '/')"
    gnuplot -e "datafile='$OUT/$DAY-ratios.tsv'; outfile='$png'; pair1='${pairs[0]}'; pair2='${pairs[1]-}'" \
        -e "subtitle='$DATE, $ROUNDS rounds of $DUR s, generator $GEN_NAME; servers on core $SERVER_CPU, generator on core $GEN_CPU'" \
        "$REPO_ROOT/bench/plot.gp" 2>"$WORK/gnuplot.log" || { note "gnuplot failed (see $WORK/gnuplot.log)"; return; }
    note "wrote $png"
}

# ---------------------------------------------------------------------------- main

cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    for s in "${SERVERS[@]}" updcache-tls nginx-tls updcache-sync; do stop_server "$s"; done
    # A downstream store an interrupted sync run left (2 GiB); its logs stay.
    [[ -z ${WORK-} ]] || rm -rf "$WORK/sync-ds/store"
    # A generator still running (interrupted run): its timeout process, which we started.
    if [[ -n ${LOAD_PID-} ]]; then kill "$LOAD_PID" 2>/dev/null || true; fi
    if ((rc == 0 && !KEEP_WORK)); then rm -rf "$WORK"; else note "logs kept in $WORK"; fi
    exit "$rc"
}

versions() {
    local n l w
    n=$(nginx -v 2>&1 | sed 's|.*nginx/||')
    l=$(lighttpd -v 2>&1 | sed -n 's|^lighttpd/\([^ ]*\).*|\1|p')
    w=$(wrk -v 2>&1 | sed -n 's|^wrk \([^ ]*\).*|\1|p' || true)
    echo "nginx $n, lighttpd $l, wrk ${w:-n/a}"
}

# Quick mode with three servers drops two scenarios to stay within 5 minutes.
default_scenarios() {
    local s k skip
    for s in "${ALL_SCENARIOS[@]}"; do
        skip=0
        if ((QUICK)) && [[ -x $UPDCACHED ]]; then
            for k in "${QUICK_SKIP_3[@]}"; do [[ $s == "$k" ]] && skip=1; done
        fi
        ((skip)) || SCENARIOS+=("$s")
    done
}

main() {
    local argv="$*"
    parse_args "$@"
    check_tools
    ((${#SCENARIOS[@]})) || default_scenarios
    COMMAND="bench/run${argv:+ $argv}"
    HZ=$(getconf CLK_TCK)
    NCPU=$(nproc) # before this shell pins itself to one core
    DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
    DAY=$(date -u +%Y-%m-%d)
    CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)
    VERSIONS=$(versions)
    mkdir -p "$CACHE"
    WORK=$(mktemp -d "$CACHE/run.XXXXXX")
    chmod 755 "$WORK" # the servers' workers (www-data) write their logs below it
    PLOT_DAT=$WORK/ratios.tsv
    : >"$PLOT_DAT"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    # This shell and everything it starts (generator, curl, jq) stay off the server core.
    taskset -p -c "$GEN_CPU" $$ >/dev/null
    # The idle scenarios hold 10,000 sockets in the generator.
    ulimit -n "$(ulimit -Hn)"
    find_generator
    local s
    # tls-meta and sync need neither the content store nor the servers of the other scenarios.
    if selected_other_than tls-meta sync; then
        prepare_store
        for s in "${SERVERS[@]}"; do start_server "$s"; done
        [[ -n $(live_servers) ]] || die "no server started"
    fi
    if selected tls-meta && ((HAVE_WRK)) && [[ -x $UPDCACHED ]]; then prepare_tls_store; fi
    if selected sync; then
        if [[ -x $UPDCACHED ]]; then prepare_sync_store; else SYNC_NA="n/a (updcached not built yet)"; fi
    fi
    for s in "${SCENARIOS[@]}"; do
        case $s in
        sync) run_sync ;;
        ingest) run_ingest ;;
        tls-meta) run_tls_meta ;;
        *) run_scenario "$s" ;;
        esac
    done
    print_table | tee "$WORK/table.txt"
    cp "$WORK/table.txt" "$OUT/$DAY-table.txt"
    write_results
    plot
    if ((FAILED)); then
        note "ERROR: ${FAILED_IN:-a scenario} did not measure cleanly: its figures are x or n/a (see the notes above)"
        exit 1
    fi
}

main "$@"
