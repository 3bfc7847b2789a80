/*
 * Routing of a request target to a virtual root (SPEC §2, §3): which root, whether the
 * port may serve it, and for content the SHA-1 it names. Pure: no index lookup, no I/O.
 *
 *   /Content/XX/<SHA1><ext>                          content (plain port only)
 *   /c/msdownload/update/<any>/<name>_<SHA1>.<ext>   the Microsoft Update URL form of the
 *   /d/msdownload/...                                same objects, resolved by SHA-1 alone
 *   /SelfUpdate/, /Inventory/, /ReportingWebService/ both ports
 *   /SimpleAuthWebService/, /DSSAuthWebService/, /ServerSyncWebService/,
 *   /APIRemoting30/, /ClientWebService/              TLS port only
 *
 * Roots and hex match case-insensitively, as IIS does for WSUS clients. Targets that
 * could escape a root are refused before anything else looks at them: "." or ".."
 * segments (also percent-encoded), encoded "/" or NUL, backslashes, control bytes.
 */
#ifndef UC_ROUTE_H
#define UC_ROUTE_H

#include "hash.h"
#include "meta.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum uc_root {
    UC_ROOT_NONE = 0,
    UC_ROOT_CONTENT,
    UC_ROOT_MSDOWNLOAD,
    UC_ROOT_SELFUPDATE,
    UC_ROOT_INVENTORY,
    UC_ROOT_REPORTING,
    UC_ROOT_SIMPLEAUTH,
    UC_ROOT_DSSAUTH,
    UC_ROOT_SERVERSYNC,
    UC_ROOT_APIREMOTING,
    UC_ROOT_CLIENT,
};

enum uc_route_rc {
    UC_ROUTE_OK = 0,          /* serve it */
    UC_ROUTE_BAD = 400,       /* unsafe or malformed target: refuse and log */
    UC_ROUTE_FORBIDDEN = 403, /* root exists but not on this port (see tls_only) */
    UC_ROUTE_NOT_FOUND = 404, /* no such root, or a content name that cannot exist */
};

#define UC_ROUTE_PATH_MAX 1024

struct uc_route {
    enum uc_root root;
    bool tls_only;                /* with UC_ROUTE_FORBIDDEN: needs the TLS port (else plain) */
    uint8_t sha1[UC_SHA1_LEN];    /* content and msdownload */
    char suffix[UC_SUFFIX_MAX];   /* content: as requested, lower-cased */
    char path[UC_ROUTE_PATH_MAX]; /* decoded path without the query */
    size_t query_off;             /* offset of the query in the target, 0 when none */
    const char *why;              /* for UC_ROUTE_BAD: what was refused, for the log */
};

/* Route target[0..len) received on the TLS port (tls) or the plain port. */
enum uc_route_rc uc_route_eval(const char *target, size_t len, bool tls, struct uc_route *out);

/* The virtual root's canonical name ("Content", "ClientWebService", ...), or NULL. */
const char *uc_route_root_name(enum uc_root root);

#endif
