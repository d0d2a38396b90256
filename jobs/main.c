/* The retention executable: picks the subcommand and hands over its arguments. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "log.h"
#include "migrate.h"
#include "version.h"

static void
help(void)
{
	printf("retention: purge or archive rows whose retention has run out, honouring holds,\n"
	       "and write a signed audit report.\n\n"
	       "Usage:\n"
	       "  retention run --policy FILE --report-dir DIR [--archive-dir DIR]\n"
	       "                [--signing-key KEY.pem] [--dry-run] [--as-of TIME] [--db CONNINFO]\n"
	       "                [--metrics-file PATH] [--progress-interval SEC]\n"
	       "                [--max-clock-skew SEC] [--jobs N]\n"
	       "  retention policy check --policy FILE [--db [CONNINFO]] [--json]\n"
	       "  retention hold add --ticket ID --match COLUMN=VALUE [--class NAME] --reason TEXT\n"
	       "  retention hold release --ticket ID --reason TEXT\n"
	       "  retention hold list [--json] [--all]\n"
	       "  retention db migrate [--db CONNINFO]\n"
	       "  retention db grants --policy FILE [--apply] [--db CONNINFO]\n"
	       "  retention keygen --out KEY.pem\n"
	       "  retention verify --public-key PUB.pem REPORT.json...\n"
	       "  retention verify --chain DIR --public-key PUB.pem [--db CONNINFO]\n"
	       "  retention verify --compare DRY.json REAL.json\n"
	       "  retention archive verify|restore|find ...\n"
	       "  retention report render REPORT.json [--format text|html] [--public-key PUB.pem]\n"
	       "  retention --version\n\n"
	       "Every command takes --help. The connection comes from --db or from libpq's\n"
	       "environment (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE, PGSERVICE, ...).\n"
	       "Logs go to stderr: JSON lines, or text on a terminal (RETENTION_LOG_FORMAT=json\n"
	       "or text decides).\n\n"
	       "Exit status: 0 success, 1 runtime failure (the report says what was done),\n"
	       "2 usage or policy error (nothing done), 3 a guard refused the run (nothing done),\n"
	       "4 drift (policy check only), 75 another run holds the lock (try later).\n"
	       "Each command's --help says which of these it uses.\n");
}

/* Version and what the binary was built from and with, for bug reports and audits. */
static void
version(void)
{
	int pq = PQlibVersion();

	printf("retention %s (%s, %s build)\n", RETENTION_VERSION, RETENTION_GIT,
	       RETENTION_BUILD_TYPE);
#if defined(__clang__)
	printf("compiler: clang %s\n", __clang_version__);
#elif defined(__GNUC__)
	printf("compiler: gcc %s\n", __VERSION__);
#else
	printf("compiler: unknown\n");
#endif
	printf("libraries: libpq %d.%d, %s, zlib %s, cJSON %s\n", pq / 10000, pq % 10000,
	       OpenSSL_version(OPENSSL_VERSION), zlibVersion(), cJSON_Version());
	printf("schema migrations built in: %d (latest %s)\n", retention_migration_count,
	       retention_migrations[retention_migration_count - 1].name);
#ifdef RETENTION_FAULTS
	printf("fault injection points: compiled in (RETENTION_FAULT; test builds only)\n");
#else
	printf("fault injection points: not compiled in\n");
#endif
}

int
main(int argc, char **argv)
{
	const char *cmd;

	log_init();
	opterr = 0; /* option errors are logged by the commands, like every other line */
	if (argc < 2) {
		help();
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		help();
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		version();
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "hold") == 0)
		return cmd_hold(argc - 1, argv + 1);
	if (strcmp(cmd, "db") == 0)
		return cmd_db(argc - 1, argv + 1);
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "archive") == 0)
		return cmd_archive(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "policy") == 0)
		return cmd_policy(argc - 1, argv + 1);
	{
		char msg[300];

		snprintf(msg, sizeof(msg), "unknown command \"%.200s\"", cmd);
		log_error_detail(NULL, msg, "try \"retention --help\"", NULL);
	}
	return RET_EXIT_USAGE;
}
