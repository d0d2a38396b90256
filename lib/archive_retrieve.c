/* Verifying, restoring and searching archive segments, one record at a time. */
#include "archive_retrieve.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "archive.h"
#include "db.h"
#include "jsonnum.h"
#include "policy.h"
#include "sign.h"
#include "strbuf.h"

#define MANIFEST_MAX (1024 * 1024)
#define DUPLICATES_SHOWN 5

static void
note(archive_finding_fn fn, void *arg, archive_verify_stats *stats, bool problem,
     const char *file, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
note(archive_finding_fn fn, void *arg, archive_verify_stats *stats, bool problem,
     const char *file, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (problem)
		stats->problems++;
	fn(arg, problem, file, msg);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static ssize_t
read_gz(void *arg, void *buf, size_t len)
{
	return gzread((gzFile)arg, buf, (unsigned)len);
}

/*
 * Reads a segment to its end: its header's columns (a new JSON array) and
 * the number of rows after the header. Fails when the file is not gzip, the
 * stream or its CRC is damaged, or the CSV does not parse.
 */
static ret_code
scan_segment(const char *path, cJSON **columns, int64_t *rows, ret_error *err)
{
	gzFile gz = NULL;
	csv_reader *r = NULL;
	ret_code rc = RET_OK;
	int got, zerr = Z_OK;

	*columns = NULL;
	*rows = 0;
	gz = gzopen(path, "rb");
	if (gz == NULL)
		return ret_fail(err, RET_RUNTIME, "cannot open: %s", strerror(errno));
	gzbuffer(gz, 1 << 17);
	r = csv_reader_new(read_gz, gz);
	if (r == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	got = csv_next(r, err);
	if (got >= 0 && gzdirect(gz)) {
		rc = ret_fail(err, RET_RUNTIME, "not a gzip file");
		goto done;
	}
	if (got <= 0) {
		rc = got < 0 ? RET_RUNTIME : ret_fail(err, RET_RUNTIME, "empty: no CSV header");
		goto done;
	}
	*columns = cJSON_CreateArray();
	for (int i = 0; i < csv_nfields(r); i++) {
		const char *f = csv_field(r, i, NULL);

		cJSON_AddItemToArray(*columns, cJSON_CreateString(f ? f : ""));
	}
	while ((got = csv_next(r, err)) == 1)
		(*rows)++;
	if (got < 0) {
		rc = RET_RUNTIME;
		goto done;
	}

done:
	/* gzread reports a damaged stream or a bad CRC at the end; gzclose a truncated one. */
	if (gz != NULL) {
		const char *msg = gzerror(gz, &zerr);

		if (rc == RET_OK && zerr != Z_OK && zerr != Z_STREAM_END)
			rc = ret_fail(err, RET_RUNTIME, "unreadable gzip: %s", msg);
		zerr = gzclose_r(gz);
		if (rc == RET_OK && zerr != Z_OK)
			rc = ret_fail(err, RET_RUNTIME, "unreadable gzip: %s",
			              zerr == Z_BUF_ERROR ? "truncated" : "damaged");
	}
	csv_reader_free(r);
	if (rc != RET_OK) {
		cJSON_Delete(*columns);
		*columns = NULL;
	}
	return rc;
}

/* The manifest beside segment path, parsed; NULL when missing or not JSON. */
static cJSON *
load_manifest(const char *segment_path)
{
	char path[PATH_MAX + 32];
	struct stat st;
	cJSON *root = NULL;
	char *text;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", segment_path, ARCHIVE_MANIFEST_SUFFIX);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && st.st_size < MANIFEST_MAX) {
		text = malloc((size_t)st.st_size + 1);
		if (text && fread(text, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
			text[st.st_size] = '\0';
			root = cJSON_Parse(text);
		}
		free(text);
	}
	fclose(f);
	return root;
}

static const char *
mstr(const cJSON *m, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, name));

	return v ? v : "";
}

static long long
mint(const cJSON *m, const char *name)
{
	long long v;

	return json_long_long(cJSON_GetObjectItemCaseSensitive(m, name), &v) ? v : -1;
}

/* The header's columns as "a, b, c" for messages. */
static void
columns_text(const cJSON *arr, char *out, size_t len)
{
	const cJSON *c;
	size_t used = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(c, arr)
	{
		int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "",
		                 c->valuestring ? c->valuestring : "");

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/* Header columns that the live table no longer has; notes a table that is gone. */
static ret_code
check_columns_live(PGconn *conn, const char *table, const cJSON *columns, const char *file,
                   archive_finding_fn fn, void *arg, archive_verify_stats *stats,
                   ret_error *err)
{
	const char *params[1] = {table};
	PGresult *res = NULL;
	const cJSON *c;
	ret_code rc;

	rc = db_query(conn, "table columns",
	              "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass($1)"
	              " AND a.attnum > 0 AND NOT a.attisdropped",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) == 0) {
		note(fn, arg, stats, false, file, "table %s no longer exists: restore into a scratch "
		     "table (archive restore --create)", table);
		PQclear(res);
		return RET_OK;
	}
	cJSON_ArrayForEach(c, columns)
	{
		bool found = false;

		for (int i = 0; i < PQntuples(res) && !found; i++)
			found = strcmp(PQgetvalue(res, i, 0), c->valuestring) == 0;
		if (!found)
			note(fn, arg, stats, true, file, "column \"%s\" of the CSV header is not a column "
			     "of %s: a restore into it would fail", c->valuestring, table);
	}
	PQclear(res);
	return RET_OK;
}

/* One ledger row against its file and manifest. */
static ret_code
verify_segment(PGconn *conn, const char *dir, const PGresult *res, int row,
               archive_finding_fn fn, void *arg, archive_verify_stats *stats, ret_error *err)
{
	const char *run_id = PQgetvalue(res, row, 0);
	const char *class_name = PQgetvalue(res, row, 1);
	const char *table = PQgetvalue(res, row, 2);
	long long batch = (long long)db_int64(res, row, 3);
	const char *file = PQgetvalue(res, row, 4);
	const char *sha = PQgetvalue(res, row, 5);
	long long rows = (long long)db_int64(res, row, 6);
	long long bytes = (long long)db_int64(res, row, 7);
	char path[PATH_MAX * 2];
	char actual[65];
	char a[1024], b[1024];
	cJSON *columns = NULL;
	cJSON *manifest = NULL;
	const cJSON *mcols;
	int64_t got_rows = 0;
	struct stat st;
	ret_error e;
	ret_code rc = RET_OK;

	stats->segments++;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (stat(path, &st) != 0) {
		note(fn, arg, stats, true, file, "in the ledger (run %s, %lld rows) but missing from "
		     "the archive", run_id, rows);
		return RET_OK;
	}

	/* The bytes: size and SHA-256 as the ledger recorded them. */
	if ((long long)st.st_size != bytes)
		note(fn, arg, stats, true, file, "%lld bytes, the ledger says %lld",
		     (long long)st.st_size, bytes);
	if (sha256_file_hex(path, actual, &e) != RET_OK)
		note(fn, arg, stats, true, file, "%s", e.message);
	else if (strcmp(actual, sha) != 0)
		note(fn, arg, stats, true, file, "SHA-256 %.16s..., the ledger says %.16s...: altered",
		     actual, sha);

	/* The content: gzip to the end, rows as recorded. */
	if (scan_segment(path, &columns, &got_rows, &e) != RET_OK) {
		note(fn, arg, stats, true, file, "%s", e.message);
	} else {
		stats->rows += got_rows;
		if (got_rows != rows)
			note(fn, arg, stats, true, file, "%lld rows, the ledger says %lld",
			     (long long)got_rows, rows);
	}

	/* The manifest agrees with the ledger and the header. */
	manifest = load_manifest(path);
	if (manifest == NULL) {
		note(fn, arg, stats, true, file, "no readable manifest %s%s", file,
		     ARCHIVE_MANIFEST_SUFFIX);
	} else {
		if (strcmp(mstr(manifest, "sha256"), sha) != 0 || mint(manifest, "rows") != rows ||
		    mint(manifest, "bytes") != bytes || strcmp(mstr(manifest, "run_id"), run_id) != 0 ||
		    strcmp(mstr(manifest, "class"), class_name) != 0 || mint(manifest, "batch") != batch)
			note(fn, arg, stats, true, file, "the manifest disagrees with the ledger (run, "
			     "class, batch, rows, bytes or SHA-256)");
		mcols = cJSON_GetObjectItemCaseSensitive(manifest, "columns");
		if (columns != NULL && !cJSON_Compare(mcols, columns, true)) {
			columns_text(columns, a, sizeof(a));
			columns_text(mcols, b, sizeof(b));
			note(fn, arg, stats, true, file, "CSV header (%s) differs from the manifest's "
			     "columns (%s)", a, b);
		}
	}

	/* The header names columns the table still has, or a restore cannot take them. */
	if (columns != NULL)
		rc = check_columns_live(conn, table, columns, file, fn, arg, stats, err);

	cJSON_Delete(columns);
	cJSON_Delete(manifest);
	return rc;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
in_ledger(char **files, int n, const char *rel)
{
	return bsearch(&rel, files, (size_t)n, sizeof(char *), compare_strings) != NULL;
}

/*
 * dir/orphans/: per run that set files aside, how many and which report names
 * them; files directly in orphans/ were set aside before the per-run layout.
 */
static ret_code
note_orphans(PGconn *conn, const char *dir, archive_finding_fn fn, void *arg,
             archive_verify_stats *stats, ret_error *err)
{
	char orphans[PATH_MAX];
	struct dirent **names = NULL;
	ret_code rc = RET_OK;
	int count, loose = 0;

	snprintf(orphans, sizeof(orphans), "%s/orphans", dir);
	count = scandir(orphans, &names, NULL, alphasort);
	for (int i = 0; i < count; i++) {
		const char *name = names[i]->d_name;
		char sub[PATH_MAX * 2], rel[PATH_MAX];
		struct dirent **files = NULL;
		const char *params[1] = {name};
		PGresult *res = NULL;
		int n;

		if (name[0] == '.' || rc != RET_OK)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", orphans, name);
		n = scandir(sub, &files, NULL, alphasort);
		if (n < 0) {
			loose++;
			continue;
		}
		for (int j = 0; j < n; j++)
			free(files[j]);
		free(files);
		n -= 2;
		snprintf(rel, sizeof(rel), "orphans/%s/", name);
		rc = db_query(conn, "orphans",
		              "SELECT coalesce(max(report_file), '') FROM retention.runs"
		              " WHERE run_id::text = $1 AND report_sha256 IS NOT NULL",
		              1, params, &res, err);
		if (rc != RET_OK)
			break;
		if (PQgetvalue(res, 0, 0)[0])
			note(fn, arg, stats, false, rel, "%d file%s set aside by run %s from batches that "
			     "never committed (their rows were not deleted), named in its report %s", n,
			     n == 1 ? "" : "s", name, PQgetvalue(res, 0, 0));
		else
			note(fn, arg, stats, false, rel, "%d file%s set aside by run %s, whose report is "
			     "not in the ledger: the next executed run takes them over and names them", n,
			     n == 1 ? "" : "s", name);
		PQclear(res);
	}
	if (loose > 0)
		note(fn, arg, stats, false, "orphans/", "%d file%s set aside from batches that never "
		     "committed (their rows were not deleted), before orphans/<run id>/", loose,
		     loose == 1 ? "" : "s");
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Files under dir/<class>/ that the ledger does not name. */
static ret_code
walk_archive(const char *dir, char **files, int nfiles, archive_finding_fn fn, void *arg,
             archive_verify_stats *stats, ret_error *err)
{
	struct dirent **classes = NULL;
	int nclasses = scandir(dir, &classes, NULL, alphasort);

	if (nclasses < 0)
		return ret_fail(err, RET_USAGE, "%s: cannot list the archive: %s", dir,
		                strerror(errno));
	for (int i = 0; i < nclasses; i++) {
		const char *cls = classes[i]->d_name;
		char sub[PATH_MAX];
		struct dirent **names = NULL;
		int n;

		snprintf(sub, sizeof(sub), "%s/%s", dir, cls);
		if (cls[0] == '.' || (n = scandir(sub, &names, NULL, alphasort)) < 0)
			continue;
		if (strcmp(cls, "orphans") != 0) {
			for (int j = 0; j < n; j++) {
				const char *name = names[j]->d_name;
				char rel[PATH_MAX * 2];

				snprintf(rel, sizeof(rel), "%s/%s", cls, name);
				if (name[0] == '.') {
					if (ends_with(name, ".partial"))
						note(fn, arg, stats, false, rel, "unfinished: a run died while writing "
						     "it; the next run sets it aside");
				} else if (ends_with(name, ".csv.gz") && !in_ledger(files, nfiles, rel)) {
					note(fn, arg, stats, true, rel, "not in the ledger: no committed batch "
					     "vouches for it");
				} else if (ends_with(name, ARCHIVE_MANIFEST_SUFFIX)) {
					rel[strlen(rel) - strlen(ARCHIVE_MANIFEST_SUFFIX)] = '\0';
					if (!in_ledger(files, nfiles, rel))
						note(fn, arg, stats, true, name, "a manifest whose segment is not in the "
						     "ledger");
				}
			}
		}
		for (int j = 0; j < n; j++)
			free(names[j]);
		free(names);
	}
	for (int i = 0; i < nclasses; i++)
		free(classes[i]);
	free(classes);
	return RET_OK;
}

ret_code
archive_verify_dir(PGconn *conn, const char *dir, archive_finding_fn fn, void *arg,
                   archive_verify_stats *stats, ret_error *err)
{
	PGresult *res = NULL;
	char **files = NULL;
	int n = 0;
	ret_code rc;

	memset(stats, 0, sizeof(*stats));
	rc = db_query(conn, "segment ledger",
	              "SELECT run_id::text, class_name, table_name, batch, file_name, sha256, rows,"
	              " bytes FROM retention.archive_segments ORDER BY segment_id",
	              0, NULL, &res, err);
	if (rc != RET_OK)
		return rc;
	n = PQntuples(res);
	files = calloc((size_t)n + 1, sizeof(char *));
	if (files == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	for (int i = 0; i < n && rc == RET_OK; i++) {
		files[i] = PQgetvalue(res, i, 4);
		rc = verify_segment(conn, dir, res, i, fn, arg, stats, err);
	}
	if (rc != RET_OK)
		goto done;
	qsort(files, (size_t)n, sizeof(char *), compare_strings);
	rc = walk_archive(dir, files, n, fn, arg, stats, err);
	if (rc == RET_OK)
		rc = note_orphans(conn, dir, fn, arg, stats, err);

done:
	free(files);
	PQclear(res);
	return rc;
}

/* Splits "schema.table" into quoted parts; both must be plain identifiers. */
static ret_code
quote_target(PGconn *conn, const char *target, char *out, size_t len, ret_error *err)
{
	char schema[POLICY_NAME_MAX], table[POLICY_NAME_MAX];
	char qs[POLICY_NAME_MAX + 2 + 64], qt[POLICY_NAME_MAX + 2 + 64];
	const char *dot = strchr(target, '.');

	if (dot == NULL || (size_t)(dot - target) >= sizeof(schema) ||
	    strlen(dot + 1) >= sizeof(table))
		return ret_fail(err, RET_USAGE, "--into: expected SCHEMA.TABLE, got \"%s\"", target);
	memcpy(schema, target, (size_t)(dot - target));
	schema[dot - target] = '\0';
	snprintf(table, sizeof(table), "%s", dot + 1);
	if (!policy_identifier_ok(schema) || !policy_identifier_ok(table))
		return ret_fail(err, RET_USAGE, "--into: \"%s\" is not SCHEMA.TABLE of plain "
		                "identifiers", target);
	if (!db_quote_ident(conn, schema, qs, sizeof(qs)) ||
	    !db_quote_ident(conn, table, qt, sizeof(qt)))
		return ret_fail(err, RET_RUNTIME, "cannot quote \"%s\"", target);
	snprintf(out, len, "%s.%s", qs, qt);
	return RET_OK;
}

/* Reads only the header of a segment: its columns as a new JSON array. */
static ret_code
segment_header(const char *path, cJSON **columns, ret_error *err)
{
	gzFile gz = gzopen(path, "rb");
	csv_reader *r = NULL;
	ret_code rc = RET_OK;

	*columns = NULL;
	if (gz == NULL)
		return ret_fail(err, RET_USAGE, "%s: cannot open: %s", path, strerror(errno));
	r = csv_reader_new(read_gz, gz);
	if (r == NULL || csv_next(r, err) != 1) {
		rc = ret_fail(err, RET_RUNTIME, "%s: no CSV header", path);
	} else {
		*columns = cJSON_CreateArray();
		for (int i = 0; i < csv_nfields(r); i++) {
			const char *f = csv_field(r, i, NULL);

			cJSON_AddItemToArray(*columns, cJSON_CreateString(f ? f : ""));
		}
	}
	csv_reader_free(r);
	gzclose_r(gz);
	return rc;
}

/* Streams the decompressed segment into a COPY FROM STDIN that the server has started. */
static ret_code
stream_into_copy(PGconn *conn, const char *path, ret_error *err)
{
	char buf[1 << 16];
	gzFile gz = gzopen(path, "rb");
	ret_code rc = RET_OK;
	int n;

	if (gz == NULL) {
		PQputCopyEnd(conn, "cannot open the segment");
		return ret_fail(err, RET_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
	}
	while ((n = gzread(gz, buf, sizeof(buf))) > 0) {
		if (PQputCopyData(conn, buf, n) != 1) {
			rc = db_fail(conn, NULL, "restore copy", err);
			break;
		}
	}
	if (rc == RET_OK && n < 0) {
		int zerr;

		rc = ret_fail(err, RET_RUNTIME, "%s: unreadable gzip: %s", path, gzerror(gz, &zerr));
	}
	gzclose_r(gz);
	if (PQputCopyEnd(conn, rc == RET_OK ? NULL : "the segment could not be read") != 1 &&
	    rc == RET_OK)
		rc = db_fail(conn, NULL, "restore copy", err);
	return rc;
}

/* The key column for the duplicate check: as asked, the manifest's, or the target's PK. */
static ret_code
restore_key(PGconn *conn, const archive_restore_request *req, const cJSON *manifest,
            const char *qtarget, char *key, size_t len, ret_error *err)
{
	const char *params[1] = {qtarget};
	PGresult *res = NULL;
	ret_code rc;

	if (req->key) {
		snprintf(key, len, "%s", req->key);
		return RET_OK;
	}
	if (manifest && mstr(manifest, "key")[0]) {
		snprintf(key, len, "%s", mstr(manifest, "key"));
		return RET_OK;
	}
	rc = db_query(conn, "primary key",
	              "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
	              " AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass($1)"
	              " AND i.indisprimary AND i.indnatts = 1",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ret_fail(err, RET_USAGE, "no key to check duplicates against: the segment has no "
		                "manifest and %s no single-column primary key; give --key COLUMN",
		                req->target);
	}
	snprintf(key, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return RET_OK;
}

/* Appends the quoted columns of arr, comma-separated, leaving out those in skip. */
static bool
append_columns(PGconn *conn, strbuf *sb, const cJSON *arr, const PGresult *skip)
{
	const cJSON *c;
	bool first = true;

	cJSON_ArrayForEach(c, arr)
	{
		char q[POLICY_NAME_MAX * 2 + 8];
		bool skipped = false;

		for (int i = 0; skip && i < PQntuples(skip); i++)
			skipped = skipped || strcmp(PQgetvalue(skip, i, 0), c->valuestring) == 0;
		if (skipped)
			continue;
		if (!db_quote_ident(conn, c->valuestring, q, sizeof(q)))
			return false;
		strbuf_appendf(sb, "%s%s", first ? "" : ", ", q);
		first = false;
	}
	return true;
}

ret_code
archive_restore(PGconn *conn, const archive_restore_request *req, int64_t *restored,
                ret_error *err)
{
	const char *base = strrchr(req->segment, '/') ? strrchr(req->segment, '/') + 1
	                                              : req->segment;
	char qtarget[2 * POLICY_NAME_MAX + 160];
	char key[POLICY_NAME_MAX * 2 + 8], qkey[POLICY_NAME_MAX * 2 + 16];
	char sha[65], segment_id[32] = "", file_name[PATH_MAX] = "", table[300] = "";
	char copied_text[32];
	const char *params[5];
	long long ledger_rows = -1, copied = 0, dups = 0;
	bool target_partitioned = false;
	cJSON *columns = NULL, *manifest = NULL;
	PGresult *res = NULL, *generated = NULL;
	strbuf sb = {0};
	char *sql = NULL;
	ret_code rc;

	*restored = 0;
	rc = quote_target(conn, req->target, qtarget, sizeof(qtarget), err);
	if (rc != RET_OK)
		return rc;

	/* The segment must be the one the ledger recorded, byte for byte. */
	rc = sha256_file_hex(req->segment, sha, err);
	if (rc != RET_OK) {
		err->code = RET_USAGE;
		return RET_USAGE;
	}
	params[0] = base;
	rc = db_query(conn, "segment ledger",
	              "SELECT segment_id, file_name, sha256, rows, table_name"
	              " FROM retention.archive_segments WHERE file_name = $1"
	              " OR right(file_name, length($1) + 1) = '/' || $1",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ret_fail(err, RET_GUARD, "%s: not in the segment ledger of this database: "
		                "refusing to restore rows no committed batch vouches for", base);
	}
	snprintf(segment_id, sizeof(segment_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(file_name, sizeof(file_name), "%s", PQgetvalue(res, 0, 1));
	ledger_rows = (long long)db_int64(res, 0, 3);
	snprintf(table, sizeof(table), "%s", PQgetvalue(res, 0, 4));
	if (strcmp(PQgetvalue(res, 0, 2), sha) != 0) {
		ret_fail(err, RET_GUARD, "%s: SHA-256 %.16s... differs from the ledger's %.16s...: the "
		         "segment was altered; refusing to restore it", base, sha, PQgetvalue(res, 0, 2));
		PQclear(res);
		return RET_GUARD;
	}
	PQclear(res);
	res = NULL;

	manifest = load_manifest(req->segment);
	rc = segment_header(req->segment, &columns, err);
	if (rc != RET_OK)
		goto done;

	rc = db_exec(conn, "begin restore", "BEGIN", err);
	if (rc != RET_OK)
		goto done;

	/* A scratch table takes the columns of the table the rows came from. */
	params[0] = qtarget;
	rc = db_query(conn, "target",
	              "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass($1))", 1, params,
	              &res, err);
	if (rc != RET_OK)
		goto fail;
	target_partitioned = PQgetvalue(res, 0, 0)[0] == 'p';
	if (PQgetisnull(res, 0, 0)) {
		if (!req->create) {
			rc = ret_fail(err, RET_USAGE, "--into: table %s does not exist (--create makes a "
			              "scratch table with the columns of %s)", req->target, table);
			goto fail;
		}
		params[0] = table;
		PQclear(res);
		res = NULL;
		rc = db_query(conn, "source table", "SELECT to_regclass($1)::text", 1, params, &res,
		              err);
		if (rc != RET_OK)
			goto fail;
		if (PQgetisnull(res, 0, 0)) {
			rc = ret_fail(err, RET_USAGE, "--create: the segment's table %s no longer exists "
			              "to copy columns from; create %s by hand", table, req->target);
			goto fail;
		}
		strbuf_appendf(&sb, "CREATE TABLE %s (LIKE %s)", qtarget, PQgetvalue(res, 0, 0));
		sql = strbuf_take(&sb);
		rc = db_exec(conn, "create scratch table", sql ? sql : "", err);
		free(sql);
		sql = NULL;
		if (rc != RET_OK)
			goto fail;
	}
	PQclear(res);
	res = NULL;

	/* Stage the rows with the target's column types; HEADER MATCH checks the names. */
	strbuf_append(&sb, "CREATE TEMPORARY TABLE retention_restore ON COMMIT DROP AS SELECT ");
	if (!append_columns(conn, &sb, columns, NULL))
		goto quote_fail;
	strbuf_appendf(&sb, " FROM %s WITH NO DATA", qtarget);
	sql = strbuf_take(&sb);
	rc = db_exec(conn, "staging table", sql ? sql : "", err);
	free(sql);
	sql = NULL;
	if (rc != RET_OK)
		goto fail;
	strbuf_append(&sb, "COPY retention_restore (");
	if (!append_columns(conn, &sb, columns, NULL))
		goto quote_fail;
	strbuf_append(&sb, ") FROM STDIN WITH (FORMAT csv, HEADER match)");
	sql = strbuf_take(&sb);
	res = PQexec(conn, sql ? sql : "");
	free(sql);
	sql = NULL;
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = db_fail(conn, res, "restore copy", err);
		goto fail;
	}
	PQclear(res);
	res = NULL;
	rc = stream_into_copy(conn, req->segment, err);
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			copied = strtoll(PQcmdTuples(res), NULL, 10);
		else if (rc == RET_OK)
			rc = db_fail(conn, res, "restore copy", err);
		PQclear(res);
	}
	if (rc != RET_OK)
		goto fail;
	if (copied != ledger_rows) {
		rc = ret_fail(err, RET_GUARD, "%s: %lld rows read, the ledger says %lld; refusing",
		              base, copied, ledger_rows);
		goto fail;
	}

	/*
	 * Rows whose key is still there are not restored twice. "There" is the
	 * target itself, ONLY for a plain table: the rows went into it, and a
	 * table inheriting from it holds other rows (the job archived the
	 * table's own rows, never its children's).
	 */
	rc = restore_key(conn, req, manifest, qtarget, key, sizeof(key), err);
	if (rc != RET_OK)
		goto fail;
	if (!db_quote_ident(conn, key, qkey, sizeof(qkey)))
		goto quote_fail;
	strbuf_appendf(&sb,
	               "SELECT count(*), (SELECT string_agg(k, ', ') FROM (SELECT s.%s::text AS k"
	               " FROM retention_restore s WHERE EXISTS (SELECT 1 FROM %s%s t WHERE t.%s ="
	               " s.%s) ORDER BY 1 LIMIT %d) x) FROM retention_restore s WHERE EXISTS"
	               " (SELECT 1 FROM %s%s t WHERE t.%s = s.%s)",
	               qkey, target_partitioned ? "" : "ONLY ", qtarget, qkey, qkey, DUPLICATES_SHOWN,
	               target_partitioned ? "" : "ONLY ", qtarget, qkey, qkey);
	sql = strbuf_take(&sb);
	rc = db_query(conn, "duplicate check", sql ? sql : "", 0, NULL, &res, err);
	free(sql);
	sql = NULL;
	if (rc != RET_OK)
		goto fail;
	dups = (long long)db_int64(res, 0, 0);
	if (dups > 0) {
		rc = ret_fail(err, RET_GUARD, "%lld of the %lld rows of %s still exist in %s (%s = %s%s);"
		              " refusing to restore duplicates, nothing inserted", dups, copied, base,
		              req->target, key, PQgetvalue(res, 0, 1),
		              dups > DUPLICATES_SHOWN ? ", ..." : "");
		ret_hint(err, "restore into a scratch table instead: --into SCHEMA.NEW_TABLE --create");
		goto fail;
	}
	PQclear(res);
	res = NULL;

	/* Generated columns take their own values; identity columns keep the archived ones. */
	params[0] = qtarget;
	rc = db_query(conn, "generated columns",
	              "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1)"
	              " AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''",
	              1, params, &generated, err);
	if (rc != RET_OK)
		goto fail;
	strbuf_appendf(&sb, "INSERT INTO %s (", qtarget);
	if (!append_columns(conn, &sb, columns, generated))
		goto quote_fail;
	strbuf_append(&sb, ") OVERRIDING SYSTEM VALUE SELECT ");
	append_columns(conn, &sb, columns, generated);
	strbuf_append(&sb, " FROM retention_restore");
	sql = strbuf_take(&sb);
	rc = db_query(conn, "restore insert", sql ? sql : "", 0, NULL, &res, err);
	free(sql);
	sql = NULL;
	if (rc != RET_OK)
		goto fail;
	*restored = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	res = NULL;

	/* The restore is evidence too, committed with the rows. */
	snprintf(copied_text, sizeof(copied_text), "%lld", (long long)*restored);
	params[0] = segment_id;
	params[1] = file_name;
	params[2] = sha;
	params[3] = req->target;
	params[4] = copied_text;
	rc = db_query(conn, "restore record",
	              "INSERT INTO retention.archive_restores (segment_id, file_name, sha256,"
	              " target_table, rows) VALUES ($1, $2, $3, $4, $5)",
	              5, params, NULL, err);
	if (rc == RET_OK)
		rc = db_exec(conn, "commit restore", "COMMIT", err);
	if (rc != RET_OK)
		goto fail;
	goto done;

quote_fail:
	rc = ret_fail(err, RET_RUNTIME, "cannot quote a column name of %s", base);
fail:
	*restored = 0;
	PQclear(res);
	res = NULL;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
done:
	PQclear(res);
	PQclear(generated);
	strbuf_free(&sb);
	cJSON_Delete(columns);
	cJSON_Delete(manifest);
	return rc;
}

/* Reads a CSV record's fields into a new JSON array of strings (NULL fields as ""). */
static cJSON *
record_strings(const csv_reader *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; arr && i < csv_nfields(r); i++) {
		const char *f = csv_field(r, i, NULL);

		cJSON_AddItemToArray(arr, cJSON_CreateString(f ? f : ""));
	}
	return arr;
}

/* One segment: the column's place from the header, then every row against value. */
static ret_code
find_in_segment(const char *path, const char *rel, const char *column, const char *value,
                archive_match_fn fn, void *arg, archive_find_stats *stats, ret_error *err)
{
	gzFile gz = gzopen(path, "rb");
	csv_reader *r = NULL;
	cJSON *columns = NULL;
	ret_code rc = RET_OK;
	int col = -1, got;

	if (gz == NULL)
		return ret_fail(err, RET_RUNTIME, "%s: cannot open: %s", rel, strerror(errno));
	gzbuffer(gz, 1 << 17);
	stats->segments++;
	r = csv_reader_new(read_gz, gz);
	if (r == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	got = csv_next(r, err);
	if (got <= 0) {
		rc = got < 0 ? RET_RUNTIME : ret_fail(err, RET_RUNTIME, "no CSV header");
		goto done;
	}
	columns = record_strings(r);
	for (int c = 0; c < csv_nfields(r) && col < 0; c++) {
		const char *h = csv_field(r, c, NULL);

		if (h && strcmp(h, column) == 0)
			col = c;
	}
	if (col < 0) {
		stats->without_column++;
		goto done;
	}
	while ((got = csv_next(r, err)) == 1) {
		const char *v = csv_field(r, col, NULL);

		stats->rows++;
		if (v && strcmp(v, value) == 0) {
			stats->matches++;
			fn(arg, rel, csv_record_number(r) - 1, r, columns);
		}
	}
	if (got < 0)
		rc = RET_RUNTIME;

done:
	if (rc != RET_OK)
		ret_prefix(err, "%s", rel);
	{
		int zerr;
		const char *msg = gzerror(gz, &zerr);

		if (rc == RET_OK && zerr != Z_OK && zerr != Z_STREAM_END)
			rc = ret_fail(err, RET_RUNTIME, "%s: unreadable gzip: %s", rel, msg);
	}
	gzclose_r(gz);
	csv_reader_free(r);
	cJSON_Delete(columns);
	return rc;
}

ret_code
archive_find(const char *dir, const char *class_name, const char *column, const char *value,
             archive_match_fn fn, void *arg, archive_find_stats *stats, ret_error *err)
{
	char class_dir[PATH_MAX];
	struct dirent **names = NULL;
	ret_code rc = RET_OK;
	int n;

	memset(stats, 0, sizeof(*stats));
	if (!policy_identifier_ok(class_name))
		return ret_fail(err, RET_USAGE, "--class: \"%s\" is not a class name", class_name);
	snprintf(class_dir, sizeof(class_dir), "%s/%s", dir, class_name);
	n = scandir(class_dir, &names, NULL, alphasort);
	if (n < 0)
		return ret_fail(err, RET_USAGE, "%s: cannot list: %s", class_dir, strerror(errno));
	for (int i = 0; i < n && rc == RET_OK; i++) {
		const char *name = names[i]->d_name;
		char path[PATH_MAX * 2], rel[PATH_MAX * 2];
		int64_t before = stats->matches;

		if (name[0] == '.' || !ends_with(name, ".csv.gz"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", class_dir, name);
		snprintf(rel, sizeof(rel), "%s/%s", class_name, name);
		rc = find_in_segment(path, rel, column, value, fn, arg, stats, err);
		if (stats->matches > before)
			stats->segments_matched++;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
