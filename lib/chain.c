/* Reading a directory of reports and checking their hash chain, alone and against the ledger. */
#include "chain.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchlog.h"
#include "db.h"
#include "jsonnum.h"

#define REPORT_FORMAT_NAME "retention-report"

static void
finding(chain_finding_fn fn, void *arg, bool is_break, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
finding(chain_finding_fn fn, void *arg, bool is_break, const char *file, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(arg, is_break, file, msg);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

void
chain_expected_name(const char *started_at, const char *run_id, char *out, size_t len)
{
	char stamp[32];
	size_t k = 0;

	/* "2026-12-04T13:32:47.123456Z" -> "20261204T133247Z", as report_file_name writes it. */
	for (const char *p = started_at; *p && *p != '.' && *p != 'Z' && k < sizeof(stamp) - 2; p++)
		if (*p != '-' && *p != ':')
			stamp[k++] = *p;
	stamp[k++] = 'Z';
	stamp[k] = '\0';
	snprintf(out, len, "retention-%s-%s.json", stamp, run_id);
}

static const char *
json_string(const cJSON *obj, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));

	return v ? v : "";
}

/* Fills e from a parsed report; false when it is not a retention report. */
static bool
entry_from_json(chain_entry *e, const cJSON *root)
{
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(root, "sequence");
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "policy");
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(root, "database");

	if (strcmp(json_string(root, "format"), REPORT_FORMAT_NAME) != 0)
		return false;
	snprintf(e->run_id, sizeof(e->run_id), "%s", json_string(root, "run_id"));
	snprintf(e->mode, sizeof(e->mode), "%s", json_string(root, "mode"));
	snprintf(e->previous, sizeof(e->previous), "%s", json_string(root, "previous_report_sha256"));
	snprintf(e->started_at, sizeof(e->started_at), "%s", json_string(root, "started_at"));
	snprintf(e->policy, sizeof(e->policy), "%s", json_string(pol, "name"));
	snprintf(e->db_name, sizeof(e->db_name), "%s", json_string(db, "name"));
	snprintf(e->system_identifier, sizeof(e->system_identifier), "%s",
	         json_string(db, "system_identifier"));
	{
		long long v;

		e->sequence = json_long_long(seq, &v) ? (int64_t)v : 0;
	}
	snprintf(e->group, sizeof(e->group), "policy \"%s\" on database \"%s\" (system %s)",
	         e->policy, e->db_name, e->system_identifier[0] ? e->system_identifier : "unknown");
	return true;
}

