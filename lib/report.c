/* Rendering, writing, signing and checking audit reports. */
#include "report.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "fault.h"
#include "jsonnum.h"
#include "strbuf.h"
#include "version.h"

/* Integers as exact JSON numbers: never through a double, never 32 bits. */
static void
add_int64(cJSON *obj, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	cJSON_AddItemToObject(obj, name, cJSON_CreateRaw(buf));
}

static void
add_string_or_null(cJSON *obj, const char *name, const char *v)
{
	if (v && v[0])
		cJSON_AddStringToObject(obj, name, v);
	else
		cJSON_AddNullToObject(obj, name);
}

static cJSON *
render_digest(const key_digest *d)
{
	cJSON *o;

	if (!d->computed)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	add_int64(o, "rows", d->rows);
	cJSON_AddStringToObject(o, "sha256", d->sha256);
	return o;
}

/*
 * The class's key digests (lib/keydigest.h): purged and archived by action,
 * the other one being the digest of no keys; in a dry run, the keys it would
 * remove. Null for a class with no key or whose digests were not computed.
 */
static void
render_key_digests(cJSON *c, const class_result *cr, bool dry_run)
{
	key_digest none;
	cJSON *d;

	if (!cr->removed_keys.computed && !cr->held_keys.computed) {
		cJSON_AddNullToObject(c, "key_digests");
		return;
	}
	keydigest_empty(&none);
	d = cJSON_AddObjectToObject(c, "key_digests");
	cJSON_AddStringToObject(d, "key", cr->cls->key);
	cJSON_AddStringToObject(d, "method", REPORT_DIGEST_METHOD);
	cJSON_AddStringToObject(d, "removed_as", dry_run ? "would-remove" : "removed");
	cJSON_AddItemToObject(d, "purged", render_digest(cr->cls->action == ACTION_PURGE
	                                                     ? &cr->removed_keys : &none));
	cJSON_AddItemToObject(d, "archived", render_digest(cr->cls->action == ACTION_ARCHIVE
	                                                       ? &cr->removed_keys : &none));
	cJSON_AddItemToObject(d, "held", render_digest(&cr->held_keys));
}

static cJSON *
render_class(const class_result *cr, bool dry_run)
{
	cJSON *c = cJSON_CreateObject();
	char table[2 * POLICY_NAME_MAX + 2];

	snprintf(table, sizeof(table), "%s.%s", cr->cls->schema, cr->cls->table);
	cJSON_AddStringToObject(c, "name", cr->cls->name);
	cJSON_AddStringToObject(c, "table", table);
	cJSON_AddStringToObject(c, "action", policy_action_name(cr->cls->action));
	cJSON_AddStringToObject(c, "retain", cr->cls->retain.text);
	add_string_or_null(c, "procedure", cr->cls->procedure);
	add_string_or_null(c, "cutoff", cr->cutoff);
	cJSON_AddStringToObject(c, "status", cr->status);
	add_int64(c, "total", cr->total);
	add_int64(c, "eligible", cr->eligible);
	add_int64(c, "purged", cr->purged);
	add_int64(c, "archived", cr->archived);
	add_int64(c, "held", cr->held);
	add_int64(c, "undated", cr->undated);
	add_int64(c, "pinned", cr->pinned);
	add_int64(c, "batches", cr->batches);
	add_int64(c, "retries", cr->retries);
	cJSON_AddNumberToObject(c, "seconds", (double)(int64_t)(cr->seconds * 1000) / 1000.0);
	if (cr->guard[0]) {
		cJSON *g = cJSON_AddObjectToObject(c, "guard");

		cJSON_AddStringToObject(g, "name", cr->guard);
		cJSON_AddStringToObject(g, "detail", cr->guard_detail);
	} else {
		cJSON_AddNullToObject(c, "guard");
	}
	add_string_or_null(c, "error", cr->error);
	add_string_or_null(c, "sqlstate", cr->sqlstate);
	cJSON_AddBoolToObject(c, "analyzed", cr->analyzed);
	cJSON_AddBoolToObject(c, "vacuumed", cr->vacuumed);
	if (cr->n_dead_tup >= 0)
		add_int64(c, "n_dead_tup", cr->n_dead_tup);
	else
		cJSON_AddNullToObject(c, "n_dead_tup");
	/* Partitions removed whole, or given up on: each with its rows and outcome. */
	{
		cJSON *parts = cJSON_AddArrayToObject(c, "partitions");

		for (int i = 0; parts && i < cr->n_partitions; i++) {
			cJSON *p = cJSON_CreateObject();

			if (p == NULL)
				break;
			cJSON_AddStringToObject(p, "name", cr->partitions[i].name);
			add_int64(p, "rows", cr->partitions[i].rows);
			cJSON_AddStringToObject(p, "outcome", cr->partitions[i].outcome);
			add_string_or_null(p, "reason", cr->partitions[i].reason);
			cJSON_AddItemToArray(parts, p);
		}
	}
	render_key_digests(c, cr, dry_run);
	return c;
}

