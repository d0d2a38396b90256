/* Unit tests for lib/metrics.c: the exact text format, label escaping, the last
 * success carried across failed runs, and the atomic replacement of the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metrics.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/metrics_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/retention.prom", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	char *buf = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	return buf;
}

static int
files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static const metrics_class two_classes[] = {
	{"logs", 100, 97, 0, 24, 3},
	{"esc", 9, 0, 9, 2, 0},
};

static void
render_writes_every_series_with_policy_and_mode(void **state)
{
	metrics_run m = {"pilot", "execute", two_classes, 2, 1.5, 0, 1700000000};
	char *text = metrics_render(&m, 1700000000);
	const char *expected =
		"# HELP retention_rows_purged Rows the last run deleted, per class.\n"
		"# TYPE retention_rows_purged gauge\n"
		"retention_rows_purged{policy=\"pilot\",mode=\"execute\",class=\"logs\"} 97\n"
		"retention_rows_purged{policy=\"pilot\",mode=\"execute\",class=\"esc\"} 0\n"
		"# HELP retention_rows_archived Rows the last run moved to the archive, per class.\n"
		"# TYPE retention_rows_archived gauge\n"
		"retention_rows_archived{policy=\"pilot\",mode=\"execute\",class=\"logs\"} 0\n"
		"retention_rows_archived{policy=\"pilot\",mode=\"execute\",class=\"esc\"} 9\n"
		"# HELP retention_rows_held Rows past retention that open holds kept, per class.\n"
		"# TYPE retention_rows_held gauge\n"
		"retention_rows_held{policy=\"pilot\",mode=\"execute\",class=\"logs\"} 24\n"
		"retention_rows_held{policy=\"pilot\",mode=\"execute\",class=\"esc\"} 2\n"
		"# HELP retention_rows_eligible Rows past retention and not held when the run counted.\n"
		"# TYPE retention_rows_eligible gauge\n"
		"retention_rows_eligible{policy=\"pilot\",mode=\"execute\",class=\"logs\"} 100\n"
		"retention_rows_eligible{policy=\"pilot\",mode=\"execute\",class=\"esc\"} 9\n"
		"# HELP retention_rows_undated Rows without a usable timestamp, never removed.\n"
		"# TYPE retention_rows_undated gauge\n"
		"retention_rows_undated{policy=\"pilot\",mode=\"execute\",class=\"logs\"} 3\n"
		"retention_rows_undated{policy=\"pilot\",mode=\"execute\",class=\"esc\"} 0\n"
		"# HELP retention_run_duration_seconds How long the last run took.\n"
		"# TYPE retention_run_duration_seconds gauge\n"
		"retention_run_duration_seconds{policy=\"pilot\",mode=\"execute\"} 1.500\n"
		"# HELP retention_run_exit_status Exit status of the last run: 0 success, 1 runtime "
		"failure or interrupted, 2 usage or policy error, 3 a guard refused, 75 another run "
		"held the lock.\n"
		"# TYPE retention_run_exit_status gauge\n"
		"retention_run_exit_status{policy=\"pilot\",mode=\"execute\"} 0\n"
		"# HELP retention_last_success_timestamp_seconds Unix time at which the last "
		"successful run ended (0: none yet).\n"
		"# TYPE retention_last_success_timestamp_seconds gauge\n"
		"retention_last_success_timestamp_seconds{policy=\"pilot\",mode=\"execute\"} "
		"1700000000\n"
		"# HELP retention_last_run_timestamp_seconds Unix time at which the last run ended, "
		"whatever its outcome.\n"
		"# TYPE retention_last_run_timestamp_seconds gauge\n"
		"retention_last_run_timestamp_seconds{policy=\"pilot\",mode=\"execute\"} 1700000000\n";

	(void)state;
	assert_non_null(text);
	assert_string_equal(expected, text);
	free(text);
}

static void
label_values_are_escaped_and_read_back(void **state)
{
	metrics_run m = {"a\"b\\c\nd", "dry-run", NULL, 0, 0, 2, 5};
	char policy[64];
	double v = 0;
	char *text = metrics_render(&m, 42);

	(void)state;
	assert_non_null(strstr(text, "retention_run_exit_status{policy=\"a\\\"b\\\\c\\nd\","
	                             "mode=\"dry-run\"} 2\n"));
	assert_true(metrics_find_last_success(text, "dry-run", &v, policy, sizeof(policy)));
	assert_true(v == 42);
	assert_string_equal("a\"b\\c\nd", policy);
	assert_false(metrics_find_last_success(text, "execute", &v, NULL, 0));
	free(text);
}

static void
no_success_yet_is_written_as_zero_and_unknown_policy_is_named(void **state)
{
	metrics_run m = {NULL, "execute", NULL, 0, 0.25, 2, 7};
	char *text = metrics_render(&m, -1);

	(void)state;
	assert_non_null(strstr(text, "retention_last_success_timestamp_seconds{policy=\"unknown\","
	                             "mode=\"execute\"} 0\n"));
	assert_null(strstr(text, "retention_rows_purged{"));
	free(text);
}

static void
malformed_lines_are_skipped(void **state)
{
	const char *text = "# retention_last_success_timestamp_seconds{mode=\"execute\"} 1\n"
	                   "retention_last_success_timestamp_seconds{mode=\"execute} 2\n"
	                   "retention_last_success_timestamp_seconds{mode=\"execute\"} x\n"
	                   "retention_last_success_timestamp_seconds{mode=\"execute\"}3\n"
	                   "retention_last_success_timestamp_seconds{policy=\"p\",mode=\"execute\","
	                   "} 1700000001 1700000001000\n";
	double v = 0;

	(void)state;
	assert_true(metrics_find_last_success(text, "execute", &v, NULL, 0));
	assert_true(v == 1700000001);
}

static void
success_then_failure_carries_the_last_success_forward(void **state)
{
	metrics_run ok = {"pilot", "execute", two_classes, 2, 3, 0, 1700000000};
	metrics_run failed = {"pilot", "execute", NULL, 0, 1, 1, 1700086400};
	metrics_run unloadable = {NULL, "execute", NULL, 0, 0.1, 2, 1700090000};
	ret_error err;
	char *text;
	struct stat st;

	(void)state;
	assert_int_equal(RET_OK, metrics_write(path, &ok, &err));
	assert_int_equal(RET_OK, metrics_write(path, &failed, &err));
	text = slurp(path);
	assert_non_null(strstr(text, "retention_last_success_timestamp_seconds{policy=\"pilot\","
	                             "mode=\"execute\"} 1700000000\n"));
	assert_non_null(strstr(text, "retention_last_run_timestamp_seconds{policy=\"pilot\","
	                             "mode=\"execute\"} 1700086400\n"));
	assert_non_null(strstr(text, "retention_run_exit_status{policy=\"pilot\","
	                             "mode=\"execute\"} 1\n"));
	free(text);

	/* A policy that did not load keeps the previous file's label and success. */
	assert_int_equal(RET_OK, metrics_write(path, &unloadable, &err));
	text = slurp(path);
	assert_non_null(strstr(text, "retention_last_success_timestamp_seconds{policy=\"pilot\","
	                             "mode=\"execute\"} 1700000000\n"));
	assert_non_null(strstr(text, "retention_run_exit_status{policy=\"pilot\","
	                             "mode=\"execute\"} 2\n"));
	free(text);

	assert_int_equal(0, stat(path, &st));
	assert_int_equal(0644, st.st_mode & 0777);
	assert_int_equal(1, files_in_dir());
}

