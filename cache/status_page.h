/*
 * GET /APIRemoting30/status (SPEC §14): the counters of /APIRemoting30/stats as one HTML
 * page for a person. Self-contained: inline CSS and an inline SVG chart, no script, no
 * outside resource (the listener sends it with a Content-Security-Policy that forbids
 * any). Every value cell carries data-key, the path of the same number in the stats
 * JSON, so a test (or a scraper) can hold the two side by side.
 */
#ifndef UC_STATUS_PAGE_H
#define UC_STATUS_PAGE_H

#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

struct uc_status_chart {
    const uint64_t *steps; /* requests per finished step, oldest first */
    size_t n;
    uint64_t current; /* requests in the step still running */
    unsigned step_s;
};

/* The page (malloc'd, NUL-terminated; *len its length), or NULL when out of memory. name
 * is the server's [server] name (may be NULL); now the unix time it shows. */
char *uc_status_page(const struct uc_metrics *sum, const struct uc_metrics_extra *x,
                     const struct uc_status_chart *chart, const char *name, int64_t now,
                     size_t *len);

#endif
