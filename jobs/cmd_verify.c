/*
 * `retention verify`: checking reports. One report at a time (signature and
 * archive segments), a whole directory as a hash chain (optionally against
 * the runs ledger), or a dry run against the real run that followed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "cli.h"
#include "compare.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "report.h"
#include "sign.h"

#define MAX_KEYS 16

static void
help(void)
{
	printf("Usage:\n"
	       "  retention verify --public-key PUB.pem [--archive-dir DIR] REPORT.json...\n"
	       "  retention verify --chain DIR --public-key PUB.pem [--public-key OLD.pem ...]\n"
	       "                   [--db CONNINFO]\n"
	       "  retention verify --compare DRY.json REAL.json [--public-key PUB.pem ...]\n\n"
	       "Checks reports. Each report names its signing key's fingerprint, which selects\n"
	       "one of the --public-key keys (give several across a key rotation).\n\n"
	       "  REPORT.json...     each report's detached signature (REPORT.json.sig) and, with\n"
	       "                     --archive-dir, the SHA-256 of every archive segment it lists\n"
	       "  --chain DIR        every report and signature in DIR, and the hash chain of each\n"
	       "                     policy's executed runs on each database: a removed, reordered,\n"
	       "                     duplicated or altered report is named. Dry-run reports stay\n"
	       "                     outside the chain, but their signatures are checked too.\n"
	       "  --db CONNINFO      with --chain: also cross-check the runs ledger of that database\n"
	       "                     (\"\" for libpq's environment); a report the ledger records that\n"
	       "                     is missing, or the reverse, is a break; so is a report whose\n"
	       "                     purged or archived rows differ from its run's committed\n"
	       "                     batches in the batch ledger. Runs that left no report are\n"
	       "                     listed with the rows their committed batches removed.\n"
	       "  --compare DRY REAL the key digests of a dry run and the real run after it, class\n"
	       "                     by class: match, or by how many rows they differ\n"
	       "  --help             this text\n\n"
	       "Exit status: 0 when everything holds, 1 on any failure or break, 2 usage error.\n");
}

typedef struct chain_tally {
	int breaks;
	int notes;
} chain_tally;

static void
print_finding(void *arg, bool is_break, const char *file, const char *message)
{
	chain_tally *t = arg;

	if (is_break)
		t->breaks++;
	else
		t->notes++;
	printf("%s %s: %s\n", is_break ? "BREAK" : "note ", file, message);
}

static int
verify_chain(const char *dir, const signing_keyring *ring, const char *conninfo)
{
	chain_tally tally = {0, 0};
	chain_entry *entries = NULL;
	PGconn *conn = NULL;
	int n = 0, executed = 0, dry = 0;
	ret_error err;
	int exit_code = 0;

	ret_error_clear(&err);
	if (chain_read_dir(dir, ring, &entries, &n, print_finding, &tally, &err) != RET_OK)
		return cli_fail(&err);
	chain_check(entries, n, print_finding, &tally);
	if (conninfo != NULL) {
		if (db_connect(conninfo, &conn, &err) != RET_OK || migrate_check(conn, &err) != RET_OK ||
		    chain_check_ledger(conn, entries, n, print_finding, &tally, &err) != RET_OK ||
		    chain_check_batches(conn, dir, entries, n, print_finding, &tally, &err) != RET_OK) {
			exit_code = cli_fail(&err);
			goto done;
		}
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(entries[i].mode, "execute") == 0)
			executed++;
		else
			dry++;
	}
	if (tally.breaks == 0)
		printf("chain OK: %d report%s (%d executed, %d dry run%s) in %s%s\n", n,
		       n == 1 ? "" : "s", executed, dry, dry == 1 ? "" : "s", dir,
		       conninfo ? ", matching the ledger" : "");
	else
		printf("chain BROKEN: %d break%s in %s\n", tally.breaks, tally.breaks == 1 ? "" : "s",
		       dir);
	exit_code = tally.breaks ? RET_EXIT_RUNTIME : RET_EXIT_OK;

done:
	db_close(conn);
	free(entries);
	return exit_code;
}

static void
print_line(void *arg, bool differs, const char *text)
{
	(void)arg;
	printf("%s%s\n", differs ? "DIFFER " : "", text);
}

/* Reads a report for --compare and checks its signature when keys were given. */
static int
load_for_compare(const char *path, const signing_keyring *ring, cJSON **root)
{
	char sha[65], detail[512];
	const char *format;
	char *text = NULL;
	size_t len = 0;
	ret_error err;
	report_sig_status sig;

	if (report_read(path, &text, &len, sha, root, &err) != RET_OK)
		return cli_fail(&err);
	if (*root == NULL) {
		free(text);
		ret_fail(&err, RET_USAGE, "%s: not valid JSON", path);
		return cli_fail(&err);
	}
	format = cJSON_GetStringValue(cJSON_GetObjectItem(*root, "format"));
	if (format == NULL || strcmp(format, "retention-report") != 0) {
		free(text);
		ret_fail(&err, RET_USAGE, "%s: not a retention report", path);
		return cli_fail(&err);
	}
	sig = report_check_signature(path, text, len, *root, ring, detail, sizeof(detail));
	free(text);
	printf("%s: %s\n", path, detail);
	/* Without keys nothing is checked: an unsigned dry run may still be compared. */
	if (signing_keyring_count(ring) > 0 && sig != REPORT_SIG_VALID)
		return RET_EXIT_RUNTIME;
	return RET_EXIT_OK;
}