/* The open hold with hold_id in the run's evidence, or NULL. */
static const hold_event *
find_open_hold(const run_state *st, int64_t hold_id)
{
	for (int i = 0; i < st->evidence.n_open; i++)
		if (st->evidence.open[i].hold_id == hold_id)
			return &st->evidence.open[i];
	return NULL;
}

static void
add_hold_details(cJSON *entry, const hold_event *h)
{
	add_string_or_null(entry, "reason", h ? h->reason : NULL);
	add_string_or_null(entry, "created_by", h ? h->actor : NULL);
	add_string_or_null(entry, "created_at", h ? h->at : NULL);
}

/* True when ticket already has an entry in arr. */
static bool
ticket_listed(const cJSON *arr, const char *ticket)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, arr)
	{
		if (strcmp(cJSON_GetObjectItem(t, "ticket")->valuestring, ticket) == 0)
			return true;
	}
	return false;
}

/*
 * Holds grouped by ticket: one entry per hold and class it kept rows in,
 * with who added it, when and why; an open hold that no class of the policy
 * can match is listed too, with no class and no rows.
 */
static cJSON *
render_holds(const run_state *st)
{
	cJSON *arr = cJSON_CreateArray();
	int n_tickets = st->n_holds + st->evidence.n_open;

	for (int i = 0; i < n_tickets; i++) {
		const char *name = i < st->n_holds ? st->holds[i].ticket
		                                   : st->evidence.open[i - st->n_holds].ticket;
		cJSON *ticket;
		cJSON *matches;
		int64_t total = 0;

		if (ticket_listed(arr, name))
			continue;
		ticket = cJSON_CreateObject();
		cJSON_AddStringToObject(ticket, "ticket", name);
		matches = cJSON_AddArrayToObject(ticket, "matches");
		for (int j = 0; j < st->n_holds; j++) {
			const hold_record *o = &st->holds[j];
			cJSON *entry;

			if (strcmp(o->ticket, name) != 0)
				continue;
			entry = cJSON_CreateObject();
			add_int64(entry, "hold_id", o->hold_id);
			cJSON_AddStringToObject(entry, "match_column", o->match_column);
			cJSON_AddStringToObject(entry, "match_value", o->match_value);
			add_string_or_null(entry, "hold_class", o->class_name);
			cJSON_AddStringToObject(entry, "class", o->counted_in);
			add_int64(entry, "rows_held", o->rows_held);
			add_hold_details(entry, find_open_hold(st, o->hold_id));
			cJSON_AddItemToArray(matches, entry);
			total += o->rows_held;
		}
		for (int j = 0; j < st->evidence.n_open; j++) {
			const hold_event *h = &st->evidence.open[j];
			bool counted = false;
			cJSON *entry;

			if (strcmp(h->ticket, name) != 0)
				continue;
			for (int k = 0; k < st->n_holds; k++)
				if (st->holds[k].hold_id == h->hold_id)
					counted = true;
			if (counted)
				continue;
			entry = cJSON_CreateObject();
			add_int64(entry, "hold_id", h->hold_id);
			cJSON_AddStringToObject(entry, "match_column", h->match_column);
			cJSON_AddStringToObject(entry, "match_value", h->match_value);
			add_string_or_null(entry, "hold_class", h->class_name);
			cJSON_AddNullToObject(entry, "class");
			add_int64(entry, "rows_held", 0);
			add_hold_details(entry, h);
			cJSON_AddItemToArray(matches, entry);
		}
		add_int64(ticket, "rows_held", total);
		cJSON_AddItemToArray(arr, ticket);
	}
	return arr;
}

