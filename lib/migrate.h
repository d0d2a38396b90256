/*
 * The job's own schema, applied from the numbered files in sql/ that the
 * build compiles into the binary. Each migration runs once, in its own
 * transaction, and is recorded in retention.schema_migrations; the files are
 * idempotent as well, so applying them by hand twice is harmless too.
 */
#ifndef RETENTION_MIGRATE_H
#define RETENTION_MIGRATE_H

#include <libpq-fe.h>

#include "error.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration retention_migrations[];
extern const int retention_migration_count;

/*
 * Applies every migration not yet recorded; *applied receives how many ran.
 * Concurrent callers serialise on an advisory transaction lock.
 */
ret_code migrate_apply(PGconn *conn, int *applied, ret_error *err);

/* RET_USAGE with a hint to run `retention db migrate` when the schema is missing or old. */
ret_code migrate_check(PGconn *conn, ret_error *err);

#endif
