/*
 * One run of a policy: prepare everything, then remove rows class by class in
 * short batches, each its own transaction, with the hold test inside every
 * DELETE so that a hold committed before a batch starts is honoured by it.
 */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "archive.h"
#include "batchlog.h"
#include "db.h"
#include "fault.h"
#include "keydigest.h"
#include "log.h"
#include "migrate.h"
#include "report.h"
#include "strbuf.h"

/* Advisory lock key: one execute run per database at a time. */
#define RUN_LOCK_SQL "SELECT pg_try_advisory_lock(7400100)"
#define RUN_UNLOCK_SQL "SELECT pg_advisory_unlock(7400100)"
/* Whether backend $1 still holds that lock (a bigint key: classid 0, objid the key, objsubid 1). */
#define RUN_LOCK_HELD_SQL                                                                        \
	"SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1"    \
	" AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())" \
	" AND classid = 0 AND objid = 7400100 AND objsubid = 1"

#define BATCH_START_PAGES 128
#define BATCH_ATTEMPTS 3

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Grows an array of elements of size sz; false when out of memory. */
static bool
grow(void **arr, int *n, int *cap, size_t sz)
{
	if (*n < *cap)
		return true;
	{
		int want = *cap ? *cap * 2 : 8;
		void *p = realloc(*arr, (size_t)want * sz);

		if (p == NULL)
			return false;
		*arr = p;
		*cap = want;
	}
	return true;
}

static void
add_warning(run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Guards the warnings list, which the workers of a --jobs run share. */
static pthread_mutex_t warnings_lock = PTHREAD_MUTEX_INITIALIZER;

static void
add_warning(run_state *st, const char *fmt, ...)
{
	run_state *run = st->parent ? st->parent : st;
	char buf[1024];
	char *copy;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_WARNING, NULL, "%s", buf);
	copy = strdup(buf);
	pthread_mutex_lock(&warnings_lock);
	if (copy && grow((void **)&run->warnings, &run->n_warnings, &run->cap_warnings,
	                 sizeof(char *))) {
		run->warnings[run->n_warnings++] = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&warnings_lock);
	free(copy);
}

void
engine_warn(run_state *st, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add_warning(st, "%s", buf);
}

/*
 * Whether a signal asked the run to stop. The flag is set in a signal handler
 * and read by every worker thread: an atomic load, as the handler's store.
 */
static bool
stop_requested(const run_state *st)
{
	return st->opt.stop && __atomic_load_n(st->opt.stop, __ATOMIC_SEQ_CST);
}

/* The run a worker's view belongs to; st itself when it is the run. */
static run_state *
run_of(run_state *st)
{
	return st->parent ? st->parent : st;
}

/* Whether a session of the run found its advisory lock gone; read by every worker thread. */
static bool
lock_lost(run_state *st)
{
	return __atomic_load_n(&run_of(st)->lock_lost, __ATOMIC_SEQ_CST) != 0;
}

static ret_code
lock_lost_fail(const run_state *st, ret_error *err)
{
	ret_fail(err, RET_RUNTIME,
	         "the run lost its advisory lock: the session that held it (backend %d) is gone;"
	         " every session stopped before its next batch",
	         st->lock_pid);
	ret_hint(err, "another run may have started since; check the ledger and `retention verify"
	         " --chain` once it is done, then run again");
	return RET_RUNTIME;
}

/*
 * At the top of a batch's (or a whole partition's) transaction, before
 * anything is removed: whether the run's lock session still holds the
 * advisory lock. Without it a second run may already be removing the same
 * rows. A batch on the lock session itself needs no check: had that session
 * gone, so would the batch. When the lock is gone the run's lock_lost is set,
 * so that every worker stops before its next batch, and the caller rolls back.
 */
