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

/* A transmission operation (OP_SEND, OP_SPLICE_IN, OP_POLL_OUT) completed with res. */
void uc_tx_on_complete(struct uc_conn *c, enum uc_op op, int res);

#endif
