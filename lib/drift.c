/* The policy against the live catalog: class checks and drift (contract: lib/drift.h). */
#include "drift.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "strbuf.h"

const char *
drift_kind_name(drift_kind kind)
{
	switch (kind) {
	case DRIFT_INVALID:
		return "invalid";
	case DRIFT_VANISHED:
		return "vanished";
	case DRIFT_GUARD:
		return "guard";
	case DRIFT_UNCOVERED:
		return "uncovered";
	case DRIFT_NO_SCHEMA:
		return "no-schema";
	}
	return "?";
}

static ret_code
add_finding(drift_result *r, drift_kind kind, const char *class_name, const char *object,
            ret_error *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Appends one finding; RET_RUNTIME only when out of memory. */
static ret_code
add_finding(drift_result *r, drift_kind kind, const char *class_name, const char *object,
            ret_error *err, const char *fmt, ...)
{
	drift_finding *grown, *f;
	va_list ap;

	grown = realloc(r->findings, (size_t)(r->n_findings + 1) * sizeof(*grown));
	if (grown == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	r->findings = grown;
	f = &r->findings[r->n_findings++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	snprintf(f->class_name, sizeof(f->class_name), "%s", class_name ? class_name : "");
	snprintf(f->object, sizeof(f->object), "%s", object);
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return RET_OK;
}

/* True when schema.table exists as any relation; looked up as values, never spliced. */
static ret_code
relation_exists(PGconn *conn, const char *schema, const char *table, bool *exists,
                ret_error *err)
{
	const char *params[2] = {schema, table};
	PGresult *res = NULL;
	ret_code rc;

	rc = db_query(conn, "table lookup",
	              "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	              " WHERE n.nspname = $1 AND c.relname = $2",
	              2, params, &res, err);
	if (rc != RET_OK)
		return rc;
	*exists = PQntuples(res) > 0;
	PQclear(res);
	return RET_OK;
}

/* One class: vanished, invalid, refused by a guard, or in order. */
static ret_code
check_class(PGconn *conn, const policy *p, const policy_class *c, drift_result *r,
            unsigned int *oid, ret_error *err)
{
	char object[2 * POLICY_NAME_MAX + 2];
	class_catalog *cat = NULL;
	ret_error cerr;
	bool exists = false;
	ret_code rc;

	snprintf(object, sizeof(object), "%s.%s", c->schema, c->table);
	rc = relation_exists(conn, c->schema, c->table, &exists, err);
	if (rc != RET_OK)
		return rc;
	if (!exists)
		return add_finding(r, DRIFT_VANISHED, c->name, object, err,
		                   "class \"%s\": table %s does not exist (dropped or renamed?)",
		                   c->name, object);

	/* class_catalog is large (foreign key lists): not on the stack. */
	cat = calloc(1, sizeof(*cat));
	if (cat == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	ret_error_clear(&cerr);
	rc = catalog_check_class(conn, p, c, cat, &cerr);
	*oid = cat->oid;
	if (rc == RET_USAGE)
		rc = add_finding(r, DRIFT_INVALID, c->name, object, err, "%s", cerr.message);
	else if (rc != RET_OK)
		*err = cerr;
	else if (cat->guard[0])
		rc = add_finding(r, DRIFT_GUARD, c->name, object, err, "class \"%s\": guard %s: %s",
		                 c->name, cat->guard_name, cat->guard);
	free(cat);
	return rc;
}

/* Two classes on one partition tree give one row two rules: a run refuses that too. */
static ret_code
check_trees(PGconn *conn, const policy *p, const unsigned int *oids, drift_result *r,
            ret_error *err)
{
	ret_code rc = RET_OK;

	for (int i = 1; i < p->n_classes && rc == RET_OK; i++) {
		for (int j = 0; j < i && rc == RET_OK; j++) {
			const policy_class *a = &p->classes[j], *b = &p->classes[i];
			char object[2 * POLICY_NAME_MAX + 2];
			bool related = false;

			if (oids[i] == 0 || oids[j] == 0)
				continue;
			rc = catalog_same_tree(conn, oids[j], oids[i], &related, err);
			if (rc != RET_OK || !related)
				continue;
			snprintf(object, sizeof(object), "%s.%s", b->schema, b->table);
			rc = add_finding(r, DRIFT_INVALID, b->name, object, err,
			                 "%s: class \"%s\": field \"table\": %s.%s and class \"%s\"'s "
			                 "%s.%s are one partition tree; one table takes one rule",
			                 p->path, b->name, b->schema, b->table, a->name, a->schema,
			                 a->table);
			break;
		}
	}
	return rc;
}

/* True when a class of p governs schema.table. */
static bool
covered(const policy *p, const char *schema, const char *table)
{
	for (int i = 0; i < p->n_classes; i++)
		if (strcmp(p->classes[i].schema, schema) == 0 && strcmp(p->classes[i].table, table) == 0)
			return true;
	return false;
}

/* Every governed schema exists, and each of its tables is some class's. */
static ret_code
check_governed(PGconn *conn, const policy *p, drift_result *r, ret_error *err)
{
	strbuf list = {0};
	const char *params[1];
	PGresult *res = NULL;
	char *array = NULL;
	ret_code rc;

	if (p->n_governed_schemas == 0)
		return RET_OK;

	/* A text[] literal; plain identifiers, each quoted so that "null" stays a name. */
	strbuf_append(&list, "{");
	for (int i = 0; i < p->n_governed_schemas; i++)
		strbuf_appendf(&list, "%s\"%s\"", i ? "," : "", p->governed_schemas[i]);
	strbuf_append(&list, "}");
	array = strbuf_take(&list);
	if (array == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	params[0] = array;

	rc = db_query(conn, "governed schemas",
	              "SELECT s FROM unnest($1::text[]) AS s"
	              " WHERE NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s) ORDER BY s",
	              1, params, &res, err);
	if (rc != RET_OK)
		goto done;
	for (int i = 0; i < PQntuples(res) && rc == RET_OK; i++)
		rc = add_finding(r, DRIFT_NO_SCHEMA, NULL, PQgetvalue(res, i, 0), err,
		                 "governed schema %s does not exist", PQgetvalue(res, i, 0));
	PQclear(res);
	res = NULL;
	if (rc != RET_OK)
		goto done;

	/* Tables and partitioned tables; partitions are governed through their parent. */
	rc = db_query(conn, "governed tables",
	              "SELECT n.nspname, c.relname FROM pg_class c"
	              " JOIN pg_namespace n ON n.oid = c.relnamespace"
	              " WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')"
	              "   AND NOT c.relispartition"
	              " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
	              1, params, &res, err);
	if (rc != RET_OK)
		goto done;
	r->governed_tables = PQntuples(res);
	for (int i = 0; i < PQntuples(res) && rc == RET_OK; i++) {
		const char *schema = PQgetvalue(res, i, 0);
		const char *table = PQgetvalue(res, i, 1);
		char object[2 * POLICY_NAME_MAX + 2];

		if (covered(p, schema, table))
			continue;
		snprintf(object, sizeof(object), "%s.%s", schema, table);
		rc = add_finding(r, DRIFT_UNCOVERED, NULL, object, err,
		                 "table %s in governed schema %s is named by no class", object, schema);
	}

done:
	PQclear(res);
	free(array);
	return rc;
}

ret_code
drift_check(PGconn *conn, const policy *p, drift_result *out, ret_error *err)
{
	unsigned int *oids = NULL;
	ret_error tzerr;
	ret_code rc;

	memset(out, 0, sizeof(*out));

	/* The time zone, as a run checks it first. */
	ret_error_clear(&tzerr);
	rc = catalog_check_timezone(conn, p->timezone, p->path, &tzerr);
	if (rc == RET_USAGE)
		rc = add_finding(out, DRIFT_INVALID, NULL, "timezone", err, "%s", tzerr.message);
	else if (rc != RET_OK)
		*err = tzerr;
	if (rc != RET_OK)
		return rc;

	/* Every class, whatever the others found; then the classes against each other. */
	oids = calloc((size_t)p->n_classes, sizeof(*oids));
	if (oids == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	for (int i = 0; i < p->n_classes && rc == RET_OK; i++)
		rc = check_class(conn, p, &p->classes[i], out, &oids[i], err);
	if (rc == RET_OK)
		rc = check_trees(conn, p, oids, out, err);
	free(oids);
	if (rc != RET_OK)
		return rc;

	/* A class is in order when no finding names it. */
	for (int i = 0; i < p->n_classes; i++) {
		bool named = false;

		for (int k = 0; k < out->n_findings && !named; k++)
			named = strcmp(out->findings[k].class_name, p->classes[i].name) == 0;
		out->classes_ok += !named;
	}
	return check_governed(conn, p, out, err);
}

ret_code
drift_outcome(const drift_result *r)
{
	ret_code worst = RET_OK;

	for (int i = 0; i < r->n_findings; i++) {
		switch (r->findings[i].kind) {
		case DRIFT_INVALID:
		case DRIFT_VANISHED:
			return RET_USAGE;
		case DRIFT_GUARD:
			worst = RET_GUARD;
			break;
		case DRIFT_UNCOVERED:
		case DRIFT_NO_SCHEMA:
			if (worst == RET_OK)
				worst = RET_DRIFT;
			break;
		}
	}
	return worst;
}

void
drift_free(drift_result *r)
{
	if (r == NULL)
		return;
	free(r->findings);
	memset(r, 0, sizeof(*r));
}
