/*
 * Digests of the keys a class removed and held, so that a dry run and the
 * real run after it can be shown to concern the same rows without listing
 * them. A digest is the SHA-256 of each key's text (PostgreSQL's output of
 * key::text, NULL written as \N) followed by a newline, in byte order
 * (COLLATE "C"): what `LC_ALL=C sort | sha256sum` gives over one key a line.
 *
 * The keys never sit in this process as a list: the server sorts them and a
 * cursor hands them over in chunks. A dry run reads the eligible and held
 * keys from its snapshot. A real run deletes by heap block ranges, not in key
 * order, so each batch's DELETE also inserts the keys it removed into a
 * temporary table of the job's session, in the batch's own transaction (a
 * batch that rolls back records nothing); at the end that table is read back
 * in order through its index, in chunks that are each their own short
 * transaction. It costs one temporary row and one index entry per removed
 * row, on disk, not in memory.
 */
#ifndef RETENTION_KEYDIGEST_H
#define RETENTION_KEYDIGEST_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "error.h"
#include "sqlbuild.h"

typedef struct key_digest {
	bool computed;
	int64_t rows;
	char sha256[65];
	int reads; /* statements (each its own transaction in a real run) that read the keys */
} key_digest;

/*
 * Rows per FETCH from the digest cursor, and keys per chunk when a real run
 * reads its removed keys back: bounds the memory a digest takes. Tests may
 * lower the chunk with the environment variable RETENTION_DIGEST_CHUNK_ROWS
 * (1 to this value) to make a small table take many chunks.
 */
#define KEYDIGEST_FETCH_ROWS 10000

/*
 * Creates (or empties) the session's temporary table that records the keys
 * removed by class number class_index, and writes its name into table.
 */
ret_code keydigest_capture_open(PGconn *conn, int class_index, char *table, size_t len,
                                ret_error *err);

/*
 * Turns a bare batch DELETE ("DELETE FROM rel t WHERE ...", no RETURNING) into
 * one that also records t.<key> in table. Takes ownership of delete_sql
 * (freed); returns new text the caller frees, or NULL when out of memory.
 * With an empty table name delete_sql is returned unchanged.
 */
char *keydigest_wrap_delete(char *delete_sql, const char *key, const char *table);

/*
 * The archive statement with key capture: COPY of "DELETE ... RETURNING t.*"
 * (delete_returning_sql, taken and freed) that also records t.<key> in table,
 * with the same CSV output and header as sqlbuild_archive_copy.
 */
char *keydigest_archive_copy(char *delete_returning_sql, const char *key, const char *table);

/*
 * A dry run's digests, in its snapshot: the keys it would remove (eligible)
 * and the keys past retention that holds keep, in one scan.
 */
ret_code keydigest_eligible_and_held(PGconn *conn, const class_catalog *cat, const class_sql *s,
                                     key_digest *eligible, key_digest *held, ret_error *err);

/*
 * A real run's digests: the keys recorded in table (the digest of no keys
 * when table is empty), and, unless held is NULL, the held keys left in the
 * class's table. The recorded keys are read in chunks, each one statement in
 * a transaction of its own (the connection must be idle), through the index
 * keydigest_capture_open made, so no transaction lasts for the whole read.
 */
ret_code keydigest_removed_and_held(PGconn *conn, const class_catalog *cat, const class_sql *s,
                                    const char *table, key_digest *removed, key_digest *held,
                                    ret_error *err);

/*
 * The held keys left in the class's table after the work, in one statement
 * through a cursor, in a transaction of its own when the connection is idle.
 */
ret_code keydigest_held(PGconn *conn, const class_catalog *cat, const class_sql *s,
                        key_digest *held, ret_error *err);

/*
 * A second table like the capture table, for the held keys a real run
 * gathers range by range (pg_temp.retention_held_keys_<class_index>);
 * keydigest_capture_select fills it and keydigest_table digests it.
 */
ret_code keydigest_held_open(PGconn *conn, int class_index, char *table, size_t len,
                             ret_error *err);

/*
 * "INSERT INTO table (k) <select_sql>", select_sql giving one text column.
 * Takes ownership of select_sql (freed); returns new text the caller frees,
 * or NULL when out of memory.
 */
char *keydigest_capture_select(char *select_sql, const char *table);

/*
 * The digest of the keys in a capture table, read in order in chunks, each
 * one statement (the connection must be idle, so each is its own transaction).
 */
ret_code keydigest_table(PGconn *conn, const char *table, key_digest *d, ret_error *err);

/* Drops the capture table; accepts an empty name. Errors are ignored (temporary anyway). */
void keydigest_capture_close(PGconn *conn, const char *table);

/* The digest of no keys at all (the SHA-256 of empty input). */
void keydigest_empty(key_digest *d);

#endif