static ret_code
check_run_lock(run_state *st, ret_error *err)
{
	char pid[16];
	const char *params[1] = {pid};
	PGresult *res = NULL;
	bool held;
	ret_code rc;

	if (st->parent == NULL || st->conn == st->parent->conn)
		return RET_OK;
	snprintf(pid, sizeof(pid), "%d", st->lock_pid);
	rc = db_query(st->conn, "run lock check", RUN_LOCK_HELD_SQL, 1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	held = PQntuples(res) == 1;
	PQclear(res);
	if (held)
		return RET_OK;
	__atomic_store_n(&run_of(st)->lock_lost, 1, __ATOMIC_SEQ_CST);
	return lock_lost_fail(st, err);
}

static void
class_fail(class_result *cr, const char *status, const ret_error *e)
{
	cr->status = status;
	snprintf(cr->error, sizeof(cr->error), "%s", e->message);
	snprintf(cr->sqlstate, sizeof(cr->sqlstate), "%s", e->sqlstate);
	log_error_detail(cr->cls->name, e->message, e->hint, e->sqlstate);
}

void
engine_init(run_state *st, const policy *p, PGconn *conn, const run_options *opt)
{
	uuid_t u;

	memset(st, 0, sizeof(*st));
	st->pol = p;
	st->conn = conn;
	st->opt = *opt;
	if (opt->run_id && strlen(opt->run_id) == sizeof(st->run_id) - 1) {
		memcpy(st->run_id, opt->run_id, sizeof(st->run_id));
	} else {
		uuid_generate_random(u);
		uuid_unparse_lower(u, st->run_id);
	}
	st->classes = calloc((size_t)p->n_classes, sizeof(class_result));
	st->n_classes = st->classes ? p->n_classes : 0;
	for (int i = 0; i < st->n_classes; i++) {
		st->classes[i].cls = &p->classes[i];
		st->classes[i].status = "pending";
		st->classes[i].n_dead_tup = -1;
	}
}

/* Database identity for the report; each piece is best effort for low-privilege roles. */
static void
read_identity(run_state *st)
{
	PGresult *res = NULL;
	ret_error e;

	if (db_query(st->conn, "database identity",
	             "SELECT current_database(), current_setting('server_version'), current_user",
	             0, NULL, &res, &e) == RET_OK) {
		snprintf(st->db_name, sizeof(st->db_name), "%s", PQgetvalue(res, 0, 0));
		snprintf(st->server_version, sizeof(st->server_version), "%s", PQgetvalue(res, 0, 1));
		snprintf(st->db_user, sizeof(st->db_user), "%s", PQgetvalue(res, 0, 2));
		PQclear(res);
	}
	/* pg_control_system() may be revoked; a savepoint keeps a dry run's transaction alive. */
	if (st->opt.dry_run)
		PQclear(PQexec(st->conn, "SAVEPOINT identity"));
	if (db_query(st->conn, "system identifier",
	             "SELECT system_identifier::text FROM pg_control_system()", 0, NULL, &res,
	             &e) == RET_OK) {
		snprintf(st->system_identifier, sizeof(st->system_identifier), "%s",
		         PQgetvalue(res, 0, 0));
		PQclear(res);
	} else if (st->opt.dry_run) {
		PQclear(PQexec(st->conn, "ROLLBACK TO SAVEPOINT identity"));
	}
	if (st->opt.dry_run)
		PQclear(PQexec(st->conn, "RELEASE SAVEPOINT identity"));
}

/* The as-of instant, from the server's clock or from --as-of (dry runs). */
static ret_code
fix_as_of(run_state *st, ret_error *err)
{
	const char *params[1] = {st->opt.as_of};
	PGresult *res = NULL;
	ret_code rc;
	double skew;

	rc = db_query(st->conn, "as-of time",
	              st->opt.as_of
	                  ? "SELECT $1::timestamptz::text,"
	                    " to_char($1::timestamptz, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	                    " extract(epoch FROM clock_timestamp()),"
	                    " isfinite($1::timestamptz) AND $1::timestamptz"
	                    "  BETWEEN '1900-01-01 00:00+00' AND '9999-12-31 00:00+00'"
	                  : "SELECT now()::text, to_char(now(), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	                    " extract(epoch FROM clock_timestamp()), true",
	              st->opt.as_of ? 1 : 0, params, &res, err);
	if (rc != RET_OK) {
		if (st->opt.as_of && err && strncmp(err->sqlstate, "22", 2) == 0) {
			ret_prefix(err, "--as-of \"%s\" is not a timestamp", st->opt.as_of);
			return err->code = RET_USAGE;
		}
		return rc;
	}
	/* infinity and the far past or future would give cutoffs with no meaning. */
	if (PQgetvalue(res, 0, 3)[0] != 't') {
		PQclear(res);
		return ret_fail(err, RET_USAGE,
		                "--as-of \"%s\" is not a finite time between 1900 and 9999",
		                st->opt.as_of);
	}
	snprintf(st->as_of_raw, sizeof(st->as_of_raw), "%s", PQgetvalue(res, 0, 0));
	snprintf(st->as_of, sizeof(st->as_of), "%s", PQgetvalue(res, 0, 1));
	skew = strtod(PQgetvalue(res, 0, 2), NULL) - (double)time(NULL);
	PQclear(res);

	/* The cutoff comes from the database's clock; it must agree with the world's. */
	if (!st->opt.dry_run && st->opt.max_clock_skew_s > 0 &&
	    fabs(skew) > (double)st->opt.max_clock_skew_s)
		return ret_fail(err, RET_GUARD,
		                "guard clock: the database clock is %.0f s %s the host clock (limit %d "
		                "s)",
		                fabs(skew), skew > 0 ? "ahead of" : "behind", st->opt.max_clock_skew_s);
	return RET_OK;
}

/* Records an adopted report in run_id's ledger row; *done is false when it was not running. */
static ret_code
record_adopted(run_state *st, const char *run_id, const stranded_report *sr, bool *done,
               ret_error *err)
{
	char code[16];
	const char *params[7];
	PGresult *res = NULL;
	ret_code rc;

	snprintf(code, sizeof(code), "%d", sr->exit_code);
	params[0] = run_id;
	params[1] = sr->status;
	params[2] = code;
	params[3] = sr->file;
	params[4] = sr->sha256;
	params[5] = sr->finished_at;
	params[6] = st->run_id;
	/* The outcome as the signed report states it, and which run recorded it, when. */
	rc = db_query(st->conn, "adopt report",
	              "UPDATE retention.runs SET status = $2, exit_code = $3, report_file = $4,"
	              " report_sha256 = $5, finished_at = $6::timestamptz, report_recorded_by = $7"
	              " WHERE run_id = $1 AND status = 'running' AND report_sha256 IS NULL",
	              7, params, &res, err);
	if (rc == RET_OK)
		*done = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return rc;
}

/*
 * Runs still marked running that wrote and signed their report but never
 * recorded it (their database went away, and the one reconnect failed): a
 * report that checks out is recorded in that run's ledger row and becomes the
 * previous report of this one; one that does not is named here and, like a
 * half-written report, set aside by report_set_aside_incomplete. Runs inside
 * the caller's transaction, before the abandoned runs are marked, rows locked
 * so that a late recording by the run itself cannot cross this one.
 */
static ret_code
adopt_stranded_reports(run_state *st, ret_error *err)
{
	const char *params[1] = {st->pol->name};
	PGresult *res = NULL;
	ret_code rc;

	if (st->opt.report_dir == NULL || st->opt.key == NULL)
		return RET_OK;
	rc = db_query(st->conn, "stranded reports",
	              "SELECT run_id::text, sequence, coalesce(previous_report_sha256, ''),"
	              " policy_sha256 FROM retention.runs"
	              " WHERE status = 'running' AND mode = 'execute' AND policy_name = $1"
	              "   AND report_sha256 IS NULL ORDER BY sequence FOR UPDATE",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == RET_OK; i++) {
		stranded_run run = {PQgetvalue(res, i, 0), db_int64(res, i, 1), PQgetvalue(res, i, 2),
		                    st->pol->name, PQgetvalue(res, i, 3), st->db_name,
		                    st->system_identifier};
		stranded_report sr;
		ret_error serr;
		bool done = false;

		ret_error_clear(&serr);
		if (report_check_stranded(st->opt.report_dir, &run, st->opt.key, &sr, &serr) !=
		    RET_OK) {
			add_warning(st, "run %s: its report was not looked for: %s", run.run_id,
			            serr.message);
			continue;
		}
		if (!sr.found)
			continue;
		if (sr.problem[0]) {
			add_warning(st, "run %s (sequence %lld) never recorded its report %s in the ledger, "
			            "and that report is not adopted: %s", run.run_id,
			            (long long)run.sequence, sr.file, sr.problem);
			continue;
		}
		rc = record_adopted(st, run.run_id, &sr, &done, err);
		if (rc != RET_OK || !done)
			continue;
		if (!grow((void **)&st->adopted, &st->n_adopted, &st->cap_adopted,
		          sizeof(adopted_report))) {
			rc = ret_fail(err, RET_RUNTIME, "out of memory");
			break;
		}
		{
			adopted_report *a = &st->adopted[st->n_adopted++];

			snprintf(a->run_id, sizeof(a->run_id), "%s", run.run_id);
			a->sequence = run.sequence;
			snprintf(a->file, sizeof(a->file), "%s", sr.file);
			snprintf(a->sha256, sizeof(a->sha256), "%s", sr.sha256);
			snprintf(a->status, sizeof(a->status), "%s", sr.status);
			a->exit_code = sr.exit_code;
		}
	}
	PQclear(res);
	return rc;
}

/* Names each adoption once it is committed with this run's own ledger row. */
static void
warn_adopted(run_state *st)
{
	for (int i = 0; i < st->n_adopted; i++) {
		const adopted_report *a = &st->adopted[i];

		add_warning(st, "run %s (sequence %lld) wrote and signed its report %s but never "
		            "recorded it in the ledger (its database went away); its signature and "
		            "ledger row check out, so this run recorded it (status %s, exit code %d, "
		            "SHA-256 %s) and chains to it", a->run_id, (long long)a->sequence, a->file,
		            a->status, a->exit_code, a->sha256);
	}
}

/*
 * Every run since the last one with a report that never completed its own
 * (killed, or the database went away), however many there were in a row:
 * run ID, sequence, archive segments and their rows, ledger status, and the
 * runs whose stranded reports it recorded in the ledger.
 */
#define UNFINISHED_RUNS_SQL                                                                    \
	"SELECT r.run_id::text, r.sequence,"                                                       \
	"  (SELECT count(*) FROM retention.archive_segments s WHERE s.run_id = r.run_id),"         \
	"  (SELECT coalesce(sum(s.rows), 0) FROM retention.archive_segments s"                    \
	"   WHERE s.run_id = r.run_id), r.status,"                                                 \
	"  (SELECT coalesce(string_agg(a.run_id::text, ', ' ORDER BY a.sequence), '')"            \
	"   FROM retention.runs a WHERE a.report_recorded_by = r.run_id)"                         \
	" FROM retention.runs r"                                                                   \
	" WHERE r.mode = 'execute' AND r.policy_name = $1"                                         \
	"   AND r.report_sha256 IS NULL AND r.sequence > coalesce("                                \
	"     (SELECT max(sequence) FROM retention.runs WHERE mode = 'execute'"                    \
	"      AND policy_name = $1 AND report_sha256 IS NOT NULL), 0)"                            \
	" ORDER BY r.sequence"

/*
 * Names the runs of res (UNFINISHED_RUNS_SQL's rows) as unfinished, with
 * what their committed batches removed, read from the batch ledger: this
 * report is the first that can account for them.
 */
static ret_code
name_unfinished(run_state *st, PGresult *res, ret_error *err)
{
	char work[768];
	ret_code rc;

	for (int i = 0; i < PQntuples(res); i++) {
		if (!grow((void **)&st->unfinished_runs, &st->n_unfinished, &st->cap_unfinished,
		          sizeof(char *)))
			return ret_fail(err, RET_RUNTIME, "out of memory");
		st->unfinished_runs[st->n_unfinished] = strdup(PQgetvalue(res, i, 0));
		if (st->unfinished_runs[st->n_unfinished] == NULL)
			return ret_fail(err, RET_RUNTIME, "out of memory");
		st->n_unfinished++;
	}
	rc = batchlog_read(st->conn, st->unfinished_runs, st->n_unfinished, &st->unfinished_work,
	                   &st->n_unfinished_work, err);
	if (rc != RET_OK)
		return rc;
	st->unfinished_work_read = true;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *run_id = PQgetvalue(res, i, 0);
		bool running = strcmp(PQgetvalue(res, i, 4), "running") == 0;
		char older[128] = "";
		bool any = false;

		for (int w = 0; w < st->n_unfinished_work; w++)
			any = any || strcmp(st->unfinished_work[w].run_id, run_id) == 0;
		batchlog_describe(st->unfinished_work, st->n_unfinished_work, run_id, work,
		                  sizeof(work));
		/* A run from before the batch ledger still has its segments' word for what it archived. */
		if (!any && db_int64(res, i, 2) > 0)
			snprintf(older, sizeof(older), " (its %s archive segments hold %s rows)",
			         PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
		/* An adoption it made is named by no report but this one. */
		const char *adopted = PQgetvalue(res, i, 5);

		add_warning(st, "run %s (sequence %s) %s; its committed batches: %s%s%s%s%s", run_id,
		            PQgetvalue(res, i, 1),
		            running && st->opt.dry_run
		                ? "has no report and is marked running (at work now, or killed)"
		                : "ended without recording a report in the ledger (killed, or its "
		                  "database went away)",
		            work, older,
		            adopted[0] ? "; it had recorded in the ledger the unrecorded report of run "
		                       : "",
		            adopted, adopted[0] ? " (report_recorded_by)" : "");
	}
	return RET_OK;
}

/*
 * A dry run names the runs without a report as well, from its own snapshot,
 * but marks none abandoned: it writes nothing. A role that may not read the
 * ledgers gets a warning instead, and the savepoint keeps the snapshot's
 * transaction alive.
 */
static void
find_unfinished_dry(run_state *st)
{
	const char *params[1] = {st->pol->name};
	PGresult *res = NULL;
	ret_error e;
	ret_code rc;

	ret_error_clear(&e);
	PQclear(PQexec(st->conn, "SAVEPOINT unfinished"));
	rc = db_query(st->conn, "unfinished runs", UNFINISHED_RUNS_SQL, 1, params, &res, &e);
	if (rc == RET_OK)
		rc = name_unfinished(st, res, &e);
	PQclear(res);
	if (rc != RET_OK) {
		PQclear(PQexec(st->conn, "ROLLBACK TO SAVEPOINT unfinished"));
		st->unfinished_work_read = false;
		add_warning(st, "the rows removed by runs without a report were not read (%s): grant "
		            "the role SELECT on retention.runs and retention.batches", e.message);
	}
	PQclear(PQexec(st->conn, "RELEASE SAVEPOINT unfinished"));
}

/* The runs ledger: sequence, previous report, unfinished runs, and this run's row. */
static ret_code
open_ledger_row(run_state *st, ret_error *err)
{
	char version[16];
	const char *params[6];
	PGresult *res = NULL;
	ret_code rc;

	/* Runs that never completed their row are abandoned now, and named in this report. */
	params[0] = st->pol->name;
	rc = db_exec(st->conn, "unfinished runs", "BEGIN", err);
	if (rc == RET_OK)
		rc = adopt_stranded_reports(st, err);
	if (rc == RET_OK)
		rc = db_query(st->conn, "unfinished runs",
		              "UPDATE retention.runs SET status = 'abandoned'"
		              " WHERE status = 'running' AND mode = 'execute' AND policy_name = $1",
		              1, params, NULL, err);
	if (rc == RET_OK)
		rc = db_query(st->conn, "unfinished runs", UNFINISHED_RUNS_SQL, 1, params, &res, err);
	if (rc == RET_OK)
		rc = name_unfinished(st, res, err);
	if (rc != RET_OK) {
		PQclear(res);
		st->n_adopted = 0;
		PQclear(PQexec(st->conn, "ROLLBACK"));
		return rc;
	}
	PQclear(res);

	rc = db_query(st->conn, "previous report",
	              "SELECT coalesce(max(sequence), 0) + 1,"
	              " (SELECT report_sha256 FROM retention.runs WHERE policy_name = $1"
	              "   AND mode = 'execute' AND report_sha256 IS NOT NULL"
	              "   ORDER BY sequence DESC LIMIT 1)"
	              " FROM retention.runs WHERE policy_name = $1 AND mode = 'execute'",
	              1, params, &res, err);
	if (rc != RET_OK)
		goto done;
	st->sequence = db_int64(res, 0, 0);
	snprintf(st->previous_report_sha256, sizeof(st->previous_report_sha256), "%s",
	         PQgetvalue(res, 0, 1));
	PQclear(res);

	snprintf(version, sizeof(version), "%d", st->pol->version);
	{
		char seq[32];
		const char *ins[7];

		snprintf(seq, sizeof(seq), "%lld", (long long)st->sequence);
		ins[0] = st->run_id;
		ins[1] = seq;
		ins[2] = st->pol->name;
		ins[3] = version;
		ins[4] = st->pol->sha256;
		ins[5] = st->as_of_raw;
		ins[6] = st->previous_report_sha256[0] ? st->previous_report_sha256 : NULL;
		rc = db_query(st->conn, "ledger insert",
		              "INSERT INTO retention.runs (run_id, sequence, mode, policy_name,"
		              " policy_version, policy_sha256, as_of, previous_report_sha256)"
		              " VALUES ($1, $2, 'execute', $3, $4, $5, $6, $7)",
		              7, ins, NULL, err);
	}

	/*
	 * One transaction from the adoption to this row: a report_recorded_by
	 * always names a run the ledger holds, and so the next run can name it.
	 */
	if (rc == RET_OK)
		rc = db_exec(st->conn, "ledger insert", "COMMIT", err);
	if (rc == RET_OK) {
		st->ledger_row = true;
		warn_adopted(st);
	}

done:
	if (rc != RET_OK) {
		/* Rolled back: no report was adopted after all. */
		st->n_adopted = 0;
		if (!db_lost(st->conn))
			PQclear(PQexec(st->conn, "ROLLBACK"));
	}
	return rc;
}

/* The cutoff of one class, computed by the server in the policy's time zone. */
static ret_code
compute_cutoff(run_state *st, class_result *cr, ret_error *err)
{
	const policy_retain *r = &cr->cls->retain;
	char amount[16];
	const char *params[3] = {st->as_of_raw, st->pol->timezone, amount};
	const char *sql;
	PGresult *res = NULL;
	ret_code rc;

	snprintf(amount, sizeof(amount), "%d", r->amount);
	/*
	 * Calendar units move the local wall-clock time back and read it again in
	 * the zone, so "2 days" across a daylight-saving change is still two
	 * calendar days; hours are elapsed time.
	 */
	switch (r->unit) {
	case RETAIN_DAYS:
		sql = "SELECT (($1::timestamptz AT TIME ZONE $2) - make_interval(days => $3::int))"
		      " AT TIME ZONE $2";
		break;
	case RETAIN_MONTHS:
		sql = "SELECT (($1::timestamptz AT TIME ZONE $2) - make_interval(months => $3::int))"
		      " AT TIME ZONE $2";
		break;
	case RETAIN_YEARS:
		sql = "SELECT (($1::timestamptz AT TIME ZONE $2) - make_interval(years => $3::int))"
		      " AT TIME ZONE $2";
		break;
	case RETAIN_HOURS:
		sql = "SELECT $1::timestamptz - make_interval(hours => $3::int)";
		break;
	default:
		return RET_OK;
	}
	{
		char full[512];

		snprintf(full, sizeof(full),
		         "SELECT c::text, (c AT TIME ZONE $2)::text,"
		         " to_char(c, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM (%s) AS y(c)",
		         sql);
		rc = db_query(st->conn, "cutoff", full, 3, params, &res, err);
	}
	if (rc != RET_OK && err && strncmp(err->sqlstate, "22", 2) == 0) {
		/* Out of the server's range (e.g. "100000 years"): the policy is at fault. */
		ret_prefix(err, "%s: class \"%s\": field \"retain\": \"%s\" gives no usable cutoff",
		           st->pol->path, cr->cls->name, cr->cls->retain.text);
		return err->code = RET_USAGE;
	}
	if (rc != RET_OK)
		return rc;
	snprintf(cr->cutoff_utc, sizeof(cr->cutoff_utc), "%s", PQgetvalue(res, 0, 0));
	snprintf(cr->cutoff_local, sizeof(cr->cutoff_local), "%s", PQgetvalue(res, 0, 1));
	snprintf(cr->cutoff, sizeof(cr->cutoff), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return RET_OK;
}

/* Errors after which the same batch, made smaller, may well succeed. */
static bool
retryable(const ret_error *e)
{
	static const char *const states[] = {
		"57014", /* statement_timeout */
		"55P03", /* lock_timeout */
		"40P01", /* deadlock */
		"40001", /* serialization failure */
		"23503", /* a child row appeared between the test and the delete */
		NULL};

	for (int i = 0; states[i]; i++)
		if (strcmp(e->sqlstate, states[i]) == 0)
			return true;
	return false;
}

/*
 * A walk over a leaf's heap in block ranges, each read or changed in a
 * transaction of its own and sized toward batch_target_ms: the batches walk
 * the span holding eligible rows; an executed run's reads (counts, rows per
 * hold, held keys) the whole heap. *pages is the size of the next range.
 */
typedef struct block_walk {
	int64_t block;  /* first block of the next range */
	int64_t end;    /* one past the last block to walk */
	bool open_end;  /* the last range has no upper bound: it also reads blocks added meanwhile */
	bool done;
	int64_t *pages;
	int attempts;   /* failed tries of the current range */
} block_walk;

/* The next range [*from, *to), *to -1 for "to the relation's end"; false when the walk is over. */
static bool
walk_next(const block_walk *w, int64_t *from, int64_t *to)
{
	if (w->done || (w->block >= w->end && !w->open_end))
		return false;
	*from = w->block;
	*to = w->block + *w->pages;
	if (*to >= w->end)
		*to = w->open_end ? -1 : w->end;
	return true;
}

/* After a range that succeeded in elapsed_ms: move past it, aim the next at the target, by at
 * most 2x either way. */
static void
walk_advance(const policy *pol, block_walk *w, int64_t to, double elapsed_ms)
{
	double target = (double)pol->batch_target_ms;
	double factor = elapsed_ms > 1.0 ? target / elapsed_ms : 2.0;

	w->attempts = 0;
	if (to < 0 || to >= w->end)
		w->done = true;
	else
		w->block = to;
	if (factor > 2.0)
		factor = 2.0;
	if (factor < 0.5)
		factor = 0.5;
	*w->pages = (int64_t)((double)*w->pages * factor);
	if (*w->pages < 1)
		*w->pages = 1;
	if (*w->pages > pol->batch_max_pages)
		*w->pages = pol->batch_max_pages;
}

/* After a range that failed with err: whether to try it again, halved (a timeout or a lock
 * wait is likelier to pass), at most BATCH_ATTEMPTS times in all. */
static bool
walk_retry(block_walk *w, const ret_error *err)
{
	if (!retryable(err) || ++w->attempts >= BATCH_ATTEMPTS)
		return false;
	if (*w->pages > 1)
		*w->pages /= 2;
	return true;
}

/* One range's work on one leaf: [from, to) blocks, to -1 for "to the end". */
typedef ret_code (*range_fn)(run_state *st, class_result *cr, const char *leaf, int64_t from,
                             int64_t to, void *arg, ret_error *err);

/* How a class's walks over whole leaves went, for the log. */
typedef struct range_tally {
	int64_t pages; /* the next range's size, carried from leaf to leaf */
	int ranges;
	double longest_ms;
} range_tally;

/*
 * Runs fn over every block of one leaf (nblocks at the start; the last range
 * reads to the end), each range one statement and its own transaction in
 * autocommit, sized toward batch_target_ms.
 */
static ret_code
walk_leaf(run_state *st, class_result *cr, const char *leaf, int64_t nblocks, range_tally *t,
          range_fn fn, void *arg, ret_error *err)
{
	block_walk w = {.block = 0, .end = nblocks, .open_end = true, .pages = &t->pages};
	int64_t from, to;

	while (walk_next(&w, &from, &to)) {
		double t0 = now_seconds(), elapsed_ms;
		ret_code rc = fn(st, cr, leaf, from, to, arg, err);

		if (rc != RET_OK) {
			if (db_lost(st->conn) || !walk_retry(&w, err))
				return rc;
			log_msg(LOG_WARNING, cr->cls->name, "range at block %lld of %s failed (%s), retrying",
			        (long long)from, leaf, err->message);
			continue;
		}
		elapsed_ms = (now_seconds() - t0) * 1000.0;
		t->ranges++;
		if (elapsed_ms > t->longest_ms)
			t->longest_ms = elapsed_ms;
		walk_advance(st->pol, &w, to, elapsed_ms);
	}
	return RET_OK;
}

/*
 * The leaves of a class's table with their sizes in blocks, in the order the
 * one-statement count gives them, into *res (the caller clears it). *ranged
 * is false when some leaf's heap cannot be read by TID ranges: a server
 * before 14, a foreign or non-heap leaf, inheritance children (ONLY would
 * leave them out), or Citus, whose shards' ctids mean nothing on the
 * coordinator; the caller then reads the table in one statement as before.
 */
static ret_code
list_leaves(run_state *st, class_result *cr, PGresult **res, bool *ranged, ret_error *err)
{
	char oid[16];
	const char *params[1] = {oid};
	ret_code rc;

	*res = NULL;
	*ranged = false;
	if (PQserverVersion(st->conn) < 140000)
		return RET_OK;
	snprintf(oid, sizeof(oid), "%u", cr->cat.oid);
	rc = db_query(st->conn, "table leaves",
	              "SELECT format('%I.%I', n.nspname, c.relname),"
	              " pg_relation_size(c.oid) / current_setting('block_size')::bigint,"
	              " c.relkind = 'r' AND coalesce(am.amname = 'heap', false)"
	              "  AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid)"
	              "  AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"
	              " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	              " LEFT JOIN pg_am am ON am.oid = c.relam"
	              " WHERE c.oid IN (SELECT $1::oid"
	              "  UNION SELECT relid FROM pg_partition_tree($1::oid) WHERE isleaf)"
	              " AND c.relkind <> 'p' ORDER BY 1",
	              1, params, res, err);
	if (rc != RET_OK)
		return rc;
	*ranged = true;
	for (int i = 0; i < PQntuples(*res); i++)
		if (PQgetvalue(*res, i, 2)[0] != 't')
			*ranged = false;
	return RET_OK;
}

/* Adds one range's counts to the leaf_stats at arg, widening its span of eligible blocks. */
static ret_code
count_range(run_state *st, class_result *cr, const char *leaf, int64_t from, int64_t to,
            void *arg, ret_error *err)
{
	leaf_stats *l = arg;
	PGresult *res = NULL;
	char *sql = sqlbuild_stats_range(leaf, &cr->cat, &cr->sql, from, to);
	int64_t lo, hi;
	ret_code rc;

	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = db_query(st->conn, "count rows", sql, 0, NULL, &res, err);
	free(sql);
	if (rc != RET_OK)
		return rc;
	l->total += db_int64(res, 0, 0);
	l->undated += db_int64(res, 0, 1);
	l->held += db_int64(res, 0, 2);
	l->pinned += db_int64(res, 0, 3);
	l->eligible += db_int64(res, 0, 4);
	lo = db_int64(res, 0, 5);
	hi = db_int64(res, 0, 6);
	PQclear(res);
	if (lo >= 0 && (l->lo_block < 0 || lo < l->lo_block))
		l->lo_block = lo;
	if (hi > l->hi_block)
		l->hi_block = hi;
	return RET_OK;
}

static int64_t
start_pages(const policy *pol)
{
	return BATCH_START_PAGES < pol->batch_max_pages ? BATCH_START_PAGES : pol->batch_max_pages;
}

/*
 * An executed run's counts, leaf by leaf and block range by block range, each
 * range its own short transaction: one scan of a large table would hold back
 * the xmin horizon (vacuum, for every table) for as long as it ran (19.9 s
 * for a 5M-row table on a loaded machine). On unchanged data the sums are the
 * one scan's numbers; rows that change meanwhile are counted as they were
 * when their range was read, and every DELETE re-checks them anyway. *ranged
 * stays false when list_leaves says so; the caller then counts in one scan.
 */
static ret_code
count_class_ranged(run_state *st, class_result *cr, bool *ranged, ret_error *err)
{
	range_tally tally = {.pages = start_pages(st->pol)};
	leaf_stats *leaves = NULL;
	PGresult *res = NULL;
	int n = 0;
	ret_code rc;

	rc = list_leaves(st, cr, &res, ranged, err);
	if (rc != RET_OK || !*ranged)
		goto done;
	*ranged = false;
	leaves = calloc((size_t)PQntuples(res) + 1, sizeof(leaf_stats));
	if (leaves == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		leaf_stats *l = &leaves[n];

		memset(l, 0, sizeof(*l));
		snprintf(l->qname, sizeof(l->qname), "%s", PQgetvalue(res, i, 0));
		l->lo_block = l->hi_block = -1;
		rc = walk_leaf(st, cr, l->qname, db_int64(res, i, 1), &tally, count_range, l, err);
		if (rc != RET_OK)
			goto done;
		/* Like the one scan, which knows a leaf by its rows: an empty leaf is not listed. */
		if (l->total > 0)
			n++;
	}

	free(cr->leaves);
	cr->leaves = leaves;
	cr->n_leaves = n;
	leaves = NULL;
	cr->total = cr->undated = cr->held = cr->pinned = cr->eligible = 0;
	for (int i = 0; i < cr->n_leaves; i++) {
		cr->total += cr->leaves[i].total;
		cr->undated += cr->leaves[i].undated;
		cr->held += cr->leaves[i].held;
		cr->pinned += cr->leaves[i].pinned;
		cr->eligible += cr->leaves[i].eligible;
	}
	*ranged = true;
	log_msg(LOG_INFO, cr->cls->name,
	        "counted in %d block ranges over %d leaves, the longest %.0f ms", tally.ranges,
	        PQntuples(res), tally.longest_ms);

done:
	PQclear(res);
	free(leaves);
	return rc;
}

/*
 * Counts per leaf relation; fills the class totals and the leaves. A dry run
 * counts in one scan, in its snapshot, as auditors need; an executed run by
 * block ranges where it can.
 */
static ret_code
count_class(run_state *st, class_result *cr, ret_error *err)
{
	PGresult *res = NULL;
	bool ranged = false;
	char *sql;
	ret_code rc;

	if (!st->opt.dry_run) {
		rc = count_class_ranged(st, cr, &ranged, err);
		if (rc != RET_OK || ranged)
			return rc;
	}
	sql = sqlbuild_stats(&cr->cat, &cr->sql);
	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = db_query(st->conn, "count rows", sql, 0, NULL, &res, err);
	free(sql);
	if (rc != RET_OK)
		return rc;
	free(cr->leaves);
	cr->n_leaves = 0;
	cr->leaves = calloc((size_t)PQntuples(res) + 1, sizeof(leaf_stats));
	if (cr->leaves == NULL) {
		PQclear(res);
		return ret_fail(err, RET_RUNTIME, "out of memory");
	}
	cr->total = cr->undated = cr->held = cr->pinned = cr->eligible = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		leaf_stats *l = &cr->leaves[cr->n_leaves++];

		snprintf(l->qname, sizeof(l->qname), "%s", PQgetvalue(res, i, 0));
		l->total = db_int64(res, i, 1);
		l->undated = db_int64(res, i, 2);
		l->held = db_int64(res, i, 3);
		l->pinned = db_int64(res, i, 4);
		cr->total += l->total;
		cr->undated += l->undated;
		cr->held += l->held;
		cr->pinned += l->pinned;
		l->eligible = db_int64(res, i, 5);
		cr->eligible += l->eligible;
		l->lo_block = db_int64(res, i, 6);
		l->hi_block = db_int64(res, i, 7);
	}
	PQclear(res);
	return RET_OK;
}

/* Catalog, cutoff, SQL and counts for one class; a failure is the class's own. */
static ret_code
prepare_class(run_state *st, class_result *cr, ret_error *err)
{
	ret_code rc;

	rc = catalog_check_class(st->conn, st->pol, cr->cls, &cr->cat, err);
	if (rc != RET_OK)
		return rc;
	if (cr->cls->action == ACTION_KEEP) {
		cr->status = "kept";
		return RET_OK;
	}
	rc = compute_cutoff(st, cr, err);
	if (rc != RET_OK)
		return rc;
	rc = sqlbuild_class(st->conn, cr->cls, &cr->cat, cr->cutoff_utc, cr->cutoff_local,
	                    &cr->sql, err);
	if (rc != RET_OK)
		return rc;
	cr->checked = true;
	rc = count_class(st, cr, err);
	if (rc != RET_OK)
		return rc;
	log_counts(LOG_INFO, cr->cls->name, "counted", cr->eligible, 0, 0, cr->held, cr->undated);

	/* Guards: dependents the policy does not cover, then the share of the table. */
	if (cr->cat.guard[0]) {
		snprintf(cr->guard, sizeof(cr->guard), "%s", cr->cat.guard_name);
		snprintf(cr->guard_detail, sizeof(cr->guard_detail), "%s", cr->cat.guard);
		return ret_fail(err, RET_GUARD, "guard %s: %s", cr->guard, cr->guard_detail);
	}
	if (cr->total > 0 && (double)cr->eligible / (double)cr->total > cr->cls->max_fraction) {
		snprintf(cr->guard, sizeof(cr->guard), "max_fraction");
		snprintf(cr->guard_detail, sizeof(cr->guard_detail),
		         "would remove %lld of %lld rows (%.1f%%), above max_fraction %.1f%%",
		         (long long)cr->eligible, (long long)cr->total,
		         100.0 * (double)cr->eligible / (double)cr->total, 100.0 * cr->cls->max_fraction);
		return ret_fail(err, RET_GUARD, "guard max_fraction: %s", cr->guard_detail);
	}
	return RET_OK;
}

static void
note_orphan(void *arg, const char *from_rel, const char *to_rel, const char *set_aside_by)
{
	run_state *st = arg;
	orphan_record *o;

	if (!grow((void **)&st->orphans, &st->n_orphans, &st->cap_orphans, sizeof(orphan_record)))
		return;
	o = &st->orphans[st->n_orphans++];
	snprintf(o->from, sizeof(o->from), "%s", from_rel);
	snprintf(o->to, sizeof(o->to), "%s", to_rel);
	snprintf(o->set_aside_by, sizeof(o->set_aside_by), "%s", set_aside_by ? set_aside_by : "");
	if (set_aside_by)
		log_msg(LOG_WARNING, NULL, "archive file %s was set aside by run %s, which recorded no "
		        "report naming it; moved to %s", from_rel, set_aside_by, to_rel);
	else
		log_msg(LOG_WARNING, NULL, "archive segment %s was never committed; %s %s", from_rel,
		        st->opt.dry_run ? "would be moved to" : "moved to", to_rel);
}

/* Warns about open holds that no class can match: they keep nothing. */
static ret_code
check_holds_reach(run_state *st, ret_error *err)
{
	PGresult *res = NULL;
	ret_code rc;

	rc = db_query(st->conn, "open holds",
	              "SELECT hold_id, ticket, match_column, coalesce(class_name, '')"
	              " FROM retention.holds WHERE released_at IS NULL ORDER BY hold_id",
	              0, NULL, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *column = PQgetvalue(res, i, 2);
		const char *scope = PQgetvalue(res, i, 3);
		bool reaches = false;

		for (int c = 0; c < st->pol->n_classes; c++) {
			const policy_class *pc = &st->pol->classes[c];

			if (scope[0] && strcmp(scope, pc->name) != 0)
				continue;
			for (int k = 0; k < pc->n_hold_keys; k++)
				if (strcmp(pc->hold_keys[k], column) == 0)
					reaches = true;
		}
		if (!reaches)
			add_warning(st,
			            "hold %s (ticket %s) matches column \"%s\"%s%s, which is no hold key of "
			            "%s in this policy: it keeps nothing here",
			            PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), column,
			            scope[0] ? " in class " : "", scope, scope[0] ? "that class" : "any class");
	}
	PQclear(res);
	return RET_OK;
}