/* Holds released since the previous executed run, from the append-only history. */
static cJSON *
render_releases(const run_state *st)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; i < st->evidence.n_released; i++) {
		const hold_event *h = &st->evidence.released[i];
		cJSON *e = cJSON_CreateObject();

		add_int64(e, "hold_id", h->hold_id);
		cJSON_AddStringToObject(e, "ticket", h->ticket);
		cJSON_AddStringToObject(e, "match_column", h->match_column);
		cJSON_AddStringToObject(e, "match_value", h->match_value);
		add_string_or_null(e, "hold_class", h->class_name);
		cJSON_AddStringToObject(e, "released_at", h->at);
		cJSON_AddStringToObject(e, "released_by", h->actor);
		cJSON_AddStringToObject(e, "reason", h->reason);
		cJSON_AddItemToArray(arr, e);
	}
	return arr;
}

/*
 * For each run named in unfinished_runs, what its committed batches removed
 * per class, from the batch ledger: the only account of a run killed before
 * its report.
 */
static cJSON *
render_unfinished_work(const run_state *st)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; i < st->n_unfinished; i++) {
		cJSON *run = cJSON_CreateObject();
		cJSON *classes;

		cJSON_AddStringToObject(run, "run_id", st->unfinished_runs[i]);
		classes = cJSON_AddArrayToObject(run, "classes");
		for (int w = 0; w < st->n_unfinished_work; w++) {
			const batchlog_sum *b = &st->unfinished_work[w];
			cJSON *c;

			if (strcmp(b->run_id, st->unfinished_runs[i]) != 0)
				continue;
			c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "class", b->class_name);
			add_int64(c, "purged", b->archive ? 0 : b->rows);
			add_int64(c, "archived", b->archive ? b->rows : 0);
			add_int64(c, "batches", b->batches);
			cJSON_AddItemToArray(classes, c);
		}
		cJSON_AddItemToArray(arr, run);
	}
	return arr;
}

