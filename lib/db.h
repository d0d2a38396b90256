/*
 * A thin layer over libpq: connecting with the job's session settings,
 * running statements that must return an expected status, and turning a
 * server error into a ret_error carrying its SQLSTATE and the statement's
 * label (never the connection string or a password).
 */
#ifndef RETENTION_DB_H
#define RETENTION_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/*
 * Connects with conninfo, or with libpq's environment (PGHOST, PGDATABASE,
 * PGSERVICE, ...) when conninfo is NULL or empty, and sets the session up:
 * UTC time zone, ISO dates, search_path of pg_catalog only (every user
 * object the job names is schema-qualified). RET_RUNTIME when the server
 * cannot be reached; *out is NULL then.
 */
ret_code db_connect(const char *conninfo, PGconn **out, ret_error *err);

/*
 * Opens one more session like model: conninfo's settings (as given to
 * db_connect for model), with model's host, address, port, user and database
 * pinned, so that a conninfo naming several hosts cannot give a session on
 * another server; set up as db_connect does. RET_RUNTIME when it cannot
 * connect; *out is NULL then.
 */
ret_code db_connect_again(PGconn *model, const char *conninfo, PGconn **out, ret_error *err);

/* Closes conn; accepts NULL. */
void db_close(PGconn *conn);

/*
 * Runs sql with text parameters (values may be NULL for SQL NULL) and checks
 * the result status: PGRES_COMMAND_OK or PGRES_TUPLES_OK. On success *out
 * (when out is not NULL) receives the result, which the caller clears.
 * label names the statement in errors.
 */
ret_code db_query(PGconn *conn, const char *label, const char *sql, int nparams,
                  const char *const *params, PGresult **out, ret_error *err);

/* As db_query, discarding the result. */
ret_code db_exec(PGconn *conn, const char *label, const char *sql, ret_error *err);

/* Fills err from a failed result (or from the connection when res is NULL). */
ret_code db_fail(PGconn *conn, const PGresult *res, const char *label, ret_error *err);

/* Quotes an identifier with libpq's escaping into buf; false if it does not fit. */
bool db_quote_ident(PGconn *conn, const char *name, char *buf, size_t len);

/* True when the connection is gone (server stopped, backend terminated). */
bool db_lost(PGconn *conn);

/* Parses a count column; -1 when NULL or not a number. */
int64_t db_int64(const PGresult *res, int row, int col);

/* A description of the connection safe to log: database, user, host. */
void db_describe(PGconn *conn, char *buf, size_t len);

/* Sets lock_timeout and statement_timeout for the session. */
ret_code db_set_timeouts(PGconn *conn, int lock_timeout_ms, int statement_timeout_ms,
                         ret_error *err);

#endif
