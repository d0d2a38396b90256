/*
 * Unit tests for lib/policy.c: hostile policies are refused with RET_USAGE
 * and a message naming the field, and nothing in them reaches a database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* A valid class with one field replaced; %s is spliced in as the class's extra members. */
#define CLASS_FMT                                                                         \
	"{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"c\", \"table\": \"app.t\"," \
	" \"key\": \"id\", \"timestamp_column\": \"ts\", \"action\": \"purge\", %s}]}"

/* A valid policy, for tests that add something after it. */
#define VALID                                                                             \
	"{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"c\", \"table\": \"app.t\"," \
	" \"key\": \"id\", \"timestamp_column\": \"ts\", \"action\": \"purge\","                 \
	" \"retain\": \"30 days\"}]}"

static int hostile_tried;

/* Parses text and expects a refusal whose message contains want. */
static void
refused(const char *text, const char *want)
{
	policy *p = (policy *)0x1;
	ret_error err;
	ret_code rc;

	hostile_tried++;
	ret_error_clear(&err);
	rc = policy_parse(text, strlen(text), "test.json", &p, &err);
	if (rc != RET_USAGE || strstr(err.message, want) == NULL)
		fail_msg("policy %.120s: rc %d, message \"%s\", wanted \"%s\"", text, rc, err.message,
		         want);
	assert_null(p);
}

/* The same with a class member list in place of "retain". */
static void
class_refused(const char *members, const char *want)
{
	char text[4096];

	snprintf(text, sizeof(text), CLASS_FMT, members);
	refused(text, want);
}

static void
valid_policy_loads(void **state)
{
	char text[1024];
	policy *p = NULL;
	ret_error err;

	(void)state;
	snprintf(text, sizeof(text), CLASS_FMT, "\"retain\": \"30 days\"");
	assert_int_equal(policy_parse(text, strlen(text), "test.json", &p, &err), RET_OK);
	assert_non_null(p);
	assert_int_equal(p->n_classes, 1);
	assert_int_equal(p->classes[0].retain.amount, 30);
	assert_int_equal(p->classes[0].retain.unit, RETAIN_DAYS);
	policy_free(p);
}

static void
invalid_json_refused(void **state)
{
	(void)state;
	refused("", "JSON");
	refused("{", "JSON");
	refused("{\"name\": \"p\",}", "JSON");
	refused("[1, 2, 3]", "object");
	refused("null", "object");
	refused("\"a string\"", "object");
	refused(VALID " trailing", "JSON");
	refused(VALID " {}", "JSON");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"c\", \"table\":"
	        " \"app.t\\u0000; DROP TABLE x\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\"}]}",
	        "NUL");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"c\", \"table\":"
	        " \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\\u0000 junk\"}]}",
	        "NUL");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"\\u0000\"}]}", "NUL");
}

static void
wrong_types_refused(void **state)
{
	(void)state;
	refused("{\"name\": 7, \"version\": 1, \"classes\": []}", "name");
	refused("{\"name\": \"p\", \"version\": \"1\", \"classes\": []}", "version");
	refused("{\"name\": \"p\", \"version\": 1.5, \"classes\": []}", "version");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": {}}", "classes");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [7]}", "class");
	refused("{\"name\": \"p\", \"version\": 1, \"max_fraction\": \"0.5\", \"classes\": []}",
	        "max_fraction");
	refused("{\"name\": \"p\", \"version\": 1, \"batch_max_pages\": 0, \"classes\": []}",
	        "batch_max_pages");
	refused("{\"name\": \"p\", \"version\": 1, \"statement_timeout_ms\": -1, \"classes\": []}",
	        "statement_timeout_ms");
	refused("{\"name\": \"p\", \"version\": 1, \"lock_timeout_ms\": 1e99, \"classes\": []}",
	        "lock_timeout_ms");
	refused("{\"name\": \"p\", \"version\": 1, \"timezone\": 3, \"classes\": []}", "timezone");
	class_refused("\"retain\": 30", "retain");
	class_refused("\"retain\": [\"30 days\"]", "retain");
	class_refused("\"retain\": \"30 days\", \"hold_keys\": \"customer_id\"", "hold_keys");
	class_refused("\"retain\": \"30 days\", \"hold_keys\": [1]", "hold_keys");
	class_refused("\"retain\": \"30 days\", \"max_fraction\": 0", "max_fraction");
	class_refused("\"retain\": \"30 days\", \"max_fraction\": 1.5", "max_fraction");
	class_refused("\"retain\": \"30 days\", \"allow_triggers\": {}", "allow_triggers");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"orphans\","
	        " \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"archive\", \"retain\": \"30 days\"}]}",
	        "\"orphans\" is the archive directory's place");
}