char *
report_render(const run_state *st, const policy *p, const report_meta *meta)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *obj;
	cJSON *arr;
	char *text;

	cJSON_AddStringToObject(root, "format", "retention-report");
	add_int64(root, "format_version", REPORT_FORMAT_VERSION);
	cJSON_AddStringToObject(root, "run_id", st->run_id);
	cJSON_AddStringToObject(root, "mode", st->opt.dry_run ? "dry-run" : "execute");
	cJSON_AddStringToObject(root, "status", engine_status(st));
	add_int64(root, "exit_code", meta->exit_code);
	cJSON_AddStringToObject(root, "started_at", meta->started_at);
	cJSON_AddStringToObject(root, "finished_at", meta->finished_at);
	add_string_or_null(root, "as_of", st->as_of);
	if (st->sequence > 0)
		add_int64(root, "sequence", st->sequence);
	else
		cJSON_AddNullToObject(root, "sequence");
	add_string_or_null(root, "previous_report_sha256", st->previous_report_sha256);

	obj = cJSON_AddObjectToObject(root, "policy");
	if (p) {
		cJSON_AddStringToObject(obj, "name", p->name);
		add_int64(obj, "version", p->version);
		cJSON_AddStringToObject(obj, "sha256", p->sha256);
		cJSON_AddStringToObject(obj, "path", p->path);
		cJSON_AddStringToObject(obj, "timezone", p->timezone);
	}

	obj = cJSON_AddObjectToObject(root, "database");
	add_string_or_null(obj, "name", st->db_name);
	add_string_or_null(obj, "system_identifier", st->system_identifier);
	add_string_or_null(obj, "server_version", st->server_version);
	add_string_or_null(obj, "user", st->db_user);

	arr = cJSON_AddArrayToObject(root, "classes");
	for (int i = 0; i < st->n_classes; i++)
		cJSON_AddItemToArray(arr, render_class(&st->classes[i], st->opt.dry_run));

	cJSON_AddItemToObject(root, "holds", render_holds(st));
	if (st->evidence.loaded) {
		add_string_or_null(root, "holds_released_since", st->evidence.released_since);
		cJSON_AddItemToObject(root, "holds_released", render_releases(st));
	} else {
		cJSON_AddNullToObject(root, "holds_released_since");
		cJSON_AddNullToObject(root, "holds_released");
	}

	arr = cJSON_AddArrayToObject(root, "archive_segments");
	for (int i = 0; i < st->n_classes; i++) {
		const class_result *cr = &st->classes[i];

		for (int s = 0; s < cr->n_segments; s++) {
			cJSON *seg = cJSON_CreateObject();

			cJSON_AddStringToObject(seg, "class", cr->cls->name);
			cJSON_AddStringToObject(seg, "path", cr->segments[s].path);
			cJSON_AddStringToObject(seg, "sha256", cr->segments[s].sha256);
			add_int64(seg, "rows", cr->segments[s].rows);
			add_int64(seg, "bytes", cr->segments[s].bytes);
			add_int64(seg, "batch", cr->segments[s].batch);
			cJSON_AddItemToArray(arr, seg);
		}
	}

	arr = cJSON_AddArrayToObject(root, "orphaned_segments");
	for (int i = 0; i < st->n_orphans; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "path", st->orphans[i].from);
		cJSON_AddStringToObject(o, "moved_to", st->orphans[i].to);
		add_string_or_null(o, "set_aside_by", st->orphans[i].set_aside_by);
		cJSON_AddItemToArray(arr, o);
	}

	arr = cJSON_AddArrayToObject(root, "guards");
	for (int i = 0; i < st->n_classes; i++) {
		const class_result *cr = &st->classes[i];
		cJSON *g;

		if (!cr->guard[0])
			continue;
		g = cJSON_CreateObject();
		cJSON_AddStringToObject(g, "class", cr->cls->name);
		cJSON_AddStringToObject(g, "guard", cr->guard);
		cJSON_AddStringToObject(g, "detail", cr->guard_detail);
		cJSON_AddItemToArray(arr, g);
	}
	if (st->outcome == RET_GUARD && strncmp(st->outcome_message, "guard clock", 11) == 0) {
		cJSON *g = cJSON_CreateObject();

		cJSON_AddNullToObject(g, "class");
		cJSON_AddStringToObject(g, "guard", "clock");
		cJSON_AddStringToObject(g, "detail", st->outcome_message);
		cJSON_AddItemToArray(arr, g);
	}

	arr = cJSON_AddArrayToObject(root, "unfinished_runs");
	for (int i = 0; i < st->n_unfinished; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(st->unfinished_runs[i]));
	arr = cJSON_AddArrayToObject(root, "adopted_reports");
	for (int i = 0; i < st->n_adopted; i++) {
		const adopted_report *a = &st->adopted[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "run_id", a->run_id);
		add_int64(o, "sequence", a->sequence);
		cJSON_AddStringToObject(o, "file", a->file);
		cJSON_AddStringToObject(o, "sha256", a->sha256);
		cJSON_AddStringToObject(o, "status", a->status);
		add_int64(o, "exit_code", a->exit_code);
		cJSON_AddItemToArray(arr, o);
	}
	if (st->unfinished_work_read)
		cJSON_AddItemToObject(root, "unfinished_runs_removed", render_unfinished_work(st));
	else
		cJSON_AddNullToObject(root, "unfinished_runs_removed");
	arr = cJSON_AddArrayToObject(root, "warnings");
	for (int i = 0; i < st->n_warnings; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(st->warnings[i]));

	if (meta->error && meta->error[0]) {
		obj = cJSON_AddObjectToObject(root, "error");
		cJSON_AddStringToObject(obj, "message", meta->error);
		add_string_or_null(obj, "hint", meta->error_hint);
	} else {
		cJSON_AddNullToObject(root, "error");
	}
	add_string_or_null(root, "key_fingerprint", meta->key_fingerprint);
	obj = cJSON_AddObjectToObject(root, "generator");
	cJSON_AddStringToObject(obj, "program", "retention");
	cJSON_AddStringToObject(obj, "version", RETENTION_VERSION);
	cJSON_AddStringToObject(obj, "build", RETENTION_GIT);

	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text) {
		/* End with a newline, as a text file should. */
		size_t n = strlen(text);
		char *withnl = malloc(n + 2);

		if (withnl) {
			memcpy(withnl, text, n);
			withnl[n] = '\n';
			withnl[n + 1] = '\0';
		}
		cJSON_free(text);
		return withnl;
	}
	return NULL;
}

void
report_file_name(long started, const char *run_id, char *out, size_t len)
{
	time_t t = (time_t)started;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, len, "retention-%04d%02d%02dT%02d%02d%02dZ-%s.json", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, run_id);
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The unfinished run of st whose report name is report ("...-<run id>.json"), or NULL. */
static const char *
unfinished_run_of(const run_state *st, const char *report)
{
	for (int i = 0; i < st->n_unfinished; i++) {
		char tail[64];

		snprintf(tail, sizeof(tail), "-%s.json", st->unfinished_runs[i]);
		if (has_suffix(report, tail))
			return st->unfinished_runs[i];
	}
	return NULL;
}

