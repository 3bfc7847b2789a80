"""A few requests to the servers under test (readiness, tokens, pages), plain or over
TLS trusting only the bench CA, always to 127.0.0.1 with a timeout."""
import http.client
import socket
import ssl


def request(port, path, method="GET", headers=None, body=None, tls=None, timeout=5):
    """(status, body bytes), or (None, b'') when the request failed.
    tls: (server name, CA file): the certificate is checked against that name."""
    try:
        if tls:
            ctx = ssl.create_default_context(cafile=tls[1])
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
            # The name the certificate is checked against, as curl --resolve does.
            c._tunnel_host = None
            c.host = tls[0]
            sock = socket.create_connection(("127.0.0.1", port), timeout)
            c.sock = ctx.wrap_socket(sock, server_hostname=tls[0])
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data
    except (OSError, http.client.HTTPException, ssl.SSLError):
        return None, b""


def port_free(port):
    """Nothing listens on 127.0.0.1:port (a bind test; TIME_WAIT sockets do not count)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
