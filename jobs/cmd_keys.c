/* `retention keygen` and `retention verify`: the keys and the checking of reports. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "report.h"
#include "sign.h"

static void
keygen_help(void)
{
	printf("Usage: retention keygen --out KEY.pem [--public-out PUB.pem]\n\n"
	       "Writes a new Ed25519 private key to KEY.pem (mode 0600, never overwriting) and\n"
	       "its public key to PUB.pem (default: KEY.pem with .pem replaced by .pub.pem).\n");
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option options[] = {{"out", required_argument, NULL, 'o'},
	                                        {"public-out", required_argument, NULL, 'u'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *out = NULL, *pub = NULL;
	char pubbuf[4096];
	ret_error err;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'u')
			pub = optarg;
		else if (c == 'h') {
			keygen_help();
			return 0;
		} else
			return cli_usage("keygen", "unknown option");
	}
	if (out == NULL)
		return cli_usage("keygen", "--out is required");
	if (pub == NULL) {
		size_t n = strlen(out);

		if (n > 4 && strcmp(out + n - 4, ".pem") == 0)
			snprintf(pubbuf, sizeof(pubbuf), "%.*s.pub.pem", (int)(n - 4), out);
		else
			snprintf(pubbuf, sizeof(pubbuf), "%s.pub", out);
		pub = pubbuf;
	}
	if (signing_keygen(out, pub, &err) != RET_OK)
		return cli_fail(&err);
	{
		signing_key *k = NULL;
		char fp[80];

		if (signing_key_load_public(pub, &k, &err) != RET_OK)
			return cli_fail(&err);
		signing_key_fingerprint(k, fp);
		signing_key_free(k);
		printf("private key %s\npublic key  %s\nfingerprint %s\n", out, pub, fp);
	}
	return 0;
}

static void
verify_help(void)
{
	printf("Usage: retention verify --public-key PUB.pem [--archive-dir DIR] REPORT.json...\n\n"
	       "Checks each report's detached signature (REPORT.json.sig) and, with\n"
	       "--archive-dir, the SHA-256 of every archive segment it lists (a listed segment\n"
	       "that is missing is a failure). Exit status 0 only when everything holds.\n");
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option options[] = {{"public-key", required_argument, NULL, 'k'},
	                                        {"archive-dir", required_argument, NULL, 'a'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *pub = NULL, *archive_dir = NULL;
	signing_key *key = NULL;
	ret_error err;
	int c, failures = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'k')
			pub = optarg;
		else if (c == 'a')
			archive_dir = optarg;
		else if (c == 'h') {
			verify_help();
			return 0;
		} else
			return cli_usage("verify", "unknown option");
	}
	if (pub == NULL || optind >= argc)
		return cli_usage("verify", "--public-key and at least one report are required");
	if (signing_key_load_public(pub, &key, &err) != RET_OK)
		return cli_fail(&err);
	for (int i = optind; i < argc; i++) {
		char *problems = NULL;
		bool ok = report_verify(argv[i], key, archive_dir, archive_dir != NULL, &problems);

		if (ok) {
			printf("%s: OK\n", argv[i]);
		} else {
			failures++;
			printf("%s: FAILED\n%s", argv[i], problems ? problems : "");
		}
		free(problems);
	}
	signing_key_free(key);
	return failures ? 1 : 0;
}
