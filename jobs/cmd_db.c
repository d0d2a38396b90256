/* `retention db migrate|grants`: the job's own schema and roles, and the grants a policy needs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "grants.h"
#include "log.h"
#include "migrate.h"
#include "policy.h"

static void
help(void)
{
	printf("Usage:\n"
	       "  retention db migrate [--db CONNINFO]\n"
	       "  retention db grants --policy FILE [--apply] [--db CONNINFO]\n\n"
	       "migrate creates or updates the schema \"retention\" (holds, hold history, runs\n"
	       "ledger, archive segment ledger) from the migrations built into this program,\n"
	       "and the group roles retention_job, retention_auditor and retention_hold_admin\n"
	       "(NOLOGIN) with their grants on that schema. Applying it again is harmless. Run\n"
	       "it as the schema's owner; creating the roles needs CREATEROLE.\n\n"
	       "grants prints the GRANT statements the policy needs on its own tables, read\n"
	       "from the catalog: SELECT and DELETE (partitions included) for retention_job,\n"
	       "SELECT for retention_auditor, on every class that removes rows, and SELECT on\n"
	       "the tables whose foreign keys keep rows. Keep classes get nothing. Pipe the\n"
	       "output to psql, or use --apply, as the tables' owner. Run it again after\n"
	       "adding a class or a partition.\n\n"
	       "Options:\n"
	       "  --db CONNINFO   connection string; default: libpq's environment\n"
	       "  --policy FILE   (grants) the policy whose tables are granted\n"
	       "  --apply         (grants) run the statements, in one transaction, instead of\n"
	       "                  printing them\n"
	       "  --help          this text\n\n"
	       "Exit status: 0 done, 1 runtime failure (nothing applied), 2 usage or policy\n"
	       "error, or a class that does not fit the database (nothing applied).\n");
}

static int
do_migrate(const char *conninfo)
{
	PGconn *conn = NULL;
	ret_error err;
	int applied = 0;
	int exit_code = RET_EXIT_OK;

	if (db_connect(conninfo, &conn, &err) != RET_OK ||
	    migrate_apply(conn, &applied, &err) != RET_OK)
		exit_code = cli_fail(&err);
	else
		log_msg(LOG_INFO, NULL, "schema retention is current (%d migration%s applied now)",
		        applied, applied == 1 ? "" : "s");
	db_close(conn);
	return exit_code;
}

/* Counts GRANTs that granted nothing; the server's warnings still reach the log. */
typedef struct grant_warnings {
	PQnoticeReceiver logger;
	int not_granted;
} grant_warnings;

static void
count_not_granted(void *arg, const PGresult *res)
{
	grant_warnings *w = arg;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state && strcmp(state, "01007") == 0) /* warning: privilege not granted */
		w->not_granted++;
	if (w->logger)
		w->logger(NULL, res); /* db_connect's receiver takes no argument */
}

/*
 * Runs the grants in one transaction. A GRANT by a role that may not grant
 * is only a warning in PostgreSQL, so the warnings are counted, and any at
 * all roll the whole transaction back.
 */
static ret_code
apply_grants(PGconn *conn, const char *script, ret_error *err)
{
	grant_warnings w = {NULL, 0};
	ret_code rc;

	w.logger = PQsetNoticeReceiver(conn, count_not_granted, &w);
	rc = db_exec(conn, "begin grants", "BEGIN", err);
	if (rc == RET_OK)
		rc = db_exec(conn, "grants", script, err);
	if (rc == RET_OK && w.not_granted > 0) {
		rc = ret_fail(err, RET_RUNTIME,
		              "%d GRANT statement%s granted nothing; none applied", w.not_granted,
		              w.not_granted == 1 ? "" : "s");
		ret_hint(err, "run it as the owner of the policy's tables and of the database");
	}
	if (rc == RET_OK)
		rc = db_exec(conn, "commit grants", "COMMIT", err);
	if (rc != RET_OK && !db_lost(conn))
		PQclear(PQexec(conn, "ROLLBACK"));
	PQsetNoticeReceiver(conn, w.logger, NULL);
	return rc;
}

static int
do_grants(const char *policy_path, bool apply, const char *conninfo)
{
	policy *p = NULL;
	PGconn *conn = NULL;
	char *script = NULL;
	ret_error err;
	int exit_code = RET_EXIT_OK;

	if (policy_load(policy_path, &p, &err) != RET_OK)
		return cli_fail(&err);
	if (db_connect(conninfo, &conn, &err) != RET_OK || migrate_check(conn, &err) != RET_OK ||
	    grants_script(conn, p, !apply, &script, &err) != RET_OK) {
		exit_code = cli_fail(&err);
		goto done;
	}
	if (!apply) {
		fputs(script, stdout);
		goto done;
	}

	if (apply_grants(conn, script, &err) != RET_OK) {
		exit_code = cli_fail(&err);
		goto done;
	}
	log_msg(LOG_INFO, NULL, "grants of policy %s applied", p->name);

done:
	free(script);
	db_close(conn);
	policy_free(p);
	return exit_code;
}

int
cmd_db(int argc, char **argv)
{
	static const struct option options[] = {{"db", required_argument, NULL, 'd'},
	                                        {"policy", required_argument, NULL, 'p'},
	                                        {"apply", no_argument, NULL, 'a'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *conninfo = NULL, *policy_path = NULL;
	const char *action;
	bool apply = false;
	int c;
	cli_seen seen = {0};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? RET_EXIT_USAGE : RET_EXIT_OK;
	}
	action = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		if (cli_repeated("db", options, c, &seen))
			return RET_EXIT_USAGE;
		switch (c) {
		case 'd':
			conninfo = optarg;
			break;
		case 'p':
			policy_path = optarg;
			break;
		case 'a':
			apply = true;
			break;
		case 'h':
			help();
			return RET_EXIT_OK;
		default:
			return cli_bad_option("db", c, argv + 1);
		}
	}
	if (optind < argc - 1)
		return cli_usage("db", "unexpected argument (the connection string goes after --db)");

	if (strcmp(action, "migrate") == 0) {
		if (policy_path || apply)
			return cli_usage("db", "--policy and --apply belong to db grants");
		return do_migrate(conninfo);
	}
	if (strcmp(action, "grants") == 0) {
		if (policy_path == NULL)
			return cli_usage("db", "db grants needs --policy");
		return do_grants(policy_path, apply, conninfo);
	}
	return cli_usage("db", "unknown action \"%s\" (migrate or grants)", action);
}
