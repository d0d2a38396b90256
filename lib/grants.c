/* GRANTs on a policy's own tables, from the live catalog (contract: lib/grants.h). */
#include "grants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "strbuf.h"

#define QIDENT_MAX (2 * POLICY_NAME_MAX + 3) /* one identifier, quoted, quotes doubled */
#define QREL_MAX (2 * QIDENT_MAX + 1)        /* "schema"."table" */

typedef struct schema_list {
	char (*items)[QIDENT_MAX];
	int n;
} schema_list;

/* Adds a quoted schema name once; false when out of memory. */
static bool
schema_add(schema_list *l, const char *quoted)
{
	char (*grown)[QIDENT_MAX];

	for (int i = 0; i < l->n; i++)
		if (strcmp(l->items[i], quoted) == 0)
			return true;
	grown = realloc(l->items, (size_t)(l->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return false;
	l->items = grown;
	snprintf(l->items[l->n++], QIDENT_MAX, "%s", quoted);
	return true;
}

/*
 * Text for a "--" comment: printable ASCII only. A newline in a name taken
 * from a file or the catalog would end the comment and turn the rest of the
 * name into SQL that --apply or psql would run.
 */
static void
comment_text(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		buf[n++] = (*s >= 0x20 && *s <= 0x7e) ? *s : '?';
	buf[n] = '\0';
}

/*
 * Quotes the (schema, relation) of row i of res, columns 0 and 1, into qrel
 * and adds the schema to schemas.
 */
static ret_code
quote_row(PGconn *conn, const PGresult *res, int i, char *qrel, schema_list *schemas,
          ret_error *err)
{
	char s[QIDENT_MAX], t[QIDENT_MAX];

	if (!db_quote_ident(conn, PQgetvalue(res, i, 0), s, sizeof(s)) ||
	    !db_quote_ident(conn, PQgetvalue(res, i, 1), t, sizeof(t)))
		return ret_fail(err, RET_RUNTIME, "cannot quote a relation name");
	snprintf(qrel, QREL_MAX, "%s.%s", s, t);
	if (!schema_add(schemas, s))
		return ret_fail(err, RET_RUNTIME, "out of memory");
	return RET_OK;
}

/* The statements of one class that removes rows. */
static ret_code
class_grants(PGconn *conn, const policy_class *c, const class_catalog *cat, strbuf *sb,
             schema_list *schemas, ret_error *err)
{
	char oid[16];
	const char *params[1] = {oid};
	char qrel[QREL_MAX];
	PGresult *res = NULL;
	ret_code rc;

	snprintf(oid, sizeof(oid), "%u", cat->oid);
	strbuf_appendf(sb, "\n-- class %s: %s %s.%s after %s\n", c->name,
	               policy_action_name(c->action), c->schema, c->table, c->retain.text);

	/* The table, then its partitions: a batch deletes from one leaf at a time. */
	rc = db_query(conn, "partitions",
	              "SELECT n.nspname, c.relname, c.oid = $1::oid FROM pg_class c"
	              " JOIN pg_namespace n ON n.oid = c.relnamespace"
	              " WHERE c.oid = $1::oid"
	              "    OR c.oid IN (SELECT relid FROM pg_partition_tree($1::oid))"
	              " ORDER BY c.oid <> $1::oid, n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == RET_OK; i++) {
		bool root = PQgetvalue(res, i, 2)[0] == 't';

		rc = quote_row(conn, res, i, qrel, schemas, err);
		if (rc != RET_OK)
			break;
		if (root) {
			strbuf_appendf(sb, "GRANT SELECT, DELETE ON TABLE %s TO " GRANTS_JOB_ROLE ";\n",
			               qrel);
			strbuf_appendf(sb, "GRANT SELECT ON TABLE %s TO " GRANTS_AUDITOR_ROLE ";\n", qrel);
		} else {
			if (i == 1)
				strbuf_append(sb, "-- its partitions, which the job deletes from one by one\n");
			strbuf_appendf(sb, "GRANT SELECT, DELETE ON TABLE %s TO " GRANTS_JOB_ROLE ";\n",
			               qrel);
		}
	}
	PQclear(res);
	if (rc != RET_OK)
		return rc;

	/* Tables whose keys pin rows: every DELETE and every count tests them. */
	rc = db_query(conn, "pinning tables",
	              "SELECT DISTINCT cn.nspname COLLATE \"C\", cc.relname COLLATE \"C\""
	              " FROM pg_constraint con"
	              " JOIN pg_class cc ON cc.oid = con.conrelid"
	              " JOIN pg_namespace cn ON cn.oid = cc.relnamespace"
	              " WHERE con.contype = 'f' AND con.conparentid = 0"
	              "   AND con.confdeltype IN ('a', 'r')"
	              "   AND (con.confrelid = $1::oid"
	              "        OR con.confrelid IN (SELECT relid FROM pg_partition_tree($1::oid)))"
	              " ORDER BY 1, 2",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == RET_OK; i++) {
		rc = quote_row(conn, res, i, qrel, schemas, err);
		if (rc != RET_OK)
			break;
		if (i == 0)
			strbuf_append(sb, "-- tables whose foreign keys keep rows referenced: read by "
			                  "every DELETE and count\n");
		strbuf_appendf(sb,
		               "GRANT SELECT ON TABLE %s TO " GRANTS_JOB_ROLE ", " GRANTS_AUDITOR_ROLE
		               ";\n",
		               qrel);
	}
	PQclear(res);
	return rc;
}

/*
 * CONNECT for every role and TEMPORARY for the job, but only those missing:
 * PUBLIC has both by default, and a table owner who does not own the
 * database could not grant them (and --apply would refuse the lot).
 */
static ret_code
database_grants(PGconn *conn, const char *qdb, strbuf *sb, ret_error *err)
{
	PGresult *res = NULL;
	ret_code rc;

	rc = db_query(conn, "database privileges",
	              "SELECT x.role, x.priv FROM (VALUES"
	              " (1, '" GRANTS_JOB_ROLE "', 'CONNECT'), (2, '" GRANTS_JOB_ROLE "', 'TEMPORARY'),"
	              " (3, '" GRANTS_AUDITOR_ROLE "', 'CONNECT'),"
	              " (4, '" GRANTS_HOLD_ADMIN_ROLE "', 'CONNECT')) AS x(n, role, priv)"
	              " WHERE NOT has_database_privilege(x.role, current_database(), x.priv)"
	              " ORDER BY x.n",
	              0, NULL, &res, err);
	if (rc != RET_OK) {
		ret_hint(err, "the roles come from `retention db migrate`");
		return rc;
	}
	if (PQntuples(res) == 0)
		strbuf_append(sb, "-- CONNECT and TEMPORARY on the database: the roles have them "
		                  "already\n");
	for (int i = 0; i < PQntuples(res); i++)
		strbuf_appendf(sb, "GRANT %s ON DATABASE %s TO %s;\n", PQgetvalue(res, i, 1), qdb,
		               PQgetvalue(res, i, 0));
	PQclear(res);
	return RET_OK;
}

ret_code
grants_script(PGconn *conn, const policy *p, bool transaction, char **out,
              ret_error *err)
{
	strbuf head = {0}, body = {0};
	schema_list schemas = {NULL, 0};
	class_catalog *cat = NULL;
	char qdb[QIDENT_MAX], name[160];
	ret_code rc = RET_OK;
	char *text = NULL;

	*out = NULL;
	cat = calloc(1, sizeof(*cat));
	if (cat == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");

	/* Each class that removes rows; a class that does not fit refuses the lot. */
	for (int i = 0; i < p->n_classes && rc == RET_OK; i++) {
		const policy_class *c = &p->classes[i];

		rc = catalog_check_class(conn, p, c, cat, err);
		if (rc != RET_OK)
			break;
		if (c->action == ACTION_KEEP)
			strbuf_appendf(&body, "\n-- class %s: keep %s.%s: no grant, the job never "
			               "touches it\n", c->name, c->schema, c->table);
		else
			rc = class_grants(conn, c, cat, &body, &schemas, err);
	}
	if (rc != RET_OK) {
		if (rc == RET_USAGE)
			ret_hint(err, "`retention policy check --policy %s --db` lists every problem",
			         p->path);
		goto done;
	}
	if (!db_quote_ident(conn, PQdb(conn), qdb, sizeof(qdb))) {
		rc = ret_fail(err, RET_RUNTIME, "cannot quote the database name");
		goto done;
	}

	/* Header, database and schemas, then the classes, in one transaction. */
	comment_text(p->name, name, sizeof(name));
	strbuf_appendf(&head,
	               "-- GRANTs on the tables of policy \"%s\" version %d\n"
	               "-- (sha256 %s), written by `retention db grants`\n"
	               "-- from this database's catalog. Run as the tables' owner, through\n"
	               "-- psql -v ON_ERROR_STOP=1 or with --apply. The roles and their grants on\n"
	               "-- the schema retention come from `retention db migrate`. Run again after\n"
	               "-- adding a class or a partition.\n"
	               "%s",
	               name, p->version, p->sha256, transaction ? "BEGIN;\n" : "");
	rc = database_grants(conn, qdb, &head, err);
	if (rc != RET_OK)
		goto done;
	for (int i = 0; i < schemas.n; i++)
		strbuf_appendf(&head,
		               "GRANT USAGE ON SCHEMA %s TO " GRANTS_JOB_ROLE ", " GRANTS_AUDITOR_ROLE
		               ";\n",
		               schemas.items[i]);
	text = strbuf_take(&body);
	if (text)
		strbuf_append(&head, text);
	if (transaction)
		strbuf_append(&head, "COMMIT;\n");
	free(text);
	*out = strbuf_take(&head);
	if (*out == NULL)
		rc = ret_fail(err, RET_RUNTIME, "out of memory");

done:
	strbuf_free(&head);
	strbuf_free(&body);
	free(schemas.items);
	free(cat);
	return rc;
}
