/*
 * Serial lanes on a thread pool: see lanes.h. One lock guards every lane and the ready
 * list; jobs are whole pieces of a file (1 MiB), so the lock is taken a few thousand
 * times a second at most.
 */
#include "lanes.h"

#include "parallel.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define THREADS_MAX 64

struct uc_lanes {
    pthread_mutex_t mu;
    pthread_cond_t cv, idle; /* idle: a lane went inactive */
    struct uc_lane *ready, *ready_tail;
    bool stop;
    unsigned n;
    pthread_t t[THREADS_MAX];
};

static void make_ready(struct uc_lanes *p, struct uc_lane *l)
{
    l->next_ready = NULL;
    if (p->ready_tail)
        p->ready_tail->next_ready = l;
    else
        p->ready = l;
    p->ready_tail = l;
    pthread_cond_signal(&p->cv);
}

static void *run(void *arg)
{
    struct uc_lanes *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->ready && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        struct uc_lane *l = p->ready;
        if (!l)
            break; /* stopping, and nothing is left */
        if (!(p->ready = l->next_ready))
            p->ready_tail = NULL;
        struct uc_lane_job *j = l->head;
        if (!(l->head = j->next))
            l->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->fn(j);
        pthread_mutex_lock(&p->mu);
        if (l->head) /* behind the other ready lanes: one busy file does not starve them */
            make_ready(p, l);
        else {
            l->active = false;
            pthread_cond_broadcast(&p->idle);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int uc_lanes_start(unsigned nthreads, struct uc_lanes **out)
{
    struct uc_lanes *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    if (!nthreads)
        nthreads = uc_ncpu();
    if (nthreads > THREADS_MAX)
        nthreads = THREADS_MAX;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (; p->n < nthreads; p->n++)
        if (pthread_create(&p->t[p->n], NULL, run, p))
            break;
    if (!p->n) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        pthread_cond_destroy(&p->idle);
        free(p);
        return -EAGAIN;
    }
    *out = p;
    return 0;
}

void uc_lanes_stop(struct uc_lanes *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->t[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->idle);
    free(p);
}

void uc_lane_init(struct uc_lane *l, struct uc_lanes *p)
{
    *l = (struct uc_lane){.pool = p};
}

void uc_lane_push(struct uc_lane *l, struct uc_lane_job *j)
{
    struct uc_lanes *p = l->pool;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    if (!l->active) {
        l->active = true;
        make_ready(p, l);
    }
    pthread_mutex_unlock(&p->mu);
}

void uc_lane_wait_idle(struct uc_lane *l)
{
    struct uc_lanes *p = l->pool;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    while (l->active)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
