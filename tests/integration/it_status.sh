#!/usr/bin/env bash
# The status page (SPEC §14): GET /APIRemoting30/status on the TLS port, with the admin
# token as Bearer or as the Basic password; loaded in headless Chromium, which must make
# no request but the page's own, shows the counters of /APIRemoting30/stats, and gives a
# screenshot. Skipped (77) when Chromium is not installed.
# Usage: it_status.sh UPDCACHE UPDCACHED
. "$(dirname "$0")/lib.sh"
UCD=${2:?usage: $0 updcache updcached}
set -e
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
NAME=status.updcache.test
TOKEN=adm-status-77
mkdir -p "$T/src"
"$UC" mkcert "$NAME" --out "$T/pki" >/dev/null 2>&1
make_conf "$T/s" <<EOF2
name = $NAME
listen = 127.0.0.1
port_file = $T/ports
workers = 2
[store]
max_size = 64M
[tls]
cert = $T/pki/$NAME.pem
key = $T/pki/$NAME.key
[auth]
admin_token = $TOKEN
EOF2
C=$T/s/uc.conf
"$UC" keygen --out "$T/k" >/dev/null 2>&1
make_file "$T/src/a.cab" 300000
make_file "$T/src/b.psf" 7000
"$UC" add --config "$C" --key "$T/k" --title "one <b>&amp;" "$T/src/a.cab" "$T/src/b.psf" >/dev/null 2>&1
start_tls_daemon "$UCD" "$C" "$T/ports" "$T/daemon.err" || { bad "daemon did not start"; finish; }
S=https://$NAME:$P
H=http://127.0.0.1:$PP
tcurl() { curl -sS -m 10 --cacert "$T/pki/ca.pem" --resolve "$NAME:$P:127.0.0.1" "$@"; }

# Some traffic to count: hits (GET and HEAD), 404s, a range.
for f in a.cab b.psf; do
    s1=$(sha1sum <"$T/src/$f" | cut -c1-40)
    s1=${s1^^}
    U="$H/Content/${s1: -2}/$s1.${f#*.}"
    for _ in 1 2 3; do curl -sS -m 5 -o /dev/null "$U"; done
    curl -sS -m 5 -o /dev/null -I "$U"
    curl -sS -m 5 -o /dev/null -r 0-99 "$U"
done
curl -sS -m 5 -o /dev/null "$H/Content/00/0000000000000000000000000000000000000000.cab"

# --- Credentials.
hdr() { tcurl -D "$T/h" -o "$T/page.html" -w '%{http_code}' "$@" "$S/APIRemoting30/status" || true; }
check "status: no credentials 401" test "$(hdr)" = 401
check "status: 401 challenges with Basic" grep -qi '^WWW-Authenticate: Basic realm="updcache"' "$T/h"
check "status: wrong token 401" test "$(hdr -H 'Authorization: Bearer nope')" = 401
check "status: wrong Basic password 401" test "$(hdr -u "admin:nope")" = 401
check "status: token as Basic password" test "$(hdr -u "anyone:$TOKEN")" = 200
check "status: token as Bearer" test "$(hdr -H "Authorization: Bearer $TOKEN")" = 200
check "status: HTML" grep -qi '^Content-Type: text/html; charset=utf-8' "$T/h"
check "status: CSP forbids outside loads" grep -qi "^Content-Security-Policy: default-src 'none';" "$T/h"
check "status: not stored by caches" grep -qi '^Cache-Control: no-store' "$T/h"
check "status: no script" bash -c "! grep -qi '<script' '$T/page.html'"
check "status: no outside URL in the page" bash -c "! grep -Eoi '(src|href|action)=\"[^\"]*|url\\(|@import' '$T/page.html' | grep -vq '=\"data:'"
check "status: inline SVG chart" grep -q '<svg viewBox=' "$T/page.html"
check "plain port: status refused 403" test "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$H/APIRemoting30/status")" = 403
# A sync run that ended shows its time: none yet.
check "status: last sync never" grep -q 'data-key="sync.last_run" data-value="0">never<' "$T/page.html"

if [ -z "$CHROMIUM" ]; then
    echo "it_status: chromium is not installed (apt-get install chromium): browser checks skipped" >&2
    finish || exit 1
    exit 77
fi

