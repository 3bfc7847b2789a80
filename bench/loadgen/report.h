/*
 * Results of a run: the human summary on stdout and the --json document.
 */
#ifndef UC_LG_REPORT_H
#define UC_LG_REPORT_H

#include "loadgen.h"

#include <stdio.h>

struct uc_lg_result {
    struct uc_lg_stats st; /* merged over workers */
    double duration_s;     /* measured phase */
    unsigned threads;
    unsigned idle_open;
    unsigned idle_wanted;
};

uint64_t uc_lg_error_total(const struct uc_lg_result *r);
void uc_lg_print_summary(FILE *f, const struct uc_lg_config *cfg, const struct uc_lg_result *r);
/* Write the JSON document to path. 0 or -1 (message on stderr). */
int uc_lg_write_json(const char *path, const struct uc_lg_config *cfg,
                     const struct uc_lg_result *r);

#endif
