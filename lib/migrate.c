/* Applying and checking the job's own schema migrations. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"

#define MIGRATE_LOCK_KEY "7400101"

static ret_code
apply_one(PGconn *conn, const struct migration *m, int *applied, ret_error *err)
{
	char version[16];
	const char *params[2];
	PGresult *res = NULL;
	ret_code rc;

	rc = db_exec(conn, "begin migration", "BEGIN", err);
	if (rc != RET_OK)
		return rc;
	rc = db_exec(conn, "migration lock", "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
	             err);
	if (rc != RET_OK)
		goto fail;
	rc = db_exec(conn, "migration ledger",
	             "CREATE SCHEMA IF NOT EXISTS retention;"
	             "CREATE TABLE IF NOT EXISTS retention.schema_migrations ("
	             " version integer PRIMARY KEY, name text NOT NULL,"
	             " applied_at timestamptz NOT NULL DEFAULT now())",
	             err);
	if (rc != RET_OK)
		goto fail;

	/* Already applied by an earlier or a concurrent migrate: nothing to do. */
	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	rc = db_query(conn, "migration lookup",
	              "SELECT 1 FROM retention.schema_migrations WHERE version = $1::int", 1, params,
	              &res, err);
	if (rc != RET_OK)
		goto fail;
	if (PQntuples(res) == 0) {
		rc = db_exec(conn, m->name, m->sql, err);
		if (rc != RET_OK)
			goto fail;
		rc = db_query(conn, "migration record",
		              "INSERT INTO retention.schema_migrations (version, name) VALUES ($1, $2)", 2,
		              params, NULL, err);
		if (rc != RET_OK)
			goto fail;
		(*applied)++;
	}
	PQclear(res);
	return db_exec(conn, "commit migration", "COMMIT", err);

fail:
	PQclear(res);
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}

ret_code
migrate_apply(PGconn *conn, int *applied, ret_error *err)
{
	*applied = 0;
	for (int i = 0; i < retention_migration_count; i++) {
		ret_code rc = apply_one(conn, &retention_migrations[i], applied, err);

		if (rc != RET_OK)
			return rc;
	}
	return RET_OK;
}

ret_code
migrate_check(PGconn *conn, ret_error *err)
{
	PGresult *res = NULL;
	ret_code rc;
	int have;
	int want = retention_migrations[retention_migration_count - 1].version;

	rc = db_query(conn, "schema check",
	              "SELECT to_regclass('retention.schema_migrations') IS NOT NULL", 0, NULL,
	              &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		PQclear(res);
		rc = db_query(conn, "schema check",
		              "SELECT coalesce(max(version), 0) FROM retention.schema_migrations", 0,
		              NULL, &res, err);
		if (rc != RET_OK) {
			ret_hint(err, "the role needs SELECT on the retention schema");
			return RET_USAGE;
		}
	}
	have = PQgetvalue(res, 0, 0)[0] == 'f' ? 0 : (int)db_int64(res, 0, 0);
	PQclear(res);
	if (have < want) {
		ret_fail(err, RET_USAGE,
		         "the retention schema is missing or old (version %d, this program needs %d)",
		         have, want);
		ret_hint(err, "run `retention db migrate` first");
		return RET_USAGE;
	}
	return RET_OK;
}