/* Moves dir/name to aside/name; a file already gone (moved with its report) is no error. */
static ret_code
move_aside(const char *dir, const char *aside, const char *name, bool *moved, ret_error *err)
{
	char from[PATH_MAX], to[PATH_MAX * 2];

	*moved = false;
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	snprintf(to, sizeof(to), "%s/%s", aside, name);
	if (mkdir(aside, 0755) != 0 && errno != EEXIST)
		return ret_fail(err, RET_RUNTIME, "%s: cannot create: %s", aside, strerror(errno));
	if (rename(from, to) != 0) {
		if (errno == ENOENT)
			return RET_OK;
		return ret_fail(err, RET_RUNTIME, "%s: cannot move aside: %s", from, strerror(errno));
	}
	*moved = true;
	return RET_OK;
}

ret_code
report_set_aside_own(const char *dir, const char *name, ret_error *err)
{
	char aside[PATH_MAX], sig[PATH_MAX];
	bool done = false;
	ret_code rc;

	snprintf(aside, sizeof(aside), "%s/incomplete", dir);
	snprintf(sig, sizeof(sig), "%s.sig", name);
	rc = move_aside(dir, aside, name, &done, err);
	if (rc == RET_OK)
		rc = move_aside(dir, aside, sig, &done, err);
	return rc;
}

ret_code
report_set_aside_incomplete(run_state *st, const char *dir, ret_error *err)
{
	char aside[PATH_MAX];
	ret_code rc = RET_OK;
	struct dirent **names = NULL;
	int count;
	int moved = 0;

	if (st->n_unfinished == 0)
		return RET_OK;
	snprintf(aside, sizeof(aside), "%s/incomplete", dir);
	/* The names first: the directory changes under the moves below. */
	count = scandir(dir, &names, NULL, alphasort);
	if (count < 0)
		return ret_fail(err, RET_RUNTIME, "%s: cannot list: %s", dir, strerror(errno));
	for (int i = 0; i < count && rc == RET_OK; i++) {
		const char *name = names[i]->d_name;
		char report[PATH_MAX], path[PATH_MAX * 2], sig[PATH_MAX];
		const char *run;
		size_t rl;
		bool done = false;
		struct stat sb;

		/*
		 * A complete report of a run the ledger just marked abandoned is one
		 * that run never recorded and that could not be adopted: it goes with
		 * its signature.
		 */
		if (has_suffix(name, ".json")) {
			run = unfinished_run_of(st, name);
			if (run == NULL)
				continue;
			rc = move_aside(dir, aside, name, &done, err);
			if (rc == RET_OK && done) {
				snprintf(sig, sizeof(sig), "%s.sig", name);
				rc = move_aside(dir, aside, sig, &done, err);
				moved++;
				engine_warn(st, "%s is the report of run %s, which never recorded it in the "
				            "ledger, and it was not adopted; moved with its signature to "
				            "incomplete/%s", name, run, name);
			}
			continue;
		}
		if (!has_suffix(name, ".json.tmp") && !has_suffix(name, ".json.sig"))
			continue;
		/* The report's own name: without ".tmp" or ".sig". */
		rl = strlen(name) - 4;
		if (rl >= sizeof(report))
			continue;
		memcpy(report, name, rl);
		report[rl] = '\0';
		if (unfinished_run_of(st, report) == NULL)
			continue;

		/* A signature next to its complete report goes with that report, above. */
		snprintf(path, sizeof(path), "%s/%s", dir, report);
		if (has_suffix(name, ".sig") && stat(path, &sb) == 0)
			continue;
		rc = move_aside(dir, aside, name, &done, err);
		if (rc != RET_OK || !done)
			continue;
		moved++;
		engine_warn(st, "%s was left by a run killed while writing its report; moved to "
		            "incomplete/%s", name, name);
	}
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (moved > 0) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return rc;
}

