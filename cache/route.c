/*
 * Target routing. The path is percent-decoded once into route->path, with the unsafe
 * forms refused during decoding, so nothing downstream ever sees an encoded dot, slash
 * or NUL. Then the first segment picks the root and the port policy of SPEC §2 applies.
 */
#include "route.h"
#include "strparse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum uc_root root;
    bool plain, tls; /* served on the plain / TLS port */
} roots[] = {
    {"Content", UC_ROOT_CONTENT, true, false},
    {"SelfUpdate", UC_ROOT_SELFUPDATE, true, true},
    {"Inventory", UC_ROOT_INVENTORY, true, true},
    {"ReportingWebService", UC_ROOT_REPORTING, true, true},
    {"SimpleAuthWebService", UC_ROOT_SIMPLEAUTH, false, true},
    {"DSSAuthWebService", UC_ROOT_DSSAUTH, false, true},
    {"ServerSyncWebService", UC_ROOT_SERVERSYNC, false, true},
    {"APIRemoting30", UC_ROOT_APIREMOTING, false, true},
    {"ClientWebService", UC_ROOT_CLIENT, false, true},
};

const char *uc_route_root_name(enum uc_root root)
{
    if (root == UC_ROOT_MSDOWNLOAD)
        return "msdownload";
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        if (roots[i].root == root)
            return roots[i].name;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static enum uc_route_rc bad(struct uc_route *r, const char *why)
{
    r->why = why;
    return UC_ROUTE_BAD;
}

/*
 * RFC 9112 §3.2.2: a server must accept the absolute form ("http://host:port/path");
 * the authority is skipped (one origin, no virtual hosts) and the path routes as the
 * origin form would. An empty path is "/" (§3.2.1). Returns how many bytes the scheme
 * and authority took (0 for origin form), or -1 for an authority that cannot be one.
 */
static long authority_len(const char *t, size_t len, struct uc_route *r)
{
    size_t i = len > 7 && !strncasecmp(t, "http://", 7)    ? 7
               : len > 8 && !strncasecmp(t, "https://", 8) ? 8
                                                           : 0;
    if (!i)
        return 0;
    size_t host = i;
    for (; i < len && t[i] != '/' && t[i] != '?'; i++)
        if (t[i] == '@') { /* RFC 9110 §4.2.4: userinfo in an http URI is an error */
            bad(r, "userinfo in an absolute-form target");
            return -1;
        }
    if (i == host) {
        bad(r, "absolute-form target without a host");
        return -1;
    }
    return (long)i;
}

/* Decode the path part into r->path, refusing what could change its meaning. */
static enum uc_route_rc decode(const char *t, size_t len, struct uc_route *r)
{
    long skip = authority_len(t, len, r);
    if (skip < 0)
        return UC_ROUTE_BAD;
    size_t o = 0;
    if (skip && ((size_t)skip == len || t[skip] == '?'))
        r->path[o++] = '/';
    for (size_t i = (size_t)skip; i < len; i++) {
        char c = t[i];
        if (c == '?') {
            r->query_off = i + 1;
            break;
        }
        if (c == '%') {
            int hi = i + 2 < len ? hexval(t[i + 1]) : -1, lo = hi >= 0 ? hexval(t[i + 2]) : -1;
            if (lo < 0)
                return bad(r, "malformed percent-encoding");
            c = (char)(hi << 4 | lo);
            i += 2;
            if (c == '/')
                return bad(r, "encoded slash (%2F)");
            if (c == 0)
                return bad(r, "encoded NUL (%00)");
        }
        if (c == '\\')
            return bad(r, "backslash in path");
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '#')
            return bad(r, "control byte or fragment in path");
        if (o + 1 >= sizeof(r->path))
            return bad(r, "path too long");
        r->path[o++] = c;
    }
    r->path[o] = 0;
    if (r->path[0] != '/')
        return bad(r, "target is not an absolute path");
    /* "." and ".." segments, however they were spelled, never reach a root. */
    for (const char *s = r->path; s; s = strchr(s + 1, '/')) {
        const char *seg = s + 1, *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return bad(r, "dot segment in path");
    }
    return UC_ROUTE_OK;
}

/* Split r->path into at most max segments (pointers into a copy). */
static size_t split(char *copy, const char *path, const char **seg, size_t max)
{
    memcpy(copy, path, strlen(path) + 1); /* both UC_ROUTE_PATH_MAX */
    size_t n = 0;
    for (char *s = copy + 1; n < max;) {
        seg[n++] = s;
        char *slash = strchr(s, '/');
        if (!slash)
            break;
        *slash = 0;
        s = slash + 1;
    }
    return n;
}

/* /Content/XX/<SHA1><suffix>: exactly three segments, XX = the name's last two digits. */
static enum uc_route_rc content(struct uc_route *r, const char **seg, size_t n)
{
    if (n != 3 || !uc_content_name_parse(seg[1], seg[2], r->sha1, r->suffix))
        return UC_ROUTE_NOT_FOUND;
    return UC_ROUTE_OK;
}

/* /c|d/msdownload/<any>/<name>_<SHA1>.<ext>: the SHA-1 after the last '_' of the name. */
static enum uc_route_rc msdownload(struct uc_route *r)
{
    const char *name = strrchr(r->path, '/') + 1;
    const char *us = strrchr(name, '_');
    if (!us || strlen(us + 1) < 42 || us[41] != '.' || uc_hex_decode(us + 1, 40, r->sha1, 20))
        return UC_ROUTE_NOT_FOUND;
    size_t n = strlen(us + 41);
    if (n >= UC_SUFFIX_MAX)
        return UC_ROUTE_NOT_FOUND;
    for (size_t i = 0; i <= n; i++)
        r->suffix[i] = (char)tolower((unsigned char)us[41 + i]);
    return uc_suffix_valid(r->suffix) ? UC_ROUTE_OK : UC_ROUTE_NOT_FOUND;
}

enum uc_route_rc uc_route_eval(const char *target, size_t len, bool tls, struct uc_route *out)
{
    memset(out, 0, sizeof(*out));
    enum uc_route_rc rc = decode(target, len, out);
    if (rc)
        return rc;
    char copy[UC_ROUTE_PATH_MAX];
    const char *seg[4];
    size_t n = split(copy, out->path, seg, 4);
    if (n >= 3 && (!strcasecmp(seg[0], "c") || !strcasecmp(seg[0], "d")) &&
        !strcasecmp(seg[1], "msdownload")) {
        out->root = UC_ROOT_MSDOWNLOAD;
        if (tls)
            return UC_ROUTE_FORBIDDEN; /* no file bytes on the TLS port */
        return msdownload(out);
    }
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        if (strcasecmp(seg[0], roots[i].name))
            continue;
        out->root = roots[i].root;
        if (tls ? !roots[i].tls : !roots[i].plain) {
            out->tls_only = !tls;
            return UC_ROUTE_FORBIDDEN;
        }
        return out->root == UC_ROOT_CONTENT ? content(out, seg, n) : UC_ROUTE_OK;
    }
    return UC_ROUTE_NOT_FOUND;
}
