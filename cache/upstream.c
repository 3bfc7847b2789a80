/*
 * The upstream's addresses: see upstream.h.
 */
#include "upstream.h"

#include "strparse.h"
#include "x509.h"

#include <stdio.h>
#include <string.h>

static int parse_url(struct uc_upstream *n, const char *url, struct uc_errbuf *eb)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL;
    int rc = 0;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0))
        rc = uc_errf(eb, UC_ECONFIG, "[upstream] url '%s' is not a URL", url);
    else if (strcmp(scheme, "https") != 0)
        rc = uc_errf(eb, UC_ECONFIG,
                     "[upstream] url '%s': metadata comes over TLS only: use https://", url);
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
        rc = uc_errf(eb, UC_ECONFIG, "[upstream] url '%s': no credentials in the URL", url);
    if (!rc) {
        const char *why;
        if (!uc_fqdn_valid(host, &why))
            rc = uc_errf(eb, UC_ECONFIG, "[upstream] url '%s': host '%s': %s", url, host, why);
    }
    uint64_t p = 443;
    if (!rc && curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
        (uc_parse_u64(port, &p) || p < 2 || p > 65535))
        rc = uc_errf(eb, UC_ECONFIG, "[upstream] url '%s': bad port", url);
    if (!rc && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/"))
        rc = uc_errf(eb, UC_ECONFIG,
                     "[upstream] url '%s': give the server only (https://NAME:PORT/)", url);
    if (!rc) {
        snprintf(n->host, sizeof(n->host), "%s", host);
        n->port = (int)p;
        uc_url_base(n->base, sizeof(n->base), true, host, (int)p);
        uc_url_base(n->content, sizeof(n->content), false, host,
                    uc_config_paired_http_port((int)p));
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

int uc_upstream_init(struct uc_upstream *n, const struct uc_config *cfg, struct uc_errbuf *eb)
{
    memset(n, 0, sizeof(*n));
    if (!cfg->upstream_url)
        return uc_errf(eb, UC_ECONFIG,
                       "no [upstream] url in the config: name the upstream "
                       "server (https://NAME:PORT/)");
    int rc = parse_url(n, cfg->upstream_url, eb);
    if (rc)
        return rc;
    if (cfg->content_url)
        snprintf(n->content, sizeof(n->content), "%s%s", cfg->content_url,
                 cfg->content_url[strlen(cfg->content_url) - 1] == '/' ? "" : "/");
    /* resolve = NAME:PORT:ADDR; an entry for the TLS port covers its paired plain port. */
    for (size_t i = 0; i < cfg->resolve.n; i++) {
        const char *e = cfg->resolve.v[i];
        n->resolve = curl_slist_append(n->resolve, e);
        char name[256];
        int port;
        const char *addr;
        if (sscanf(e, "%255[^:]:%d:", name, &port) == 2 &&
            (addr = strchr(strchr(e, ':') + 1, ':')) && port == n->port) {
            char paired[400];
            snprintf(paired, sizeof(paired), "%s:%d%s", name, uc_config_paired_http_port(port),
                     addr);
            n->resolve = curl_slist_append(n->resolve, paired);
        }
    }
    return 0;
}

void uc_upstream_free(struct uc_upstream *u)
{
    curl_slist_free_all(u->resolve);
    u->resolve = NULL;
}
