/*
 * Progress for long operations: a redrawn bar (bytes, rate, ETA) when stderr is a
 * terminal, plain lines every few seconds otherwise (logs, CI, pipes).
 */
#ifndef UC_PROGRESS_H
#define UC_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uc_progress {
    const char *what;
    uint64_t total_bytes;
    size_t total_items;
    _Atomic uint64_t done_bytes; /* advanced by worker threads */
    _Atomic size_t done_items;
    double start, last;
    bool tty, drawn, quiet;
};

void progress_init(struct uc_progress *p, const char *what, uint64_t total_bytes,
                   size_t total_items);
/* Redraw if due; call from one thread only. */
void progress_tick(struct uc_progress *p);
/* Final redraw and newline on a terminal. */
void progress_finish(struct uc_progress *p);

#endif