/*
 * The sessions of a run (--jobs). Worker 0 is the calling thread on the run's
 * own connection; the others are threads with a connection each. A worker
 * sees the run through a view: a copy of run_state with its own connection,
 * its own interrupted and lost-connection flags and its own list of hold
 * counts, which the pool merges back in policy order; its warnings go to the
 * run itself (add_warning). The classes themselves are shared: a class is
 * taken by one worker at a time, under the pool's lock, and only that worker
 * writes its class_result until the threads are joined. The pool lives from
 * the counts (engine_prepare) to the evidence (engine_execute), in st->pool.
 */
typedef struct worker_pool worker_pool;

typedef struct worker {
	worker_pool *pool;
	int index;
	run_state view;
} worker;

struct worker_pool {
	run_state *st;
	worker *workers;
	int n_workers;
	pthread_mutex_t lock; /* guards next_class and evidence_taken */
	int next_class;       /* the next class to offer in the check or work phase */
	int *class_worker;    /* per class, the worker that removed its rows; -1: none */
	bool *evidence_taken; /* per class, whether a worker has taken its evidence */
	ret_code *class_rc;   /* per class, the outcome of its checks, then of its evidence */
	ret_error *class_err;
};

/* The pool's life and phases, below with the phases' own helpers. */
static ret_code pool_open(run_state *st, ret_error *err);
static void pool_run(worker_pool *pool, void *(*phase)(void *));
static void *check_phase(void *arg);

