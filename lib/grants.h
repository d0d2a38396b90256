/*
 * The GRANT statements a policy needs on its own tables, which a migration
 * cannot know: sql/003_roles.sql creates the group roles and their grants on
 * the retention schema; this module reads the catalog and writes the rest.
 *
 *   retention_job      SELECT and DELETE on each purge or archive class's
 *                      table and on every partition of it (batches delete
 *                      partition by partition); SELECT on the tables whose
 *                      foreign keys pin rows (the DELETE tests them); USAGE
 *                      on their schemas; CONNECT and TEMPORARY on the
 *                      database (the removed keys are recorded in a
 *                      temporary table for the report's digests), when
 *                      PUBLIC does not give them already
 *   retention_auditor  SELECT on the same tables through their parents,
 *                      USAGE on their schemas, CONNECT
 *   retention_hold_admin  CONNECT only: it never reads the data
 *
 * Keep classes get nothing: the job never touches their tables. Every name
 * is quoted with libpq's escaping.
 */
#ifndef RETENTION_GRANTS_H
#define RETENTION_GRANTS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"
#include "policy.h"

#define GRANTS_JOB_ROLE "retention_job"
#define GRANTS_AUDITOR_ROLE "retention_auditor"
#define GRANTS_HOLD_ADMIN_ROLE "retention_hold_admin"

/*
 * The SQL script for policy p in the database of conn: comments, then the
 * GRANTs, between BEGIN and COMMIT when transaction is true (without them a
 * caller that runs the script decides itself whether to commit). On success
 * *out is new text the caller frees.
 * RET_USAGE when a class does not fit the catalog (as `retention policy check
 * --db` would report); RET_RUNTIME when a query fails.
 */
ret_code grants_script(PGconn *conn, const policy *p, bool transaction, char **out,
                       ret_error *err);

#endif
