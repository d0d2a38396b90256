/* libpq helpers shared by every command. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * JIT is off for the job's sessions: the counting scan's CASE of hold
 * subqueries looks expensive to the planner, which then spent 2.4 s compiling
 * a query that runs in 0.3 s (500k rows); the batches gain nothing from it.
 */
static const char *const session_setup =
	"SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601';"
	"SET search_path = pg_catalog; SET application_name = 'retention';"
	"SET client_min_messages = warning; SET jit = off;"
	"SET idle_in_transaction_session_timeout = '10min'";

/*
 * A run's sessions sit idle for as long as another session works on a large
 * class, and the run's advisory lock lives in one of them: a server-wide
 * idle_session_timeout must not end them. The setting is PostgreSQL 14's.
 */
static const char *const idle_session_setup = "SET idle_session_timeout = 0";

ret_code
db_fail(PGconn *conn, const PGresult *res, const char *label, ret_error *err)
{
	const char *primary = NULL;
	const char *sqlstate = NULL;
	const char *hint = NULL;
	char msg[600];

	if (res) {
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	}
	if (primary == NULL) {
		/* libpq's own message (connection lost, protocol); trim its newline. */
		const char *raw = conn ? PQerrorMessage(conn) : "no connection";
		size_t n;

		snprintf(msg, sizeof(msg), "%s", raw && raw[0] ? raw : "unknown error");
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		primary = msg;
	}
	ret_fail(err, RET_RUNTIME, "%s: %s", label, primary);
	if (err) {
		if (sqlstate)
			snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate);
		if (hint)
			snprintf(err->hint, sizeof(err->hint), "%s", hint);
	}
	return RET_RUNTIME;
}

/* Server notices go through the logger (JSON, run ID), not libpq's bare stderr line. */
static void
notice_to_log(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	(void)arg;
	log_msg(severity && strcmp(severity, "WARNING") == 0 ? LOG_WARNING : LOG_INFO, NULL,
	        "server says: %s", primary ? primary : "(no message)");
}

/* Overwrites every occurrence of secret in text with asterisks, in place. */
static void
redact(char *text, const char *secret)
{
	size_t n;
	char *at;

	if (secret == NULL || secret[0] == '\0')
		return;
	n = strlen(secret);
	while ((at = strstr(text, secret)) != NULL)
		memset(at, '*', n);
}

/*
 * The password a conninfo string carries, as a malloc'd copy, or NULL. A
 * string libpq cannot parse is refused here, because libpq's parse errors
 * quote the offending part of it, password included.
 */
static ret_code
conninfo_password(const char *conninfo, char **password, ret_error *err)
{
	PQconninfoOption *opts;
	char *perr = NULL;

	*password = NULL;
	if (conninfo == NULL || conninfo[0] == '\0')
		return RET_OK;
	opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		if (perr)
			PQfreemem(perr);
		ret_fail(err, RET_USAGE, "the connection string is not valid (libpq's detail is"
		         " withheld: it may quote a password)");
		ret_hint(err, "write it as key=value pairs or as a postgresql:// URI with special"
		         " characters percent-encoded");
		return RET_USAGE;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			*password = strdup(o->val);
	PQconninfoFree(opts);
	return RET_OK;
}

/*
 * Takes conn (finished on failure): checks it is up and gives it the job's
 * session settings. password (may be NULL) is masked in any error libpq gives.
 */
static ret_code
set_up_session(PGconn *conn, const char *password, PGconn **out, ret_error *err)
{
	ret_code rc;

	if (conn == NULL)
		return ret_fail(err, RET_RUNTIME, "cannot allocate a connection");
	if (PQstatus(conn) != CONNECTION_OK) {
		/* libpq names host and user; a password it echoes anyway is masked. */
		db_fail(conn, NULL, "cannot connect to the database", err);
		if (err)
			redact(err->message, password);
		PQfinish(conn);
		return RET_RUNTIME;
	}
	PQsetNoticeReceiver(conn, notice_to_log, NULL);
	rc = db_exec(conn, "session setup", session_setup, err);
	if (rc == RET_OK && PQserverVersion(conn) >= 140000)
		rc = db_exec(conn, "session setup", idle_session_setup, err);
	if (rc != RET_OK) {
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return RET_OK;
}

ret_code
db_connect(const char *conninfo, PGconn **out, ret_error *err)
{
	char *password = NULL;
	ret_code rc;

	*out = NULL;
	rc = conninfo_password(conninfo, &password, err);
	if (rc != RET_OK)
		return rc;
	rc = set_up_session(PQconnectdb(conninfo ? conninfo : ""), password, out, err);
	free(password);
	return rc;
}

ret_code
db_connect_again(PGconn *model, const char *conninfo, PGconn **out, ret_error *err)
{
	/*
	 * libpq expands the first dbname as a connection string and lets later
	 * keywords override it; empty values leave the string's (or the
	 * environment's) setting alone.
	 */
	const char *const keys[] = {"dbname", "host", "hostaddr", "port", "user", "dbname", NULL};
	const char *const values[] = {conninfo ? conninfo : "", PQhost(model), PQhostaddr(model),
	                              PQport(model), PQuser(model), PQdb(model), NULL};
	char *password = NULL;
	ret_code rc;

	*out = NULL;
	rc = conninfo_password(conninfo, &password, err);
	if (rc != RET_OK)
		return rc;
	rc = set_up_session(PQconnectdbParams(keys, values, 1), password, out, err);
	free(password);
	return rc;
}

void
db_close(PGconn *conn)
{
	if (conn)
		PQfinish(conn);
}

ret_code
db_query(PGconn *conn, const char *label, const char *sql, int nparams,
         const char *const *params, PGresult **out, ret_error *err)
{
	PGresult *res;
	ExecStatusType st;

	if (out)
		*out = NULL;
	if (nparams > 0)
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		res = PQexec(conn, sql);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		db_fail(conn, res, label, err);
		PQclear(res);
		return RET_RUNTIME;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return RET_OK;
}

ret_code
db_exec(PGconn *conn, const char *label, const char *sql, ret_error *err)
{
	return db_query(conn, label, sql, 0, NULL, NULL, err);
}

bool
db_quote_ident(PGconn *conn, const char *name, char *buf, size_t len)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	bool ok;

	if (q == NULL)
		return false;
	ok = strlen(q) < len;
	if (ok)
		memcpy(buf, q, strlen(q) + 1);
	PQfreemem(q);
	return ok;
}

bool
db_lost(PGconn *conn)
{
	return conn == NULL || PQstatus(conn) != CONNECTION_OK;
}

int64_t
db_int64(const PGresult *res, int row, int col)
{
	const char *v;
	char *end;
	long long n;

	if (PQgetisnull(res, row, col))
		return -1;
	v = PQgetvalue(res, row, col);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return -1;
	return (int64_t)n;
}

void
db_describe(PGconn *conn, char *buf, size_t len)
{
	const char *host = PQhost(conn);

	snprintf(buf, len, "database \"%s\" as \"%s\" on %s", PQdb(conn), PQuser(conn),
	         host && host[0] == '/' ? "local socket" : (host ? host : "default host"));
}

ret_code
db_set_timeouts(PGconn *conn, int lock_timeout_ms, int statement_timeout_ms, ret_error *err)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SET lock_timeout = %d; SET statement_timeout = %d",
	         lock_timeout_ms, statement_timeout_ms);
	return db_exec(conn, "set timeouts", sql, err);
}