ret_code
engine_prepare(run_state *st, ret_error *err)
{
	ret_code rc;
	ret_code worst = RET_OK;
	PGresult *res = NULL;

	if (st->classes == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");

	/* A dry run reads everything from one snapshot and can write nothing. */
	if (st->opt.dry_run) {
		rc = db_exec(st->conn, "begin dry run",
		             "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
		if (rc != RET_OK)
			return rc;
	}
	rc = migrate_check(st->conn, err);
	if (rc != RET_OK)
		return rc;
	read_identity(st);

	/* One execute run per database; the second leaves at once. */
	if (!st->opt.dry_run) {
		rc = db_query(st->conn, "advisory lock", RUN_LOCK_SQL, 0, NULL, &res, err);
		if (rc != RET_OK)
			return rc;
		st->locked = PQgetvalue(res, 0, 0)[0] == 't';
		st->lock_pid = PQbackendPID(st->conn);
		PQclear(res);
		if (!st->locked)
			return ret_fail(err, RET_LOCKED,
			                "another retention run holds the lock on database \"%s\"",
			                st->db_name);
	}

	rc = fix_as_of(st, err);
	if (rc != RET_OK && rc != RET_GUARD)
		return rc;
	if (rc == RET_GUARD) {
		/* Still recorded in the ledger below, so the refusal is in the chain. */
		worst = RET_GUARD;
		snprintf(st->outcome_message, sizeof(st->outcome_message), "%s", err->message);
		if (!st->as_of_raw[0])
			return rc;
	}
	if (!st->opt.dry_run) {
		ret_error lerr;

		rc = open_ledger_row(st, &lerr);
		if (rc != RET_OK) {
			*err = lerr;
			return rc;
		}
	} else if (!db_lost(st->conn)) {
		find_unfinished_dry(st);
	}
	if (worst == RET_GUARD)
		return ret_fail(err, RET_GUARD, "%s", st->outcome_message);

	/* Counting scans whole tables: no statement timeout, but no long lock waits either. */
	rc = db_set_timeouts(st->conn, st->pol->lock_timeout_ms, 0, err);
	if (rc != RET_OK)
		return rc;
	rc = catalog_check_timezone(st->conn, st->pol->timezone, st->pol->path, err);
	if (rc != RET_OK)
		return rc;

	/* Every class is checked and counted before any row is touched, on the run's sessions. */
	rc = pool_open(st, err);
	if (rc != RET_OK)
		return rc;
	pool_run(st->pool, check_phase);
	for (int i = 0; i < st->n_classes; i++) {
		class_result *cr = &st->classes[i];
		const ret_error *cerr = &st->pool->class_err[i];

		rc = st->pool->class_rc[i];
		if (rc == RET_OK)
			continue;
		class_fail(cr, rc == RET_RUNTIME ? "failed" : "refused", cerr);
		if (rc == RET_RUNTIME && db_lost(st->conn)) {
			/* Nothing more can be asked of a lost connection. */
			st->conn_lost = db_lost(st->conn);
			*err = *cerr;
			return rc;
		}
		/* A class that failed at run time stays failed; the others still run. */
		if (rc == RET_USAGE || (rc == RET_GUARD && worst != RET_USAGE)) {
			worst = rc;
			*err = *cerr;
		}
	}
	/* One rule per row: no class may govern a partition of another class's table. */
	for (int i = 0; i < st->n_classes && worst != RET_USAGE; i++) {
		for (int j = 0; j < i; j++) {
			class_result *a = &st->classes[j], *b = &st->classes[i];
			bool related = false;

			if (a->cat.oid == 0 || b->cat.oid == 0)
				continue;
			rc = catalog_same_tree(st->conn, a->cat.oid, b->cat.oid, &related, err);
			if (rc != RET_OK)
				return rc;
			if (related) {
				ret_fail(err, RET_USAGE,
				         "%s: class \"%s\": field \"table\": %s.%s and class \"%s\"'s %s.%s "
				         "are one partition tree; one table takes one rule",
				         st->pol->path, b->cls->name, b->cls->schema, b->cls->table,
				         a->cls->name, a->cls->schema, a->cls->table);
				class_fail(b, "refused", err);
				worst = RET_USAGE;
				break;
			}
		}
	}
	if (worst == RET_USAGE || worst == RET_GUARD)
		return worst;

	rc = check_holds_reach(st, err);
	if (rc != RET_OK)
		return rc;

	/*
	 * What runs that recorded no report had set aside is named by no report in
	 * the ledger: this run takes it over and names it. A failure leaves the
	 * files where they are, for the next run, and says so.
	 */
	if (!st->opt.dry_run && st->opt.archive_dir) {
		ret_error oerr;

		ret_error_clear(&oerr);
		rc = archive_rehome_orphans(st->conn, st->opt.archive_dir, st->run_id, note_orphan, st,
		                            &oerr);
		if (rc != RET_OK && db_lost(st->conn)) {
			*err = oerr;
			return rc;
		}
		if (rc != RET_OK)
			add_warning(st, "orphans set aside by runs without a report were not all taken "
			            "over: %s", oerr.message);
	}

	/*
	 * Segments left by a run that died before its commit are set aside into
	 * this run's own orphans/<run id>/. An archive dir that cannot be read
	 * fails its class only: a purge class needs no archive and still runs.
	 */
	for (int i = 0; i < st->n_classes; i++) {
		class_result *cr = &st->classes[i];
		ret_error cerr;

		if (cr->cls->action != ACTION_ARCHIVE || strcmp(cr->status, "pending") != 0)
			continue;
		if (st->opt.archive_dir == NULL && st->opt.dry_run)
			continue; /* a dry run writes no segment; without the directory it lists no orphan */
		if (st->opt.archive_dir == NULL)
			return ret_fail(err, RET_USAGE, "class \"%s\" archives: --archive-dir is required",
			                cr->cls->name);
		ret_error_clear(&cerr);
		rc = archive_set_aside_orphans(st->conn, st->opt.archive_dir, cr->cls->name, st->run_id,
		                               st->opt.dry_run, note_orphan, st, &cerr);
		if (rc == RET_OK)
			continue;
		if (db_lost(st->conn) || st->opt.dry_run) {
			*err = cerr;
			return rc;
		}
		class_fail(cr, "failed", &cerr);
	}
	return worst;
}

static void
rollback(PGconn *conn)
{
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/*
 * Whether removing `rows` more would take the class past the eligible rows it
 * counted before the work: the count its max_fraction guard approved and the
 * dry run reports. Rows can become eligible during the run (unpinned when
 * another class removes their children, or inserted with an old timestamp);
 * the batches' own re-check would take them too, so every batch and every
 * whole partition is held to the count, and those rows wait for the next
 * run, whose count and guards see them.
 */
static bool
past_count(const class_result *cr, int64_t rows)
{
	return cr->purged + cr->archived + rows > cr->eligible;
}

/* past_count for a batch still open: such a batch is rolled back and its class stops. */
static bool
batch_past_count(class_result *cr, int64_t removed)
{
	if (!past_count(cr, removed))
		return false;
	cr->stopped_at_count = true;
	return true;
}

/* One purge batch: its own transaction, removing eligible rows in [from, to). */
static ret_code
purge_batch(run_state *st, class_result *cr, const leaf_stats *leaf, int64_t from, int64_t to,
            int64_t *removed, ret_error *err)
{
	PGresult *res = NULL;
	char *sql;
	ret_code rc;

	*removed = 0;
	sql = keydigest_wrap_delete(sqlbuild_delete(leaf->qname, &cr->sql, from, to, 0),
	                            cr->cat.key, cr->capture_table);
	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = db_exec(st->conn, "begin batch", "BEGIN", err);
	if (rc == RET_OK)
		rc = check_run_lock(st, err);
	if (rc == RET_OK)
		rc = db_query(st->conn, "delete batch", sql, 0, NULL, &res, err);
	free(sql);
	if (rc != RET_OK) {
		rollback(st->conn);
		return rc;
	}
	*removed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);

	/* Never past the class's count: the batch is rolled back and the class stops. */
	if (batch_past_count(cr, *removed)) {
		*removed = 0;
		rollback(st->conn);
		return RET_OK;
	}

	/* The batch's ledger row commits with its DELETE, or neither does. */
	rc = batchlog_record_purge(st->conn, st->run_id, cr->cls->name, leaf->qname,
	                           cr->batches + 1, *removed, err);
	if (rc != RET_OK) {
		*removed = 0;
		rollback(st->conn);
		return rc;
	}
	fault_point("after-delete");
	rc = db_exec(st->conn, "commit batch", "COMMIT", err);
	if (rc != RET_OK) {
		*removed = 0;
		rollback(st->conn);
		return rc;
	}
	fault_point("after-commit");
	return RET_OK;
}

/* Drains a COPY OUT stream into seg; on a write error keeps draining so the
 * connection stays usable, and reports the first error. */
static ret_code
stream_copy(PGconn *conn, archive_segment *seg, ret_error *err)
{
	ret_code rc = RET_OK;
	char *buf = NULL;
	int n;

	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		if (rc == RET_OK)
			rc = archive_segment_write(seg, buf, (size_t)n, err);
		PQfreemem(buf);
		buf = NULL;
	}
	if (n == -2 && rc == RET_OK)
		rc = db_fail(conn, NULL, "archive copy", err);
	return rc;
}

/* What the segment's manifest says about where its rows came from. */
static ret_code
describe_segment(run_state *st, class_result *cr, const char *relation, archive_segment *seg,
                 int64_t rows, ret_error *err)
{
	char table[2 * POLICY_NAME_MAX + 2];
	archive_manifest_info info;

	snprintf(table, sizeof(table), "%s.%s", cr->cls->schema, cr->cls->table);
	info.run_id = st->run_id;
	info.class_name = cr->cls->name;
	info.table = table;
	info.relation = relation;
	info.key = cr->cls->key;
	info.policy_name = st->pol->name;
	info.policy_sha256 = st->pol->sha256;
	info.cutoff = cr->cutoff;
	info.batch = cr->batches + 1;
	info.rows = rows;
	return archive_segment_describe(seg, &info, err);
}

/*
 * Makes an open segment durable (manifest, fsync, rename) and enters it in
 * the ledger, inside the caller's transaction; the caller commits. The
 * segment is finished or aborted either way.
 */
static ret_code
seal_segment(run_state *st, class_result *cr, const char *relation, archive_segment *seg,
             const char *rel, int64_t rows, char sha[65], int64_t *nbytes, ret_error *err)
{
	char batch[16], nrows[32], bytes[32];
	const char *params[8];
	ret_code rc;

	rc = describe_segment(st, cr, relation, seg, rows, err);
	if (rc == RET_OK)
		rc = archive_segment_finish(seg, sha, nbytes, err);
	else
		archive_segment_abort(seg);
	if (rc != RET_OK)
		return rc;
	fault_point("after-segment");
	snprintf(batch, sizeof(batch), "%d", cr->batches + 1);
	snprintf(nrows, sizeof(nrows), "%lld", (long long)rows);
	snprintf(bytes, sizeof(bytes), "%lld", (long long)*nbytes);
	params[0] = st->run_id;
	params[1] = cr->cls->name;
	params[2] = relation;
	params[3] = batch;
	params[4] = rel;
	params[5] = sha;
	params[6] = nrows;
	params[7] = bytes;
	/* The segment's ledger row and the batch's, in one statement of the batch's transaction. */
	return db_query(st->conn, "archive ledger",
	                "WITH s AS (INSERT INTO retention.archive_segments (run_id, class_name,"
	                " table_name, batch, file_name, sha256, rows, bytes)"
	                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING segment_id)"
	                " INSERT INTO retention.batches (run_id, class_name, batch, action, table_name,"
	                " rows, segment_id) SELECT $1, $2, $4, 'archive', $3, $7, segment_id FROM s",
	                8, params, NULL, err);
}

/* Remembers a committed segment for the report. */
static void
record_segment(class_result *cr, const char *rel, const char *sha, int64_t rows, int64_t nbytes)
{
	segment_record *s;

	if (!grow((void **)&cr->segments, &cr->n_segments, &cr->cap_segments,
	          sizeof(segment_record)))
		return;
	s = &cr->segments[cr->n_segments++];
	snprintf(s->path, sizeof(s->path), "%s", rel);
	snprintf(s->sha256, sizeof(s->sha256), "%s", sha);
	s->rows = rows;
	s->bytes = nbytes;
	s->batch = cr->batches + 1;
}

