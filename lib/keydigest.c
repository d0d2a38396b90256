/* Key digests: sorted on the server, hashed here chunk by chunk through a cursor. */
#include "keydigest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sign.h"
#include "strbuf.h"

#define CURSOR_NAME "retention_key_digest"
#define STR(x) #x
#define XSTR(x) STR(x)

void
keydigest_empty(key_digest *d)
{
	d->computed = true;
	d->rows = 0;
	d->reads = 0;
	sha256_hex((const unsigned char *)"", 0, d->sha256);
}

/* Creates (or empties) pg_temp.<prefix>_<class_index> and its index; its name into table. */
static ret_code
open_table(PGconn *conn, const char *prefix, int class_index, char *table, size_t len,
           ret_error *err)
{
	char sql[320];
	ret_code rc;

	/*
	 * pg_temp: private to this session, gone with it, and never WAL-logged.
	 * The index keeps the keys in digest order as they are added, so the
	 * digest reads them in short chunks at the end: sorting them then would be
	 * one statement, and one long transaction, over every key.
	 */
	snprintf(table, len, "pg_temp.%s_%d", prefix, class_index);
	snprintf(sql, sizeof(sql),
	         "CREATE TEMPORARY TABLE IF NOT EXISTS %s_%d (k text);"
	         " CREATE INDEX IF NOT EXISTS %s_%d_k ON %s (k COLLATE \"C\"); TRUNCATE %s",
	         prefix, class_index, prefix, class_index, table, table);
	rc = db_exec(conn, "key capture table", sql, err);
	if (rc != RET_OK)
		table[0] = '\0';
	return rc;
}

ret_code
keydigest_capture_open(PGconn *conn, int class_index, char *table, size_t len, ret_error *err)
{
	return open_table(conn, "retention_removed_keys", class_index, table, len, err);
}

ret_code
keydigest_held_open(PGconn *conn, int class_index, char *table, size_t len, ret_error *err)
{
	return open_table(conn, "retention_held_keys", class_index, table, len, err);
}

char *
keydigest_capture_select(char *select_sql, const char *table)
{
	strbuf sb = {0};

	if (select_sql == NULL)
		return NULL;
	strbuf_appendf(&sb, "INSERT INTO %s (k) %s", table, select_sql);
	free(select_sql);
	return strbuf_take(&sb);
}

char *
keydigest_wrap_delete(char *delete_sql, const char *key, const char *table)
{
	strbuf sb = {0};

	if (delete_sql == NULL || table == NULL || table[0] == '\0')
		return delete_sql;
	/* The insert's row count is the DELETE's: PQcmdTuples still says how many went. */
	strbuf_appendf(&sb, "WITH d AS (%s RETURNING t.%s AS k) INSERT INTO %s (k) SELECT d.k::text"
	                    " FROM d",
	               delete_sql, key, table);
	free(delete_sql);
	return strbuf_take(&sb);
}

char *
keydigest_archive_copy(char *delete_returning_sql, const char *key, const char *table)
{
	strbuf sb = {0};

	if (delete_returning_sql == NULL)
		return NULL;
	/*
	 * A data-modifying WITH runs to completion whether or not the outer query
	 * reads it, and sees the same deleted rows as the COPY: the keys recorded
	 * are exactly those of the rows written to the segment.
	 */
	strbuf_appendf(&sb, "COPY (WITH d AS (%s), k AS (INSERT INTO %s (k) SELECT d.%s::text FROM d)"
	                    " SELECT * FROM d) TO STDOUT WITH (FORMAT csv, HEADER true)",
	               delete_returning_sql, table, key);
	free(delete_returning_sql);
	return strbuf_take(&sb);
}

