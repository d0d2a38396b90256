/* Catalog checks for each class: existence, types, dependents. */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "strbuf.h"

ret_code
catalog_same_tree(PGconn *conn, unsigned int a, unsigned int b, bool *related, ret_error *err)
{
	char sa[16], sb[16];
	const char *params[2] = {sa, sb};
	PGresult *res = NULL;
	ret_code rc;

	snprintf(sa, sizeof(sa), "%u", a);
	snprintf(sb, sizeof(sb), "%u", b);
	rc = db_query(conn, "partition tree lookup",
	              "SELECT $2::oid IN (SELECT relid FROM pg_partition_tree($1::oid))"
	              " OR $1::oid IN (SELECT relid FROM pg_partition_tree($2::oid))",
	              2, params, &res, err);
	if (rc != RET_OK)
		return rc;
	*related = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return RET_OK;
}

ret_code
catalog_check_timezone(PGconn *conn, const char *tz, const char *origin, ret_error *err)
{
	const char *params[1] = {tz};
	PGresult *res = NULL;
	ret_code rc;

	/*
	 * Names whose meaning is not a place: "localtime" and "posixrules" are
	 * whatever the server's tz files point at, "Factory" is a placeholder. A
	 * calendar-day cutoff must not move when a server is reinstalled.
	 */
	if (strcmp(tz, "localtime") == 0 || strcmp(tz, "posixrules") == 0 ||
	    strcmp(tz, "Factory") == 0)
		return ret_fail(err, RET_USAGE,
		                "%s: policy: field \"timezone\": \"%s\" names no place; give an IANA"
		                " zone such as \"Europe/Berlin\" or \"UTC\"",
		                origin, tz);
	rc = db_query(conn, "time zone lookup",
	              "SELECT 1 FROM pg_timezone_names WHERE name = $1"
	              " UNION ALL SELECT 1 WHERE upper($1) = 'UTC'",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) == 0)
		rc = ret_fail(err, RET_USAGE,
		              "%s: policy: field \"timezone\": the server knows no time zone \"%s\"",
		              origin, tz);
	PQclear(res);
	return rc;
}

/* Looks up one column; fills quoted and returns its type name in type (may be NULL). */
static ret_code
check_column(PGconn *conn, const policy *p, const policy_class *c, unsigned int oid,
             const char *field, const char *column, char *quoted, size_t qlen, char *type,
             size_t tlen, ret_error *err)
{
	char oidbuf[16];
	const char *params[2];
	PGresult *res = NULL;
	ret_code rc;

	snprintf(oidbuf, sizeof(oidbuf), "%u", oid);
	params[0] = oidbuf;
	params[1] = column;
	rc = db_query(conn, "column lookup",
	              "SELECT format_type(atttypid, NULL) FROM pg_attribute"
	              " WHERE attrelid = $1::oid AND attname = $2 AND attnum > 0"
	              " AND NOT attisdropped",
	              2, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ret_fail(err, RET_USAGE,
		                "%s: class \"%s\": field \"%s\": table %s.%s has no column \"%s\"",
		                p->path, c->name, field, c->schema, c->table, column);
	}
	if (type)
		snprintf(type, tlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!db_quote_ident(conn, column, quoted, qlen))
		return ret_fail(err, RET_USAGE, "%s: class \"%s\": field \"%s\": name too long",
		                p->path, c->name, field);
	return RET_OK;
}

static bool
listed(const char rows[][2 * POLICY_NAME_MAX], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(rows[i], name) == 0)
			return true;
	return false;
}

/* True when a class of p names schema.table. */
static bool
named_by_policy(const policy *p, const char *schema, const char *table)
{
	for (int i = 0; i < p->n_classes; i++)
		if (strcmp(p->classes[i].schema, schema) == 0 && strcmp(p->classes[i].table, table) == 0)
			return true;
	return false;
}

/*
 * Inheritance children that are not partitions. The job reads and deletes
 * the class's table ONLY, so it never reaches them; but in SQL the table's
 * name stands for them too, and a policy that names the parent and not a
 * child leaves it unclear which rule the child's rows follow. Such a class
 * is refused until every child is named by a class of its own (keep, if it
 * is to be left alone).
 */
