/*
 * The batch ledger, retention.batches: one row for each batch transaction of
 * an executed run that committed, inserted by that transaction just before
 * its COMMIT, so that the row and the batch's DELETE commit together or not
 * at all. A run killed after some batches writes no report, but its rows
 * here still say what it removed, class by class; `verify --db` adds them up
 * against each report. Archive batches get their row in the same statement
 * as their segment's ledger row (lib/engine.c); purge batches through here.
 */
#ifndef RETENTION_BATCHLOG_H
#define RETENTION_BATCHLOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "policy.h"

/* The migration that created the ledger: runs started before it have no rows there. */
#define BATCHLOG_SINCE_VERSION 4

/* What one run's committed batches removed from one class. */
typedef struct batchlog_sum {
	char run_id[37];
	char class_name[POLICY_NAME_MAX];
	bool archive; /* the rows were archived; otherwise purged */
	int64_t batches;
	int64_t rows;
} batchlog_sum;

/*
 * Records a committed purge batch of rows rows from relation. Must run inside
 * the batch's own transaction, after its DELETE and before its COMMIT.
 */
ret_code batchlog_record_purge(PGconn *conn, const char *run_id, const char *class_name,
                               const char *relation, int batch, int64_t rows, ret_error *err);

/*
 * The sums per run and class (then action) of the runs run_ids[0..n), ordered
 * by run ID and class; *out (caller frees) may be NULL when *n_out is 0.
 * Reads only, so it works in a dry run's read-only snapshot; needs SELECT on
 * retention.batches (SQLSTATE 42501 otherwise).
 */
ret_code batchlog_read(PGconn *conn, char *const *run_ids, int n, batchlog_sum **out,
                       int *n_out, ret_error *err);

/*
 * Describes one run's sums among sums[0..n) for a person: "class p purged 80
 * rows in 2 batches; class t archived ..." or "no batch committed".
 */
void batchlog_describe(const batchlog_sum *sums, int n, const char *run_id, char *buf,
                       size_t len);

#endif