/* Feeds one key (or \N for NULL) and its newline into ctx. */
static void
hash_key(sha256_ctx *ctx, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		sha256_update(ctx, "\\N", 2);
	else
		sha256_update(ctx, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
	sha256_update(ctx, "\n", 1);
}

/*
 * Runs sql through a cursor and hashes its rows. With kinds, column 0 is 'e'
 * (into first) or 'h' (into second) and column 1 the key; otherwise column 0
 * is the key and everything goes into first. Inside a transaction (a dry
 * run's snapshot) the cursor lives in it; otherwise in one of its own, with
 * no statement timeout: the sort behind the first FETCH may take a while.
 */
static ret_code
digest_cursor(PGconn *conn, const char *sql, bool kinds, key_digest *first, key_digest *second,
              ret_error *err)
{
	sha256_ctx *ctx[2] = {NULL, NULL};
	int64_t rows[2] = {0, 0};
	bool own_txn = PQtransactionStatus(conn) == PQTRANS_IDLE;
	PGresult *res = NULL;
	strbuf decl = {0};
	char *text = NULL;
	ret_code rc;

	ctx[0] = sha256_new();
	ctx[1] = sha256_new();
	strbuf_appendf(&decl, "DECLARE " CURSOR_NAME " NO SCROLL CURSOR FOR %s", sql);
	text = strbuf_take(&decl);
	if (ctx[0] == NULL || ctx[1] == NULL || text == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	if (own_txn) {
		rc = db_exec(conn, "key digest", "BEGIN; SET LOCAL statement_timeout = 0", err);
		if (rc != RET_OK)
			goto done;
	}
	rc = db_exec(conn, "key digest", text, err);
	while (rc == RET_OK) {
		int n;

		rc = db_query(conn, "key digest",
		              "FETCH FORWARD " XSTR(KEYDIGEST_FETCH_ROWS) " FROM " CURSOR_NAME, 0, NULL,
		              &res, err);
		if (rc != RET_OK)
			break;
		n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			int which = kinds && PQgetvalue(res, i, 0)[0] == 'h' ? 1 : 0;

			hash_key(ctx[which], res, i, kinds ? 1 : 0);
			rows[which]++;
		}
		PQclear(res);
		res = NULL;
		if (n < KEYDIGEST_FETCH_ROWS)
			break;
	}
	if (rc == RET_OK)
		rc = db_exec(conn, "key digest", "CLOSE " CURSOR_NAME, err);
	if (own_txn) {
		if (rc == RET_OK)
			rc = db_exec(conn, "key digest", "COMMIT", err);
		else
			PQclear(PQexec(conn, "ROLLBACK"));
	}
	if (rc != RET_OK)
		goto done;

	first->computed = true;
	first->rows = rows[0];
	first->reads = 1;
	sha256_final_hex(ctx[0], first->sha256);
	ctx[0] = NULL;
	if (second) {
		second->computed = true;
		second->rows = rows[1];
		second->reads = 1;
		sha256_final_hex(ctx[1], second->sha256);
		ctx[1] = NULL;
	}

done:
	sha256_free(ctx[0]);
	sha256_free(ctx[1]);
	free(text);
	return rc;
}

/* Keys per chunk of a keyed read: RETENTION_DIGEST_CHUNK_ROWS, or KEYDIGEST_FETCH_ROWS. */
static int
chunk_rows(void)
{
	const char *v = getenv("RETENTION_DIGEST_CHUNK_ROWS");
	char *end = NULL;
	long n;

	if (v == NULL || v[0] == '\0')
		return KEYDIGEST_FETCH_ROWS;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 1 || n > KEYDIGEST_FETCH_ROWS)
		return KEYDIGEST_FETCH_ROWS;
	return (int)n;
}

/* Rows at the end of res whose column 0 equals the last row's, byte for byte. */
static int
trailing_run(const PGresult *res)
{
	int n = PQntuples(res);
	int len = PQgetlength(res, n - 1, 0);
	const char *last = PQgetvalue(res, n - 1, 0);
	int run = 1;

	while (run < n && PQgetlength(res, n - 1 - run, 0) == len &&
	       memcmp(PQgetvalue(res, n - 1 - run, 0), last, (size_t)len) == 0)
		run++;
	return run;
}

/*
 * Hashes the keys of a capture table in digest order, in chunks that are
 * each one statement and so one short transaction: the keys after the last
 * one read, in byte order through the table's index. A key need not be
 * unique, so a chunk that ends on a key is followed by the rest of that
 * key's copies (counted, through the index) before the next chunk starts
 * after it. The NULLs come last, as they sort. The bytes hashed are those
 * of "SELECT k ... ORDER BY k COLLATE "C"" read through a cursor.
 */
