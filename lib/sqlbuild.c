/* SQL text for counting and removing one class's rows. */
#include "sqlbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Appends libpq's escaping of value as a literal; false when libpq refuses it. */
static bool
append_literal(PGconn *conn, strbuf *sb, const char *value)
{
	char *lit = PQescapeLiteral(conn, value, strlen(value));

	if (lit == NULL)
		return false;
	strbuf_append(sb, lit);
	PQfreemem(lit);
	return true;
}

/* EXISTS test for an open hold on one hold-key column. */
static bool
append_hold_exists(PGconn *conn, strbuf *sb, const policy_class *c, const class_catalog *cat,
                   int k)
{
	strbuf_append(sb, "EXISTS (SELECT 1 FROM retention.holds h WHERE h.released_at IS NULL"
	                  " AND h.match_column = ");
	if (!append_literal(conn, sb, c->hold_keys[k]))
		return false;
	strbuf_appendf(sb, " AND h.match_value = t.%s::text AND (h.class_name IS NULL OR "
	                   "h.class_name = ", cat->hold_keys[k]);
	if (!append_literal(conn, sb, c->name))
		return false;
	strbuf_append(sb, "))");
	return true;
}

/*
 * The same test written as IN, for the places that ask whether a row is held
 * (counts, digests) rather than remove the rows that are not: there the
 * planner cannot turn EXISTS into an anti-join and probed the holds index once
 * a row (5.5 s for 1M old rows), while IN becomes a hashed subplan read once
 * (1.2 s). A NULL key makes IN yield NULL, which a CASE or WHERE treats as
 * false, like EXISTS; the removal path keeps NOT EXISTS, where NULL would not
 * behave the same.
 */
static bool
append_hold_in(PGconn *conn, strbuf *sb, const policy_class *c, const class_catalog *cat, int k)
{
	strbuf_appendf(sb, "t.%s::text IN (SELECT h.match_value FROM retention.holds h"
	                   " WHERE h.released_at IS NULL AND h.match_column = ",
	               cat->hold_keys[k]);
	if (!append_literal(conn, sb, c->hold_keys[k]))
		return false;
	strbuf_append(sb, " AND (h.class_name IS NULL OR h.class_name = ");
	if (!append_literal(conn, sb, c->name))
		return false;
	strbuf_append(sb, "))");
	return true;
}

static void
append_pinned_exists(strbuf *sb, const catalog_fk *fk)
{
	strbuf_appendf(sb, "EXISTS (SELECT 1 FROM %s r WHERE ", fk->child);
	for (int i = 0; i < fk->ncols; i++)
		strbuf_appendf(sb, "%sr.%s = t.%s", i ? " AND " : "", fk->child_cols[i],
		               fk->parent_cols[i]);
	strbuf_append(sb, ")");
}

ret_code
sqlbuild_class(PGconn *conn, const policy_class *c, const class_catalog *cat,
               const char *cutoff_utc, const char *cutoff_local, class_sql *out, ret_error *err)
{
	strbuf old = {0}, held = {0}, pinned = {0}, eligible = {0};
	bool ok = true;

	memset(out, 0, sizeof(*out));

	/* Age: the column compared with the cutoff in the column's own type. */
	strbuf_appendf(&old, "t.%s < ", cat->ts);
	ok = append_literal(conn, &old, cat->ts_kind == TS_TIMESTAMPTZ ? cutoff_utc : cutoff_local);
	strbuf_append(&old, cat->ts_kind == TS_TIMESTAMPTZ ? "::timestamptz" : "::timestamp");

	/* Holds: one EXISTS per hold key, so each can use the open-holds index. */
	if (c->n_hold_keys == 0)
		strbuf_append(&held, "false");
	for (int k = 0; ok && k < c->n_hold_keys; k++) {
		if (k)
			strbuf_append(&held, " OR ");
		ok = append_hold_in(conn, &held, c, cat, k);
	}

	/* Pinned: a child row behind a NO ACTION or RESTRICT key still points here. */
	if (cat->n_pinning == 0)
		strbuf_append(&pinned, "false");
	for (int i = 0; i < cat->n_pinning; i++) {
		if (i)
			strbuf_append(&pinned, " OR ");
		append_pinned_exists(&pinned, &cat->pinning[i]);
	}

	/* Eligible: NOT EXISTS written out per test so the planner can anti-join. */
	strbuf_append(&eligible, old.data ? old.data : "");
	for (int k = 0; ok && k < c->n_hold_keys; k++) {
		strbuf_append(&eligible, " AND NOT ");
		ok = append_hold_exists(conn, &eligible, c, cat, k);
	}
	for (int i = 0; i < cat->n_pinning; i++) {
		strbuf_append(&eligible, " AND NOT ");
		append_pinned_exists(&eligible, &cat->pinning[i]);
	}

	out->old = strbuf_take(&old);
	out->held = strbuf_take(&held);
	out->pinned = strbuf_take(&pinned);
	out->eligible = strbuf_take(&eligible);
	if (!ok || !out->old || !out->held || !out->pinned || !out->eligible) {
		sqlbuild_free(out);
		return ret_fail(err, RET_RUNTIME, "class \"%s\": cannot build its SQL: %s", c->name,
		                PQerrorMessage(conn));
	}
	return RET_OK;
}

