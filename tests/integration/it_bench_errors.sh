#!/usr/bin/env bash
# updcache-bench against tests/fixtures/badserver, one wrong answer at a time: every
# kind of wrong response must be counted under its error kind and never as a request,
# and requests/s must count only the good responses.
# Usage: it_bench_errors.sh path/to/updcache-bench path/to/badserver
. "$(dirname "$0")/lib.sh"
set -e
BENCH=$1
BAD=${2:?usage: $0 path/to/updcache-bench path/to/badserver}
command -v jq >/dev/null || { echo "jq not installed: skip"; exit 77; }

SIZE=1500000 # over 1 MiB, so range1m has a full chunk and a short last one
SHA=$("$BAD" --dump-body --size "$SIZE" | sha256sum | cut -c1-64)
printf '/Content/AB/0A1B2C.cab %s %s\n' "$SIZE" "$SHA" >"$T/urls.txt"

# start_server MODE [ARGS...]: badserver in the background; its port in $PORT.
start_server() {
    local mode=$1
    shift
    rm -f "$T/port"
    "$BAD" --mode "$mode" --size "$SIZE" --port-file "$T/port" --max-requests 5000 \
        --seconds 60 "$@" &
    SPID=$!
    cleanup_hooks+=("kill $SPID 2>/dev/null")
    local _
    for _ in $(seq 1 200); do
        [ -s "$T/port" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(cat "$T/port")
}

stop_server() {
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
}

# bench NAME [ARGS...]: 200 responses over 4 connections, result in $T/NAME.json.
bench() {
    local name=$1
    shift
    run_rc 0 "bench $name" timeout 60 "$BENCH" --port "$PORT" --urls "$T/urls.txt" \
        -n 200 -c 4 -t 1 --timeout 5 --json "$T/$name.json" "$@"
    J=$T/$name.json
}

# j FILTER: jq -e on the last result.
j() { jq -e "$1" "$J" >/dev/null; }

errors_total='([.errors[]] | add)'

start_server good
bench good --verify-body
check "good: no errors" j "$errors_total == 0"
check "good: 200 requests" j '.requests >= 200'
check "good: all 200" j '.status["200"] >= 200'
check "good: bytes = requests * size" j ".bytes == .requests * $SIZE"
check "good: rps = requests / duration" j '(.rps - .requests / .duration_s | fabs) < 0.01 * .rps'
check "good: latency percentiles ordered" \
    j '.latency_us | .p50 <= .p90 and .p90 <= .p99 and .p99 <= .p999 and .p999 <= .max'
bench goodmix --mix get=1,head-get=1,range1m=1,small-ranges=1
check "good mix: no errors" j "$errors_total == 0"
check "good mix: 206s seen" j '.status["206"] > 0'
check "good mix: mix reported" j '.mix == "get=1,head-get=1,range1m=1,small-ranges=1"'
stop_server

start_server short
bench short
check "short: short_body counted" j '.errors.short_body + .errors.read > 0'
check "short: no request counted" j '.requests == 0 and .rps == 0 and .bytes == 0'
check "short: reconnected" j '.reconnects > 0'
stop_server

# Half the responses short: requests/s must count exactly the good half.
start_server short --bad-every 2
bench shorthalf
check "half short: some errors" j '.errors.short_body > 0'
check "half short: some requests" j '.requests > 0 and .requests < 200'
check "half short: requests + errors = responses" j ".requests + $errors_total == 200"
check "half short: rps from good responses only" \
    j '(.rps - .requests / .duration_s | fabs) < 0.01 * .rps + 0.001'
check "half short: bytes from good responses only" j ".bytes == .requests * $SIZE"
check "half short: by-status adds up to all responses" j '([.status[]] | add) == 200'
stop_server

start_server badrange
bench badrange1m --mix range1m=100
check "badrange range1m: content_range counted" j '.errors.content_range > 0'
check "badrange range1m: no request counted" j '.requests == 0'
bench badsmall --mix small-ranges=100
check "badrange small-ranges: content_range counted" j '.errors.content_range > 0'
check "badrange small-ranges: no request counted" j '.requests == 0'
bench badrange_get
check "badrange: whole GETs still fine" j "$errors_total == 0 and .requests == 200"
stop_server

start_server status
bench status
check "status: status errors" j '.errors.status > 0'
check "status: no request counted" j '.requests == 0'
check "status: 500 in by-status" j '.status["500"] > 0'
run_rc 1 "status: --fail-on-error exits 1" timeout 60 "$BENCH" --port "$PORT" \
    --urls "$T/urls.txt" -n 20 -c 2 -t 1 --fail-on-error
stop_server

start_server chunked
bench chunked
check "chunked: framing errors" j '.errors.framing > 0'
check "chunked: no request counted" j '.requests == 0'
stop_server

# Nobody listening (the last server's port, now closed): connect errors, bounded by -d.
run_rc 0 "closed port" timeout 30 "$BENCH" --port "$PORT" --urls "$T/urls.txt" -c 2 -t 1 \
    -d 0.5 --json "$T/closed.json"
J=$T/closed.json
check "closed port: connect errors" j '.errors.connect > 0 and .requests == 0'

run_rc 2 "no --port is a usage error" "$BENCH" --urls "$T/urls.txt"
run_rc 2 "bad --mix is a usage error" "$BENCH" --port 1 --urls "$T/urls.txt" --mix get=x
run_rc 2 "bad url file line is a usage error" "$BENCH" --port 1 --urls /dev/null --url x
run_rc 0 "--help" "$BENCH" --help
check "help names --verify-body" has "$OUT" "--verify-body"
finish