# --- Headless Chromium, trusting exactly the test's server key; every request it makes
# is in its net log.
SPKI=$(openssl x509 -in "$T/pki/$NAME.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
browse() {
    local log=$1
    shift
    timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
        --disable-extensions --disable-background-networking --disable-component-update \
        --disable-sync --disable-default-apps --user-data-dir="$T/chrome" \
        --host-resolver-rules="MAP $NAME 127.0.0.1, MAP * ~NOTFOUND" \
        --ignore-certificate-errors-spki-list="$SPKI" --log-net-log="$log" \
        --window-size=1280,1500 "$@" "https://admin:$TOKEN@$NAME:$P/APIRemoting30/status" \
        2>>"$T/chrome.err"
}
browse "$T/net1.json" --screenshot="$T/status.png" >/dev/null || true
check "chromium: screenshot produced" test -s "$T/status.png"
check "chromium: screenshot is a PNG" bash -c "head -c 8 '$T/status.png' | od -An -tx1 | grep -q '89 50 4e 47'"
browse "$T/net2.json" --dump-dom >"$T/dom.html" || true
tcurl -H "Authorization: Bearer $TOKEN" "$S/APIRemoting30/stats" >"$T/stats.json"
check "chromium: page loaded (DOM dumped)" grep -q 'data-key="cache.hits"' "$T/dom.html"
[ -s "$T/dom.html" ] || { sed -n 1,20p "$T/chrome.err" >&2; }
# Every URL in the net logs: the page's own, nothing else (no font, icon, script or CDN).
# The requests made for the page (its site in the network isolation key, or its origin as
# initiator or host) are the page itself and nothing else: no font, icon, script or CDN.
# The browser's own background requests (component updates, time) are not the page's.
check "chromium: no request but the page's own" python3 - "$T/net1.json" "$T/net2.json" "$NAME:$P" <<'PY'
import json, re, sys
host = sys.argv[3]
own = "https://" + host + "/APIRemoting30/status"
site = ".".join(host.split(":")[0].split(".")[-2:])
page, seen = [], 0
for path in sys.argv[1:3]:
    text = open(path, encoding="utf-8", errors="replace").read().rstrip()
    try:
        log = json.loads(text)
    except ValueError:  # a log cut at exit lacks its closing brackets
        log = json.loads(text.rstrip(",") + "]}")
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    for ev in log["events"]:
        if names.get(ev["type"]) != "URL_REQUEST_START_JOB" or "url" not in ev.get("params", {}):
            continue
        p = ev["params"]
        seen += 1
        url = p["url"].replace(" (credentials redacted)", "")
        mine = (site in p.get("network_isolation_key", "") or host in p.get("initiator", "")
                or "://" + host in url)
        if mine:
            page.append(url)
others = sorted(set(u for u in page if u != own))
if own not in page or others:
    print(f"{seen} requests logged; the page's: {page}; not the page itself: {others}", file=sys.stderr)
    sys.exit(1)
PY
# The page's numbers are the stats JSON's, key by key (those the stats request itself
# moves are left out: TLS requests, bytes and connections).
check "chromium: the page shows the counters of /stats" python3 - "$T/dom.html" "$T/stats.json" <<'PY'
import html.parser, json, re, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.key = None; self.vals = {}; self.text = ""
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-key" in a:
            self.key, self.text, self.dv = a["data-key"], "", a.get("data-value")
    def handle_endtag(self, tag):
        if tag == "td" and self.key:
            nums = re.findall(r"\d+", self.text)
            self.vals[self.key] = int(self.dv) if self.dv is not None else int(nums[-1])
            self.key = None
    def handle_data(self, d):
        if self.key: self.text += d
p = P(); p.feed(open(sys.argv[1]).read())
st = json.load(open(sys.argv[2]))
def get(path):
    v = st
    for part in path.split("."):
        v = v[part]
    if isinstance(v, dict):  # requests.http: by root, by status
        return sum(get_all(v))
    return v
def get_all(d):
    for v in d.values():
        if isinstance(v, dict): yield from get_all(v)
        else: yield v
need = {"content.bytes", "content.max_size", "cache.hits", "cache.misses", "requests.http",
        "body_bytes_sent.http", "fill.in_progress", "verification_failures", "sync.last_run",
        "fill.block_verification_failures", "store.files", "store.updates"}
moving = {"requests.https", "body_bytes_sent.https", "connections.https", "connections.http",
          "auth_failures"}
bad = [f"{k}: page {v}, stats {get(k)}" for k, v in p.vals.items()
       if k not in moving and get(k) != v]
missing = sorted(need - set(p.vals))
if bad or missing:
    print("mismatch:", bad, "missing:", missing, file=sys.stderr); sys.exit(1)
if p.vals["cache.hits"] != 10 or p.vals["content.max_size"] != 64 << 20:
    print("unexpected values", p.vals, file=sys.stderr); sys.exit(1)
PY
check "chromium: page text names the store and the cap" grep -q '% of the cap' "$T/dom.html"
if [ -n "${UC_STATUS_SCREENSHOT:-}" ]; then cp "$T/status.png" "$T/dom.html" "$T/net1.json" "$UC_STATUS_SCREENSHOT"/; fi
kill "$DPID" 2>/dev/null || true
wait "$DPID" 2>/dev/null || true
finish