/* Writes bytes to path via path.tmp, fsync and rename. */
static ret_code
write_atomically(const char *path, const void *data, size_t len, bool kill_midway,
                 ret_error *err)
{
	char tmp[PATH_MAX];
	const char *p = data;
	size_t left = len;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ret_fail(err, RET_RUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
	while (left > 0) {
		ssize_t n = write(fd, p, kill_midway && left == len ? left / 2 : left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;

			close(fd);
			unlink(tmp);
			return ret_fail(err, RET_RUNTIME, "%s: write failed: %s", tmp, strerror(e));
		}
		p += n;
		left -= (size_t)n;
		if (kill_midway)
			fault_point("report-write");
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(tmp);
		return ret_fail(err, RET_RUNTIME, "%s: fsync failed: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return ret_fail(err, RET_RUNTIME, "%s: rename failed: %s", path, strerror(errno));
	}
	return RET_OK;
}

ret_code
report_write(const char *dir, const char *name, const char *text, const signing_key *key,
             char sha256[65], ret_error *err)
{
	char path[PATH_MAX];
	char sigpath[PATH_MAX + 8];
	unsigned char sig[SIGNATURE_BYTES];
	size_t len = strlen(text);
	ret_code rc;
	int dfd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return ret_fail(err, RET_USAGE, "report path too long");
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	sha256_hex((const unsigned char *)text, len, sha256);

	/* The signature first: a report never stands without the means to check it. */
	if (key) {
		rc = signing_key_sign(key, (const unsigned char *)text, len, sig, err);
		if (rc != RET_OK)
			return rc;
		rc = write_atomically(sigpath, sig, sizeof(sig), false, err);
		if (rc != RET_OK)
			return rc;
	}
	rc = write_atomically(path, text, len, true, err);
	if (rc != RET_OK)
		return rc;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return RET_OK;
}

/* Reads a whole file of at most max bytes; caller frees. */
static char *
slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	struct stat st;

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size > max) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

bool
report_verify(const char *path, const signing_key *key, const char *archive_dir,
              bool require_segments, char **problems)
{
	char sigpath[PATH_MAX + 8];
	strbuf out = {0};
	size_t len = 0, siglen = 0;
	char *text = NULL;
	char *sig = NULL;
	cJSON *root = NULL;
	const cJSON *segs;
	const cJSON *seg;
	bool ok = true;

	/* The signature over the exact bytes. */
	text = slurp(path, 64 * 1024 * 1024, &len);
	if (text == NULL) {
		strbuf_appendf(&out, "%s: cannot read report: %s\n", path, strerror(errno));
		ok = false;
		goto done;
	}
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	sig = slurp(sigpath, 1024, &siglen);
	if (sig == NULL) {
		strbuf_appendf(&out, "%s: no signature file %s\n", path, sigpath);
		ok = false;
	} else if (!signing_key_verify(key, (const unsigned char *)text, len,
	                               (const unsigned char *)sig, siglen)) {
		strbuf_appendf(&out, "%s: signature does not match (altered report or other key)\n",
		               path);
		ok = false;
	}

	/* The archive segments it lists. */
	root = cJSON_ParseWithLength(text, len);
	if (root == NULL) {
		strbuf_appendf(&out, "%s: not valid JSON\n", path);
		ok = false;
		goto done;
	}
	segs = cJSON_GetObjectItemCaseSensitive(root, "archive_segments");
	if (archive_dir == NULL)
		goto done;
	cJSON_ArrayForEach(seg, segs)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(seg, "path");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(seg, "sha256");
		char full[PATH_MAX * 2];
		char actual[65];
		ret_error e;

		if (!cJSON_IsString(p) || !cJSON_IsString(h)) {
			strbuf_appendf(&out, "%s: malformed archive segment entry\n", path);
			ok = false;
			continue;
		}
		snprintf(full, sizeof(full), "%s/%s", archive_dir, p->valuestring);
		if (access(full, F_OK) != 0) {
			if (require_segments) {
				strbuf_appendf(&out, "%s: archive segment %s is missing\n", path,
				               p->valuestring);
				ok = false;
			}
			continue;
		}
		if (sha256_file_hex(full, actual, &e) != RET_OK) {
			strbuf_appendf(&out, "%s: %s\n", path, e.message);
			ok = false;
		} else if (strcmp(actual, h->valuestring) != 0) {
			strbuf_appendf(&out, "%s: archive segment %s has SHA-256 %s, report says %s\n", path,
			               p->valuestring, actual, h->valuestring);
			ok = false;
		}
	}

done:
	cJSON_Delete(root);
	free(text);
	free(sig);
	*problems = strbuf_take(&out);
	return ok;
}

const char *
report_sig_status_name(report_sig_status status)
{
	switch (status) {
	case REPORT_SIG_VALID:
		return "valid";
	case REPORT_SIG_NOT_CHECKED:
		return "not checked";
	case REPORT_SIG_UNSIGNED:
		return "unsigned";
	case REPORT_SIG_MISSING:
		return "missing";
	case REPORT_SIG_UNKNOWN_KEY:
		return "unknown key";
	case REPORT_SIG_INVALID:
		break;
	}
	return "invalid";
}

