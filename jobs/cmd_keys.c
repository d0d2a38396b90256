/* `retention keygen`: a new signing key pair (checking reports is in cmd_verify.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "sign.h"

static void
keygen_help(void)
{
	printf("Usage: retention keygen --out KEY.pem [--public-out PUB.pem]\n\n"
	       "Writes a new Ed25519 private key to KEY.pem (mode 0600, never overwriting) and\n"
	       "its public key to PUB.pem (default: KEY.pem with .pem replaced by .pub.pem).\n\n"
	       "  --out KEY.pem         the private key to write\n"
	       "  --public-out PUB.pem  the public key to write\n"
	       "  --help                this text\n\n"
	       "Exit status: 0 written; 1 runtime failure; 2 usage error, or a key file that\n"
	       "exists already or cannot be created.\n");
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
	cli_seen seen = {0};

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (cli_repeated("keygen", options, c, &seen))
			return RET_EXIT_USAGE;
		if (c == 'o')
			out = optarg;
		else if (c == 'u')
			pub = optarg;
		else if (c == 'h') {
			keygen_help();
			return 0;
		} else
			return cli_bad_option("keygen", c, argv);
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
