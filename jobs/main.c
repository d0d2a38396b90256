/* The retention executable: picks the subcommand and hands over its arguments. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "version.h"

static void
help(void)
{
	printf("retention: purge or archive rows whose retention has run out, honouring holds,\n"
	       "and write a signed audit report.\n\n"
	       "Usage:\n"
	       "  retention run --policy FILE --report-dir DIR [--archive-dir DIR]\n"
	       "                [--signing-key KEY.pem] [--dry-run] [--as-of TIME] [--db CONNINFO]\n"
	       "  retention hold add --ticket ID --match COLUMN=VALUE [--class NAME] --reason TEXT\n"
	       "  retention hold release --ticket ID --reason TEXT\n"
	       "  retention hold list [--json] [--all]\n"
	       "  retention db migrate [--db CONNINFO]\n"
	       "  retention keygen --out KEY.pem\n"
	       "  retention verify --public-key PUB.pem REPORT.json...\n"
	       "  retention verify --chain DIR --public-key PUB.pem [--db CONNINFO]\n"
	       "  retention verify --compare DRY.json REAL.json\n"
	       "  retention archive verify|restore|find ...\n"
	       "  retention report render REPORT.json --format text|html\n\n"
	       "Every command takes --help. The connection comes from --db or from libpq's\n"
	       "environment (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE, PGSERVICE, ...).\n\n"
	       "Exit status: 0 success, 1 runtime failure (the report says what was done),\n"
	       "2 usage or policy error (nothing done), 3 a guard refused the run (nothing done),\n"
	       "75 another run holds the lock (try later).\n");
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
		printf("retention %s (%s, %s build)\n", RETENTION_VERSION, RETENTION_GIT,
		       RETENTION_BUILD_TYPE);
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
