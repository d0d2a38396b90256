/* Unit tests for lib/report.c's check of a report its run never recorded in the ledger: only
 * the report that run wrote, signed by this job's key and matching the ledger row, is adoptable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "sign.h"

#define RUN "0b5e0c1e-1111-4222-8333-944445555666"
#define NAME "retention-20261204T150000Z-" RUN ".json"

static char dir[64];
static signing_key *key;
static signing_key *other_key;

static int
setup(void **state)
{
	char priv[128], pub[128];
	ret_error err;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/report_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(priv, sizeof(priv), "%s/k.pem", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub.pem", dir);
	if (signing_keygen(priv, pub, &err) != RET_OK || signing_key_load(priv, &key, &err) != RET_OK)
		return -1;
	snprintf(priv, sizeof(priv), "%s/o.pem", dir);
	snprintf(pub, sizeof(pub), "%s/o.pub.pem", dir);
	if (signing_keygen(priv, pub, &err) != RET_OK ||
	    signing_key_load(priv, &other_key, &err) != RET_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	signing_key_free(key);
	signing_key_free(other_key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh report dir holding the report of RUN with sequence seq, signed by k. */
static void
write_report(const char *sub, long seq, const signing_key *k, char sha[65])
{
	char path[128], fp[80], text[1024];
	ret_error err;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_int_equal(mkdir(path, 0755), 0);
	signing_key_fingerprint(k, fp);
	snprintf(text, sizeof(text),
	         "{\"format\": \"retention-report\", \"run_id\": \"" RUN "\", \"mode\": \"execute\","
	         " \"status\": \"failed\", \"exit_code\": 1,"
	         " \"started_at\": \"2026-12-04T15:00:00.123456Z\","
	         " \"finished_at\": \"2026-12-04T15:00:05.654321Z\", \"sequence\": %ld,"
	         " \"previous_report_sha256\": null, \"policy\": {\"name\": \"p\", \"sha256\": \"ab\"},"
	         " \"database\": {\"name\": \"db\", \"system_identifier\": \"42\"},"
	         " \"key_fingerprint\": \"%s\"}\n",
	         seq, fp);
	assert_int_equal(report_write(path, NAME, text, k, sha, &err), RET_OK);
}

static stranded_report
check(const char *sub)
{
	const stranded_run run = {RUN, 1, "", "p", "ab", "db", "42"};
	stranded_report out;
	char path[128];
	ret_error err;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_int_equal(report_check_stranded(path, &run, key, &out, &err), RET_OK);
	return out;
}

static void
the_report_its_run_wrote_is_adoptable(void **state)
{
	char sha[65];
	stranded_report r;

	(void)state;
	write_report("good", 1, key, sha);
	r = check("good");
	assert_true(r.found);
	assert_string_equal(r.problem, "");
	assert_string_equal(r.file, NAME);
	assert_string_equal(r.sha256, sha);
	assert_string_equal(r.status, "failed");
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.finished_at, "2026-12-04T15:00:05.654321Z");
}

static void
no_report_is_not_found(void **state)
{
	char path[128];
	stranded_report r;

	(void)state;
	snprintf(path, sizeof(path), "%s/empty", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	r = check("empty");
	assert_false(r.found);
}

static void
an_altered_byte_is_refused(void **state)
{
	char sha[65], path[160];
	FILE *f;

	(void)state;
	write_report("altered", 1, key, sha);
	snprintf(path, sizeof(path), "%s/altered/%s", dir, NAME);
	/* "failed" becomes "Failed": still a well-formed report, no longer the signed bytes. */
	f = fopen(path, "r+");
	assert_non_null(f);
	{
		char buf[1024];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *at;

		buf[n] = '\0';
		at = strstr(buf, "\"failed\"");
		assert_non_null(at);
		fseek(f, (long)(at - buf) + 1, SEEK_SET);
		fputc('F', f);
	}
	fclose(f);
	assert_string_equal(check("altered").problem,
	                    "its signature does not match its bytes (altered after it was signed)");
}

static void
a_report_of_another_key_is_refused(void **state)
{
	char sha[65];
	stranded_report r;

	(void)state;
	write_report("other", 1, other_key, sha);
	r = check("other");
	assert_true(r.found);
	assert_non_null(strstr(r.problem, "not this job's key"));
}

static void
a_sequence_the_ledger_did_not_give_is_refused(void **state)
{
	char sha[65];

	(void)state;
	write_report("seq", 2, key, sha);
	assert_string_equal(check("seq").problem,
	                    "it claims sequence 2; the ledger gave the run sequence 1");
}

static void
a_missing_signature_is_refused(void **state)
{
	char sha[65], path[160];

	(void)state;
	write_report("nosig", 1, key, sha);
	snprintf(path, sizeof(path), "%s/nosig/%s.sig", dir, NAME);
	assert_int_equal(unlink(path), 0);
	assert_string_equal(check("nosig").problem, "its signature file " NAME ".sig is missing");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_report_its_run_wrote_is_adoptable),
		cmocka_unit_test(no_report_is_not_found),
		cmocka_unit_test(an_altered_byte_is_refused),
		cmocka_unit_test(a_report_of_another_key_is_refused),
		cmocka_unit_test(a_sequence_the_ledger_did_not_give_is_refused),
		cmocka_unit_test(a_missing_signature_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
