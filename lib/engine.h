/*
 * The purge engine: one run of a policy against one database. It prepares
 * (schema check, advisory lock, as-of time, catalog checks, cutoffs, counts
 * and guards, all before anything is removed), executes each class in small
 * batches, and leaves a complete account of what happened in run_state for
 * the report. It never prints; progress goes through lib/log.
 */
#ifndef RETENTION_ENGINE_H
#define RETENTION_ENGINE_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "batchlog.h"
#include "catalog.h"
#include "error.h"
#include "evidence.h"
#include "keydigest.h"
#include "policy.h"
#include "sign.h"
#include "sqlbuild.h"

typedef struct segment_record {
	char path[512]; /* relative to the archive directory */
	char sha256[65];
	int64_t rows;
	int64_t bytes;
	int batch;
} segment_record;

/* One open hold as seen by one class, with the rows it kept there. */
typedef struct hold_record {
	int64_t hold_id;
	char ticket[80];
	char match_column[POLICY_NAME_MAX];
	char match_value[260];
	char class_name[POLICY_NAME_MAX]; /* the hold's own scope; empty for every class */
	char counted_in[POLICY_NAME_MAX]; /* the class these rows belong to */
	int64_t rows_held;
} hold_record;

typedef struct leaf_stats {
	char qname[CATALOG_QNAME_MAX];
	int64_t total, undated, held, pinned;
	int64_t eligible;
	int64_t lo_block; /* first block with an eligible row; -1 when none */
	int64_t hi_block;
	bool done; /* removed whole (dropped) or given up for this run: no batches */
} leaf_stats;

/*
 * A partition wholly before the cutoff that the run tried to remove whole:
 * outcome "dropped"; "skipped" (not locked within lock_timeout, left for the
 * next run); or "detached" (its rows are out of the class's table and
 * accounted for, but DROP failed: the table is left for an operator).
 */
typedef struct partition_record {
	char name[CATALOG_QNAME_MAX];
	int64_t rows;
	const char *outcome;
	char reason[256];
} partition_record;

typedef struct class_result {
	const policy_class *cls;
	class_catalog cat;
	class_sql sql;
	bool checked; /* catalog and SQL are ready */
	char cutoff[40]; /* ISO 8601 UTC, for the report */
	char cutoff_utc[64];
	char cutoff_local[64];
	const char *status; /* pending, ok, kept, failed, refused, interrupted, not-run */
	char error[1024];
	char sqlstate[6];
	char guard[32];
	char guard_detail[512];
	int64_t total, eligible, purged, archived, held, undated, pinned;
	/*
	 * A batch found more rows than the class had left of its counted
	 * eligible: it was rolled back and the class stopped there (rows became
	 * eligible during the run and are left for the next run's count).
	 */
	bool stopped_at_count;
	int batches;
	int retries;
	double seconds;
	leaf_stats *leaves;
	int n_leaves;
	segment_record *segments;
	int n_segments, cap_segments;
	/* Evidence: the keys removed (in a dry run: eligible) and held; lib/keydigest.h. */
	key_digest removed_keys;
	key_digest held_keys;
	char capture_table[64]; /* this session's table of removed keys; empty when none */
	partition_record *partitions;
	int n_partitions, cap_partitions;
	/* Upkeep after a class removed more than 10% of its table. */
	bool analyzed, vacuumed;
	int64_t n_dead_tup; /* pg_stat_user_tables after the upkeep, summed over leaves; -1 unknown */
} class_result;

/*
 * An archive file set aside: where it was and where it is now. set_aside_by
 * names the earlier run that first moved it into its own orphans/<run id>/
 * but never recorded a report that names it; empty when this run found it
 * beside the committed segments.
 */
typedef struct orphan_record {
	char from[512];
	char to[512];
	char set_aside_by[37];
} orphan_record;

/*
 * The report of an earlier run that wrote and signed it but could not record
 * it in the ledger (its database went away): this run checked it and
 * recorded it in that run's ledger row, and chains to it.
 */
typedef struct adopted_report {
	char run_id[37];
	int64_t sequence;
	char file[256];
	char sha256[65];
	char status[16];
	int exit_code;
} adopted_report;

typedef struct run_options {
	const char *run_id;            /* a UUID already in the logs; NULL: engine_init makes one */
	const char *archive_dir;       /* required when the policy has archive classes */
	const char *report_dir;        /* execute runs: where an earlier run's report may wait */
	const signing_key *key;        /* the key this run signs with; a report it adopts must
	                                  verify with it */
	bool dry_run;
	const char *as_of;             /* dry runs only; NULL means the server's now() */
	int progress_interval_s;       /* 0 disables progress lines */
	int max_clock_skew_s;          /* guard: database clock against the host's */
	volatile sig_atomic_t *stop;   /* set by a signal handler (atomically: __atomic_store_n);
	                                  checked between batches by every worker */
	int jobs;                      /* sessions working on classes at once, 1..ENGINE_JOBS_MAX */
	const char *conninfo;          /* what conn was opened with, for the other sessions of jobs */
} run_options;

