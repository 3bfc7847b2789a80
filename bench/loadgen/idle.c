/*
 * Idle connections: see idle.h.
 */
#include "idle.h"

#include "resp.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* One GET on a fresh blocking socket, answer read in full. The fd, or -1. */
static int open_one(const struct uc_lg_config *cfg)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {
        .tv_sec = (time_t)cfg->timeout_s,
        .tv_usec = (suseconds_t)((cfg->timeout_s - (double)(time_t)cfg->timeout_s) * 1e6)};
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const struct uc_url *u = &cfg->urls[0];
    if (connect(fd, (const struct sockaddr *)&cfg->addr, sizeof(cfg->addr)) < 0 ||
        send(fd, u->get_req, u->get_len, MSG_NOSIGNAL) != (ssize_t)u->get_len)
        goto fail;
    char buf[8192];
    size_t len = 0;
    struct uc_resp r;
    for (;;) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n <= 0)
            goto fail;
        len += (size_t)n;
        int rc = uc_resp_parse(buf, len, sizeof(buf), &r);
        if (rc == UC_RESP_OK)
            break;
        if (rc != UC_RESP_AGAIN)
            goto fail;
    }
    if (r.status != 200 || !r.has_content_length || r.has_transfer_encoding || r.conn_close)
        goto fail;
    uint64_t have = len - r.head_len;
    while (have < r.content_length) {
        uint64_t left = r.content_length - have;
        ssize_t n = recv(fd, NULL, left > (1u << 30) ? (1u << 30) : (size_t)left, MSG_TRUNC);
        if (n <= 0)
            goto fail;
        have += (uint64_t)n;
    }
    if (have != r.content_length)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

int uc_idle_open(const struct uc_lg_config *cfg, unsigned want, struct uc_idle *out)
{
    out->n = out->failed = 0;
    out->fds = calloc(want ? want : 1, sizeof(int));
    if (!out->fds)
        return -ENOMEM;
    for (unsigned i = 0; i < want; i++) {
        int fd = open_one(cfg);
        if (fd < 0)
            out->failed++;
        else
            out->fds[out->n++] = fd;
    }
    return 0;
}

unsigned uc_idle_count_open(const struct uc_idle *idle)
{
    unsigned open = 0;
    for (unsigned i = 0; i < idle->n; i++) {
        struct pollfd p = {.fd = idle->fds[i], .events = POLLIN | POLLRDHUP};
        if (poll(&p, 1, 0) == 0)
            open++;
    }
    return open;
}

void uc_idle_close(struct uc_idle *idle)
{
    for (unsigned i = 0; i < idle->n; i++)
        close(idle->fds[i]);
    free(idle->fds);
    idle->fds = NULL;
    idle->n = 0;
}