static ret_code
check_inheritance(PGconn *conn, const policy *p, const policy_class *c, const class_catalog *cat,
                  ret_error *err)
{
	char oidbuf[16];
	const char *params[1] = {oidbuf};
	PGresult *res = NULL;
	strbuf unnamed = {0};
	char *list = NULL;
	int n = 0;
	ret_code rc;

	snprintf(oidbuf, sizeof(oidbuf), "%u", cat->oid);
	rc = db_query(conn, "inheritance lookup",
	              "SELECT n.nspname, c.relname FROM pg_inherits i"
	              " JOIN pg_class c ON c.oid = i.inhrelid"
	              " JOIN pg_namespace n ON n.oid = c.relnamespace"
	              " WHERE i.inhparent = $1::oid AND NOT c.relispartition"
	              " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *schema = PQgetvalue(res, i, 0), *table = PQgetvalue(res, i, 1);

		if (named_by_policy(p, schema, table))
			continue;
		strbuf_appendf(&unnamed, "%s%s.%s", n++ ? ", " : "", schema, table);
	}
	PQclear(res);
	if (n == 0)
		return RET_OK;
	list = strbuf_take(&unnamed);
	rc = ret_fail(err, RET_USAGE,
	              "%s: class \"%s\": field \"table\": %s.%s has %s that no class names: %s; "
	              "the job removes rows from %s.%s itself only, never from its children",
	              p->path, c->name, c->schema, c->table,
	              n == 1 ? "an inheritance child" : "inheritance children",
	              list ? list : "(out of memory)", c->schema, c->table);
	ret_hint(err, "name each child in a class of its own (\"action\": \"keep\" leaves it alone)");
	free(list);
	return rc;
}

/*
 * Rules on DELETE, on the table or any partition (a batch deletes from a
 * partition by its own name, so a partition's rule applies). The server
 * refuses a DO ALSO, conditional or DO INSTEAD NOTHING rule in the job's
 * statements (a DELETE inside WITH or COPY), and an unconditional DO INSTEAD
 * rule would delete from somewhere else than the rows counted: no policy
 * field could make a rule safe, so the class does not fit the database, like
 * a column of the wrong type. A trigger can do a rule's work and be listed
 * in allow_triggers.
 */
static ret_code
check_rules(PGconn *conn, const policy *p, const policy_class *c, const class_catalog *cat,
            ret_error *err)
{
	char oidbuf[16];
	const char *params[1] = {oidbuf};
	PGresult *res = NULL;
	ret_code rc;

	snprintf(oidbuf, sizeof(oidbuf), "%u", cat->oid);
	rc = db_query(conn, "rule lookup",
	              "SELECT r.rulename, n.nspname, cl.relname,"
	              "  CASE WHEN r.is_instead THEN 'DO INSTEAD' ELSE 'DO ALSO' END"
	              " FROM pg_rewrite r"
	              " JOIN pg_class cl ON cl.oid = r.ev_class"
	              " JOIN pg_namespace n ON n.oid = cl.relnamespace"
	              " WHERE r.ev_type = '4' AND r.ev_class IN (SELECT $1::oid"
	              "   UNION SELECT relid FROM pg_partition_tree($1::oid))"
	              " ORDER BY n.nspname COLLATE \"C\", cl.relname COLLATE \"C\","
	              "  r.rulename COLLATE \"C\"",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) > 0) {
		rc = ret_fail(err, RET_USAGE,
		              "%s: class \"%s\": field \"table\": rule \"%s\" on %s.%s rewrites DELETE "
		              "(%s); the job cannot remove rows through a rule",
		              p->path, c->name, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
		              PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
		ret_hint(err, "drop the rule; a DELETE trigger listed in allow_triggers can do its work");
	}
	PQclear(res);
	return rc;
}

