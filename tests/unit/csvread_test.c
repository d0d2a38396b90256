/* Unit tests for lib/csvread.c: PostgreSQL's CSV, read through any chunking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "csvread.h"

typedef struct source {
	const char *text;
	size_t len, pos;
	size_t chunk; /* bytes handed out per read */
} source;

static ssize_t
read_source(void *arg, void *buf, size_t len)
{
	source *s = arg;
	size_t n = s->len - s->pos;

	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->text + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static const char sample[] = "id,body,note\n"
                             "1,plain,\n"
                             "2,\"comma, and \"\"quotes\"\"\",\"\"\n"
                             "3,\"two\nlines\",x\n";

/* Reads sample with reads of chunk bytes and checks every field. */
static void
check_sample(size_t chunk)
{
	source src = {sample, sizeof(sample) - 1, 0, chunk};
	csv_reader *r = csv_reader_new(read_source, &src);
	ret_error err;
	size_t len;

	assert_non_null(r);
	assert_int_equal(csv_next(r, &err), 1);
	assert_int_equal(csv_nfields(r), 3);
	assert_string_equal(csv_field(r, 2, NULL), "note");

	assert_int_equal(csv_next(r, &err), 1);
	assert_string_equal(csv_field(r, 1, NULL), "plain");
	assert_null(csv_field(r, 2, NULL)); /* unquoted empty: NULL */

	assert_int_equal(csv_next(r, &err), 1);
	assert_string_equal(csv_field(r, 1, &len), "comma, and \"quotes\"");
	assert_int_equal(len, 19);
	assert_non_null(csv_field(r, 2, &len)); /* quoted empty: the empty string */
	assert_int_equal(len, 0);
	assert_memory_equal(csv_raw(r, &len), "2,\"comma, and \"\"quotes\"\"\",\"\"", 28);

	assert_int_equal(csv_next(r, &err), 1);
	assert_string_equal(csv_field(r, 1, NULL), "two\nlines");
	assert_string_equal(csv_field(r, 2, NULL), "x");
	assert_int_equal(csv_record_number(r), 4);

	assert_int_equal(csv_next(r, &err), 0);
	csv_reader_free(r);
}

static void
fields_quotes_nulls_and_line_breaks(void **state)
{
	(void)state;
	check_sample(1 << 16);
}

static void
records_split_across_every_read_boundary(void **state)
{
	(void)state;
	check_sample(1);
	check_sample(2);
	check_sample(7);
}

static void
last_record_without_line_break_and_crlf(void **state)
{
	source src = {"a,b\r\nc,d", 8, 0, 3};
	csv_reader *r = csv_reader_new(read_source, &src);
	ret_error err;

	(void)state;
	assert_int_equal(csv_next(r, &err), 1);
	assert_string_equal(csv_field(r, 1, NULL), "b");
	assert_int_equal(csv_next(r, &err), 1);
	assert_string_equal(csv_field(r, 1, NULL), "d");
	assert_int_equal(csv_next(r, &err), 0);
	csv_reader_free(r);
}

static void
unterminated_quote_and_stray_text_are_errors(void **state)
{
	source a = {"1,\"open\n", 8, 0, 100};
	source b = {"1,\"x\"y\n", 7, 0, 100};
	csv_reader *r;
	ret_error err;

	(void)state;
	r = csv_reader_new(read_source, &a);
	assert_int_equal(csv_next(r, &err), -1);
	assert_non_null(strstr(err.message, "ends inside a quoted field"));
	csv_reader_free(r);
	r = csv_reader_new(read_source, &b);
	assert_int_equal(csv_next(r, &err), -1);
	assert_non_null(strstr(err.message, "text after a closing quote"));
	csv_reader_free(r);
}

static void
empty_input_has_no_record(void **state)
{
	source src = {"", 0, 0, 10};
	csv_reader *r = csv_reader_new(read_source, &src);
	ret_error err;

	(void)state;
	assert_int_equal(csv_next(r, &err), 0);
	csv_reader_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fields_quotes_nulls_and_line_breaks),
		cmocka_unit_test(records_split_across_every_read_boundary),
		cmocka_unit_test(last_record_without_line_break_and_crlf),
		cmocka_unit_test(unterminated_quote_and_stray_text_are_errors),
		cmocka_unit_test(empty_input_has_no_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