/*
 * One archive batch, in one transaction: COPY (DELETE ... RETURNING) streams
 * the removed rows into a segment; the segment is made durable and entered in
 * the ledger, and only then is the transaction committed. A crash before the
 * commit rolls the delete back and leaves an orphan segment for the next run
 * to set aside; a crash after it leaves a durable, recorded segment.
 */
static ret_code
archive_batch(run_state *st, class_result *cr, const leaf_stats *leaf, int64_t from,
              int64_t to, int64_t *removed, ret_error *err)
{
	char rel[512];
	char sha[65];
	archive_segment *seg = NULL;
	PGresult *res = NULL;
	int64_t nbytes = 0;
	char *sql = NULL;
	ret_code rc;

	*removed = 0;
	archive_segment_name(cr->cls->name, st->run_id, cr->batches + 1, rel, sizeof(rel));
	sql = cr->capture_table[0]
	          ? keydigest_archive_copy(sqlbuild_delete(leaf->qname, &cr->sql, from, to, 1),
	                                   cr->cat.key, cr->capture_table)
	          : sqlbuild_archive_copy(leaf->qname, &cr->sql, from, to);
	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");

	/* Delete and stream. */
	rc = db_exec(st->conn, "begin batch", "BEGIN", err);
	if (rc == RET_OK)
		rc = check_run_lock(st, err);
	if (rc == RET_OK)
		rc = archive_segment_open(st->opt.archive_dir, rel, &seg, err);
	if (rc == RET_OK) {
		res = PQexec(st->conn, sql);
		if (PQresultStatus(res) != PGRES_COPY_OUT)
			rc = db_fail(st->conn, res, "archive copy", err);
		PQclear(res);
		res = NULL;
	}
	free(sql);
	if (rc == RET_OK)
		rc = stream_copy(st->conn, seg, err);
	if (seg != NULL) {
		/* The COPY's own result carries the row count, or the server's error. */
		ret_error cerr;
		ret_code crc = RET_OK;

		while ((res = PQgetResult(st->conn)) != NULL) {
			if (PQresultStatus(res) == PGRES_COMMAND_OK)
				*removed = strtoll(PQcmdTuples(res), NULL, 10);
			else if (crc == RET_OK)
				crc = db_fail(st->conn, res, "archive copy", &cerr);
			PQclear(res);
		}
		if (rc == RET_OK && crc != RET_OK) {
			*err = cerr;
			rc = crc;
		}
	}
	fault_point("after-delete");
	/* A batch past the class's count is rolled back like a failed one: no segment. */
	if (rc != RET_OK || *removed == 0 || batch_past_count(cr, *removed)) {
		archive_segment_abort(seg);
		rollback(st->conn);
		*removed = 0;
		return rc;
	}

	/* Durable file and manifest first, then its ledger row, then the commit. */
	rc = seal_segment(st, cr, leaf->qname, seg, rel, *removed, sha, &nbytes, err);
	if (rc == RET_OK)
		rc = db_exec(st->conn, "commit batch", "COMMIT", err);
	if (rc != RET_OK) {
		/* The file stays; with no committed ledger row the next run sets it aside. */
		rollback(st->conn);
		*removed = 0;
		return rc;
	}
	fault_point("after-commit");
	record_segment(cr, rel, sha, *removed, nbytes);
	return RET_OK;
}

/* Walks one leaf's eligible block span in batches sized to the target duration. */
static ret_code
run_leaf(run_state *st, class_result *cr, const leaf_stats *leaf, int64_t *pages,
         double *last_progress, double class_start, ret_error *err)
{
	block_walk w = {.block = leaf->lo_block, .end = leaf->hi_block + 1, .pages = pages};
	int64_t block, to;

	while (walk_next(&w, &block, &to)) {
		int64_t removed = 0;
		double t0, elapsed_ms;
		ret_code rc;

		if (lock_lost(st))
			return lock_lost_fail(st, err);
		if (stop_requested(st)) {
			st->interrupted = true;
			return RET_OK;
		}

		t0 = now_seconds();
		if (cr->cls->action == ACTION_ARCHIVE)
			rc = archive_batch(st, cr, leaf, block, to, &removed, err);
		else
			rc = purge_batch(st, cr, leaf, block, to, &removed, err);
		elapsed_ms = (now_seconds() - t0) * 1000.0;
		if (rc == RET_OK && cr->stopped_at_count)
			return RET_OK;

		if (rc != RET_OK) {
			if (db_lost(st->conn)) {
				st->conn_lost = true;
				return rc;
			}
			if (lock_lost(st) || !walk_retry(&w, err))
				return rc;
			cr->retries++;
			log_msg(LOG_WARNING, cr->cls->name, "batch at block %lld failed (%s), retrying",
			        (long long)block, err->message);
			continue;
		}
		cr->batches++;
		if (cr->cls->action == ACTION_ARCHIVE)
			cr->archived += removed;
		else
			cr->purged += removed;
		walk_advance(st->pol, &w, to, elapsed_ms);

		/* Progress at a steady interval. */
		if (st->opt.progress_interval_s > 0 &&
		    now_seconds() - *last_progress >= st->opt.progress_interval_s) {
			int64_t done = cr->purged + cr->archived;
			double secs = now_seconds() - class_start;
			double rate = secs > 0 ? (double)done / secs : 0;

			log_progress(cr->cls->name, done, cr->eligible, rate,
			             rate > 0 ? (double)(cr->eligible - done) / rate : -1);
			*last_progress = now_seconds();
		}
		if (st->pol->batch_pause_ms > 0)
			usleep((useconds_t)st->pol->batch_pause_ms * 1000);
	}
	return RET_OK;
}