static int
verify_compare(const char *dry_path, const char *real_path, const signing_keyring *ring)
{
	cJSON *dry = NULL, *real = NULL;
	bool match = false;
	ret_error err;
	int exit_code;

	exit_code = load_for_compare(dry_path, ring, &dry);
	if (exit_code == RET_EXIT_OK)
		exit_code = load_for_compare(real_path, ring, &real);
	if (exit_code != RET_EXIT_OK)
		goto done;
	if (compare_reports(dry, real, print_line, NULL, &match, &err) != RET_OK) {
		exit_code = cli_fail(&err);
		goto done;
	}
	printf("%s\n", match ? "dry run and real run match: the same keys purged, archived and held"
	                     : "dry run and real run DIFFER");
	exit_code = match ? RET_EXIT_OK : RET_EXIT_RUNTIME;

done:
	cJSON_Delete(dry);
	cJSON_Delete(real);
	return exit_code;
}

/* One report at a time: its signature with the key it names, and its segments. */
static int
verify_reports(int n, char **paths, const signing_keyring *ring, const char *archive_dir)
{
	int failures = 0;

	for (int i = 0; i < n; i++) {
		char sha[65], detail[512];
		char *problems = NULL;
		char *text = NULL;
		cJSON *root = NULL;
		size_t len = 0;
		ret_error err;
		const signing_key *key = NULL;
		bool ok;

		if (report_read(paths[i], &text, &len, sha, &root, &err) == RET_OK && root != NULL) {
			key = signing_keyring_find(
				ring, cJSON_GetStringValue(cJSON_GetObjectItem(root, "key_fingerprint")));
			if (key == NULL)
				report_check_signature(paths[i], text, len, root, ring, detail, sizeof(detail));
		} else {
			snprintf(detail, sizeof(detail), "not a readable report");
		}
		cJSON_Delete(root);
		free(text);
		if (key == NULL) {
			failures++;
			printf("%s: FAILED\n%s: %s\n", paths[i], paths[i], detail);
			continue;
		}
		ok = report_verify(paths[i], key, archive_dir, archive_dir != NULL, &problems);
		if (ok) {
			printf("%s: OK\n", paths[i]);
		} else {
			failures++;
			printf("%s: FAILED\n%s", paths[i], problems ? problems : "");
		}
		free(problems);
	}
	return failures ? RET_EXIT_RUNTIME : RET_EXIT_OK;
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option options[] = {{"public-key", required_argument, NULL, 'k'},
	                                        {"archive-dir", required_argument, NULL, 'a'},
	                                        {"chain", required_argument, NULL, 'c'},
	                                        {"db", required_argument, NULL, 'd'},
	                                        {"compare", no_argument, NULL, 'm'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *keys[MAX_KEYS];
	const char *archive_dir = NULL, *chain_dir = NULL, *conninfo = NULL;
	signing_keyring *ring = NULL;
	bool compare = false;
	int nkeys = 0;
	ret_error err;
	int c, exit_code;
	cli_seen seen = {0};

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c != 'k' && cli_repeated("verify", options, c, &seen))
			return RET_EXIT_USAGE;
		switch (c) {
		case 'k':
			if (nkeys == MAX_KEYS)
				return cli_usage("verify", "at most %d --public-key options", MAX_KEYS);
			keys[nkeys++] = optarg;
			break;
		case 'a':
			archive_dir = optarg;
			break;
		case 'c':
			chain_dir = optarg;
			break;
		case 'd':
			conninfo = optarg;
			break;
		case 'm':
			compare = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return cli_bad_option("verify", c, argv);
		}
	}

	/* One mode at a time, each with what it needs. */
	if (chain_dir && compare)
		return cli_usage("verify", "--chain and --compare do not go together");
	if (conninfo && !chain_dir)
		return cli_usage("verify", "--db cross-checks a chain: it needs --chain");
	if (archive_dir && (chain_dir || compare))
		return cli_usage("verify", "--archive-dir goes with single reports only");
	if (chain_dir && optind < argc)
		return cli_usage("verify", "--chain takes a directory, not report files");
	if (compare && argc - optind != 2)
		return cli_usage("verify", "--compare needs two reports: DRY.json REAL.json");
	if (!compare && nkeys == 0)
		return cli_usage("verify", "--public-key is required");
	if (!compare && !chain_dir && optind >= argc)
		return cli_usage("verify", "name at least one report, or use --chain DIR");

	ring = signing_keyring_new();
	if (ring == NULL) {
		ret_fail(&err, RET_RUNTIME, "out of memory");
		return cli_fail(&err);
	}
	for (int i = 0; i < nkeys; i++) {
		if (signing_keyring_add(ring, keys[i], &err) != RET_OK) {
			signing_keyring_free(ring);
			return cli_fail(&err);
		}
	}
	if (chain_dir)
		exit_code = verify_chain(chain_dir, ring, conninfo);
	else if (compare)
		exit_code = verify_compare(argv[optind], argv[optind + 1], ring);
	else
		exit_code = verify_reports(argc - optind, argv + optind, ring, archive_dir);
	signing_keyring_free(ring);
	return exit_code;
}
