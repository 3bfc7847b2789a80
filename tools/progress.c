/*
 * Progress reporting. Workers only bump atomic counters; the thread that waits for
 * them draws, so output never interleaves.
 */
#include "progress.h"
#include "cli.h"
#include "strparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void progress_init(struct uc_progress *p, const char *what, uint64_t total_bytes,
                   size_t total_items)
{
    p->what = what;
    p->total_bytes = total_bytes;
    p->total_items = total_items;
    atomic_store(&p->done_bytes, 0);
    atomic_store(&p->done_items, 0);
    p->start = p->last = cli_now();
    p->tty = isatty(STDERR_FILENO);
    p->drawn = false;
    p->quiet = getenv("UPDCACHE_NO_PROGRESS") != NULL;
}

static void draw(struct uc_progress *p, double now)
{
    uint64_t done = atomic_load(&p->done_bytes);
    size_t items = atomic_load(&p->done_items);
    double secs = now - p->start;
    double rate = secs > 0 ? (double)done / secs : 0;
    double frac = p->total_bytes ? (double)done / (double)p->total_bytes : 1.0;
    char d[32], t[32], r[32], eta[32] = "--:--";
    uc_fmt_bytes(done, d, sizeof(d));
    uc_fmt_bytes(p->total_bytes, t, sizeof(t));
    uc_fmt_bytes((uint64_t)rate, r, sizeof(r));
    if (rate > 0 && done < p->total_bytes) {
        unsigned left = (unsigned)((double)(p->total_bytes - done) / rate);
        snprintf(eta, sizeof(eta), "%u:%02u", left / 60, left % 60);
    }
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %3d%% %s/%s %s/s ETA %s (%zu/%zu files)\033[K", p->what, bar,
                (int)(frac * 100), d, t, r, eta, items, p->total_items);
    } else {
        fprintf(stderr, "%s: %s of %s (%d%%), %zu/%zu files, %s/s, ETA %s\n", p->what, d, t,
                (int)(frac * 100), items, p->total_items, r, eta);
    }
    p->drawn = true;
}

void progress_tick(struct uc_progress *p)
{
    double now = cli_now();
    if (p->quiet || now - p->last < (p->tty ? 0.1 : 5.0))
        return;
    p->last = now;
    draw(p, now);
}

void progress_finish(struct uc_progress *p)
{
    if (p->quiet || !p->drawn)
        return;
    draw(p, cli_now());
    if (p->tty)
        fputc('\n', stderr);
}
