/*
 * Fill on miss (SPEC §13): a file whose signed record is known but whose bytes are not
 * here is fetched from the upstream's plain port by one fill thread (libcurl multi), in
 * ranged GETs of one block (1 MiB) each, into tmp/fill-<SHA1>.part. Each block is
 * checked against its digest from the index (verified against the signed blocks_sha256
 * by sync) before it is written, and only then marked ready: the workers send a
 * client nothing but ready bytes, straight from the part file. When every block is
 * ready, the whole file's SHA-1 and SHA-256 are checked and it is published the
 * crash-safe way of SPEC §4. A record without block digests is fetched whole and
 * verified before any of it is ready.
 *
 * One fill per file: later misses join it. The blocks the waiting clients need are
 * fetched first. A fill goes on when its clients leave; a restart finds the part file
 * and keeps the blocks that still match.
 *
 * Threads: workers call join/ready/want/release; the fill thread does the network work
 * and the publish, the blocks' checks and writes run on lanes (on one core: on the fill
 * thread as the bytes arrive), each file's whole-file pass and fsync on a thread of its
 * own; whoever makes blocks ready or ends a fill wakes the workers (uc_worker_wake).
 * Block readiness is an acquire/release flag per block, so ready() takes no lock.
 */
#ifndef UC_FILL_H
#define UC_FILL_H

#include "index.h"

#include <stdbool.h>
#include <stdint.h>

struct uc_daemon;
struct uc_fills;
struct uc_fill;

/*
 * Start the fill thread for d ([upstream] fill = on-demand with an url); *out NULL and
 * 0 when fills are off. Returns 0, or -1 with err set.
 */
int uc_fills_start(struct uc_daemon *d, struct uc_fills **out, char *err, size_t errlen);
/* Stop fetching (part files stay for the next start) and free everything. After the
 * workers have stopped. */
void uc_fills_stop(struct uc_fills *fs);

/*
 * Start or join the fill of rec (a signed record whose bytes are not here: evicted, or
 * purged), wanting the block at off first.
 * Returns the fill, held until uc_fill_release(); NULL when none can start, with
 * *status (503, 507) and *why set.
 */
struct uc_fill *uc_fill_join(struct uc_fills *fs, const struct uc_file_rec *rec, uint64_t off,
                             int *status, const char **why);
/* The part file's descriptor, for sendfile/splice of ready bytes (owned by the fill). */
int uc_fill_fd(const struct uc_fill *f);
/*
 * Bytes from off (at most len) that are verified and written: > 0 to send, 0 when the
 * next byte is not ready yet (call uc_fill_want and wait for a wake-up), -1 when the fill
 * failed before reaching off (then *status and *why say how).
 */
int64_t uc_fill_ready(struct uc_fill *f, uint64_t off, uint64_t len, int *status, const char **why);
/* A client waits for the byte at off: fetch its block next. */
void uc_fill_want(struct uc_fill *f, uint64_t off);
void uc_fill_release(struct uc_fill *f);

#endif