/* Foreign keys into the table (or any of its partitions) and DELETE triggers. */
static ret_code
check_dependents(PGconn *conn, const policy *p, const policy_class *c, class_catalog *cat,
                 ret_error *err)
{
	char oidbuf[16];
	const char *params[1] = {oidbuf};
	PGresult *res = NULL;
	ret_code rc;

	snprintf(oidbuf, sizeof(oidbuf), "%u", cat->oid);

	/*
	 * Keys from other tables; inherited copies on partitions are skipped.
	 * pg_partition_tree() is empty for a table outside any partition tree,
	 * so the table itself is always added.
	 */
	rc = db_query(conn, "foreign key lookup",
	              "SELECT con.conname, cn.nspname, cc.relname, con.confdeltype,"
	              "  array_to_string(ARRAY(SELECT a.attname FROM unnest(con.conkey)"
	              "    WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid"
	              "    AND a.attnum = k.n ORDER BY k.i), chr(1)),"
	              "  array_to_string(ARRAY(SELECT a.attname FROM unnest(con.confkey)"
	              "    WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid"
	              "    AND a.attnum = k.n ORDER BY k.i), chr(1)), cc.relkind"
	              " FROM pg_constraint con"
	              " JOIN pg_class cc ON cc.oid = con.conrelid"
	              " JOIN pg_namespace cn ON cn.oid = cc.relnamespace"
	              " WHERE con.contype = 'f' AND con.conparentid = 0"
	              "   AND con.confrelid IN (SELECT $1::oid"
	              "                         UNION SELECT relid FROM pg_partition_tree($1::oid))"
	              " ORDER BY con.conname",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *conname = PQgetvalue(res, i, 0);
		char plain[2 * POLICY_NAME_MAX];
		char deltype = PQgetvalue(res, i, 3)[0];
		catalog_fk *fk;
		char *cols[2];

		snprintf(plain, sizeof(plain), "%s.%s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		if (deltype == 'c' || deltype == 'n' || deltype == 'd') {
			if (!listed(c->allow_cascade_to, c->n_allow_cascade_to, plain) &&
			    cat->guard[0] == '\0') {
				snprintf(cat->guard_name, sizeof(cat->guard_name), "cascade");
				snprintf(cat->guard, sizeof(cat->guard),
				         "foreign key \"%s\" on %s is ON DELETE %s and %s is not in the "
				         "class's allow_cascade_to",
				         conname, plain,
				         deltype == 'c' ? "CASCADE" : deltype == 'n' ? "SET NULL" : "SET DEFAULT",
				         plain);
			}
			continue;
		}

		/* NO ACTION or RESTRICT: the rows a child still references are pinned. */
		if (cat->n_pinning >= CATALOG_FK_MAX) {
			PQclear(res);
			return ret_fail(err, RET_USAGE, "%s: class \"%s\": more than %d foreign keys "
			                "reference %s.%s", p->path, c->name, CATALOG_FK_MAX, c->schema,
			                c->table);
		}
		fk = &cat->pinning[cat->n_pinning];
		memset(fk, 0, sizeof(*fk));
		snprintf(fk->name, sizeof(fk->name), "%s", conname);
		snprintf(fk->child_plain, sizeof(fk->child_plain), "%s", plain);
		fk->on_delete = deltype;
		{
			char s[POLICY_NAME_MAX + 2], t[POLICY_NAME_MAX + 2];

			if (!db_quote_ident(conn, PQgetvalue(res, i, 1), s, sizeof(s)) ||
			    !db_quote_ident(conn, PQgetvalue(res, i, 2), t, sizeof(t))) {
				PQclear(res);
				return ret_fail(err, RET_RUNTIME, "cannot quote %s", plain);
			}
			/* A key binds its own table's rows only, never an inheriting child's. */
			snprintf(fk->child, sizeof(fk->child), "%s%s.%s",
			         PQgetvalue(res, i, 6)[0] == 'p' ? "" : "ONLY ", s, t);
		}
		for (int side = 0; side < 2; side++) {
			char *list = strdup(PQgetvalue(res, i, 4 + side));
			char *save = NULL;
			int n = 0;

			if (list == NULL) {
				PQclear(res);
				return ret_fail(err, RET_RUNTIME, "out of memory");
			}
			for (cols[side] = strtok_r(list, "\001", &save); cols[side] && n < CATALOG_FK_COLS;
			     cols[side] = strtok_r(NULL, "\001", &save), n++)
				db_quote_ident(conn, cols[side],
				               side == 0 ? fk->child_cols[n] : fk->parent_cols[n],
				               POLICY_NAME_MAX + 2);
			fk->ncols = n;
			free(list);
		}
		cat->n_pinning++;
	}
	PQclear(res);

	/* User triggers that fire on DELETE, on the table or any partition. */
	rc = db_query(conn, "trigger lookup",
	              "SELECT DISTINCT t.tgname FROM pg_trigger t"
	              " WHERE t.tgrelid IN (SELECT $1::oid"
	              "                     UNION SELECT relid FROM pg_partition_tree($1::oid))"
	              "   AND NOT t.tgisinternal AND (t.tgtype & 8) <> 0 ORDER BY 1",
	              1, params, &res, err);
	if (rc != RET_OK)
		return rc;
	for (int i = 0; i < PQntuples(res) && cat->guard[0] == '\0'; i++) {
		const char *name = PQgetvalue(res, i, 0);
		bool allowed = false;

		for (int k = 0; k < c->n_allow_triggers; k++)
			if (strcmp(c->allow_triggers[k], name) == 0)
				allowed = true;
		if (!allowed) {
			snprintf(cat->guard_name, sizeof(cat->guard_name), "trigger");
			snprintf(cat->guard, sizeof(cat->guard),
			         "trigger \"%s\" fires on DELETE from %s.%s and is not in the class's "
			         "allow_triggers",
			         name, c->schema, c->table);
		}
	}
	PQclear(res);
	return RET_OK;
}

