/*
 * Where the upstream is (SPEC §7): [upstream] url checked and split, the content base on
 * its paired plain port (or [upstream] content_url), and the resolve= entries as libcurl
 * takes them, an entry for the TLS port also covering the paired plain port. Shared by
 * `updcache sync` and the daemon's fills, so both fetch files from the same place.
 */
#ifndef UC_UPSTREAM_H
#define UC_UPSTREAM_H

#include "config.h"
#include "uc.h"

#include <curl/curl.h>

struct uc_upstream {
    char host[256];
    int port;          /* TLS port of the upstream */
    char base[320];    /* https://HOST[:PORT]/ */
    char content[320]; /* http://HOST[:PORT-1]/ or [upstream] content_url, with a final / */
    struct curl_slist *resolve;
};

/* Fill u from cfg (url required); 0, or UC_ECONFIG with eb naming the setting. */
int uc_upstream_init(struct uc_upstream *u, const struct uc_config *cfg, struct uc_errbuf *eb);
void uc_upstream_free(struct uc_upstream *u);

#endif
