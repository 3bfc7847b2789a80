"""A slowloris trickle: a few connections that send a request head one byte at a time,
so slowly that the whole head would take far longer than header_timeout. The server
must cut each one off (a 408, a close or a reset) within header_timeout and a margin;
one it does not cut off in time counts as a failure and is closed here."""
import errno
import socket
import time

HEAD = b"GET /Content/00/slowloris.cab HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-slowloris\r\n\r\n"


class Conn:
    def __init__(self, port, gap_s):
        self.sock = socket.socket()
        self.sock.settimeout(2)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.next = self.opened
        self.sent = 0
        self.gap = gap_s
        self.got = b""

    def step(self, now):
        """None while it trickles; 'cut' once the server ended it."""
        try:
            data = self.sock.recv(4096)
            if not data:
                return "cut"
            self.got += data[:64]
        except BlockingIOError:
            pass
        except OSError:
            return "cut"
        if now >= self.next and self.sent < len(HEAD) - 1:  # never the final byte
            try:
                self.sock.send(HEAD[self.sent:self.sent + 1])
            except OSError as e:
                if e.errno in (errno.EAGAIN,):
                    return None
                return "cut"
            self.sent += 1
            self.next = now + self.gap
        return None

    def close(self):
        self.sock.close()


class Trickle:
    def __init__(self, port, n, gap_s, limit_s):
        self.port, self.n, self.gap, self.limit = port, n, gap_s, limit_s
        self.conns = []
        self.opened = self.cut = self.not_cut = self.answered_408 = self.connect_failed = 0
        self.cut_after = []  # seconds from connect to cut-off

    def tick(self, keep_opening):
        now = time.monotonic()
        for c in list(self.conns):
            state = c.step(now)
            if state == "cut":
                self.cut += 1
                self.cut_after.append(now - c.opened)
                self.answered_408 += c.got.startswith(b"HTTP/1.1 408") or c.got.startswith(b"HTTP/1.0 408")
            elif now - c.opened > self.limit:
                self.not_cut += 1
            else:
                continue
            c.close()
            self.conns.remove(c)
        while keep_opening and len(self.conns) < self.n:
            try:
                self.conns.append(Conn(self.port, self.gap))
                self.opened += 1
            except OSError:
                self.connect_failed += 1
                break

    def close(self):
        for c in self.conns:
            c.close()
        self.conns = []
