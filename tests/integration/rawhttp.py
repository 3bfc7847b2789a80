#!/usr/bin/env python3
"""Raw-socket scenarios against updcached on 127.0.0.1, for what curl cannot send or
check: byte-exact framing, half-closes, interim responses, timing between two clients.

Usage: rawhttp.py SCENARIO PORT ARGS...   (exit 0: pass, 1: fail, with the reason)
Every wait is bounded: sockets time out, loops have a fixed count.
"""
import socket
import sys
import time

TIMEOUT = 5.0


def fail(msg):
    print("rawhttp: " + msg, file=sys.stderr)
    sys.exit(1)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def read_until_close(s, limit=64 << 20):
    """Everything the server sends until it closes (or the timeout: then what came)."""
    chunks, total = [], 0
    try:
        while total < limit:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
            total += len(b)
    except (socket.timeout, ConnectionResetError):
        pass
    return b"".join(chunks)


def read_for(s, seconds):
    """What arrives within seconds (the connection may stay open)."""
    s.settimeout(seconds)
    try:
        return s.recv(65536)
    except socket.timeout:
        return b""
    finally:
        s.settimeout(TIMEOUT)


def parse_responses(data, head_only):
    """Split data into responses; head_only[i]: response i answers a HEAD (no body).
    Returns [(status, headers dict, body)]; fails on framing it cannot follow."""
    out, pos = [], 0
    for ho in head_only:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            fail("response %d: no complete head in %r" % (len(out) + 1, data[pos:pos + 200]))
        lines = data[pos:end].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            fail("response %d: not a status line: %r" % (len(out) + 1, lines[0][:200]))
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode("latin-1")
        n = 0 if ho else int(hdrs.get("content-length", "0"))
        body = data[end + 4:end + 4 + n]
        if len(body) != n:
            fail("response %d: body %d of %d bytes" % (len(out) + 1, len(body), n))
        out.append((int(parts[1]), hdrs, body))
        pos = end + 4 + n
    if pos != len(data):
        fail("%d bytes after the last expected response: %r" % (len(data) - pos, data[pos:pos + 200]))
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def get(url, extra=b"", close=True):
    return (b"GET " + url.encode() + b" HTTP/1.1\r\nHost: a\r\n" + extra +
            (b"Connection: close\r\n" if close else b"") + b"\r\n")


def scenario_reuse(port, url_x, url_y, file_x):
    """SPEC §3 on the single-recv path: a connection answered 408 while its receive was
    in flight must not get its later bytes written into another connection's buffer."""
    want = read_file(file_x)
    a = connect(port)
    a.sendall(b"GET ")
    got = read_for(a, 6.0)
    if not got.startswith(b"HTTP/1.1 408"):
        fail("A: expected a 408 after header_timeout, got %r" % got[:100])
    b = connect(port)
    b.sendall(b"GET " + url_x.encode() + b" HTTP/1.1\r\n")
    time.sleep(0.3)
    try:
        a.sendall(url_y.encode() + b" HTTP/1.1\r\n")
    except OSError:
        pass  # the server may already have closed A: nothing can go wrong then
    time.sleep(0.3)
    b.sendall(b"Host: a\r\nConnection: close\r\n\r\n")
    (st, _, body), = parse_responses(read_until_close(b), [False])
    a.close()
    if st != 200 or body != want:
        fail("B asked for X and got status %d, %d bytes%s" %
             (st, len(body), " (not X's bytes)" if st == 200 else ""))


def scenario_head_error(port, missing, url, path):
    """RFC 9110 §9.3.2: a HEAD response ends at its head, errors included; a response
    pipelined after it must be read intact."""
    want = read_file(path)
    s = connect(port)
    s.sendall(b"HEAD " + missing.encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n" +
              b"HEAD /ClientWebService/x HTTP/1.1\r\nHost: a\r\n\r\n" + get(url))
    r = parse_responses(read_until_close(s), [True, True, False])
    if [x[0] for x in r] != [404, 403, 200]:
        fail("statuses %r, want [404, 403, 200]" % [x[0] for x in r])
    if int(r[0][1].get("content-length", "0")) == 0:
        fail("HEAD 404 should still say the length a GET would have")
    if r[2][2] != want:
        fail("the GET after two HEAD errors did not get the file")


def scenario_halfclose(port, *pairs):
    """RFC 9112 §9.6: a client that half-closes after its requests still gets every
    response to what it sent, then the connection closes. pairs: url path url path..."""
    files = [(pairs[i], read_file(pairs[i + 1])) for i in range(0, len(pairs), 2)]
    for i in range(12):
        url, want = files[i % len(files)]
        s = connect(port)
        s.sendall(get(url, close=False))
        s.shutdown(socket.SHUT_WR)
        r = parse_responses(read_until_close(s), [False])
        if r[0][0] != 200 or r[0][2] != want:
            fail("try %d (%s): status %d, %d bytes" % (i + 1, url, r[0][0], len(r[0][2])))
        s.close()
    s = connect(port)
    s.sendall(b"".join(get(u, close=False) for u, _ in files))
    s.shutdown(socket.SHUT_WR)
    r = parse_responses(read_until_close(s), [False] * len(files))
    if [x[2] for x in r] != [w for _, w in files]:
        fail("pipelined then half-closed: not every response came")


