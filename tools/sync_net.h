/*
 * The upstream side of `updcache sync` (SPEC §5-§7): libcurl handles configured with
 * the trust rules of SPEC §7 (the service's ca_file or the machine store, never a
 * per-user one; resolve= entries), the metadata calls over TLS, and parallel file
 * downloads over the paired plain port that hash while they stream and resume with
 * Range after an interruption.
 */
#ifndef UC_SYNC_NET_H
#define UC_SYNC_NET_H

#include "config.h"
#include "hash.h"
#include "lanes.h"
#include "meta.h"
#include "store.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

struct sync_net {
    const struct uc_config *cfg;
    char host[256];
    int port;          /* TLS port of the upstream */
    char base[320];    /* https://HOST[:PORT]/ */
    char content[320]; /* http://HOST[:PORT-1]/ or [upstream] content_url */
    struct curl_slist *resolve;
    char cookie[512];
    long floor_bps, floor_secs; /* slowest rate a transfer may keep, over that window */
    struct uc_lanes *lanes;     /* hash and write received pieces (NULL: inline) */
};

/* The floor: 1 KiB/s over 30 s, which any working link beats even shared by [upstream]
 * parallel transfers; UPDCACHE_SYNC_FLOOR=BPS/SECONDS changes it (tests). */
#define SYNC_FLOOR_BPS 1024
#define SYNC_FLOOR_SECS 30

/*
 * Check [upstream] url (https, a fully qualified name, no IP literal, port given unless
 * 443) and prepare the handles' settings. Returns 0 or an error in eb.
 */
int sync_net_init(struct sync_net *n, const struct uc_config *cfg, struct uc_errbuf *eb);
void sync_net_free(struct sync_net *n);

/* POST DSSAuthWebService/token with the downstream credentials: fills n->cookie. */
int sync_net_login(struct sync_net *n, struct uc_errbuf *eb);
/* GET a metadata path (relative to base) with the cookie; *body is malloc'd JSON of at
 * most max bytes (-EFBIG beyond, said in eb). */
int sync_net_get_json(struct sync_net *n, const char *path, size_t max, char **body, size_t *len,
                      struct uc_errbuf *eb);

/* One file to fetch and the result. */
struct sync_file {
    struct uc_update_file f; /* what the signed record says */
    char url[700];
    int attempts;
    double not_before; /* monotonic seconds: backoff */
    enum { SF_QUEUED, SF_RUNNING, SF_STAGED, SF_FAILED, SF_BAD, SF_PUBLISHED } state;
    struct uc_staged staged; /* SF_STAGED: the verified tmp file, flock held */
    char err[2048];          /* SF_FAILED / SF_BAD: why */
    /* transfer state */
    uint64_t have; /* bytes in the part file */
    struct uc_hasher h;
    bool hashing;
    long status;
    bool range_ignored;
};

struct sync_fetch_stats {
    uint64_t bytes; /* received over the network this run */
    size_t retries;
};

/*
 * Fetch every SF_QUEUED file with up to parallel transfers into st's tmp/, verify size,
 * SHA-1 and SHA-256, and leave each SF_STAGED (not yet fsync'ed) or SF_FAILED (transfer
 * kept failing: the part file stays for the next run to resume) or SF_BAD (the bytes
 * are not what the record says: quarantined). progress_bytes advances as bytes arrive.
 */
void sync_fetch_all(struct sync_net *n, struct uc_store *st, struct sync_file *files, size_t nfiles,
                    unsigned parallel, _Atomic uint64_t *progress_bytes, void (*tick)(void *),
                    void *tick_ctx, struct sync_fetch_stats *stats);

#endif
