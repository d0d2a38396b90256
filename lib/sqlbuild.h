/*
 * The SQL text of one class: the age test, the hold test and the pinned-row
 * test, and the statements built from them (counts, batched DELETE, the
 * archive COPY, rows kept per hold). Every path that counts or removes rows
 * (dry run, batches, archive) uses these same pieces, so a dry run can only
 * disagree with the real run if the data changed in between.
 *
 * COPY takes no bind parameters, so the cutoff and the class name are
 * inlined as literals escaped by libpq. The cutoff is text the server itself
 * produced and the class name has passed policy_identifier_ok; identifiers
 * come quoted from lib/catalog.c. Nothing from a user reaches SQL raw.
 */
#ifndef RETENTION_SQLBUILD_H
#define RETENTION_SQLBUILD_H

#include <libpq-fe.h>
#include <stdint.h>

#include "catalog.h"
#include "error.h"
#include "policy.h"

typedef struct class_sql {
	char *old;      /* "t.<ts> < <cutoff>": the row is past its retention */
	char *held;     /* an open hold matches the row; written as IN, so never negated */
	char *pinned;   /* a child row still references it; "false" without such keys */
	char *eligible; /* old AND NOT held AND NOT pinned, written for the planner */
} class_sql;

/*
 * Builds the pieces for class c with alias t. cutoff_utc is the server's text
 * of the cutoff instant; cutoff_local the same instant as local wall time in
 * the policy's zone (used for timestamp and date columns).
 */
ret_code sqlbuild_class(PGconn *conn, const policy_class *c, const class_catalog *cat,
                        const char *cutoff_utc, const char *cutoff_local, class_sql *out,
                        ret_error *err);

void sqlbuild_free(class_sql *s);

/*
 * Counts per leaf relation, in one scan: quoted relation name, total,
 * undated, held, pinned, eligible, and the first and last heap block that
 * hold an eligible row (NULL when none). Caller frees.
 */
char *sqlbuild_stats(const class_catalog *cat, const class_sql *s);

/*
 * The same counts for one leaf relation rel (quoted), over the heap blocks
 * [from_block, to_block) only (to_block < 0: to the relation's end), as one
 * row: total, undated, held, pinned, eligible, first and last block with an
 * eligible row (NULL when none). Summed over ranges that cover the leaf they
 * are sqlbuild_stats's row for it on unchanged data. Caller frees.
 */
char *sqlbuild_stats_range(const char *rel, const class_catalog *cat, const class_sql *s,
                           int64_t from_block, int64_t to_block);

/*
 * DELETE of the eligible rows of relation rel (one leaf of the stats, read
 * ONLY) between heap blocks [from_block, to_block). returning adds
 * "RETURNING t.*" for the archive.
 */
char *sqlbuild_delete(const char *rel, const class_sql *s, int64_t from_block, int64_t to_block,
                      int returning);

/* The archive statement: COPY (DELETE ... RETURNING t.*) TO STDOUT as CSV with a header. */
char *sqlbuild_archive_copy(const char *rel, const class_sql *s, int64_t from_block,
                            int64_t to_block);

/*
 * Rows past retention that each open hold keeps in this class: hold_id,
 * ticket, match_column, match_value, class_name, rows, one row per open hold
 * of the class's hold keys (0 rows included), ordered by ticket and hold_id.
 * With rel NULL over the class's whole table; otherwise over leaf rel's heap
 * blocks [from_block, to_block) only (to_block < 0: to its end), so that sums
 * over ranges covering every leaf are the whole table's counts. Caller frees.
 */
char *sqlbuild_rows_per_hold(PGconn *conn, const policy_class *c, const class_catalog *cat,
                             const class_sql *s, const char *rel, int64_t from_block,
                             int64_t to_block);

/*
 * The keys (as text) of the rows past retention that an open hold keeps, in
 * leaf rel's heap blocks [from_block, to_block) (to_block < 0: to its end),
 * unordered. Caller frees.
 */
char *sqlbuild_held_keys_range(const char *rel, const class_catalog *cat, const class_sql *s,
                               int64_t from_block, int64_t to_block);

#endif