static ret_code
digest_keyed(PGconn *conn, const char *table, key_digest *d, ret_error *err)
{
	sha256_ctx *ctx = NULL;
	PGresult *res = NULL;
	strbuf first = {0}, next = {0}, same = {0}, nulls = {0};
	char *sql_first = NULL, *sql_next = NULL, *sql_same = NULL, *sql_nulls = NULL;
	char *last = NULL;
	int64_t rows = 0;
	int reads = 1; /* the NULLs */
	int limit = chunk_rows();
	ret_code rc = RET_OK;

	ctx = sha256_new();
	strbuf_appendf(&first, "SELECT k COLLATE \"C\" FROM %s WHERE k IS NOT NULL"
	                       " ORDER BY k COLLATE \"C\" LIMIT %d", table, limit);
	strbuf_appendf(&next, "SELECT k COLLATE \"C\" FROM %s WHERE k COLLATE \"C\" > $1"
	                      " ORDER BY k COLLATE \"C\" LIMIT %d", table, limit);
	strbuf_appendf(&same, "SELECT count(*) FROM %s WHERE k COLLATE \"C\" = $1", table);
	strbuf_appendf(&nulls, "SELECT count(*) FROM %s WHERE k IS NULL", table);
	sql_first = strbuf_take(&first);
	sql_next = strbuf_take(&next);
	sql_same = strbuf_take(&same);
	sql_nulls = strbuf_take(&nulls);
	if (ctx == NULL || !sql_first || !sql_next || !sql_same || !sql_nulls) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}

	for (;;) {
		const char *params[1] = {last};
		int64_t copies;
		int n;

		rc = db_query(conn, "key digest", last ? sql_next : sql_first, last ? 1 : 0, params,
		              &res, err);
		if (rc != RET_OK)
			goto done;
		reads++;
		n = PQntuples(res);
		for (int i = 0; i < n; i++)
			hash_key(ctx, res, i, 0);
		rows += n;
		if (n < limit)
			break;

		/* A full chunk: the last key's copies beyond it, then the next chunk after it. */
		copies = trailing_run(res);
		free(last);
		last = strdup(PQgetvalue(res, n - 1, 0));
		if (last == NULL) {
			rc = ret_fail(err, RET_RUNTIME, "out of memory");
			goto done;
		}
		PQclear(res);
		res = NULL;
		params[0] = last;
		rc = db_query(conn, "key digest", sql_same, 1, params, &res, err);
		if (rc != RET_OK)
			goto done;
		reads++;
		for (int64_t t = strtoll(PQgetvalue(res, 0, 0), NULL, 10) - copies; t > 0; t--) {
			sha256_update(ctx, last, strlen(last));
			sha256_update(ctx, "\n", 1);
			rows++;
		}
		PQclear(res);
		res = NULL;
	}
	PQclear(res);
	res = NULL;

	rc = db_query(conn, "key digest", sql_nulls, 0, NULL, &res, err);
	if (rc != RET_OK)
		goto done;
	for (int64_t t = strtoll(PQgetvalue(res, 0, 0), NULL, 10); t > 0; t--) {
		sha256_update(ctx, "\\N\n", 3);
		rows++;
	}

	d->computed = true;
	d->rows = rows;
	d->reads = reads;
	sha256_final_hex(ctx, d->sha256);
	ctx = NULL;

done:
	PQclear(res);
	sha256_free(ctx);
	free(last);
	free(sql_first);
	free(sql_next);
	free(sql_same);
	free(sql_nulls);
	return rc;
}

ret_code
keydigest_eligible_and_held(PGconn *conn, const class_catalog *cat, const class_sql *s,
                            key_digest *eligible, key_digest *held, ret_error *err)
{
	strbuf sb = {0};
	char *sql;
	ret_code rc;

	/*
	 * The stats query's classification, restricted to rows past retention:
	 * held first, then pinned, the rest eligible. One scan, one sort.
	 */
	strbuf_appendf(&sb,
	               "SELECT x.kind, x.k FROM (SELECT CASE WHEN %s THEN 'h' WHEN %s THEN 'p'"
	               " ELSE 'e' END AS kind, t.%s::text AS k FROM %s t WHERE %s) x"
	               " WHERE x.kind <> 'p' ORDER BY x.kind, x.k COLLATE \"C\"",
	               s->held, s->pinned, cat->key, cat->from_item, s->old);
	sql = strbuf_take(&sb);
	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = digest_cursor(conn, sql, true, eligible, held, err);
	free(sql);
	return rc;
}

ret_code
keydigest_table(PGconn *conn, const char *table, key_digest *d, ret_error *err)
{
	return digest_keyed(conn, table, d, err);
}

ret_code
keydigest_held(PGconn *conn, const class_catalog *cat, const class_sql *s, key_digest *held,
               ret_error *err)
{
	strbuf sb = {0};
	char *sql;
	ret_code rc;

	strbuf_appendf(&sb,
	               "SELECT t.%s::text FROM %s t WHERE %s AND (%s)"
	               " ORDER BY t.%s::text COLLATE \"C\"",
	               cat->key, cat->from_item, s->old, s->held, cat->key);
	sql = strbuf_take(&sb);
	if (sql == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	rc = digest_cursor(conn, sql, false, held, NULL, err);
	free(sql);
	return rc;
}

ret_code
keydigest_removed_and_held(PGconn *conn, const class_catalog *cat, const class_sql *s,
                           const char *table, key_digest *removed, key_digest *held,
                           ret_error *err)
{
	ret_code rc;

	if (table && table[0]) {
		rc = digest_keyed(conn, table, removed, err);
		if (rc != RET_OK)
			return rc;
	} else {
		keydigest_empty(removed);
	}
	return held ? keydigest_held(conn, cat, s, held, err) : RET_OK;
}

void
keydigest_capture_close(PGconn *conn, const char *table)
{
	char sql[160];

	if (table == NULL || table[0] == '\0' || db_lost(conn))
		return;
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
	PQclear(PQexec(conn, sql));
}
