/* Unit tests for lib/strbuf.c: growing strings and the UTF-8 check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static void
appends_grow_past_the_first_allocation(void **state)
{
	strbuf sb = {0};
	char *text;

	(void)state;
	for (int i = 0; i < 1000; i++)
		strbuf_appendf(&sb, "%03d,", i % 1000);
	text = strbuf_take(&sb);
	assert_int_equal(strlen(text), 4000);
	assert_memory_equal(text + 3996, "999,", 4);
	assert_null(sb.data);
	free(text);
}

static void
utf8_accepts_well_formed_text(void **state)
{
	const char *ok[] = {"", "plain", "naïve café", "✓ check", "\xF0\x9F\x98\x80", NULL};

	(void)state;
	for (int i = 0; ok[i]; i++)
		assert_true(text_utf8_valid(ok[i], strlen(ok[i]), NULL));
}

static void
utf8_refuses_malformed_text_and_says_where(void **state)
{
	struct {
		const char *s;
		size_t bad;
	} cases[] = {
		{"t\xff\xfe", 1},           /* bytes that never occur in UTF-8 */
		{"ab\xC3", 2},              /* truncated sequence at the end */
		{"\xC0\xAF", 0},            /* overlong '/' */
		{"x\xE0\x80\xAF", 1},       /* overlong three-byte form */
		{"\xED\xA0\x80", 0},        /* a UTF-16 surrogate */
		{"\xF4\x90\x80\x80", 0},    /* above U+10FFFF */
		{"ok \xE2\x82", 3},         /* truncated euro sign */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t bad = 99;

		assert_false(text_utf8_valid(cases[i].s, strlen(cases[i].s), &bad));
		assert_int_equal(bad, cases[i].bad);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(appends_grow_past_the_first_allocation),
		cmocka_unit_test(utf8_accepts_well_formed_text),
		cmocka_unit_test(utf8_refuses_malformed_text_and_says_where),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