static void
bad_retention_refused(void **state)
{
	(void)state;
	class_refused("\"retain\": \"10\"", "retain");
	class_refused("\"retain\": \"0 days\"", "retain");
	class_refused("\"retain\": \"-5 days\"", "retain");
	class_refused("\"retain\": \"30 fortnights\"", "retain");
	class_refused("\"retain\": \"30 days ago\"", "retain");
	class_refused("\"retain\": \"30 days'; select 1; --\"", "retain");
	class_refused("\"retain\": \"99999999999999999999 days\"", "retain");
	class_refused("\"retain\": \"2147483648 days\"", "retain");
	class_refused("\"retain\": \"\"", "retain");
	class_refused("\"retain\": \" 30 days\"", "retain");
	class_refused("\"retain\": \"1e3 days\"", "retain");
	class_refused("\"retain\": \"0x1E days\"", "retain");
}

static void
unknown_action_and_fields_refused(void **state)
{
	(void)state;
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"c\", \"table\": \"app.t\","
	        " \"key\": \"id\", \"timestamp_column\": \"ts\", \"action\": \"truncate\","
	        " \"retain\": \"30 days\"}]}",
	        "action");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"c\", \"table\": \"app.t\","
	        " \"key\": \"id\", \"timestamp_column\": \"ts\", \"retain\": \"30 days\"}]}",
	        "action");
	class_refused("\"retain\": \"30 days\", \"retian\": \"1 day\"", "retian");
	refused("{\"name\": \"p\", \"version\": 1, \"clases\": []}", "clases");
}

static void
duplicates_refused(void **state)
{
	(void)state;
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": ["
	        "{\"name\": \"c\", \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\"},"
	        "{\"name\": \"c\", \"table\": \"app.u\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\"}]}",
	        "\"c\"");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": ["
	        "{\"name\": \"c\", \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\"},"
	        "{\"name\": \"d\", \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"60 days\"}]}",
	        "app.t");
	refused("{\"name\": \"p\", \"name\": \"q\", \"version\": 1, \"classes\": ["
	        "{\"name\": \"c\", \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\"}]}",
	        "field \"name\" appears twice");
	refused("{\"name\": \"p\", \"version\": 1, \"classes\": ["
	        "{\"name\": \"c\", \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
	        " \"action\": \"purge\", \"retain\": \"30 days\", \"retain\": \"1 day\"}]}",
	        "field \"retain\" appears twice");
}

