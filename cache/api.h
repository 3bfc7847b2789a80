/*
 * The TLS listener's endpoints (SPEC §6, §11), independent of libmicrohttpd: a request
 * in (method, target, the headers that matter, body), a response out. tls_listener.c
 * adapts it to the library; tests call it directly.
 *
 *   POST /DSSAuthWebService/token        Basic ID:SECRET from [auth] downstreams -> dss cookie
 *   POST /SimpleAuthWebService/token     {"client", "secret"?} -> client cookie
 *   GET  /ServerSyncWebService/updates   dss cookie: envelopes since ?since=, ?limit=
 *   GET  /ServerSyncWebService/config    dss cookie: name, ports, content URL, keys
 *   GET  /ClientWebService/updates       client cookie: envelopes
 *   GET  /ClientWebService/files/<SHA1>  client cookie: a file's digests and plain URL
 *   GET  /APIRemoting30/stats, /metrics, /status   admin token (Bearer, or Basic password)
 *   POST /ReportingWebService/events, /Inventory/report   client reports
 *   GET  /SelfUpdate/...                 static files (answered with an fd)
 *
 * Missing, forged or expired credentials answer 401, the wrong role 403; /Content/ is
 * 403 with no file bytes. JSON errors are {"error": CODE, "detail": TEXT}.
 */
#ifndef UC_API_H
#define UC_API_H

#include "daemon.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uc_api_req {
    const char *method;
    const char *target;        /* as received: path and query */
    const char *authorization; /* header value, or NULL */
    const char *peer;          /* client address text */
    const char *body;
    size_t body_len;
    bool body_too_large; /* the listener stopped reading at max_body_bytes */
    const char *framing; /* why the body's framing is ambiguous (SPEC §3): answered 400 */
};

struct uc_api_resp {
    int status;
    const char *content_type;
    char *body; /* malloc'd */
    size_t len;
    const char *hname; /* one extra header (WWW-Authenticate, Allow), or NULL */
    char hvalue[128];
    bool page; /* an HTML page for a browser: sent with a policy that forbids outside loads */
    int fd;    /* SelfUpdate: serve this file (size bytes), else -1 */
    uint64_t size;
    int64_t mtime;
    enum uc_root root; /* for the metrics */
};

/* Answer q under settings s (held by the caller for the duration). */
void uc_api_handle(struct uc_daemon *d, const struct uc_settings *s, const struct uc_api_req *q,
                   struct uc_api_resp *r);
void uc_api_resp_free(struct uc_api_resp *r);

/*
 * The key cookies of (role, id) are made and checked with under settings s: bound to the
 * downstream's ID:SECRET entry, or to the client secret (cookie.h). -ENOENT when no
 * downstream entry has that id any more.
 */
int uc_api_cookie_key(const struct uc_daemon *d, const struct uc_settings *s, enum uc_role role,
                      const char *id, uint8_t out[UC_COOKIE_KEY_LEN]);

/* Fill x from the daemon and the index (store counts, tool counters). */
void uc_api_metrics_extra(struct uc_daemon *d, struct uc_metrics_extra *x);

#endif
