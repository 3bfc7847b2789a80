/*
 * The updcache INI file (SPEC §8), read with inih. Unknown sections or keys, repeated
 * keys and bad values are errors naming file:line:key; every error in the file is
 * reported, not just the first. Relative paths are taken relative to the directory of
 * the config file, so a store and its config can move together.
 */
#ifndef UC_CONFIG_H
#define UC_CONFIG_H

#include "uc.h"

#include <stdbool.h>
#include <stdint.h>

#define UC_CONFIG_DEFAULT "/etc/updcache/updcache.conf"
/* Most io_uring workers a daemon runs: each holds an index reader slot (index.h). */
#define UC_WORKERS_MAX 1024

/* The largest [server] max_body_bytes: a POST body is held whole in memory, and the
 * plain port's input buffer is sized in 32 bits. */
#define UC_MAX_BODY_LIMIT (64ULL << 20)

struct uc_strlist {
    size_t n;
    char **v; /* owned */
};

struct uc_config {
    char *path; /* the file read, or NULL when only defaults apply */

    /* [server] */
    char *name;
    int https_port; /* 0 = no TLS */
    int http_port;  /* effective plain port (derived from https_port when set) */
    char *listen;
    char *store;
    uint64_t workers;
    uint64_t max_connections;
    uint64_t header_timeout, keepalive_timeout; /* seconds */
    uint64_t max_request_line, max_header_bytes, max_headers;
    uint64_t max_ranges, max_body_bytes, hot_cache;
    char *access_log, *error_log, *pid_file, *port_file;

    /* [tls] */
    char *tls_cert, *tls_key;

    /* [upstream] */
    char *upstream_url, *ca_file, *content_url, *downstream_id, *downstream_secret;
    struct uc_strlist resolve, publisher_keys;
    uint64_t parallel, interval;
    bool fill_on_demand; /* fill = on-demand (SPEC §13); default all */

    /* [auth] */
    struct uc_strlist downstreams;
    char *client_secret, *admin_token;
    uint64_t cookie_ttl;

    /* [store] */
    uint64_t max_size;
    uint64_t min_free_pct;   /* percent of the filesystem, when given as N% */
    uint64_t min_free_bytes; /* bytes, when given as a size */
    uint64_t index_size;     /* upper bound of the LMDB map; 0 = grows (index.h) */
    uint64_t reports_keep;   /* seconds client reports are kept */
};

/* Fill cfg with the defaults of SPEC §8 (paths absolute). */
int uc_config_defaults(struct uc_config *cfg);

/*
 * Load path over the defaults. With path NULL, UC_CONFIG_DEFAULT is read if it exists,
 * else defaults apply. Returns 0, or UC_ECONFIG with every problem in eb, one per line
 * ("FILE:LINE: [section] key: what is wrong"), or -errno when the file cannot be read.
 */
int uc_config_load(const char *path, struct uc_config *cfg, struct uc_errbuf *eb);
/* The same, optionally accepting https_port without name, cert or key (configure-ssl
 * loads a config it is about to complete). */
int uc_config_load_ex(const char *path, struct uc_config *cfg, bool tls_incomplete_ok,
                      struct uc_errbuf *eb);
void uc_config_free(struct uc_config *cfg);

/* The plain port paired with an HTTPS port: 443 -> 80, N -> N-1 (WSUS's rule). */
int uc_config_paired_http_port(int https_port);

/* "https://HOST[:PORT]/" (tls) or "http://HOST[:PORT]/", the port left out when it is the
 * scheme's default (443, 80), as the URLs clients are told to use. */
void uc_url_base(char *out, size_t cap, bool tls, const char *host, int port);

#endif