/* Appends a partition outcome to the class's list for the report. */
static void
note_partition(class_result *cr, const char *name, int64_t rows, const char *outcome,
               const char *reason)
{
	partition_record *p;

	if (!grow((void **)&cr->partitions, &cr->n_partitions, &cr->cap_partitions,
	          sizeof(partition_record)))
		return;
	p = &cr->partitions[cr->n_partitions++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->rows = rows;
	p->outcome = outcome;
	snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
}

/*
 * Streams every row of the detached partition into a new segment and enters
 * it in the ledger, in the caller's transaction; *rows is the COPY's count.
 */
static ret_code
archive_partition(run_state *st, class_result *cr, const char *part, int64_t *rows,
                  char *rel, size_t rel_len, char sha[65], int64_t *nbytes, ret_error *err)
{
	archive_segment *seg = NULL;
	PGresult *res = NULL;
	strbuf sb = {0};
	char *sql;
	ret_code rc;

	*rows = 0;
	archive_segment_name(cr->cls->name, st->run_id, cr->batches + 1, rel, rel_len);
	strbuf_appendf(&sb,
	               "COPY (SELECT t.* FROM ONLY %s t) TO STDOUT WITH (FORMAT csv, HEADER true)",
	               part);
	sql = strbuf_take(&sb);
	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = archive_segment_open(st->opt.archive_dir, rel, &seg, err);
	if (rc == RET_OK) {
		res = PQexec(st->conn, sql);
		if (PQresultStatus(res) != PGRES_COPY_OUT)
			rc = db_fail(st->conn, res, "partition archive copy", err);
		PQclear(res);
		if (rc == RET_OK)
			rc = stream_copy(st->conn, seg, err);
		while ((res = PQgetResult(st->conn)) != NULL) {
			if (PQresultStatus(res) == PGRES_COMMAND_OK)
				*rows = strtoll(PQcmdTuples(res), NULL, 10);
			else if (rc == RET_OK)
				rc = db_fail(st->conn, res, "partition archive copy", err);
			PQclear(res);
		}
	}
	free(sql);
	if (rc != RET_OK) {
		archive_segment_abort(seg);
		return rc;
	}
	return seal_segment(st, cr, part, seg, rel, *rows, sha, nbytes, err);
}

/*
 * Removes one partition whole. The first transaction detaches it (waiting at
 * most lock_timeout for the parent's lock, so that a reader holding the
 * parent makes the job give up on this partition rather than queue every
 * other session behind it), checks under that lock that every row is
 * eligible (a hold committed since the count is honoured), records its keys
 * in the digest table and, for an archive class, archives it through the
 * segment writer; all of that commits together or not at all. The DROP is a
 * second transaction. RET_OK with *outcome set: "dropped", "skipped" (lock
 * not granted), "detached" (DROP failed), "batch" (rows that are not
 * eligible appeared; the caller batches the partition instead) or
 * "past-count" (its rows would take the class past its count, past_count;
 * batched too, up to the count).
 */
static ret_code
remove_partition(run_state *st, class_result *cr, const char *part, int64_t *rows,
                 const char **outcome, char *reason, size_t reason_len, ret_error *err)
{
	char rel[512] = "", sha[65] = "";
	char settings[128];
	int64_t nbytes = 0;
	PGresult *res = NULL;
	strbuf sb = {0};
	char *sql = NULL;
	ret_error e;
	ret_code rc;

	*rows = 0;
	*outcome = "batch";
	reason[0] = '\0';
	ret_error_clear(&e);
	snprintf(settings, sizeof(settings),
	         "BEGIN; SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = 0",
	         st->pol->lock_timeout_ms);
	rc = db_exec(st->conn, "begin partition", settings, &e);
	if (rc == RET_OK)
		rc = check_run_lock(st, &e);

	/* The detach takes the locks first: nothing is read before they are granted. */
	if (rc == RET_OK) {
		strbuf_appendf(&sb, "ALTER TABLE %s DETACH PARTITION %s", cr->cat.qname, part);
		sql = strbuf_take(&sb);
		rc = sql ? db_exec(st->conn, "detach partition", sql, &e)
		         : ret_fail(&e, RET_RUNTIME, "out of memory");
		free(sql);
		if (rc != RET_OK && strcmp(e.sqlstate, "55P03") == 0) {
			rollback(st->conn);
			*outcome = "skipped";
			snprintf(reason, reason_len, "%s", e.message);
			return RET_OK;
		}
	}

	/*
	 * Under the lock: every row still eligible, and not more of them than the
	 * class has left of its count, or the partition goes by batches (which
	 * stop at the count). Here as everywhere rows are read ONLY from the
	 * relation named.
	 */
	if (rc == RET_OK) {
		strbuf_appendf(&sb, "SELECT count(*) FILTER (WHERE NOT (%s) OR t.%s IS NULL), count(*)"
		               " FROM ONLY %s t", cr->sql.eligible, cr->cat.ts, part);
		sql = strbuf_take(&sb);
		rc = sql ? db_query(st->conn, "partition check", sql, 0, NULL, &res, &e)
		         : ret_fail(&e, RET_RUNTIME, "out of memory");
		free(sql);
		if (rc == RET_OK) {
			int64_t kept = db_int64(res, 0, 0);
			int64_t all = db_int64(res, 0, 1);

			PQclear(res);
			if (kept != 0) {
				rollback(st->conn);
				snprintf(reason, reason_len, "%lld rows are not eligible", (long long)kept);
				return RET_OK;
			}
			if (past_count(cr, all)) {
				rollback(st->conn);
				*outcome = "past-count";
				snprintf(reason, reason_len,
				         "its %lld rows would take the class past the %lld rows it counted "
				         "eligible (%lld removed so far)",
				         (long long)all, (long long)cr->eligible,
				         (long long)(cr->purged + cr->archived));
				return RET_OK;
			}
		}
	}

	/* The keys go into the digest table before the rows go. */
	if (rc == RET_OK && cr->capture_table[0]) {
		strbuf_appendf(&sb, "INSERT INTO %s (k) SELECT t.%s::text FROM ONLY %s t",
		               cr->capture_table, cr->cat.key, part);
		sql = strbuf_take(&sb);
		rc = sql ? db_query(st->conn, "partition keys", sql, 0, NULL, &res, &e)
		         : ret_fail(&e, RET_RUNTIME, "out of memory");
		free(sql);
		if (rc == RET_OK) {
			*rows = strtoll(PQcmdTuples(res), NULL, 10);
			PQclear(res);
		}
	}
	if (rc == RET_OK && cr->cls->action == ACTION_ARCHIVE)
		rc = archive_partition(st, cr, part, rows, rel, sizeof(rel), sha, &nbytes, &e);
	if (rc == RET_OK && !cr->capture_table[0] && cr->cls->action != ACTION_ARCHIVE) {
		strbuf_appendf(&sb, "SELECT count(*) FROM ONLY %s", part);
		sql = strbuf_take(&sb);
		rc = sql ? db_query(st->conn, "partition rows", sql, 0, NULL, &res, &e)
		         : ret_fail(&e, RET_RUNTIME, "out of memory");
		free(sql);
		if (rc == RET_OK) {
			*rows = db_int64(res, 0, 0);
			PQclear(res);
		}
	}
	if (rc == RET_OK && cr->cls->action != ACTION_ARCHIVE)
		rc = batchlog_record_purge(st->conn, st->run_id, cr->cls->name, part, cr->batches + 1,
		                           *rows, &e);
	if (rc == RET_OK)
		rc = db_exec(st->conn, "commit partition", "COMMIT", &e);
	if (rc != RET_OK) {
		/* Nothing of this partition happened; a lost connection ends the class. */
		rollback(st->conn);
		*rows = 0;
		if (db_lost(st->conn) || lock_lost(st)) {
			*err = e;
			return rc;
		}
		snprintf(reason, reason_len, "%s", e.message);
		log_msg(LOG_WARNING, cr->cls->name, "partition %s not removed whole (%s); batching it",
		        part, e.message);
		return RET_OK;
	}
	if (rel[0])
		record_segment(cr, rel, sha, *rows, nbytes);
	cr->batches++;

	/* The rows are gone from the class's table; the DROP is housekeeping. */
	*outcome = "detached";
	strbuf_appendf(&sb, "DROP TABLE %s", part);
	sql = strbuf_take(&sb);
	rc = sql ? db_exec(st->conn, "drop partition", sql, &e)
	         : ret_fail(&e, RET_RUNTIME, "out of memory");
	free(sql);
	if (rc == RET_OK)
		*outcome = "dropped";
	else
		snprintf(reason, reason_len, "%s", e.message);
	return db_lost(st->conn) ? rc : RET_OK;
}


/*
 * The partitions of $1 (oid) ranged on column $2 alone whose upper bound, read
 * from the catalog as TYPE, is at or before the cutoff $3.
 */
#define EXPIRED_PARTITIONS_SQL(TYPE)                                                           \
	"SELECT format('%I.%I', n.nspname, c.relname)"                                             \
	" FROM pg_partitioned_table p"                                                             \
	" JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"           \
	" JOIN pg_inherits i ON i.inhparent = p.partrelid"                                         \
	" JOIN pg_class c ON c.oid = i.inhrelid AND c.relkind = 'r'"                               \
	" JOIN pg_namespace n ON n.oid = c.relnamespace,"                                          \
	" LATERAL (SELECT substring(pg_get_expr(c.relpartbound, c.oid)"                            \
	"  FROM 'TO \\(''([^'']*)''\\)$') AS hi) b"                                                \
	" WHERE p.partrelid = $1::oid AND p.partstrat = 'r' AND p.partnatts = 1"                   \
	" AND a.attname = $2 AND b.hi IS NOT NULL"                                                 \
	" AND b.hi::" TYPE " <= $3::" TYPE " ORDER BY b.hi::" TYPE

/*
 * A range-partitioned class's partitions that lie wholly before the cutoff,
 * decided by their bounds in the catalog: single-column RANGE partitioning on
 * the class's timestamp column only, the upper bound a literal at or before
 * the cutoff (bounds exclude their upper end). The default partition, MAXVALUE
 * bounds, expressions and sub-partitioned children never qualify: they are
 * batched. Each qualifying partition with no undated, held or pinned row in
 * the count is removed whole; the others stay for the batches.
 */
static ret_code
drop_expired_partitions(run_state *st, class_result *cr, int *skipped, ret_error *err)
{
	char oid[16];
	const char *params[3];
	bool tz = cr->cat.ts_kind == TS_TIMESTAMPTZ;
	PGresult *res = NULL;
	ret_code rc;

	*skipped = 0;
	snprintf(oid, sizeof(oid), "%u", cr->cat.oid);
	params[0] = oid;
	params[1] = cr->cls->timestamp_column;
	params[2] = tz ? cr->cutoff_utc : cr->cutoff_local;
	rc = db_query(st->conn, "expired partitions",
	              tz ? EXPIRED_PARTITIONS_SQL("timestamptz") : EXPIRED_PARTITIONS_SQL("timestamp"),
	              3, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == RET_OK; i++) {
		const char *part = PQgetvalue(res, i, 0);
		leaf_stats *leaf = NULL;
		const char *outcome = NULL;
		char reason[256];
		int64_t rows = 0;

		if (stop_requested(st)) {
			st->interrupted = true;
			break;
		}
		for (int l = 0; l < cr->n_leaves; l++)
			if (strcmp(cr->leaves[l].qname, part) == 0)
				leaf = &cr->leaves[l];
		if (leaf && (leaf->undated > 0 || leaf->held > 0 || leaf->pinned > 0))
			continue;
		rc = remove_partition(st, cr, part, &rows, &outcome, reason, sizeof(reason), err);
		if (rc == RET_OK && strcmp(outcome, "past-count") == 0)
			add_warning(st, "class %s: partition %s not removed whole: %s (rows became "
			            "eligible during the run); its rows are left to the batches, which stop "
			            "at that count, and to the next run", cr->cls->name, part, reason);
		if (rc != RET_OK || strcmp(outcome, "batch") == 0 ||
		    strcmp(outcome, "past-count") == 0)
			continue;
		if (cr->cls->action == ACTION_ARCHIVE)
			cr->archived += rows;
		else
			cr->purged += rows;
		if (leaf)
			leaf->done = true;
		note_partition(cr, part, rows, outcome, reason);
		if (strcmp(outcome, "skipped") == 0) {
			(*skipped)++;
			log_msg(LOG_WARNING, cr->cls->name,
			        "partition %s skipped, left for the next run: %s", part, reason);
		} else if (strcmp(outcome, "detached") == 0) {
			add_warning(st, "class %s: partition %s was detached and its rows accounted for,"
			            " but DROP failed (%s): drop it by hand", cr->cls->name, part, reason);
		} else {
			log_msg(LOG_INFO, cr->cls->name, "partition %s dropped (%lld rows)", part,
			        (long long)rows);
		}
	}
	PQclear(res);
	return rc;
}

/* Share of its table a class must remove before its table is analyzed (and maybe vacuumed). */
#define UPKEEP_FRACTION 0.10

/*
 * After a class removed a large share of its table the planner's statistics
 * are wrong (autovacuum's analyze comes later, by row count thresholds), so
 * the table is analyzed now; vacuum_after also asks for a VACUUM, which must
 * run outside a transaction and gets no statement timeout. The dead tuples
 * left behind, as the server counts them, go into the report. A failure here
 * is a warning: the rows are removed either way.
 */
static void
class_upkeep(run_state *st, class_result *cr)
{
	char oid[16];
	const char *params[1] = {oid};
	PGresult *res = NULL;
	strbuf sb = {0};
	char *sql;
	ret_error e;

	if (cr->total <= 0 || (double)(cr->purged + cr->archived) <= UPKEEP_FRACTION * cr->total ||
	    db_lost(st->conn))
		return;
	ret_error_clear(&e);
	if (db_set_timeouts(st->conn, st->pol->lock_timeout_ms, 0, &e) != RET_OK)
		goto done;
	/*
	 * This session's own delete counts wait for the statistics flush (at most
	 * once a second). Flushed first: ANALYZE would leave pending counts out
	 * of its estimate, and a flush after VACUUM would add them back on top
	 * of its exact count.
	 */
	PQclear(PQexec(st->conn, "SELECT pg_stat_force_next_flush()"));
	strbuf_appendf(&sb, "ANALYZE %s", cr->cat.qname);
	sql = strbuf_take(&sb);
	if (sql && db_exec(st->conn, "analyze", sql, &e) == RET_OK)
		cr->analyzed = true;
	else
		add_warning(st, "class %s: ANALYZE %s failed: %s", cr->cls->name, cr->cat.qname,
		            sql ? e.message : "out of memory");
	free(sql);
	if (cr->cls->vacuum_after) {
		strbuf_appendf(&sb, "VACUUM %s", cr->cat.qname);
		sql = strbuf_take(&sb);
		if (sql && db_exec(st->conn, "vacuum", sql, &e) == RET_OK)
			cr->vacuumed = true;
		else
			add_warning(st, "class %s: VACUUM %s failed: %s", cr->cls->name, cr->cat.qname,
			            sql ? e.message : "out of memory");
		free(sql);
	}
	snprintf(oid, sizeof(oid), "%u", cr->cat.oid);
	if (db_query(st->conn, "dead tuples",
	             "SELECT coalesce(sum(s.n_dead_tup), 0) FROM pg_stat_user_tables s"
	             " WHERE s.relid = $1::oid"
	             " OR s.relid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass))",
	             1, params, &res, &e) == RET_OK) {
		cr->n_dead_tup = db_int64(res, 0, 0);
		PQclear(res);
	}
	log_msg(LOG_INFO, cr->cls->name, "%s%s; %lld dead tuples", cr->analyzed ? "analyzed" : "",
	        cr->vacuumed ? " and vacuumed" : "", (long long)cr->n_dead_tup);

done:
	if (!db_lost(st->conn))
		db_set_timeouts(st->conn, st->pol->lock_timeout_ms, st->pol->statement_timeout_ms, NULL);
}

static ret_code
execute_class(run_state *st, class_result *cr, ret_error *err)
{
	int64_t pages = BATCH_START_PAGES < st->pol->batch_max_pages ? BATCH_START_PAGES
	                                                              : st->pol->batch_max_pages;
	double start = now_seconds();
	double last_progress = start;
	int skipped = 0;
	ret_code rc;

	/* The removed keys are recorded from the first batch on, or nothing is removed. */
	rc = keydigest_capture_open(st->conn, (int)(cr - st->classes), cr->capture_table,
	                            sizeof(cr->capture_table), err);

	/* Whole partitions first: what they remove, no batch has to. */
	if (rc == RET_OK && cr->cat.partitioned)
		rc = drop_expired_partitions(st, cr, &skipped, err);
	for (int i = 0; i < cr->n_leaves && rc == RET_OK && !st->interrupted && !cr->stopped_at_count;
	     i++) {
		if (cr->leaves[i].done || cr->leaves[i].eligible <= 0 || cr->leaves[i].lo_block < 0)
			continue;
		rc = run_leaf(st, cr, &cr->leaves[i], &pages, &last_progress, start, err);
	}
	class_upkeep(st, cr);
	cr->seconds = now_seconds() - start;

	/* A partition given up on is work not done: the class fails, loudly, but keeps its counts. */
	if (rc == RET_OK && skipped > 0)
		rc = ret_fail(err, RET_RUNTIME,
		              "%d partition(s) not locked within lock_timeout, left for the next run",
		              skipped);

	/*
	 * Stopped at its count: the rows over it are the next run's. Eligible
	 * rows are left, and some may be counted ones (a batch takes what is
	 * eligible when it runs, so rows that became eligible can have gone in
	 * their place, and the batch rolled back may hold counted rows too):
	 * work the run set out to do may not be done, so the class fails.
	 */
	if (cr->stopped_at_count) {
		int64_t done = cr->purged + cr->archived;

		add_warning(st, "class %s: stopped at the %lld rows it counted eligible before the work "
		            "(%lld removed): rows became eligible during the run (unpinned by another "
		            "class's removals, or inserted with an old timestamp) and are left for the "
		            "next run, whose count and guards see them", cr->cls->name,
		            (long long)cr->eligible, (long long)done);
		if (rc == RET_OK)
			rc = ret_fail(err, RET_RUNTIME,
			              "removed %lld of the %lld rows it counted eligible, then stopped: the "
			              "next batch would have taken it past that count (rows became eligible "
			              "during the run); the eligible rows left are for the next run",
			              (long long)done, (long long)cr->eligible);
	}
	return rc;
}

/*
 * Adds one result of sqlbuild_rows_per_hold to the class's hold records,
 * st->holds[first..]: a hold already there gains the rows, a new one is
 * appended, in the result's order (ticket, hold_id).
 */
static void
add_hold_rows(run_state *st, class_result *cr, int first, const PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = db_int64(res, i, 0);
		hold_record *h = NULL;

		for (int j = first; j < st->n_holds && h == NULL; j++)
			if (st->holds[j].hold_id == id)
				h = &st->holds[j];
		if (h != NULL) {
			h->rows_held += db_int64(res, i, 5);
			continue;
		}
		if (!grow((void **)&st->holds, &st->n_holds, &st->cap_holds, sizeof(hold_record)))
			break;
		h = &st->holds[st->n_holds++];
		memset(h, 0, sizeof(*h));
		h->hold_id = id;
		snprintf(h->ticket, sizeof(h->ticket), "%s", PQgetvalue(res, i, 1));
		snprintf(h->match_column, sizeof(h->match_column), "%s", PQgetvalue(res, i, 2));
		snprintf(h->match_value, sizeof(h->match_value), "%s", PQgetvalue(res, i, 3));
		snprintf(h->class_name, sizeof(h->class_name), "%s", PQgetvalue(res, i, 4));
		snprintf(h->counted_in, sizeof(h->counted_in), "%s", cr->cls->name);
		h->rows_held = db_int64(res, i, 5);
	}
}

/* Rows per hold in one range of one leaf; arg is the index of the class's first hold record. */
static ret_code
holds_range(run_state *st, class_result *cr, const char *leaf, int64_t from, int64_t to,
            void *arg, ret_error *err)
{
	PGresult *res = NULL;
	char *sql = sqlbuild_rows_per_hold(st->conn, cr->cls, &cr->cat, &cr->sql, leaf, from, to);
	ret_code rc;

	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = db_query(st->conn, "rows per hold", sql, 0, NULL, &res, err);
	free(sql);
	if (rc != RET_OK)
		return rc;
	add_hold_rows(st, cr, *(const int *)arg, res);
	PQclear(res);
	return RET_OK;
}

/*
 * Rows each open hold kept in one class, appended to st->holds. An executed
 * run reads by block ranges as it counted, each range its own transaction,
 * and sums per hold; a dry run, or a table list_leaves keeps out of ranges,
 * in one statement. A table with no leaf left (every partition dropped) also
 * takes the one statement, which lists the open holds with no rows.
 */
