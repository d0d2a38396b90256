/* `retention db migrate`: create or update the job's own schema. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

static void
help(void)
{
	printf("Usage: retention db migrate [--db CONNINFO]\n\n"
	       "Creates or updates the schema \"retention\" (holds, hold history, runs ledger,\n"
	       "archive segment ledger) from the migrations built into this program. Applying\n"
	       "it again is harmless.\n");
}

int
cmd_db(int argc, char **argv)
{
	static const struct option options[] = {{"db", required_argument, NULL, 'd'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *conninfo = NULL;
	PGconn *conn = NULL;
	ret_error err;
	int applied = 0;
	int c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "migrate") != 0)
		return cli_usage("db", "unknown action \"%s\"", argv[1]);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		if (c == 'd')
			conninfo = optarg;
		else if (c == 'h') {
			help();
			return 0;
		} else
			return cli_usage("db", "unknown option");
	}
	if (db_connect(conninfo, &conn, &err) != RET_OK)
		return cli_fail(&err);
	if (migrate_apply(conn, &applied, &err) != RET_OK) {
		db_close(conn);
		return cli_fail(&err);
	}
	log_msg(LOG_INFO, NULL, "schema retention is current (%d migration%s applied now)", applied,
	        applied == 1 ? "" : "s");
	db_close(conn);
	return 0;
}