/*
 * The key must identify one row: key digests and `archive restore`'s refusal
 * of keys already present count on it. Accepted: a valid, non-partial unique
 * index (or primary key) on the key column alone, the column NOT NULL. On a
 * partitioned table PostgreSQL can only enforce a unique index that includes
 * the partition key, so there the index may hold the key plus partition key
 * columns (of any level) and nothing else: the key is then unique together
 * with them, which policies/README.md explains.
 */
static ret_code
check_key_unique(PGconn *conn, const policy *p, const policy_class *c, const class_catalog *cat,
                 ret_error *err)
{
	char oidbuf[16];
	const char *params[2] = {oidbuf, c->key};
	PGresult *res = NULL;
	ret_code rc;

	snprintf(oidbuf, sizeof(oidbuf), "%u", cat->oid);
	rc = db_query(conn, "key lookup",
	              "WITH pk AS (SELECT DISTINCT a.attname FROM pg_partitioned_table pt"
	              "   JOIN pg_attribute a ON a.attrelid = pt.partrelid"
	              "    AND a.attnum = ANY (pt.partattrs::int2[])"
	              "   WHERE pt.partrelid IN (SELECT $1::oid"
	              "                          UNION SELECT relid FROM pg_partition_tree($1::oid))),"
	              " ix AS (SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[])"
	              "     WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid"
	              "     AND a.attnum = k.n WHERE k.o <= i.indnkeyatts ORDER BY k.o) AS cols"
	              "   FROM pg_index i WHERE i.indrelid = $1::oid AND i.indisunique"
	              "   AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL)"
	              " SELECT (SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::oid"
	              "         AND attname = $2),"
	              "  EXISTS (SELECT 1 FROM ix WHERE cols = ARRAY[$2::name]),"
	              "  EXISTS (SELECT 1 FROM ix WHERE $2::name = ANY (cols) AND (SELECT bool_and("
	              "    x = $2::name OR x IN (SELECT attname FROM pk)) FROM unnest(cols) x)),"
	              "  coalesce((SELECT string_agg(attname, ', ' ORDER BY attname) FROM pk"
	              "            WHERE attname <> $2::name), '')",
	              2, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQgetvalue(res, 0, 1)[0] != 't' && PQgetvalue(res, 0, 2)[0] != 't') {
		const char *with = PQgetvalue(res, 0, 3);

		if (cat->partitioned && with[0])
			rc = ret_fail(err, RET_USAGE,
			              "%s: class \"%s\": field \"key\": column \"%s\" of %s.%s is not "
			              "unique: no valid primary key or unique index holds it with nothing "
			              "but the partition key (%s), which a unique index on a partitioned "
			              "table must include; declare PRIMARY KEY (%s, %s), or UNIQUE (%s, %s) "
			              "with %s NOT NULL",
			              p->path, c->name, c->key, c->schema, c->table, with, c->key, with,
			              c->key, with, c->key);
		else
			rc = ret_fail(err, RET_USAGE,
			              "%s: class \"%s\": field \"key\": column \"%s\" of %s.%s is not "
			              "unique: no valid primary key or unique index (without WHERE or "
			              "expressions) on that column alone",
			              p->path, c->name, c->key, c->schema, c->table);
	} else if (PQgetvalue(res, 0, 0)[0] != 't') {
		rc = ret_fail(err, RET_USAGE,
		              "%s: class \"%s\": field \"key\": column \"%s\" of %s.%s may be NULL, and "
		              "NULL keys are not unique: declare it NOT NULL",
		              p->path, c->name, c->key, c->schema, c->table);
	}
	PQclear(res);
	return rc;
}