ret_code
report_read(const char *path, char **text, size_t *len, char sha256[65], cJSON **root,
            ret_error *err)
{
	*root = NULL;
	*len = 0;
	*text = slurp(path, 64 * 1024 * 1024, len);
	if (*text == NULL)
		return ret_fail(err, RET_RUNTIME, "%s: cannot read report: %s", path,
		                errno ? strerror(errno) : "too large");
	sha256_hex((const unsigned char *)*text, *len, sha256);
	*root = cJSON_ParseWithLength(*text, *len);
	return RET_OK;
}

report_sig_status
report_check_signature(const char *path, const char *text, size_t len, const cJSON *root,
                       const signing_keyring *ring, char *detail, size_t detail_len)
{
	const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root,
	                                                                       "key_fingerprint"));
	char sigpath[PATH_MAX + 8];
	const signing_key *key;
	report_sig_status status;
	size_t siglen = 0;
	char *sig = NULL;

	/* The fingerprint is inside the signed bytes: changing it breaks the signature. */
	if (fp == NULL) {
		snprintf(detail, detail_len, "the report is unsigned (it names no signing key)");
		return REPORT_SIG_UNSIGNED;
	}
	/* A missing signature shows without any key: it is never "not checked". */
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	sig = slurp(sigpath, 1024, &siglen);
	key = signing_keyring_find(ring, fp);
	if (sig == NULL) {
		snprintf(detail, detail_len, "no signature file %s", sigpath);
		status = REPORT_SIG_MISSING;
	} else if (signing_keyring_count(ring) == 0) {
		snprintf(detail, detail_len, "signature not checked: no public key given (signed by %s)",
		         fp);
		status = REPORT_SIG_NOT_CHECKED;
	} else if (key == NULL) {
		snprintf(detail, detail_len, "signed by an unknown key %s (not among the public keys "
		         "given)", fp);
		status = REPORT_SIG_UNKNOWN_KEY;
	} else if (!signing_key_verify(key, (const unsigned char *)text, len,
	                               (const unsigned char *)sig, siglen)) {
		snprintf(detail, detail_len, "signature does not match: the report or its signature "
		         "was altered");
		status = REPORT_SIG_INVALID;
	} else {
		snprintf(detail, detail_len, "signature valid, key %s", fp);
		status = REPORT_SIG_VALID;
	}
	free(sig);
	return status;
}

/* A string member of obj, or "" when it is missing or not a string. */
static const char *
member(const cJSON *obj, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));

	return v ? v : "";
}

/* Fills out->problem when the parsed report is not the one the ledger row describes. */
static void
check_stranded_fields(const cJSON *root, const char *file, const stranded_run *run,
                      stranded_report *out)
{
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "policy");
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(root, "database");
	const char *status = member(root, "status");
	const char *finished = member(root, "finished_at");
	char expected[160];
	long long seq = 0, code = -1;

	json_long_long(cJSON_GetObjectItemCaseSensitive(root, "sequence"), &seq);
	json_long_long(cJSON_GetObjectItemCaseSensitive(root, "exit_code"), &code);
	chain_expected_name(member(root, "started_at"), member(root, "run_id"), expected,
	                    sizeof(expected));
	if (strcmp(member(root, "format"), "retention-report") != 0 ||
	    strcmp(member(root, "mode"), "execute") != 0)
		snprintf(out->problem, sizeof(out->problem), "it is not the report of an executed run");
	else if (strcmp(member(root, "run_id"), run->run_id) != 0 || strcmp(expected, file) != 0)
		snprintf(out->problem, sizeof(out->problem), "it holds the report of run %s started "
		         "at %s, whose file would be %s: renamed or swapped", member(root, "run_id"),
		         member(root, "started_at"), expected);
	else if (seq != run->sequence)
		snprintf(out->problem, sizeof(out->problem), "it claims sequence %lld; the ledger "
		         "gave the run sequence %lld", seq, (long long)run->sequence);
	else if (strcmp(member(root, "previous_report_sha256"), run->previous_report_sha256) != 0)
		snprintf(out->problem, sizeof(out->problem), "its previous report (%.16s...) is not "
		         "the one the ledger gave the run (%.16s...)",
		         member(root, "previous_report_sha256")[0] ? member(root,
		                                                           "previous_report_sha256")
		                                                   : "none",
		         run->previous_report_sha256[0] ? run->previous_report_sha256 : "none");
	else if (strcmp(member(pol, "name"), run->policy_name) != 0 ||
	         strcmp(member(pol, "sha256"), run->policy_sha256) != 0)
		snprintf(out->problem, sizeof(out->problem), "its policy is not the one the ledger "
		         "recorded for the run");
	else if (strcmp(member(db, "name"), run->db_name) != 0 ||
	         (run->system_identifier[0] && member(db, "system_identifier")[0] &&
	          strcmp(member(db, "system_identifier"), run->system_identifier) != 0))
		snprintf(out->problem, sizeof(out->problem), "it is the report of another database");
	else if (strcmp(status, "success") != 0 && strcmp(status, "failed") != 0 &&
	         strcmp(status, "interrupted") != 0 && strcmp(status, "refused") != 0)
		snprintf(out->problem, sizeof(out->problem), "it states no status a run ends with");
	else if (code < 0 || code > 255)
		snprintf(out->problem, sizeof(out->problem), "it states no exit code");
	else if (strlen(finished) < 20 || strlen(finished) >= sizeof(out->finished_at) ||
	         strspn(finished, "0123456789-T:.Z") != strlen(finished))
		snprintf(out->problem, sizeof(out->problem), "its finish time is not an ISO 8601 time");
	if (out->problem[0])
		return;
	snprintf(out->status, sizeof(out->status), "%s", status);
	out->exit_code = (int)code;
	snprintf(out->finished_at, sizeof(out->finished_at), "%s", finished);
}

