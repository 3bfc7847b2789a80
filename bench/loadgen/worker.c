/*
 * Worker thread: one epoll instance driving a share of the connections until the run's
 * end time or stop flag, with a periodic tick for timeouts, retries and rate tokens.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define TICK_NS 5000000 /* timeouts and retries are checked every 5 ms */

int64_t uc_lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds until the next tick, or sooner when --rate is waiting for a token. */
static int wait_ms(const struct uc_worker *w, int64_t next_tick)
{
    int64_t ns = next_tick - w->now;
    if (w->rate_starved && w->rate_per_s > 0) {
        double next = (double)w->rate_sent / w->rate_per_s * 1e9 + (double)w->rate_t0;
        int64_t rns = (int64_t)next - w->now;
        if (rns < ns)
            ns = rns;
    }
    if (ns <= 0)
        return 0;
    return (int)((ns + 999999) / 1000000);
}

static void run_loop(struct uc_worker *w)
{
    struct epoll_event ev[MAX_EVENTS];
    int64_t next_tick = w->now + TICK_NS;
    while (!atomic_load_explicit(&w->run->stop, memory_order_relaxed)) {
        int n = epoll_wait(w->epfd, ev, MAX_EVENTS, wait_ms(w, next_tick));
        if (n < 0 && errno != EINTR)
            break;
        w->now = uc_lg_now();
        if (w->now >= w->run->end_ns)
            break;
        for (int i = 0; i < n; i++)
            uc_conn_on_event(w, ev[i].data.ptr, ev[i].events);
        bool starved = w->rate_starved;
        if (w->now >= next_tick || starved) {
            w->rate_starved = false;
            for (unsigned i = 0; i < w->nconns; i++)
                uc_conn_tick(w, &w->conns[i]);
            if (w->now >= next_tick)
                next_tick = w->now + TICK_NS;
        }
    }
}

void *uc_worker_main(void *arg)
{
    struct uc_worker *w = arg;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->scratch = malloc(UC_LG_SCRATCH);
    if (w->epfd < 0 || !w->scratch) {
        w->fatal = -errno;
        atomic_store(&w->run->stop, true);
        free(w->scratch);
        return NULL;
    }
    w->now = uc_lg_now();
    w->rate_t0 = w->now;
    for (unsigned i = 0; i < w->nconns; i++)
        uc_conn_open(w, &w->conns[i]);
    run_loop(w);
    for (unsigned i = 0; i < w->nconns; i++)
        uc_conn_close(w, &w->conns[i]);
    close(w->epfd);
    free(w->scratch);
    return NULL;
}
