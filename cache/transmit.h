/*
 * Transmission: a planned response (the segments respond.c put in c->x->segs) onto the
 * socket, by the path that is cheapest without ever making the loop wait on the disk.
 * respond.c decides what to send; this file decides how.
 */
#ifndef UC_TRANSMIT_H
#define UC_TRANSMIT_H

#include "conn.h"

/*
 * Send c->x->segs[0..nseg) in order, then call uc_respond_done(). File segments read
 * from c->file_fd (open, owned by the connection). Call only on the owning worker; the
 * connection may be closing when it returns (socket errors, pipe exhaustion).
 */
void uc_tx_start(struct uc_conn *c);

/* A transmission operation (OP_SEND, OP_SPLICE_IN, OP_POLL_OUT, OP_HUP) completed. */
void uc_tx_on_complete(struct uc_conn *c, enum uc_op op, int res);

/*
 * Fills (fill.h): a response from a part file sends only verified bytes and waits on
 * the worker's list for more; its head waits for the first of them, so that a fill that
 * fails first still gets a clean error. uc_tx_fill_wake() resumes every waiter (the
 * fill thread woke the worker); uc_tx_unpark() takes one off the list.
 */
void uc_tx_fill_wake(struct uc_worker *w);
void uc_tx_unpark(struct uc_conn *c);

#endif
