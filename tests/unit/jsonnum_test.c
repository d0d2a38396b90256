/* Unit tests for lib/jsonnum.h: numbers from untrusted JSON never reach an undefined cast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "jsonnum.h"

/* Parses text (one JSON value) and reads it as a long long. */
static bool
read_ll(const char *text, long long *out)
{
	cJSON *v = cJSON_Parse(text);
	bool ok = json_long_long(v, out);

	cJSON_Delete(v);
	return ok;
}

static void
in_range(void **state)
{
	long long v = 0;

	(void)state;
	assert_true(read_ll("0", &v));
	assert_int_equal(v, 0);
	assert_true(read_ll("-42", &v));
	assert_int_equal(v, -42);
	assert_true(read_ll("4611686018427387904", &v));
	assert_int_equal(v, 4611686018427387904LL);
	assert_true(read_ll("-9223372036854775808", &v));
	assert_true(v == INT64_MIN);
	assert_true(read_ll("2.9", &v));
	assert_int_equal(v, 2);
}

static void
out_of_range_or_not_a_number(void **state)
{
	static const char *const bad[] = {"1e99", "-1e99", "9223372036854775808", "1e308",
	                                  "\"12\"", "null", "true", "[1]", "{}", NULL};
	long long v = 7;

	(void)state;
	for (int i = 0; bad[i]; i++) {
		assert_false(read_ll(bad[i], &v));
		assert_int_equal(v, 7);
	}
	assert_false(json_long_long(NULL, &v));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_range),
		cmocka_unit_test(out_of_range_or_not_a_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