static ret_code
count_holds(run_state *st, class_result *cr, ret_error *err)
{
	range_tally tally = {.pages = start_pages(st->pol)};
	PGresult *leaves = NULL, *res = NULL;
	int first = st->n_holds;
	bool ranged = false;
	char *sql = NULL;
	ret_code rc = RET_OK;

	if (cr->cls->n_hold_keys == 0)
		return RET_OK;
	if (!st->opt.dry_run)
		rc = list_leaves(st, cr, &leaves, &ranged, err);
	if (rc != RET_OK)
		goto done;

	if (ranged && PQntuples(leaves) > 0) {
		for (int i = 0; rc == RET_OK && i < PQntuples(leaves); i++)
			rc = walk_leaf(st, cr, PQgetvalue(leaves, i, 0), db_int64(leaves, i, 1), &tally,
			               holds_range, &first, err);
		goto done;
	}

	sql = sqlbuild_rows_per_hold(st->conn, cr->cls, &cr->cat, &cr->sql, NULL, 0, 0);
	rc = sql ? db_query(st->conn, "rows per hold", sql, 0, NULL, &res, err)
	         : ret_fail(err, RET_RUNTIME, "out of memory");
	if (rc == RET_OK)
		add_hold_rows(st, cr, first, res);

done:
	/* A class's holds are counted whole or not at all. */
	if (rc != RET_OK)
		st->n_holds = first;
	free(sql);
	PQclear(res);
	PQclear(leaves);
	return rc;
}

/* The held keys of one range of one leaf, into the held-keys table named by arg. */
static ret_code
held_range(run_state *st, class_result *cr, const char *leaf, int64_t from, int64_t to,
           void *arg, ret_error *err)
{
	char *sql = keydigest_capture_select(
	    sqlbuild_held_keys_range(leaf, &cr->cat, &cr->sql, from, to), arg);
	ret_code rc;

	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = db_exec(st->conn, "held keys", sql, err);
	free(sql);
	return rc;
}

/*
 * A real run's held-keys digest, after the work: the held keys are gathered
 * range by range into a table of the session, each range its own
 * transaction, and read back in order in chunks, as the removed keys are; in
 * one statement where list_leaves keeps the table out of ranges.
 */
static ret_code
held_digest(run_state *st, class_result *cr, ret_error *err)
{
	range_tally tally = {.pages = start_pages(st->pol)};
	PGresult *leaves = NULL;
	char table[64] = "";
	bool ranged = false;
	ret_code rc;

	rc = list_leaves(st, cr, &leaves, &ranged, err);
	if (rc == RET_OK && !ranged)
		rc = keydigest_held(st->conn, &cr->cat, &cr->sql, &cr->held_keys, err);
	if (rc != RET_OK || !ranged)
		goto done;
	rc = keydigest_held_open(st->conn, (int)(cr - st->classes), table, sizeof(table), err);
	for (int i = 0; rc == RET_OK && i < PQntuples(leaves); i++)
		rc = walk_leaf(st, cr, PQgetvalue(leaves, i, 0), db_int64(leaves, i, 1), &tally,
		               held_range, table, err);
	if (rc == RET_OK)
		rc = keydigest_table(st->conn, table, &cr->held_keys, err);

done:
	keydigest_capture_close(st->conn, table);
	PQclear(leaves);
	return rc;
}

/*
 * One class's key digests, read after the work (or in the dry run's
 * snapshot) on the session that did the work: a real run's removed keys are
 * in that session's temporary table, read back in chunks, and its held keys
 * are gathered by block ranges (held_digest). A failure is logged and
 * returned. An interrupted run skips the held-keys digest, a scan of the
 * whole table, to end within the pod's grace period; the removed-keys digest
 * reads only what this run removed.
 */
static ret_code
class_digests(run_state *st, class_result *cr, ret_error *err)
{
	ret_code rc;

	if (!cr->checked || !cr->cat.key[0])
		return RET_OK;
	if (st->opt.dry_run)
		rc = keydigest_eligible_and_held(st->conn, &cr->cat, &cr->sql, &cr->removed_keys,
		                                 &cr->held_keys, err);
	else
		rc = keydigest_removed_and_held(st->conn, &cr->cat, &cr->sql, cr->capture_table,
		                                &cr->removed_keys, NULL, err);
	if (rc == RET_OK && !st->opt.dry_run && !st->interrupted)
		rc = held_digest(st, cr, err);
	keydigest_capture_close(st->conn, cr->capture_table);
	if (rc == RET_OK && !st->opt.dry_run)
		log_msg(LOG_INFO, cr->cls->name,
		        "removed keys digested in %d reads, held keys in %d reads",
		        cr->removed_keys.reads, cr->held_keys.reads);
	/*
	 * After a real run, "held" is what holds keep at its end, so a hold
	 * added mid-run shows in the class's count as in the per-hold counts.
	 */
	if (rc == RET_OK && !st->opt.dry_run && cr->held_keys.computed)
		cr->held = cr->held_keys.rows;
	if (rc == RET_OK)
		return RET_OK;
	ret_prefix(err, "key digest");
	log_error_detail(cr->cls->name, err->message, err->hint, err->sqlstate);
	return rc;
}

/*
 * The holds' evidence, read once the classes' own is in (or in the dry run's
 * snapshot): the holds open and released.
 */
static ret_code
record_evidence(run_state *st, ret_error *err)
{
	ret_code rc;

	/*
	 * An auditor's role may lack SELECT on the history or the runs ledger: the
	 * dry run then says so in a warning, its counts still stand, and the
	 * savepoint keeps its snapshot's transaction alive.
	 */
	if (st->opt.dry_run)
		PQclear(PQexec(st->conn, "SAVEPOINT evidence"));
	rc = evidence_load_holds(st->conn, st->pol->name, st->run_id, &st->evidence, err);
	if (rc != RET_OK && st->opt.dry_run && strcmp(err->sqlstate, "42501") == 0) {
		PQclear(PQexec(st->conn, "ROLLBACK TO SAVEPOINT evidence"));
		add_warning(st, "holds evidence not read (%s): grant the role SELECT on "
		            "retention.hold_history and retention.runs", err->message);
		ret_error_clear(err);
		return RET_OK;
	}
	if (rc != RET_OK) {
		log_error_detail(NULL, err->message, err->hint, err->sqlstate);
		return rc;
	}
	return RET_OK;
}

/* The view of st for a worker on conn. */
static void
worker_view(run_state *st, PGconn *conn, run_state *view)
{
	*view = *st;
	view->conn = conn;
	view->parent = st;
	view->pool = NULL;
	view->locked = false;
	view->interrupted = false;
	view->conn_lost = false;
	/* Lists the run owns: a view must never grow or free them. */
	view->holds = NULL;
	view->n_holds = view->cap_holds = 0;
	view->warnings = NULL;
	view->n_warnings = view->cap_warnings = 0;
	view->orphans = NULL;
	view->n_orphans = view->cap_orphans = 0;
	view->unfinished_runs = NULL;
	view->n_unfinished = view->cap_unfinished = 0;
	view->unfinished_work = NULL;
	view->n_unfinished_work = 0;
	view->adopted = NULL;
	view->n_adopted = view->cap_adopted = 0;
	memset(&view->evidence, 0, sizeof(view->evidence));
}

/*
 * One more session and its view of the run: connected like the run's, with
 * the counting scans' timeouts; in a dry run, inside a transaction on the
 * run's snapshot, so that its numbers and the run's come from one snapshot.
 * That transaction may wait, idle, while another session counts a large
 * table: the session timeout that ends forgotten transactions is off in it.
 */
static ret_code
open_worker(run_state *st, const char *snapshot, run_state *view, ret_error *err)
{
	PGconn *conn = NULL;
	char *literal = NULL;
	strbuf sb = {0};
	char *sql = NULL;
	ret_code rc;

	rc = db_connect_again(st->conn, st->opt.conninfo, &conn, err);
	if (rc == RET_OK && st->opt.dry_run) {
		literal = PQescapeLiteral(conn, snapshot, strlen(snapshot));
		if (literal)
			strbuf_appendf(&sb, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
			               " SET TRANSACTION SNAPSHOT %s;"
			               " SET LOCAL idle_in_transaction_session_timeout = 0", literal);
		sql = strbuf_take(&sb);
		rc = sql ? db_exec(conn, "import the dry run's snapshot", sql, err)
		         : ret_fail(err, RET_RUNTIME, "out of memory");
	}
	if (rc == RET_OK)
		rc = db_set_timeouts(conn, st->pol->lock_timeout_ms, 0, err);
	if (rc == RET_OK)
		worker_view(st, conn, view);
	else
		db_close(conn);
	PQfreemem(literal);
	free(sql);
	return rc;
}

/* Closes the workers' own sessions and frees st->pool; accepts none. */
static void
pool_close(run_state *st)
{
	worker_pool *pool = st->pool;

	if (pool == NULL)
		return;
	for (int w = 0; w < pool->n_workers; w++) {
		run_state *view = &pool->workers[w].view;

		if (w > 0)
			db_close(view->conn);
		free(view->holds);
	}
	free(pool->workers);
	free(pool->class_worker);
	free(pool->evidence_taken);
	free(pool->class_rc);
	free(pool->class_err);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	st->pool = NULL;
}

/* Clears what a phase records per class, before the next phase. */
static void
pool_reset(worker_pool *pool)
{
	pool->next_class = 0;
	for (int i = 0; i < pool->st->n_classes; i++) {
		pool->class_worker[i] = -1;
		pool->evidence_taken[i] = false;
		pool->class_rc[i] = RET_OK;
		ret_error_clear(&pool->class_err[i]);
	}
}

/*
 * Opens st->pool: worker 0 on st->conn, then up to opt.jobs - 1 more
 * sessions, never more in all than the policy has classes. A session that
 * cannot be opened fails the run before any class is counted.
 */
