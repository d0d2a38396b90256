/*
 * Unit tests for lib/sqlbuild.c: every statement that reads or removes a
 * class's rows names a plain table ONLY, so none can reach a table that
 * inherits from it; a partitioned table is read whole, its partitions being
 * its rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlbuild.h"

/* Occurrences of needle in haystack. */
static int
count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static char age[] = "t.\"ts\" < '2026-01-01'::timestamptz";
static char none[] = "false";

static class_sql
pieces(void)
{
	class_sql s = {age, none, none, age};

	return s;
}

static void
table(class_catalog *cat, bool partitioned)
{
	memset(cat, 0, sizeof(*cat));
	cat->partitioned = partitioned;
	snprintf(cat->qname, sizeof(cat->qname), "\"app\".\"t\"");
	snprintf(cat->from_item, sizeof(cat->from_item), "%s\"app\".\"t\"",
	         partitioned ? "" : "ONLY ");
	snprintf(cat->ts, sizeof(cat->ts), "\"ts\"");
	snprintf(cat->key, sizeof(cat->key), "\"id\"");
}

static void
counts_read_a_plain_table_only(void **state)
{
	class_catalog cat;
	class_sql s = pieces();
	char *sql;

	(void)state;
	table(&cat, false);
	sql = sqlbuild_stats(&cat, &s);
	assert_non_null(sql);
	assert_int_equal(count(sql, "FROM ONLY \"app\".\"t\" t"), 2);
	assert_int_equal(count(sql, "FROM \"app\".\"t\""), 0);
	free(sql);
}

static void
counts_read_a_partitioned_table_whole(void **state)
{
	class_catalog cat;
	class_sql s = pieces();
	char *sql;

	(void)state;
	table(&cat, true);
	sql = sqlbuild_stats(&cat, &s);
	assert_non_null(sql);
	assert_int_equal(count(sql, "FROM \"app\".\"t\" t"), 2);
	assert_int_equal(count(sql, "ONLY"), 0);
	free(sql);
}

static void
deletes_and_archive_copies_name_their_leaf_only(void **state)
{
	class_sql s = pieces();
	char *del, *ret, *copy;

	(void)state;
	del = sqlbuild_delete("\"app\".\"t_2025\"", &s, 0, 8, 0);
	ret = sqlbuild_delete("\"app\".\"t_2025\"", &s, 0, 8, 1);
	copy = sqlbuild_archive_copy("\"app\".\"t_2025\"", &s, 0, 8);
	assert_non_null(del);
	assert_non_null(ret);
	assert_non_null(copy);
	assert_int_equal(count(del, "DELETE FROM ONLY \"app\".\"t_2025\" t "), 1);
	assert_int_equal(count(ret, "DELETE FROM ONLY \"app\".\"t_2025\" t "), 1);
	assert_int_equal(count(copy, "COPY (DELETE FROM ONLY \"app\".\"t_2025\" t "), 1);
	free(del);
	free(ret);
	free(copy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_read_a_plain_table_only),
		cmocka_unit_test(counts_read_a_partitioned_table_whole),
		cmocka_unit_test(deletes_and_archive_copies_name_their_leaf_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
