/*
 * Idle keep-alive connections (--idle N): each sends one GET, reads the whole answer,
 * then stays open and silent for the run, so the server's memory per open connection
 * can be measured. Blocking sockets with the run's timeout: this is setup, not load.
 */
#ifndef UC_LG_IDLE_H
#define UC_LG_IDLE_H

#include "loadgen.h"

struct uc_idle {
    int *fds;
    unsigned n;      /* connections that completed their GET */
    unsigned failed; /* connect, send or response failures */
};

/* Open up to want connections. 0, or -ENOMEM. Failures are counted in failed. */
int uc_idle_open(const struct uc_lg_config *cfg, unsigned want, struct uc_idle *out);
/* How many are still open: no EOF, reset or error pending on the socket. */
unsigned uc_idle_count_open(const struct uc_idle *idle);
void uc_idle_close(struct uc_idle *idle);

#endif