ret_code
catalog_check_class(PGconn *conn, const policy *p, const policy_class *c, class_catalog *cat,
                    ret_error *err)
{
	const char *params[2] = {c->schema, c->table};
	char type[128];
	char s[POLICY_NAME_MAX + 2], t[POLICY_NAME_MAX + 2];
	PGresult *res = NULL;
	ret_code rc;
	char relkind;

	memset(cat, 0, sizeof(*cat));

	/* The table, looked up by name as a value: never spliced into SQL. */
	rc = db_query(conn, "table lookup",
	              "SELECT c.oid, c.relkind FROM pg_class c"
	              " JOIN pg_namespace n ON n.oid = c.relnamespace"
	              " WHERE n.nspname = $1 AND c.relname = $2",
	              2, params, &res, err);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ret_fail(err, RET_USAGE, "%s: class \"%s\": field \"table\": no table %s.%s",
		                p->path, c->name, c->schema, c->table);
	}
	cat->oid = (unsigned int)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	relkind = PQgetvalue(res, 0, 1)[0];
	PQclear(res);
	if (relkind != 'r' && relkind != 'p')
		return ret_fail(err, RET_USAGE,
		                "%s: class \"%s\": field \"table\": %s.%s is not a table (relkind %c)",
		                p->path, c->name, c->schema, c->table, relkind);
	cat->partitioned = relkind == 'p';
	if (!db_quote_ident(conn, c->schema, s, sizeof(s)) ||
	    !db_quote_ident(conn, c->table, t, sizeof(t)))
		return ret_fail(err, RET_USAGE, "%s: class \"%s\": table name too long", p->path,
		                c->name);
	snprintf(cat->qname, sizeof(cat->qname), "%s.%s", s, t);
	snprintf(cat->from_item, sizeof(cat->from_item), "%s%s", cat->partitioned ? "" : "ONLY ",
	         cat->qname);

	/* Columns. */
	if (c->key[0]) {
		rc = check_column(conn, p, c, cat->oid, "key", c->key, cat->key, sizeof(cat->key), NULL,
		                  0, err);
		if (rc != RET_OK)
			return rc;
	}
	if (c->timestamp_column[0]) {
		rc = check_column(conn, p, c, cat->oid, "timestamp_column", c->timestamp_column, cat->ts,
		                  sizeof(cat->ts), type, sizeof(type), err);
		if (rc != RET_OK)
			return rc;
		if (strcmp(type, "timestamp with time zone") == 0)
			cat->ts_kind = TS_TIMESTAMPTZ;
		else if (strcmp(type, "timestamp without time zone") == 0)
			cat->ts_kind = TS_TIMESTAMP;
		else if (strcmp(type, "date") == 0)
			cat->ts_kind = TS_DATE;
		else
			return ret_fail(err, RET_USAGE,
			                "%s: class \"%s\": field \"timestamp_column\": column \"%s\" is %s; "
			                "expected timestamptz, timestamp or date",
			                p->path, c->name, c->timestamp_column, type);
	}
	for (int i = 0; i < c->n_hold_keys; i++) {
		rc = check_column(conn, p, c, cat->oid, "hold_keys", c->hold_keys[i], cat->hold_keys[i],
		                  sizeof(cat->hold_keys[i]), NULL, 0, err);
		if (rc != RET_OK)
			return rc;
	}
	cat->n_hold_keys = c->n_hold_keys;

	/* The key and the dependents matter only to classes that delete. */
	if (c->action == ACTION_KEEP)
		return RET_OK;
	rc = check_key_unique(conn, p, c, cat, err);
	if (rc != RET_OK)
		return rc;
	rc = check_inheritance(conn, p, c, cat, err);
	if (rc == RET_OK)
		rc = check_rules(conn, p, c, cat, err);
	if (rc != RET_OK)
		return rc;
	return check_dependents(conn, p, c, cat, err);
}