static ret_code
pool_open(run_state *st, ret_error *err)
{
	char snapshot[128] = "";
	worker_pool *pool;
	int n = st->opt.jobs < st->n_classes ? st->opt.jobs : st->n_classes;
	ret_code rc;

	if (n < 1)
		n = 1;
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	pthread_mutex_init(&pool->lock, NULL);
	st->pool = pool;
	pool->st = st;
	pool->workers = calloc((size_t)n, sizeof(worker));
	pool->class_worker = calloc((size_t)st->n_classes + 1, sizeof(int));
	pool->evidence_taken = calloc((size_t)st->n_classes + 1, sizeof(bool));
	pool->class_rc = calloc((size_t)st->n_classes + 1, sizeof(ret_code));
	pool->class_err = calloc((size_t)st->n_classes + 1, sizeof(ret_error));
	if (!pool->workers || !pool->class_worker || !pool->evidence_taken || !pool->class_rc ||
	    !pool->class_err) {
		pool_close(st);
		return ret_fail(err, RET_RUNTIME, "out of memory");
	}
	pool_reset(pool);
	pool->workers[0].pool = pool;
	worker_view(st, st->conn, &pool->workers[0].view);
	pool->n_workers = 1;
	if (n == 1)
		return RET_OK;

	/*
	 * The dry run's snapshot, for the other sessions to import. Its
	 * transaction may wait, idle, while they read: the session timeout that
	 * ends forgotten transactions must not end this one.
	 */
	if (st->opt.dry_run) {
		PGresult *res = NULL;

		rc = db_query(st->conn, "export the dry run's snapshot", "SELECT pg_export_snapshot()",
		              0, NULL, &res, err);
		if (rc != RET_OK)
			return rc;
		snprintf(snapshot, sizeof(snapshot), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		rc = db_exec(st->conn, "export the dry run's snapshot",
		             "SET LOCAL idle_in_transaction_session_timeout = 0", err);
		if (rc != RET_OK)
			return rc;
	}
	for (int w = 1; w < n; w++) {
		worker *wk = &pool->workers[w];

		rc = open_worker(st, snapshot, &wk->view, err);
		if (rc != RET_OK) {
			ret_prefix(err, "session %d of --jobs %d", w + 1, st->opt.jobs);
			return rc;
		}
		wk->pool = pool;
		wk->index = w;
		pool->n_workers++;
	}
	log_msg(LOG_INFO, NULL, "%d sessions work on the classes", n);
	return RET_OK;
}

/* The next class waiting for a worker, in policy order; NULL when none is left. */
static class_result *
take_class(worker_pool *pool)
{
	class_result *cr = NULL;

	pthread_mutex_lock(&pool->lock);
	while (cr == NULL && pool->next_class < pool->st->n_classes) {
		class_result *c = &pool->st->classes[pool->next_class++];

		if (strcmp(c->status, "pending") == 0)
			cr = c;
	}
	pthread_mutex_unlock(&pool->lock);
	return cr;
}

/*
 * The check phase of one worker: catalog, cutoff, SQL, counts and guards of
 * each class it takes, the outcome in the pool for engine_prepare to judge in
 * policy order. In a dry run a savepoint keeps one class's error from ending
 * the session's snapshot.
 */
static void *
check_phase(void *arg)
{
	worker *wk = arg;
	run_state *view = &wk->view;
	class_result *cr;

	while (!view->conn_lost && (cr = take_class(wk->pool)) != NULL) {
		int i = (int)(cr - view->classes);
		ret_code rc;

		if (view->opt.dry_run)
			PQclear(PQexec(view->conn, "SAVEPOINT class_check"));
		rc = prepare_class(view, cr, &wk->pool->class_err[i]);
		if (view->opt.dry_run && !db_lost(view->conn))
			PQclear(PQexec(view->conn, rc == RET_OK ? "RELEASE SAVEPOINT class_check"
			                                        : "ROLLBACK TO SAVEPOINT class_check"));
		wk->pool->class_rc[i] = rc;
		view->conn_lost = db_lost(view->conn);
	}
	return NULL;
}

/* One class's work: its batches (none in a dry run), its status and its counts. */
static void
work_class(run_state *st, class_result *cr)
{
	ret_error cerr;
	ret_code rc;

	if (lock_lost(st)) {
		cr->status = "not-run";
		snprintf(cr->error, sizeof(cr->error), "not run: the run lost its advisory lock");
		return;
	}
	if (st->interrupted || stop_requested(st)) {
		st->interrupted = true;
		cr->status = "not-run";
		snprintf(cr->error, sizeof(cr->error), "not run: the run was interrupted");
		return;
	}

	/* A dry run removes nothing: its counts are the answer. */
	ret_error_clear(&cerr);
	rc = st->opt.dry_run ? RET_OK : execute_class(st, cr, &cerr);
	if (rc != RET_OK) {
		class_fail(cr, "failed", &cerr);
		return;
	}
	cr->status = st->interrupted ? "interrupted" : "ok";
	log_counts(LOG_INFO, cr->cls->name, st->opt.dry_run ? "would remove" : "done",
	           cr->eligible, cr->purged, cr->archived, cr->held, cr->undated);
}

/* The work phase of one worker: classes as they come, until none is left or its session is. */
static void *
work_phase(void *arg)
{
	worker *wk = arg;
	class_result *cr;

	while (!wk->view.conn_lost && (cr = take_class(wk->pool)) != NULL) {
		if (!wk->view.opt.dry_run)
			wk->pool->class_worker[cr - wk->pool->st->classes] = wk->index;
		work_class(&wk->view, cr);
	}
	return NULL;
}

/*
 * The next class whose evidence a worker reads: one it removed rows of (their
 * keys are in its session's temporary table), or one no session removed rows
 * of (a dry run's, one that failed before its work); NULL when none is left.
 */
static class_result *
take_evidence(worker_pool *pool, int worker_index)
{
	class_result *cr = NULL;

	pthread_mutex_lock(&pool->lock);
	for (int i = 0; i < pool->st->n_classes && cr == NULL; i++) {
		int owner = pool->class_worker[i];

		if (pool->evidence_taken[i] || !pool->st->classes[i].checked ||
		    (owner >= 0 && owner != worker_index))
			continue;
		pool->evidence_taken[i] = true;
		cr = &pool->st->classes[i];
	}
	pthread_mutex_unlock(&pool->lock);
	return cr;
}

/*
 * The evidence phase of one worker, after all the work: for each class it
 * takes, the rows each open hold kept, then the key digests. A session whose
 * transaction failed (a dry run's) takes no more classes; a dry run's other
 * sessions then end their share of the snapshot.
 */
static void *
evidence_phase(void *arg)
{
	worker *wk = arg;
	worker_pool *pool = wk->pool;
	run_state *view = &wk->view;
	class_result *cr;

	/* Scans, untimed. */
	if (!view->opt.dry_run && !db_lost(view->conn))
		db_set_timeouts(view->conn, view->pol->lock_timeout_ms, 0, NULL);
	while (!view->conn_lost && !db_lost(view->conn) &&
	       PQtransactionStatus(view->conn) != PQTRANS_INERROR &&
	       (cr = take_evidence(pool, wk->index)) != NULL) {
		int i = (int)(cr - view->classes);
		ret_error *e = &pool->class_err[i];
		ret_error derr;
		ret_code rc;

		rc = count_holds(view, cr, e);
		if (rc != RET_OK) {
			log_error_detail(cr->cls->name, e->message, e->hint, e->sqlstate);
			pool->class_rc[i] = rc;
			if (PQtransactionStatus(view->conn) == PQTRANS_INERROR)
				break;
		}
		ret_error_clear(&derr);
		rc = class_digests(view, cr, &derr);
		if (rc != RET_OK && pool->class_rc[i] == RET_OK) {
			pool->class_rc[i] = rc;
			*e = derr;
		}
	}
	if (wk->index > 0 && view->opt.dry_run && !db_lost(view->conn))
		PQclear(PQexec(view->conn, "COMMIT"));
	return NULL;
}

/*
 * Runs phase on every worker at once and waits for all of them. A thread
 * that cannot be started has its part run here afterwards, so that no class
 * is left without its worker.
 */
static void
pool_run(worker_pool *pool, void *(*phase)(void *))
{
	pthread_t *threads = calloc((size_t)pool->n_workers, sizeof(pthread_t));
	bool *started = calloc((size_t)pool->n_workers, sizeof(bool));
	sigset_t stop_signals, old;

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
	for (int w = 1; w < pool->n_workers && threads && started; w++)
		started[w] = pthread_create(&threads[w], NULL, phase, &pool->workers[w]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	phase(&pool->workers[0]);
	for (int w = 1; w < pool->n_workers; w++) {
		if (threads && started && started[w])
			pthread_join(threads[w], NULL);
		else
			phase(&pool->workers[w]);
	}
	free(threads);
	free(started);
}

/*
 * Before the work: each view takes the run as engine_prepare left it, and
 * every session gets the batches' timeouts, so none holds locks for long.
 */
static ret_code
pool_start_work(worker_pool *pool, ret_error *err)
{
	run_state *st = pool->st;

	pool_reset(pool);
	for (int w = 0; w < pool->n_workers; w++) {
		run_state *view = &pool->workers[w].view;
		bool lost = view->conn_lost;
		ret_code rc;

		worker_view(st, view->conn, view);
		view->conn_lost = lost || db_lost(view->conn);
		if (st->opt.dry_run || view->conn_lost)
			continue;
		rc = db_set_timeouts(view->conn, st->pol->lock_timeout_ms,
		                     st->pol->statement_timeout_ms, err);
		if (rc != RET_OK)
			return rc;
	}
	return RET_OK;
}

/*
 * After the work: whether any worker was interrupted is the run's, and every
 * worker's, so that no worker reads a held-keys digest the others skip.
 */
static void
pool_share_interrupted(worker_pool *pool)
{
	run_state *st = pool->st;

	for (int w = 0; w < pool->n_workers; w++)
		st->interrupted = st->interrupted || pool->workers[w].view.interrupted;
	for (int w = 0; w < pool->n_workers; w++)
		pool->workers[w].view.interrupted = st->interrupted;
}

/*
 * After the evidence: the hold counts go into the run in policy order, a
 * lost run connection is the run's, and a class no worker took (all their
 * sessions were lost) is marked not run.
 */
static void
pool_gather(worker_pool *pool)
{
	run_state *st = pool->st;

	st->conn_lost = st->conn_lost || pool->workers[0].view.conn_lost;
	for (int i = 0; i < st->n_classes; i++) {
		class_result *cr = &st->classes[i];

		if (strcmp(cr->status, "pending") == 0) {
			cr->status = "not-run";
			snprintf(cr->error, sizeof(cr->error), "not run: the database connection was lost");
		}
		for (int w = 0; w < pool->n_workers; w++) {
			const run_state *view = &pool->workers[w].view;

			for (int h = 0; h < view->n_holds; h++) {
				if (strcmp(view->holds[h].counted_in, cr->cls->name) != 0)
					continue;
				if (!grow((void **)&st->holds, &st->n_holds, &st->cap_holds,
				          sizeof(hold_record)))
					return;
				st->holds[st->n_holds++] = view->holds[h];
			}
		}
	}
}

/*
 * After the evidence: a class whose digests or hold counts could not be read,
 * or that no session could read them for (its session was lost after the
 * work), fails. A report never calls a class done with its evidence missing.
 */
static void
pool_judge_evidence(worker_pool *pool)
{
	run_state *st = pool->st;

	for (int i = 0; i < st->n_classes; i++) {
		class_result *cr = &st->classes[i];
		ret_error *e = &pool->class_err[i];

		if (!cr->checked)
			continue;
		if (!pool->evidence_taken[i] && pool->class_rc[i] == RET_OK) {
			pool->class_rc[i] = ret_fail(e, RET_RUNTIME,
			                             "the session that removed its rows was lost before"
			                             " its key digests and rows per hold were read");
			log_error_detail(cr->cls->name, e->message, NULL, NULL);
		}
		if (pool->class_rc[i] == RET_OK)
			continue;
		if (strcmp(cr->status, "ok") == 0 || strcmp(cr->status, "kept") == 0) {
			cr->status = "failed";
			snprintf(cr->error, sizeof(cr->error), "evidence not read: %s", e->message);
			snprintf(cr->sqlstate, sizeof(cr->sqlstate), "%s", e->sqlstate);
		}
	}
}

ret_code
engine_execute(run_state *st, ret_error *err)
{
	worker_pool *pool = st->pool;
	ret_code overall = RET_OK;
	ret_code rc;

	rc = pool ? pool_start_work(pool, err) : ret_fail(err, RET_RUNTIME, "the run is not prepared");
	if (rc != RET_OK) {
		st->conn_lost = db_lost(st->conn);
		for (int i = 0; i < st->n_classes; i++) {
			class_result *cr = &st->classes[i];

			if (strcmp(cr->status, "pending") != 0)
				continue;
			cr->status = "not-run";
			snprintf(cr->error, sizeof(cr->error), "not run: %s", err->message);
		}
		pool_close(st);
		return rc;
	}

	/* The work, then each class's evidence on the session that did its work. */
	pool_run(pool, work_phase);
	pool_share_interrupted(pool);
	pool_run(pool, evidence_phase);
	pool_gather(pool);
	pool_judge_evidence(pool);
	pool_close(st);

	/* Without the lock the run's session is gone: it fails, and says why first. */
	if (st->lock_lost)
		overall = lock_lost_fail(st, err);
	if (!st->lock_lost && !st->conn_lost && !db_lost(st->conn) &&
	    PQtransactionStatus(st->conn) != PQTRANS_INERROR) {
		ret_error eerr;

		ret_error_clear(&eerr);
		if (record_evidence(st, &eerr) != RET_OK && overall == RET_OK) {
			overall = RET_RUNTIME;
			*err = eerr;
		}
	}
	if (st->opt.dry_run && !db_lost(st->conn))
		PQclear(PQexec(st->conn, "COMMIT"));

	for (int i = 0; i < st->n_classes; i++) {
		const char *s = st->classes[i].status;

		if (strcmp(s, "ok") != 0 && strcmp(s, "kept") != 0 && overall == RET_OK) {
			overall = RET_RUNTIME;
			ret_fail(err, RET_RUNTIME, "class \"%s\" %s%s%s", st->classes[i].cls->name, s,
			         st->classes[i].error[0] ? ": " : "", st->classes[i].error);
		}
	}
	return overall;
}

const char *
engine_status(const run_state *st)
{
	switch (st->outcome) {
	case RET_OK:
		return "success";
	case RET_USAGE:
	case RET_GUARD:
		return "refused";
	case RET_LOCKED:
		return "locked";
	case RET_DRIFT: /* `policy check` only; a run never ends with it */
	case RET_RUNTIME:
		break;
	}
	return st->interrupted ? "interrupted" : "failed";
}

ret_code
engine_record_report(run_state *st, int exit_code, const char *report_file,
                     const char *report_sha256, ret_error *err)
{
	char code[16];
	const char *params[5];
	PGresult *res = NULL;
	ret_code rc;

	if (st->opt.dry_run || !st->ledger_row || db_lost(st->conn))
		return RET_OK;
	snprintf(code, sizeof(code), "%d", exit_code);
	params[0] = st->run_id;
	params[1] = engine_status(st);
	params[2] = code;
	params[3] = report_file;
	params[4] = report_sha256;

	/*
	 * Only a row still running: after a lost connection (or lock) a later run
	 * may have marked it abandoned and chained past this report, and that
	 * must show. A later run that adopted this very report recorded it already.
	 */
	rc = db_query(st->conn, "ledger update",
	              "WITH u AS (UPDATE retention.runs SET finished_at = clock_timestamp(),"
	              " status = $2, exit_code = $3, report_file = $4, report_sha256 = $5"
	              " WHERE run_id = $1 AND status = 'running' RETURNING 1)"
	              " SELECT (SELECT count(*) FROM u) = 1 OR EXISTS (SELECT 1 FROM retention.runs"
	              " WHERE run_id = $1 AND report_sha256 = $5)",
	              5, params, &res, err);
	if (rc != RET_OK)
		return rc;
	st->row_taken_over = PQgetvalue(res, 0, 0)[0] != 't';
	if (st->row_taken_over)
		rc = ret_fail(err, RET_RUNTIME,
		              "the ledger row of run %s was already closed (abandoned by a later run?);"
		              " report %s is not in the ledger",
		              st->run_id, report_file);
	PQclear(res);
	return rc;
}

void
engine_free(run_state *st)
{
	pool_close(st);
	if (st->locked && !db_lost(st->conn))
		PQclear(PQexec(st->conn, RUN_UNLOCK_SQL));
	for (int i = 0; i < st->n_classes; i++) {
		sqlbuild_free(&st->classes[i].sql);
		free(st->classes[i].leaves);
		free(st->classes[i].segments);
		free(st->classes[i].partitions);
	}
	free(st->classes);
	free(st->holds);
	free(st->orphans);
	for (int i = 0; i < st->n_warnings; i++)
		free(st->warnings[i]);
	free(st->warnings);
	for (int i = 0; i < st->n_unfinished; i++)
		free(st->unfinished_runs[i]);
	free(st->unfinished_runs);
	free(st->adopted);
	free(st->unfinished_work);
	evidence_free(&st->evidence);
	memset(st, 0, sizeof(*st));
}