/* Reads and checks one report file; appends it to *entries when it is a report. */
static ret_code
read_one(const char *dir, const char *name, const signing_keyring *ring, chain_entry **entries,
         int *n, chain_finding_fn fn, void *arg, ret_error *err)
{
	char path[PATH_MAX];
	char detail[512];
	char expected[160];
	chain_entry e;
	cJSON *root = NULL;
	char *text = NULL;
	size_t len = 0;
	ret_code rc;

	memset(&e, 0, sizeof(e));
	snprintf(e.file, sizeof(e.file), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = report_read(path, &text, &len, e.sha256, &root, err);
	if (rc != RET_OK) {
		finding(fn, arg, true, name, "%s", err->message);
		ret_error_clear(err);
		return RET_OK;
	}
	if (root == NULL || !entry_from_json(&e, root)) {
		/* Only a file named like a report is one that went wrong. */
		if (strncmp(name, "retention-", 10) == 0)
			finding(fn, arg, true, name, "not a readable retention report (altered or "
			        "truncated)");
		else
			finding(fn, arg, false, name, "not a retention report; left out");
		goto done;
	}

	/* The signature, with the key its fingerprint names. */
	e.sig = report_check_signature(path, text, len, root, ring, detail, sizeof(detail));
	if (e.sig != REPORT_SIG_VALID)
		finding(fn, arg, true, name, "%s", detail);

	/* The name says which run it is; a swapped or renamed file no longer agrees. */
	chain_expected_name(e.started_at, e.run_id, expected, sizeof(expected));
	if (strcmp(expected, name) != 0)
		finding(fn, arg, true, name, "holds the report of run %s started at %s, whose file "
		        "would be %s: renamed or swapped", e.run_id, e.started_at, expected);

	{
		chain_entry *grown = realloc(*entries, (size_t)(*n + 1) * sizeof(**entries));

		if (grown == NULL) {
			rc = ret_fail(err, RET_RUNTIME, "out of memory");
			goto done;
		}
		*entries = grown;
		(*entries)[(*n)++] = e;
	}

done:
	cJSON_Delete(root);
	free(text);
	return rc;
}

/* Names each file a run set aside in dir/incomplete/: outside the chain, but not hidden. */
static void
note_set_aside(const char *dir, chain_finding_fn fn, void *arg)
{
	char sub[PATH_MAX];
	struct dirent **names = NULL;
	int count;

	snprintf(sub, sizeof(sub), "%s/incomplete", dir);
	count = scandir(sub, &names, NULL, alphasort);
	for (int i = 0; i < count; i++) {
		char rel[PATH_MAX];

		if (names[i]->d_name[0] != '.') {
			snprintf(rel, sizeof(rel), "incomplete/%s", names[i]->d_name);
			finding(fn, arg, false, rel, "set aside by a later run (left half-written, or "
			        "never recorded and not adopted); that run's report names it");
		}
		free(names[i]);
	}
	free(names);
}

ret_code
chain_read_dir(const char *dir, const signing_keyring *ring, chain_entry **entries, int *n,
               chain_finding_fn fn, void *arg, ret_error *err)
{
	struct dirent **names = NULL;
	int count;
	ret_code rc = RET_OK;

	*entries = NULL;
	*n = 0;
	count = scandir(dir, &names, NULL, alphasort);
	if (count < 0)
		return ret_fail(err, RET_USAGE, "%s: cannot list the report directory: %s", dir,
		                strerror(errno));
	for (int i = 0; i < count; i++) {
		const char *name = names[i]->d_name;

		if (rc != RET_OK || name[0] == '.')
			continue;
		if (ends_with(name, ".json")) {
			rc = read_one(dir, name, ring, entries, n, fn, arg, err);
		} else if (ends_with(name, ".json.sig")) {
			char report[PATH_MAX];
			FILE *f;

			/* A signature whose report is gone: the report was removed. */
			snprintf(report, sizeof(report), "%s/%.*s", dir, (int)(strlen(name) - 4), name);
			f = fopen(report, "rb");
			if (f == NULL)
				finding(fn, arg, true, name, "signature without its report %.*s: the report "
				        "was removed", (int)(strlen(name) - 4), name);
			else
				fclose(f);
		} else if (ends_with(name, ".json.tmp")) {
			finding(fn, arg, true, name, "a report that was never completely written (the "
			        "run was killed while writing it)");
		} else if (strcmp(name, "incomplete") == 0) {
			note_set_aside(dir, fn, arg);
		}
	}
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* True when e's file has the name `retention run` gave it. */
static bool
named_as_written(const chain_entry *e)
{
	char expected[160];

	chain_expected_name(e->started_at, e->run_id, expected, sizeof(expected));
	return strcmp(expected, e->file) == 0;
}

/*
 * Chains first, then sequence, then start time; among copies of one report
 * the file with its original name first, so that the other is the copy.
 */
static int
entry_order(const void *a, const void *b)
{
	const chain_entry *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	if (c != 0)
		return c;
	if (x->sequence != y->sequence)
		return x->sequence < y->sequence ? -1 : 1;
	c = strcmp(x->started_at, y->started_at);
	if (c != 0)
		return c;
	if (named_as_written(x) != named_as_written(y))
		return named_as_written(x) ? -1 : 1;
	return strcmp(x->file, y->file);
}

static bool
chained(const chain_entry *e)
{
	return strcmp(e->mode, "execute") == 0 && e->sequence > 0;
}

/* Checks one chain: entries g[0..m), sorted by sequence. */
static void
check_group(chain_entry *g, int m, chain_finding_fn fn, void *arg)
{
	bool *dup = calloc((size_t)m, sizeof(bool));
	int last = -1; /* the latest entry in the chain so far */

	if (dup == NULL) {
		finding(fn, arg, true, g[0].file, "out of memory while checking the chain");
		return;
	}

	/* Copies and clashes first, so that the links below see one report per sequence. */
	for (int i = 0; i < m; i++)
		for (int j = 0; j < i; j++) {
			if (dup[j])
				continue;
			if (strcmp(g[i].sha256, g[j].sha256) == 0) {
				finding(fn, arg, true, g[i].file, "duplicated report: a copy of %s",
				        g[j].file);
				dup[i] = true;
				break;
			}
			if (g[i].sequence == g[j].sequence) {
				finding(fn, arg, true, g[i].file, "claims sequence %lld of %s, as %s does",
				        (long long)g[i].sequence, g[i].group, g[j].file);
				dup[i] = true;
				break;
			}
		}

	for (int i = 0; i < m; i++) {
		const chain_entry *e = &g[i];
		const chain_entry *q = last >= 0 ? &g[last] : NULL; /* the one before it here */
		const chain_entry *p = NULL;                        /* the one it names */

		if (dup[i])
			continue;
		last = i;
		if (e->previous[0] == '\0') {
			if (q != NULL)
				finding(fn, arg, true, e->file, "sequence %lld names no previous report, yet "
				        "%s (sequence %lld) comes before it: the chain was restarted",
				        (long long)e->sequence, q->file, (long long)q->sequence);
			else if (e->sequence > 1)
				finding(fn, arg, false, e->file, "the chain starts at sequence %lld: the runs "
				        "before it left no report", (long long)e->sequence);
			continue;
		}
		for (int j = 0; j < m; j++)
			if (strcmp(g[j].sha256, e->previous) == 0)
				p = &g[j];
		if (p == NULL) {
			if (q != NULL)
				finding(fn, arg, true, e->file, "sequence %lld: its previous report (SHA-256 "
				        "%.16s...) is not in the directory; a report after %s (sequence %lld) "
				        "was removed or altered", (long long)e->sequence, e->previous,
				        q->file, (long long)q->sequence);
			else
				finding(fn, arg, true, e->file, "sequence %lld: its previous report (SHA-256 "
				        "%.16s...) is not in the directory; an earlier report was removed or "
				        "altered", (long long)e->sequence, e->previous);
			continue;
		}
		if (p->sequence >= e->sequence || strcmp(p->started_at, e->started_at) > 0) {
			finding(fn, arg, true, e->file, "reordered: sequence %lld chains to %s (sequence "
			        "%lld, started %s)", (long long)e->sequence, p->file,
			        (long long)p->sequence, p->started_at);
			continue;
		}
		if (p != q) {
			finding(fn, arg, true, q->file, "outside the chain: %s (sequence %lld) chains to "
			        "%s (sequence %lld), passing over this report (sequence %lld)", e->file,
			        (long long)e->sequence, p->file, (long long)p->sequence,
			        (long long)q->sequence);
			continue;
		}
		if (e->sequence - p->sequence > 1)
			finding(fn, arg, false, e->file, "no report for sequence %lld to %lld: runs that "
			        "ended without one (the ledger says why: --db)",
			        (long long)p->sequence + 1, (long long)e->sequence - 1);
	}
	if (last >= 0)
		finding(fn, arg, false, g[last].file, "newest report of %s (sequence %lld); only the "
		        "ledger (--db) can show that no later report is missing", g[last].group,
		        (long long)g[last].sequence);
	free(dup);
}

void
chain_check(chain_entry *entries, int n, chain_finding_fn fn, void *arg)
{
	int start = 0;

	qsort(entries, (size_t)n, sizeof(*entries), entry_order);
	for (int i = 0; i < n; i++) {
		if (strcmp(entries[i].mode, "execute") == 0 && entries[i].sequence == 0)
			finding(fn, arg, false, entries[i].file, "an execute run that never reached the "
			        "ledger (refused before the database): outside the chain");
	}

	/* Each chain is a run of equal groups among the chained entries. */
	while (start < n) {
		int end = start;

		if (!chained(&entries[start])) {
			start++;
			continue;
		}
		while (end < n && chained(&entries[end]) &&
		       strcmp(entries[end].group, entries[start].group) == 0)
			end++;
		check_group(&entries[start], end - start, fn, arg);
		start = end;
	}
}

/* The entry of run_id among this database's chained entries, or NULL. */
static const chain_entry *
find_run(const chain_entry *entries, int n, const bool *ours, const char *run_id)
{
	for (int i = 0; i < n; i++)
		if (ours[i] && strcmp(entries[i].run_id, run_id) == 0)
			return &entries[i];
	return NULL;
}

/*
 * Sets ours[i] for the chained reports of the database conn is connected to
 * (by name, and by system identifier where both are known); fills db_name.
 */
static ret_code
mark_ours(PGconn *conn, const chain_entry *entries, int n, bool *ours, char *db_name,
          size_t db_name_len, ret_error *err)
{
	char sysid[32] = "";
	PGresult *res = NULL;
	ret_code rc;

	rc = db_query(conn, "database identity", "SELECT current_database()", 0, NULL, &res, err);
	if (rc != RET_OK)
		return rc;
	snprintf(db_name, db_name_len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = PQexec(conn, "SELECT system_identifier::text FROM pg_control_system()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		snprintf(sysid, sizeof(sysid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int i = 0; i < n; i++)
		ours[i] = strcmp(entries[i].mode, "execute") == 0 && entries[i].sequence > 0 &&
		          strcmp(entries[i].db_name, db_name) == 0 &&
		          (!sysid[0] || !entries[i].system_identifier[0] ||
		           strcmp(entries[i].system_identifier, sysid) == 0);
	return RET_OK;
}

ret_code
chain_check_ledger(PGconn *conn, const chain_entry *entries, int n, chain_finding_fn fn,
                   void *arg, ret_error *err)
{
	char db_name[128] = "";
	PGresult *res = NULL;
	bool *ours = NULL;
	bool *seen = NULL;
	ret_code rc;

	ours = calloc((size_t)n + 1, sizeof(bool));
	seen = calloc((size_t)n + 1, sizeof(bool));
	if (ours == NULL || seen == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	rc = mark_ours(conn, entries, n, ours, db_name, sizeof(db_name), err);
	if (rc != RET_OK)
		goto done;

	/*
	 * A run that left no report is described by its rows in the batch ledger;
	 * report_recorded_by through to_jsonb: a ledger older than that column still reads.
	 */
	rc = db_query(conn, "runs ledger",
	              "SELECT r.run_id::text, r.sequence, r.policy_name, r.status,"
	              " coalesce(r.report_file, ''), coalesce(r.report_sha256, ''),"
	              " coalesce(to_jsonb(r) ->> 'report_recorded_by', ''),"
	              " coalesce((SELECT string_agg(format('class %s %s %s rows in %s batch%s',"
	              "   b.class_name, CASE WHEN b.action = 'archive' THEN 'archived' ELSE 'purged'"
	              "   END, b.rows, b.n, CASE WHEN b.n = 1 THEN '' ELSE 'es' END), '; '"
	              "   ORDER BY b.class_name, b.action)"
	              "  FROM (SELECT class_name, action, sum(rows) AS rows, count(*) AS n"
	              "        FROM retention.batches WHERE run_id = r.run_id"
	              "        GROUP BY class_name, action) b), 'no batch of it committed')"
	              " FROM retention.runs r WHERE r.mode = 'execute'"
	              " ORDER BY r.policy_name, r.sequence",
	              0, NULL, &res, err);
	if (rc != RET_OK)
		goto done;
	for (int r = 0; r < PQntuples(res); r++) {
		const char *run_id = PQgetvalue(res, r, 0);
		long long seq = (long long)db_int64(res, r, 1);
		const char *policy_name = PQgetvalue(res, r, 2);
		const char *status = PQgetvalue(res, r, 3);
		const char *file = PQgetvalue(res, r, 4);
		const char *sha = PQgetvalue(res, r, 5);
		const char *recorded_by = PQgetvalue(res, r, 6);
		const chain_entry *e = find_run(entries, n, ours, run_id);

		if (e != NULL)
			seen[e - entries] = true;
		if (sha[0] && e == NULL)
			finding(fn, arg, true, file[0] ? file : run_id, "in the ledger (policy \"%s\", "
			        "sequence %lld, run %s) but missing from the directory", policy_name, seq,
			        run_id);
		else if (sha[0] && strcmp(e->sha256, sha) != 0)
			finding(fn, arg, true, e->file, "the ledger records SHA-256 %.16s... for this "
			        "report, the file has %.16s...: altered", sha, e->sha256);
		else if (!sha[0] && e != NULL)
			finding(fn, arg, true, e->file, "the ledger never recorded this report (run "
			        "status %s): it cannot vouch for it", status);
		else if (!sha[0])
			finding(fn, arg, false, run_id, "policy \"%s\" sequence %lld left no report "
			        "(status %s); its committed batches: %s", policy_name, seq, status,
			        PQgetvalue(res, r, 7));
		/* Completed late: the adopting run's report says why; the auditor should know. */
		if (sha[0] && recorded_by[0])
			finding(fn, arg, false, file[0] ? file : run_id, "recorded in the ledger by the "
			        "later run %s (this run's database went away before it could); that "
			        "run's report names the adoption, or the next one's if it left none",
			        recorded_by);
	}
	for (int i = 0; i < n; i++)
		if (ours[i] && !seen[i])
			finding(fn, arg, true, entries[i].file, "not in the ledger of database \"%s\"",
			        db_name);

done:
	PQclear(res);
	free(ours);
	free(seen);
	return rc;
}

/* The ledger's sums for one class of one run among rows [from, to) of res. */
static void
ledger_class(const PGresult *res, int from, int to, const char *class_name, long long *purged,
             long long *archived, long long *batches)
{
	*purged = *archived = *batches = 0;
	for (int r = from; r < to; r++) {
		if (PQgetisnull(res, r, 2) || strcmp(PQgetvalue(res, r, 2), class_name) != 0)
			continue;
		if (PQgetvalue(res, r, 3)[0] == 't')
			*archived += (long long)db_int64(res, r, 5);
		else
			*purged += (long long)db_int64(res, r, 5);
		*batches += (long long)db_int64(res, r, 4);
	}
}

/* Compares one report's classes with its run's rows [from, to) of the batch ledger sums. */
static void
check_report_batches(const char *dir, const chain_entry *e, const PGresult *res, int from,
                     int to, chain_finding_fn fn, void *arg)
{
	char path[PATH_MAX], sha[65];
	const cJSON *classes, *c;
	cJSON *root = NULL;
	char *text = NULL;
	size_t len = 0;
	ret_error err;

	snprintf(path, sizeof(path), "%s/%s", dir, e->file);
	if (report_read(path, &text, &len, sha, &root, &err) != RET_OK || root == NULL) {
		finding(fn, arg, true, e->file, "cannot be read again to check its counts");
		goto done;
	}
	classes = cJSON_GetObjectItemCaseSensitive(root, "classes");

	/* Every class's purged and archived rows, as the run's committed batches add up. */
	cJSON_ArrayForEach(c, classes)
	{
		const char *name = json_string(c, "name");
		long long purged = 0, archived = 0, lp, la, lb;

		json_long_long(cJSON_GetObjectItemCaseSensitive(c, "purged"), &purged);
		json_long_long(cJSON_GetObjectItemCaseSensitive(c, "archived"), &archived);
		ledger_class(res, from, to, name, &lp, &la, &lb);
		if (purged != lp || archived != la)
			finding(fn, arg, true, e->file, "class \"%s\": the report says %lld rows purged and "
			        "%lld archived; the batch ledger holds %lld purged and %lld archived in %lld "
			        "committed batches of run %s", name, purged, archived, lp, la, lb,
			        e->run_id);
	}

	/* And no class removed rows that the report leaves out. */
	for (int r = from; r < to; r++) {
		const char *name = PQgetvalue(res, r, 2);
		bool listed = false;

		if (PQgetisnull(res, r, 2))
			continue;
		cJSON_ArrayForEach(c, classes)
		{
			listed = listed || strcmp(json_string(c, "name"), name) == 0;
		}
		if (!listed)
			finding(fn, arg, true, e->file, "the batch ledger holds %s rows %s from class \"%s\" "
			        "by run %s, a class the report does not list", PQgetvalue(res, r, 5),
			        PQgetvalue(res, r, 3)[0] == 't' ? "archived" : "purged", name, e->run_id);
	}

done:
	cJSON_Delete(root);
	free(text);
}

ret_code
chain_check_batches(PGconn *conn, const char *dir, const chain_entry *entries, int n,
                    chain_finding_fn fn, void *arg, ret_error *err)
{
	char db_name[128] = "", since[16];
	const char *params[1] = {since};
	PGresult *res = NULL;
	bool *ours = NULL;
	ret_code rc;

	ours = calloc((size_t)n + 1, sizeof(bool));
	if (ours == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = mark_ours(conn, entries, n, ours, db_name, sizeof(db_name), err);
	if (rc != RET_OK)
		goto done;

	/*
	 * Per reported run and class, the sums of its committed batches; whether
	 * the run started after the ledger existed (before, it has no rows there).
	 */
	snprintf(since, sizeof(since), "%d", BATCHLOG_SINCE_VERSION);
	rc = db_query(conn, "batch ledger",
	              "SELECT r.run_id::text, r.started_at >= coalesce((SELECT applied_at"
	              "   FROM retention.schema_migrations WHERE version = $1::int), 'infinity'),"
	              " b.class_name, b.action = 'archive', count(b.batch), coalesce(sum(b.rows), 0)"
	              " FROM retention.runs r LEFT JOIN retention.batches b ON b.run_id = r.run_id"
	              " WHERE r.mode = 'execute' AND r.report_sha256 IS NOT NULL"
	              " GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4",
	              1, params, &res, err);
	if (rc != RET_OK)
		goto done;
	for (int i = 0; i < n; i++) {
		int from = -1, to = -1;

		if (!ours[i])
			continue;
		for (int r = 0; r < PQntuples(res); r++) {
			if (strcmp(PQgetvalue(res, r, 0), entries[i].run_id) != 0)
				continue;
			if (from < 0)
				from = r;
			to = r + 1;
		}
		if (from < 0)
			continue; /* not a reported run of the ledger: chain_check_ledger says so */
		if (PQgetvalue(res, from, 1)[0] != 't') {
			finding(fn, arg, false, entries[i].file, "run %s started before the batch ledger "
			        "existed: its counts are not checked against it", entries[i].run_id);
			continue;
		}
		check_report_batches(dir, &entries[i], res, from, to, fn, arg);
	}

done:
	PQclear(res);
	free(ours);
	return rc;
}