def scenario_bigcl(port):
    """A Content-Length past 32 bits is refused (413) and closes: nothing after the
    head is taken as a request."""
    s = connect(port)
    body = b'{"client":"abcd","events":[]}'  # 29 bytes: 4294967325 mod 2^32
    smuggled = b"GET /Content/00/none.cab HTTP/1.1\r\nHost: a\r\n\r\n"
    s.sendall(b"POST /ReportingWebService/events HTTP/1.1\r\nHost: a\r\n"
              b"Content-Length: 4294967325\r\n\r\n" + body + smuggled)
    data = read_until_close(s)
    if not data.startswith(b"HTTP/1.1 413 "):
        fail("Content-Length 4294967325: %r" % data[:100])
    if data.count(b"HTTP/1.1 ") != 1:
        fail("more than one response to one request: %r" % data[:300])


def scenario_expect(port):
    """RFC 9110 §10.1.1: Expect: 100-continue gets 100 Continue before the body is
    sent, or the final status at once when the request will be refused."""
    body = b'{"client":"pc-expect","events":[{"id":1}]}'
    s = connect(port)
    s.sendall(b"POST /ReportingWebService/events HTTP/1.1\r\nHost: a\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    got = read_for(s, 1.0)
    if got != b"HTTP/1.1 100 Continue\r\n\r\n":
        fail("no 100 Continue within 1 s: %r" % got[:100])
    s.sendall(body + get("/Content/00/none.cab"))
    r = parse_responses(read_until_close(s), [False, False])
    if r[0][0] != 202 or r[1][0] != 404:
        fail("after 100 Continue: statuses %r, want [202, 404]" % [x[0] for x in r])
    s = connect(port)
    s.sendall(b"POST /ReportingWebService/events HTTP/1.1\r\nHost: a\r\n"
              b"Expect: 100-continue\r\nContent-Length: 99999999\r\n\r\n")
    got = read_for(s, 1.0)
    if not got.startswith(b"HTTP/1.1 413 "):
        fail("a body too large for the limit is refused at once, not continued: %r" % got[:100])
    s = connect(port)
    s.sendall(b"POST /ReportingWebService/events HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    r = parse_responses(read_until_close(s), [False])
    if r[0][0] != 202:
        fail("body sent with the head: %d, want 202 with no 100 before it" % r[0][0])


def scenario_absform(port, url, path):
    """RFC 9112 §3.2.2: a server must accept the absolute form of a request target."""
    want = read_file(path)
    s = connect(port)
    host = "127.0.0.1:%d" % port
    s.sendall(get("http://" + host + url, close=False) + get("HTTP://" + host + url.lower()))
    r = parse_responses(read_until_close(s), [False, False])
    for i, (st, _, body) in enumerate(r):
        if st != 200 or body != want:
            fail("absolute-form request %d: status %d" % (i + 1, st))
    s = connect(port)
    s.sendall(get("http://" + host))
    (st, _, _), = parse_responses(read_until_close(s), [False])
    if st != 404:
        fail("http://host with no path is \"/\": want 404, got %d" % st)


def scenario_silent(port, url, count):
    """SPEC §3: header_timeout also bounds the silence before a connection's first byte;
    keepalive_timeout applies only once it has completed a request. count connections
    that never send a byte are all closed by the server within header_timeout (plus a
    tick), while one that completed a request stays open and answers again."""
    import select
    kept = connect(port)
    kept.sendall(b"GET " + url.encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    first = read_for(kept, 1.0)
    if b" 200 " not in first[:20]:
        fail("the keep-alive connection's first GET was not answered 200")
    silent = [connect(port) for _ in range(int(count))]
    deadline = time.monotonic() + 6
    open_ = set(range(len(silent)))
    while open_ and time.monotonic() < deadline:
        r, _, _ = select.select([silent[i] for i in open_], [], [], 0.5)
        for sk in r:
            i = silent.index(sk)
            try:
                if sk.recv(1) == b"":
                    open_.discard(i)
            except OSError:
                open_.discard(i)
    if open_:
        fail("%d of %d silent connections still open after 6 s" % (len(open_), len(silent)))
    kept.sendall(b"GET " + url.encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    again = read_for(kept, 1.0)
    if b" 200 " not in again[:20]:
        fail("the connection that had completed a request was closed with the silent ones")
    for sk in silent + [kept]:
        sk.close()


def scenario_stuck(port, big_url, small_url, small_path):
    """A client that asks for a large file and never reads, with a small MSS and receive
    buffer as on a slow real link (on loopback the 64 KiB MSS makes the server's send
    buffer large enough to hide it): the server's send buffer stays small and fills. The
    worker must not wait in the kernel for that socket: other connections are served."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    stuck.settimeout(TIMEOUT)
    stuck.connect(("127.0.0.1", port))
    stuck.sendall(b"GET " + big_url.encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(1.0)  # the server has filled what the socket takes
    want = read_file(small_path)
    for i in range(3):
        t0 = time.monotonic()
        s = connect(port)
        s.settimeout(3.0)
        try:
            s.sendall(get(small_url))
            data = read_until_close(s)
        except OSError as e:
            fail("request %d beside the stuck reader: %s" % (i + 1, e))
        s.close()
        ms = (time.monotonic() - t0) * 1000
        if not data.endswith(want) or b" 200 " not in data[:20]:
            fail("request %d beside the stuck reader got %d bytes in %.0f ms, not the file"
                 % (i + 1, len(data), ms))
        if ms > 2000:
            fail("request %d beside the stuck reader took %.0f ms" % (i + 1, ms))
    stuck.close()


SCENARIOS = {
    "reuse": scenario_reuse,
    "head_error": scenario_head_error,
    "halfclose": scenario_halfclose,
    "bigcl": scenario_bigcl,
    "expect": scenario_expect,
    "absform": scenario_absform,
    "silent": scenario_silent,
    "stuck": scenario_stuck,
}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in SCENARIOS:
        fail("usage: rawhttp.py {%s} PORT ARGS..." % ",".join(SCENARIOS))
    SCENARIOS[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:])
