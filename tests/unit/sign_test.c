/* Unit tests for lib/sign.c: hashes, Ed25519 keys, signatures and the key-mode guard. */
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

#include "sign.h"

static char dir[64];
static char priv[128];
static char pub[128];

static int
setup(void **state)
{
	ret_error err;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sign_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(priv, sizeof(priv), "%s/k.pem", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub.pem", dir);
	return signing_keygen(priv, pub, &err) == RET_OK ? 0 : -1;
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
sha256_of_abc_is_the_standard_vector(void **state)
{
	char hex[65];

	(void)state;
	sha256_hex((const unsigned char *)"abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
streamed_sha256_equals_one_shot(void **state)
{
	char a[65], b[65];
	sha256_ctx *ctx = sha256_new();

	(void)state;
	sha256_update(ctx, "hello ", 6);
	sha256_update(ctx, "world", 5);
	sha256_final_hex(ctx, a);
	sha256_hex((const unsigned char *)"hello world", 11, b);
	assert_string_equal(a, b);
}

static void
keygen_writes_private_key_mode_0600(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
keygen_never_overwrites(void **state)
{
	ret_error err;

	(void)state;
	assert_int_equal(signing_keygen(priv, pub, &err), RET_USAGE);
}

static void
signature_verifies_and_fails_on_one_changed_byte(void **state)
{
	unsigned char msg[] = "{\"purged\": 12}";
	unsigned char sig[SIGNATURE_BYTES];
	signing_key *k = NULL, *p = NULL;
	ret_error err;

	(void)state;
	assert_int_equal(signing_key_load(priv, &k, &err), RET_OK);
	assert_int_equal(signing_key_load_public(pub, &p, &err), RET_OK);
	assert_int_equal(signing_key_sign(k, msg, sizeof(msg) - 1, sig, &err), RET_OK);
	assert_true(signing_key_verify(p, msg, sizeof(msg) - 1, sig, sizeof(sig)));
	msg[12] = '3';
	assert_false(signing_key_verify(p, msg, sizeof(msg) - 1, sig, sizeof(sig)));
	assert_false(signing_key_verify(p, msg, sizeof(msg) - 1, sig, sizeof(sig) - 1));
	signing_key_free(k);
	signing_key_free(p);
}

static void
fingerprint_is_the_same_for_private_and_public_key(void **state)
{
	signing_key *k = NULL, *p = NULL;
	char a[80], b[80];
	ret_error err;

	(void)state;
	assert_int_equal(signing_key_load(priv, &k, &err), RET_OK);
	assert_int_equal(signing_key_load_public(pub, &p, &err), RET_OK);
	signing_key_fingerprint(k, a);
	signing_key_fingerprint(p, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 7 + 64);
	signing_key_free(k);
	signing_key_free(p);
}

static void
group_readable_key_is_refused_by_a_guard(void **state)
{
	signing_key *k = NULL;
	ret_error err;

	(void)state;
	assert_int_equal(chmod(priv, 0640), 0);
	assert_int_equal(signing_key_load(priv, &k, &err), RET_GUARD);
	assert_null(k);
	assert_non_null(strstr(err.message, "readable by group or others"));
	assert_int_equal(chmod(priv, 0600), 0);
}

static void
missing_key_is_refused_by_a_guard(void **state)
{
	signing_key *k = NULL;
	ret_error err;

	(void)state;
	assert_int_equal(signing_key_load("/nonexistent/key.pem", &k, &err), RET_GUARD);
	assert_null(k);
}

static void
public_key_is_not_a_signing_key(void **state)
{
	signing_key *k = NULL;
	ret_error err;

	(void)state;
	assert_int_equal(signing_key_load(pub, &k, &err), RET_GUARD);
	assert_null(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sha256_of_abc_is_the_standard_vector),
		cmocka_unit_test(streamed_sha256_equals_one_shot),
		cmocka_unit_test(keygen_writes_private_key_mode_0600),
		cmocka_unit_test(keygen_never_overwrites),
		cmocka_unit_test(signature_verifies_and_fails_on_one_changed_byte),
		cmocka_unit_test(fingerprint_is_the_same_for_private_and_public_key),
		cmocka_unit_test(group_readable_key_is_refused_by_a_guard),
		cmocka_unit_test(missing_key_is_refused_by_a_guard),
		cmocka_unit_test(public_key_is_not_a_signing_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