ret_code
report_check_stranded(const char *dir, const stranded_run *run, const signing_key *key,
                      stranded_report *out, ret_error *err)
{
	char tail[64], path[PATH_MAX * 2], sigpath[PATH_MAX * 2 + 8], fp[80];
	struct dirent **names = NULL;
	cJSON *root = NULL;
	char *text = NULL, *sig = NULL;
	size_t len = 0, siglen = 0;
	int count;
	ret_error rerr;

	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	snprintf(tail, sizeof(tail), "-%s.json", run->run_id);
	count = scandir(dir, &names, NULL, alphasort);
	if (count < 0)
		return ret_fail(err, RET_RUNTIME, "%s: cannot list: %s", dir, strerror(errno));

	/* The run's report by its name; two files claiming one run are both suspect. */
	for (int i = 0; i < count; i++) {
		const char *name = names[i]->d_name;

		if (strncmp(name, "retention-", 10) != 0 || !has_suffix(name, tail))
			continue;
		if (out->found) {
			snprintf(out->problem, sizeof(out->problem), "both %s and %s are named as its "
			         "report", out->file, name);
			break;
		}
		out->found = true;
		snprintf(out->file, sizeof(out->file), "%s", name);
	}
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (!out->found || out->problem[0])
		return RET_OK;

	/* Its exact bytes, signed by this job's key: nothing else vouches for them. */
	snprintf(path, sizeof(path), "%s/%s", dir, out->file);
	ret_error_clear(&rerr);
	if (report_read(path, &text, &len, out->sha256, &root, &rerr) != RET_OK) {
		snprintf(out->problem, sizeof(out->problem), "%s", rerr.message);
		goto done;
	}
	if (root == NULL) {
		snprintf(out->problem, sizeof(out->problem), "it is not valid JSON (altered or "
		         "truncated)");
		goto done;
	}
	signing_key_fingerprint(key, fp);
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	sig = slurp(sigpath, 1024, &siglen);
	if (strcmp(member(root, "key_fingerprint"), fp) != 0)
		snprintf(out->problem, sizeof(out->problem), "it names signing key %s, not this job's "
		         "key %s", member(root, "key_fingerprint")[0] ? member(root, "key_fingerprint")
		                                                      : "none", fp);
	else if (sig == NULL)
		snprintf(out->problem, sizeof(out->problem), "its signature file %s.sig is missing",
		         out->file);
	else if (!signing_key_verify(key, (const unsigned char *)text, len,
	                             (const unsigned char *)sig, siglen))
		snprintf(out->problem, sizeof(out->problem), "its signature does not match its bytes "
		         "(altered after it was signed)");
	else
		check_stranded_fields(root, out->file, run, out);

done:
	cJSON_Delete(root);
	free(text);
	free(sig);
	return RET_OK;
}
