/* Unit tests for lib/archive.c's segment writer: gzip that stock zlib reads back,
 * the recorded SHA-256 of the file's bytes, no overwriting, nothing left on abort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "archive.h"
#include "sign.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/archive_test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
segment_name_carries_class_run_and_batch(void **state)
{
	char name[256];

	(void)state;
	archive_segment_name("esc", "0b5e0c1e-1111-4222-8333-944445555666", 7, name, sizeof(name));
	assert_string_equal(name, "esc/esc-0b5e0c1e-1111-4222-8333-944445555666-000007.csv.gz");
}

static void
finished_segment_reads_back_and_hashes_its_bytes(void **state)
{
	const char *rel = "c/c-00000000-0000-4000-8000-000000000001-000001.csv.gz";
	archive_segment *seg = NULL;
	char path[256], sha[65], file_sha[65], back[256];
	int64_t bytes = 0;
	ret_error err;
	gzFile gz;
	int n;

	(void)state;
	assert_int_equal(archive_segment_open(dir, rel, &seg, &err), RET_OK);
	assert_int_equal(archive_segment_write(seg, "id,v\n", 5, &err), RET_OK);
	assert_int_equal(archive_segment_write(seg, "1,\"a,b\"\n", 8, &err), RET_OK);
	assert_int_equal(archive_segment_finish(seg, sha, &bytes, &err), RET_OK);

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(sha256_file_hex(path, file_sha, &err), RET_OK);
	assert_string_equal(sha, file_sha);
	assert_true(bytes > 0);

	gz = gzopen(path, "rb");
	assert_non_null(gz);
	n = gzread(gz, back, sizeof(back) - 1);
	gzclose(gz);
	assert_int_equal(n, 13);
	back[n] = '\0';
	assert_string_equal(back, "id,v\n1,\"a,b\"\n");

	/* The same name again is refused: segments never overwrite each other. */
	assert_int_equal(archive_segment_open(dir, rel, &seg, &err), RET_RUNTIME);
}

static void
aborted_segment_leaves_no_file(void **state)
{
	const char *rel = "d/d-00000000-0000-4000-8000-000000000002-000001.csv.gz";
	archive_segment *seg = NULL;
	char path[256], partial[256];
	ret_error err;

	(void)state;
	assert_int_equal(archive_segment_open(dir, rel, &seg, &err), RET_OK);
	assert_int_equal(archive_segment_write(seg, "x\n", 2, &err), RET_OK);
	archive_segment_abort(seg);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(partial, sizeof(partial), "%s/d/.d-00000000-0000-4000-8000-000000000002-000001"
	                                   ".csv.gz.partial", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_not_equal(access(partial, F_OK), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(segment_name_carries_class_run_and_batch),
		cmocka_unit_test(finished_segment_reads_back_and_hashes_its_bytes),
		cmocka_unit_test(aborted_segment_leaves_no_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
