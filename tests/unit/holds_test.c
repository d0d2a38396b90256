/* Unit tests for lib/holds.c's argument checks: tickets, --match, free text, policy fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "holds.h"

static int hostile_tried;

static void
tickets(void **state)
{
	/* 64 characters is the longest ticket; LONG64 "a" is one too many. */
#define LONG64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	static const char *const good[] = {"INV-2026-0007", "a", "SOP-17/3:b_c.d", "0abc", LONG64,
	                                   NULL};
	static const char *const bad[] = {"", "-x", ".x", "a b", "a;b", "a'b", "a\"b", "a\nb",
	                                  "caf\xc3\xa9", "a\\b", "a%b", "a*b",
	                                  LONG64 "a", NULL};
	ret_error err;

	(void)state;
	for (int i = 0; good[i]; i++)
		assert_int_equal(holds_check_ticket(good[i], &err), RET_OK);
	for (int i = 0; bad[i]; i++) {
		hostile_tried++;
		ret_error_clear(&err);
		assert_int_equal(holds_check_ticket(bad[i], &err), RET_USAGE);
		assert_non_null(strstr(err.message, "--ticket"));
	}
}

static void
match_ok(void **state)
{
	char column[POLICY_NAME_MAX], value[HOLD_VALUE_MAX + 1];
	ret_error err;

	(void)state;
	assert_int_equal(holds_parse_match("customer_id=42", column, value, &err), RET_OK);
	assert_string_equal(column, "customer_id");
	assert_string_equal(value, "42");
	/* Only the first '=' splits: the value may hold more. */
	assert_int_equal(holds_parse_match("ticket_id=a=b", column, value, &err), RET_OK);
	assert_string_equal(column, "ticket_id");
	assert_string_equal(value, "a=b");
	assert_int_equal(holds_parse_match("name=caf\xc3\xa9 'x'; --", column, value, &err), RET_OK);
	assert_string_equal(value, "caf\xc3\xa9 'x'; --");
}

static void
match_refused(void **state)
{
	static const struct {
		const char *arg;
		const char *want;
	} bad[] = {
		{"customer_id", "COLUMN=VALUE"},
		{"=42", "column"},
		{"customer_id=", "--match value"},
		{"customer id=42", "plain identifier"},
		{"c;DROP=1", "plain identifier"},
		{"\"c\"=1", "plain identifier"},
		{"1c=1", "plain identifier"},
		{"caf\xc3\xa9=1", "plain identifier"},
		{"c=a\nb", "control character"},
		{"c=a\tb", "control character"},
		{"c=a\x7f", "control character"},
		{"c= 42", "blank"},
		{"c=42 ", "blank"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", "column"},
		{NULL, NULL}};
	char column[POLICY_NAME_MAX], value[HOLD_VALUE_MAX + 1];
	char longval[HOLD_VALUE_MAX + 16];
	ret_error err;

	(void)state;
	for (int i = 0; bad[i].arg; i++) {
		hostile_tried++;
		ret_error_clear(&err);
		if (holds_parse_match(bad[i].arg, column, value, &err) != RET_USAGE ||
		    strstr(err.message, bad[i].want) == NULL)
			fail_msg("--match \"%s\": \"%s\", wanted \"%s\"", bad[i].arg, err.message,
			         bad[i].want);
	}
	/* 256 bytes of value pass, 257 do not. */
	memcpy(longval, "c=", 2);
	memset(longval + 2, 'v', HOLD_VALUE_MAX);
	longval[2 + HOLD_VALUE_MAX] = '\0';
	assert_int_equal(holds_parse_match(longval, column, value, &err), RET_OK);
	assert_int_equal(strlen(value), HOLD_VALUE_MAX);
	longval[2 + HOLD_VALUE_MAX] = 'v';
	longval[3 + HOLD_VALUE_MAX] = '\0';
	hostile_tried++;
	assert_int_equal(holds_parse_match(longval, column, value, &err), RET_USAGE);
	assert_non_null(strstr(err.message, "longer than"));
}

static void
free_text(void **state)
{
	ret_error err;

	(void)state;
	assert_int_equal(holds_check_text("--reason", "fraud case", HOLD_REASON_MAX, &err), RET_OK);
	hostile_tried += 3;
	assert_int_equal(holds_check_text("--reason", "", HOLD_REASON_MAX, &err), RET_USAGE);
	assert_non_null(strstr(err.message, "--reason"));
	assert_int_equal(holds_check_text("--reason", "a\rb", HOLD_REASON_MAX, &err), RET_USAGE);
	assert_int_equal(holds_check_text("--by", "abcdef", 5, &err), RET_USAGE);
	assert_non_null(strstr(err.message, "--by"));
}

static void
against_policy(void **state)
{
	static const char text[] =
		"{\"name\": \"p\", \"version\": 1, \"classes\": ["
		"{\"name\": \"inputs\", \"table\": \"app.t\", \"key\": \"id\", \"timestamp_column\": \"ts\","
		" \"action\": \"purge\", \"retain\": \"30 days\", \"hold_keys\": [\"customer_id\"]},"
		"{\"name\": \"logs\", \"table\": \"app.u\", \"key\": \"id\", \"timestamp_column\": \"ts\","
		" \"action\": \"purge\", \"retain\": \"30 days\", \"hold_keys\": [\"ticket_id\"]}]}";
	hold_request req;
	policy *p = NULL;
	ret_error err;

	(void)state;
	assert_int_equal(policy_parse(text, strlen(text), "p.json", &p, &err), RET_OK);
	memset(&req, 0, sizeof(req));
	snprintf(req.column, sizeof(req.column), "customer_id");
	assert_int_equal(holds_check_against_policy(&req, p, &err), RET_OK);
	assert_int_equal(holds_check_against_policy(&req, NULL, &err), RET_OK);
	snprintf(req.class_name, sizeof(req.class_name), "inputs");
	assert_int_equal(holds_check_against_policy(&req, p, &err), RET_OK);

	hostile_tried += 3;
	snprintf(req.class_name, sizeof(req.class_name), "logs");
	assert_int_equal(holds_check_against_policy(&req, p, &err), RET_USAGE);
	assert_non_null(strstr(err.message, "not a hold key of class \"logs\""));
	snprintf(req.class_name, sizeof(req.class_name), "nosuch");
	assert_int_equal(holds_check_against_policy(&req, p, &err), RET_USAGE);
	assert_non_null(strstr(err.message, "no class \"nosuch\""));
	req.class_name[0] = '\0';
	snprintf(req.column, sizeof(req.column), "email");
	assert_int_equal(holds_check_against_policy(&req, p, &err), RET_USAGE);
	assert_non_null(strstr(err.message, "not a hold key of any class"));
	policy_free(p);
	printf("# %d hostile hold arguments refused\n", hostile_tried);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tickets),
		cmocka_unit_test(match_ok),
		cmocka_unit_test(match_refused),
		cmocka_unit_test(free_text),
		cmocka_unit_test(against_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