static void
a_dry_run_does_not_inherit_the_execute_success(void **state)
{
	metrics_run ok = {"pilot", "execute", NULL, 0, 3, 0, 1700000000};
	metrics_run dry_failed = {"pilot", "dry-run", NULL, 0, 1, 1, 1700000100};
	ret_error err;
	char *text;

	(void)state;
	assert_int_equal(RET_OK, metrics_write(path, &ok, &err));
	assert_int_equal(RET_OK, metrics_write(path, &dry_failed, &err));
	text = slurp(path);
	assert_non_null(strstr(text, "retention_last_success_timestamp_seconds{policy=\"pilot\","
	                             "mode=\"dry-run\"} 0\n"));
	free(text);
}

static void
a_missing_directory_fails_and_leaves_nothing(void **state)
{
	metrics_run ok = {"pilot", "execute", NULL, 0, 3, 0, 1700000000};
	char missing[160];
	ret_error err;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no/such/dir/retention.prom", dir);
	assert_int_equal(RET_RUNTIME, metrics_write(missing, &ok, &err));
	assert_non_null(strstr(err.message, "cannot create a temporary file"));
	assert_int_equal(0, files_in_dir());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(render_writes_every_series_with_policy_and_mode),
		cmocka_unit_test(label_values_are_escaped_and_read_back),
		cmocka_unit_test(no_success_yet_is_written_as_zero_and_unknown_policy_is_named),
		cmocka_unit_test(malformed_lines_are_skipped),
		cmocka_unit_test_setup_teardown(success_then_failure_carries_the_last_success_forward,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(a_dry_run_does_not_inherit_the_execute_success, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(a_missing_directory_fails_and_leaves_nothing, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