static void
hostile_names_refused(void **state)
{
	static const char *const names[] = {
		"t; DROP TABLE users", "ts < now() OR true --", "a\\\"b", "a'b", "a b", "a;b",
		"caf\xc3\xa9", "\xe2\x9c\x93", "1abc", "$x", "", "a.b.c", "a\\u0000b", "a\\nb",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL};
	static const char *const fields[] = {"table", "key", "timestamp_column", "name", NULL};

	(void)state;
	for (int f = 0; fields[f]; f++) {
		for (int n = 0; names[n]; n++) {
			char text[2048];
			const char *table = strcmp(fields[f], "table") == 0 ? names[n] : "app.t";

			snprintf(text, sizeof(text),
			         "{\"name\": \"p\", \"version\": 1, \"classes\": [{\"name\": \"%s\","
			         " \"table\": \"%s%s\", \"key\": \"%s\", \"timestamp_column\": \"%s\","
			         " \"action\": \"purge\", \"retain\": \"30 days\"}]}",
			         strcmp(fields[f], "name") == 0 ? names[n] : "c",
			         strcmp(fields[f], "table") == 0 ? "app." : "", table,
			         strcmp(fields[f], "key") == 0 ? names[n] : "id",
			         strcmp(fields[f], "timestamp_column") == 0 ? names[n] : "ts");
			/* A NUL is refused before any field is read, by its byte offset. */
			refused(text, strstr(names[n], "\\u0000") ? "NUL character" : fields[f]);
		}
	}
	class_refused("\"retain\": \"30 days\", \"hold_keys\": [\"customer_id; --\"]", "hold_keys");
	class_refused("\"retain\": \"30 days\", \"allow_triggers\": [\"x y\"]", "allow_triggers");
	class_refused("\"retain\": \"30 days\", \"allow_cascade_to\": [\"app.x'y\"]",
	              "allow_cascade_to");
}

static void
huge_and_deep_refused(void **state)
{
	size_t big = 2 * 1024 * 1024;
	int depth = 10000;
	char *text;
	size_t n = 0;

	(void)state;
	/* 2 MiB of otherwise valid JSON: above the file limit. */
	text = malloc(big + 256);
	assert_non_null(text);
	n = (size_t)sprintf(text, "{\"name\": \"p\", \"version\": 1, \"description\": \"");
	memset(text + n, 'x', big);
	n += big;
	strcpy(text + n, "\", \"classes\": []}");
	refused(text, "larger than");
	free(text);

	/* 10,000 nested arrays in a field. */
	text = malloc((size_t)depth * 2 + 256);
	assert_non_null(text);
	n = (size_t)sprintf(text, "{\"name\": \"p\", \"version\": 1, \"classes\": ");
	for (int i = 0; i < depth; i++)
		text[n++] = '[';
	for (int i = 0; i < depth; i++)
		text[n++] = ']';
	strcpy(text + n, "}");
	refused(text,
	        "test.json: arrays and objects nested deeper than 64 levels (line 1, byte 102)");
	free(text);

	/* One level within the limit parses as far as the policy's own checks. */
	text = malloc(512);
	assert_non_null(text);
	n = (size_t)sprintf(text, "{\"name\": \"p\", \"version\": 1, \"classes\": ");
	for (int i = 0; i < POLICY_NESTING_MAX - 1; i++)
		text[n++] = '[';
	for (int i = 0; i < POLICY_NESTING_MAX - 1; i++)
		text[n++] = ']';
	strcpy(text + n, "}");
	refused(text, "test.json: classes[0] must be an object");
	free(text);

	/* Brackets inside strings are not nesting. */
	text = malloc(512);
	assert_non_null(text);
	n = (size_t)sprintf(text, "{\"name\": \"");
	for (int i = 0; i < 100; i++)
		text[n++] = '[';
	strcpy(text + n, "\\\"\", \"version\": 0, \"classes\": []}");
	refused(text, "field \"version\"");
	free(text);
}

static void
count_hostile(void **state)
{
	(void)state;
	printf("# %d hostile policies refused\n", hostile_tried);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_policy_loads),
		cmocka_unit_test(invalid_json_refused),
		cmocka_unit_test(wrong_types_refused),
		cmocka_unit_test(bad_retention_refused),
		cmocka_unit_test(unknown_action_and_fields_refused),
		cmocka_unit_test(duplicates_refused),
		cmocka_unit_test(hostile_names_refused),
		cmocka_unit_test(huge_and_deep_refused),
		cmocka_unit_test(count_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