void
sqlbuild_free(class_sql *s)
{
	free(s->old);
	free(s->held);
	free(s->pinned);
	free(s->eligible);
	memset(s, 0, sizeof(*s));
}

char *
sqlbuild_stats(const class_catalog *cat, const class_sql *s)
{
	strbuf sb = {0};

	/*
	 * Two parts. The total per leaf is a bare count(*), cheap even over the
	 * whole table. The classification reads only rows that are undated or
	 * past retention, so with an index on the timestamp column a nightly run
	 * reads the day it removes rather than the month it keeps (3M rows: 1.7 s
	 * down to the eligible day). Each such row is classified once, in the
	 * order that decides it: undated, held, pinned, eligible; rows that are
	 * neither undated nor past retention are young and counted only in the
	 * total. OFFSET 0 keeps the subquery whole: flattened, its CASE was copied
	 * into each aggregate and the hold tests ran once per aggregate per row.
	 */
	strbuf_appendf(&sb,
	               "SELECT format('%%I.%%I', n.nspname, c.relname), a.total,"
	               " coalesce(x.undated, 0), coalesce(x.held, 0), coalesce(x.pinned, 0),"
	               " coalesce(x.eligible, 0), (x.lo::text::point)[0]::bigint,"
	               " (x.hi::text::point)[0]::bigint"
	               " FROM (SELECT t.tableoid AS rel, count(*) AS total FROM %s t GROUP BY 1) a"
	               " LEFT JOIN (SELECT k.rel,"
	               "  count(*) FILTER (WHERE k.kind = 'u') AS undated,"
	               "  count(*) FILTER (WHERE k.kind = 'h') AS held,"
	               "  count(*) FILTER (WHERE k.kind = 'p') AS pinned,"
	               "  count(*) FILTER (WHERE k.kind = 'e') AS eligible,"
	               "  min(k.ctid) FILTER (WHERE k.kind = 'e') AS lo,"
	               "  max(k.ctid) FILTER (WHERE k.kind = 'e') AS hi"
	               "  FROM (SELECT t.tableoid AS rel, t.ctid,"
	               "   CASE WHEN t.%s IS NULL THEN 'u' WHEN %s THEN 'h' WHEN %s THEN 'p'"
	               "    ELSE 'e' END AS kind"
	               "   FROM %s t WHERE t.%s IS NULL OR %s OFFSET 0) k GROUP BY k.rel) x"
	               "  ON x.rel = a.rel"
	               " JOIN pg_class c ON c.oid = a.rel"
	               " JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1",
	               cat->from_item, cat->ts, s->held, s->pinned, cat->from_item, cat->ts,
	               s->old);
	return strbuf_take(&sb);
}

/* A TID range [from_block, to_block) of rel's heap; to_block < 0 reads to the end. */
static void
append_block_range(strbuf *sb, int64_t from_block, int64_t to_block)
{
	strbuf_appendf(sb, "t.ctid >= '(%lld,0)'::tid", (long long)from_block);
	if (to_block >= 0)
		strbuf_appendf(sb, " AND t.ctid < '(%lld,0)'::tid", (long long)to_block);
}

char *
sqlbuild_stats_range(const char *rel, const class_catalog *cat, const class_sql *s,
                     int64_t from_block, int64_t to_block)
{
	strbuf range = {0}, sb = {0};
	char *r;

	/*
	 * sqlbuild_stats for one leaf and one block range, with the same two parts
	 * and the same classification, so that the ranges' sums over a leaf are
	 * its counts when nothing changes in between. ONLY: the leaf's own heap,
	 * whose block numbers the range means.
	 */
	append_block_range(&range, from_block, to_block);
	r = strbuf_take(&range);
	if (r == NULL)
		return NULL;
	strbuf_appendf(&sb,
	               "SELECT (SELECT count(*) FROM ONLY %s t WHERE %s),"
	               " count(*) FILTER (WHERE k.kind = 'u'), count(*) FILTER (WHERE k.kind = 'h'),"
	               " count(*) FILTER (WHERE k.kind = 'p'), count(*) FILTER (WHERE k.kind = 'e'),"
	               " ((min(k.ctid) FILTER (WHERE k.kind = 'e'))::text::point)[0]::bigint,"
	               " ((max(k.ctid) FILTER (WHERE k.kind = 'e'))::text::point)[0]::bigint"
	               " FROM (SELECT t.ctid,"
	               "  CASE WHEN t.%s IS NULL THEN 'u' WHEN %s THEN 'h' WHEN %s THEN 'p'"
	               "   ELSE 'e' END AS kind"
	               "  FROM ONLY %s t WHERE %s AND (t.%s IS NULL OR %s) OFFSET 0) k",
	               rel, r, cat->ts, s->held, s->pinned, rel, r, cat->ts, s->old);
	free(r);
	return strbuf_take(&sb);
}

