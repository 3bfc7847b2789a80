/*
 * Client reports (SPEC §6): POST /ReportingWebService/events and POST /Inventory/report,
 * on either port. A body is validated here (a JSON object naming its client; events
 * carry an "events" array), wrapped with what the server knows (kind, time received,
 * peer address, port) and queued; one writer thread commits queued reports to the
 * index in batches, so neither the io_uring loop nor a TLS thread waits on a disk
 * flush. `updcache reports` lists them.
 *
 *   stored: {"kind": "events"|"inventory", "received": RFC3339, "peer": ADDR,
 *            "port": "http"|"https", "report": {...the body, byte for byte...}}
 */
#ifndef UC_REPORTS_H
#define UC_REPORTS_H

#include "index.h"

#include <stdbool.h>
#include <stddef.h>

enum uc_report_kind { UC_REPORT_EVENTS, UC_REPORT_INVENTORY };

#define UC_REPORT_EVENTS_MAX 1000 /* events in one report */
/* Bytes of reports waiting for the writer at most: past that, pushes are refused (503)
 * while the index cannot keep up, instead of the daemon's memory growing. */
#define UC_REPORTS_QUEUE_BYTES (16u << 20)

/*
 * Validate body[0..len) and build the record to store (malloc'd, *out_len bytes).
 * Returns 0, or 400 / 415 with a one-line reason in detail.
 */
int uc_report_build(enum uc_report_kind kind, const char *peer, bool tls, const char *body,
                    size_t len, char **out, size_t *out_len, char *detail, size_t dcap);

struct uc_reports;

/* Start the writer thread over ix (opened writable), holding at most max_queued. */
int uc_reports_start(struct uc_index *ix, size_t max_queued, uint64_t keep_secs,
                     struct uc_reports **out);
/* Queue a record (ownership passes on success); false when the queue is full (in count
 * or in bytes). */
bool uc_reports_push(struct uc_reports *r, char *record, size_t len);
/* Write what is queued, stop the thread, free. */
void uc_reports_stop(struct uc_reports *r);
/* Reports committed since start, and commit failures (logged). */
uint64_t uc_reports_stored(struct uc_reports *r);

#endif