/* The most sessions one run works with (--jobs). */
#define ENGINE_JOBS_MAX 64

typedef struct run_state {
	const policy *pol;
	PGconn *conn;
	run_options opt;
	char run_id[37];
	char as_of[40];      /* ISO 8601 UTC */
	char as_of_raw[64];  /* the server's text, used in SQL */
	char db_name[128];
	char system_identifier[32];
	char server_version[32];
	char db_user[128];
	int64_t sequence;    /* executed runs: 1, 2, ... per policy name; 0 for dry runs */
	char previous_report_sha256[65];
	bool ledger_row;     /* a retention.runs row exists for this run */
	bool row_taken_over; /* engine_record_report found that row closed by a later run */
	bool locked;
	int lock_pid;        /* the backend of the session that holds the advisory lock */
	int lock_lost;       /* the run's own (not a view's): a --jobs session found the lock
	                        gone; stored and loaded atomically by the workers */
	bool conn_lost;
	bool interrupted;
	class_result *classes;
	int n_classes;
	hold_record *holds;
	int n_holds, cap_holds;
	orphan_record *orphans;
	int n_orphans, cap_orphans;
	char **warnings;
	int n_warnings, cap_warnings;
	char **unfinished_runs; /* earlier runs that never completed their ledger row */
	int n_unfinished, cap_unfinished;
	adopted_report *adopted; /* earlier runs' reports this run recorded in the ledger */
	int n_adopted, cap_adopted;
	batchlog_sum *unfinished_work; /* what their committed batches removed, per class */
	int n_unfinished_work;
	bool unfinished_work_read; /* false: the batch ledger was not (or could not be) read */
	run_evidence evidence; /* open holds and releases, read at the end of the run */
	ret_code outcome;    /* the run's overall outcome */
	char outcome_message[1024];
	struct worker_pool *pool; /* the sessions of --jobs, from the counts to the evidence */
	struct run_state *parent; /* in a worker's view of a run (engine.c): the run itself */
} run_state;

/* Sets up st for policy p on conn (both borrowed) with opt->run_id or a fresh run ID. */
void engine_init(run_state *st, const policy *p, PGconn *conn, const run_options *opt);

/*
 * Everything before the first row is removed: schema version, advisory lock
 * (execute only; RET_LOCKED when another run has it), as-of time, ledger row,
 * time zone and catalog checks, cutoffs, per-class counts, guards and the
 * orphan scan (which also takes over, into this run's orphans/<run id>/, the
 * orphans of runs that recorded no report). Before its own ledger row goes
 * in, an execute run adopts the report an earlier run left in opt.report_dir
 * without recording it, when that report checks out (lib/report.h,
 * report_check_stranded), so that it chains to it; earlier runs left without
 * a report are marked abandoned. A dry run opens one read-only REPEATABLE
 * READ transaction here that engine_execute ends, so all its numbers come
 * from one snapshot. With opt.jobs above 1 the classes are checked and
 * counted on the run's sessions (see engine_execute), all before any row is
 * removed.
 * Returns RET_USAGE or RET_GUARD when the run must not go on; nothing has
 * been deleted then.
 */
ret_code engine_prepare(run_state *st, ret_error *err);

/* Logs a warning and keeps it for the report's "warnings". */
void engine_warn(run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Removes (or, in a dry run, only counts) each class's eligible rows, then
 * counts the rows each open hold kept, computes each class's key digests and
 * reads the holds' evidence. A failing class is recorded and the others
 * still run. Returns RET_OK only when every class did all its work.
 *
 * With opt.jobs above 1, up to that many sessions work on classes at once
 * (engine_prepare opens them for the counts; engine_execute closes them):
 * st->conn (which keeps the advisory lock) and opt.jobs - 1 more, opened with
 * opt.conninfo to the same server and database and set up the same way, each
 * in a thread of its own. A class runs whole on one session, and its key
 * digests are computed on that session; in a dry run the other sessions
 * import st->conn's snapshot. Every class_result, the holds (in policy order)
 * and the warnings end up in st as with one session. SIGTERM and SIGINT are
 * blocked in the threads, so that the caller's handler runs in its thread.
 * Each batch on another session than st->conn first checks, in its own
 * transaction, that st->conn still holds the advisory lock; when it does not
 * (st->conn's session was ended), every session stops before its next batch,
 * st->lock_lost is set and the run fails: removing rows without the lock
 * would let a second run work beside this one.
 */
ret_code engine_execute(run_state *st, ret_error *err);

/* Status word for the report: success, failed, refused, interrupted, locked. */
const char *engine_status(const run_state *st);

/*
 * Completes this run's ledger row with its status, exit code and report
 * (execute runs only; a no-op for dry runs or when there is no row). A row a
 * later run already closed (marked abandoned) is left alone: RET_RUNTIME,
 * and st->row_taken_over is set.
 */
ret_code engine_record_report(run_state *st, int exit_code, const char *report_file,
                              const char *report_sha256, ret_error *err);

/* Releases the advisory lock and everything st owns (not the policy or the connection). */
void engine_free(run_state *st);

#endif