static void
append_delete(strbuf *sb, const char *rel, const class_sql *s, int64_t from_block,
              int64_t to_block, int returning)
{
	/*
	 * A TID range: the batch reads only its own heap blocks. rel is one leaf
	 * (a plain table or a partition); ONLY keeps the DELETE off any table
	 * inheriting from it, where the block range would mean other rows.
	 */
	strbuf_appendf(sb,
	               "DELETE FROM ONLY %s t"
	               " WHERE t.ctid >= '(%lld,0)'::tid AND t.ctid < '(%lld,0)'::tid AND %s%s",
	               rel, (long long)from_block, (long long)to_block, s->eligible,
	               returning ? " RETURNING t.*" : "");
}

char *
sqlbuild_delete(const char *rel, const class_sql *s, int64_t from_block, int64_t to_block,
                int returning)
{
	strbuf sb = {0};

	append_delete(&sb, rel, s, from_block, to_block, returning);
	return strbuf_take(&sb);
}

char *
sqlbuild_archive_copy(const char *rel, const class_sql *s, int64_t from_block,
                      int64_t to_block)
{
	strbuf sb = {0};

	/* One statement selects and deletes: the archived set is the deleted set. */
	strbuf_append(&sb, "COPY (");
	append_delete(&sb, rel, s, from_block, to_block, 1);
	strbuf_append(&sb, ") TO STDOUT WITH (FORMAT csv, HEADER true)");
	return strbuf_take(&sb);
}

char *
sqlbuild_held_keys_range(const char *rel, const class_catalog *cat, const class_sql *s,
                         int64_t from_block, int64_t to_block)
{
	strbuf sb = {0};

	strbuf_appendf(&sb, "SELECT t.%s::text FROM ONLY %s t WHERE ", cat->key, rel);
	append_block_range(&sb, from_block, to_block);
	strbuf_appendf(&sb, " AND %s AND (%s)", s->old, s->held);
	return strbuf_take(&sb);
}

char *
sqlbuild_rows_per_hold(PGconn *conn, const policy_class *c, const class_catalog *cat,
                       const class_sql *s, const char *rel, int64_t from_block,
                       int64_t to_block)
{
	strbuf sb = {0};

	strbuf_append(&sb, "SELECT h.hold_id, h.ticket, h.match_column, h.match_value,"
	                   " h.class_name, count(x.k) FROM retention.holds h LEFT JOIN (");
	for (int k = 0; k < c->n_hold_keys; k++) {
		if (k)
			strbuf_append(&sb, " UNION ALL ");
		strbuf_append(&sb, "SELECT ");
		append_literal(conn, &sb, c->hold_keys[k]);
		if (rel == NULL) {
			strbuf_appendf(&sb, "::text AS col, t.%s::text AS k FROM %s t WHERE %s",
			               cat->hold_keys[k], cat->from_item, s->old);
			continue;
		}
		strbuf_appendf(&sb, "::text AS col, t.%s::text AS k FROM ONLY %s t WHERE ",
		               cat->hold_keys[k], rel);
		append_block_range(&sb, from_block, to_block);
		strbuf_appendf(&sb, " AND %s", s->old);
	}
	if (c->n_hold_keys == 0)
		strbuf_append(&sb, "SELECT NULL::text AS col, NULL::text AS k WHERE false");
	strbuf_append(&sb, ") x ON x.col = h.match_column AND x.k = h.match_value"
	                   " WHERE h.released_at IS NULL AND (h.class_name IS NULL OR"
	                   " h.class_name = ");
	append_literal(conn, &sb, c->name);
	strbuf_append(&sb, ") AND h.match_column IN (");
	for (int k = 0; k < c->n_hold_keys; k++) {
		if (k)
			strbuf_append(&sb, ", ");
		append_literal(conn, &sb, c->hold_keys[k]);
	}
	if (c->n_hold_keys == 0)
		strbuf_append(&sb, "NULL");
	strbuf_append(&sb, ") GROUP BY h.hold_id, h.ticket, h.match_column, h.match_value,"
	                   " h.class_name ORDER BY h.ticket, h.hold_id");
	return strbuf_take(&sb);
}
