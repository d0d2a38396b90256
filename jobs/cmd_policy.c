/* `retention policy check`: a policy validated offline and, with --db, against the database. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "drift.h"
#include "log.h"
#include "policy.h"

static void
help(void)
{
	printf("Usage: retention policy check --policy FILE [--db [CONNINFO]] [--json]\n\n"
	       "Validates a policy file as `retention run` would, without a database. With --db\n"
	       "it also checks it against the live catalog: the time zone, every class's table\n"
	       "and columns, the ON DELETE cascades and DELETE triggers a run's guards would\n"
	       "refuse, and drift: tables in the policy's governed_schemas that no class names,\n"
	       "governed schemas that do not exist, classes whose tables vanished. Only the\n"
	       "catalog is read; no governed table's rows.\n\n"
	       "Options:\n"
	       "  --policy FILE      the policy (format: policies/README.md)\n"
	       "  --db [CONNINFO]    check against the database; CONNINFO, or libpq's environment\n"
	       "                     (PGHOST, PGDATABASE, PGUSER, PGPASSFILE, ...) when omitted\n"
	       "  --json             print the result as one JSON document instead of text\n"
	       "  --help             this text\n\n"
	       "Exit status: 0 valid (and, with --db, no finding); 1 runtime failure (the\n"
	       "database cannot be reached or read); 2 invalid policy, or a class that does\n"
	       "not fit the database (unknown or vanished table, unknown column, unusable\n"
	       "timestamp type, unknown time zone, an inheritance child no class names, a\n"
	       "rule on DELETE): a run would refuse it; 3 a run's guard would refuse (an\n"
	       "uncovered cascade or trigger); 4 drift only: tables in a governed schema\n"
	       "that no class names, or a governed schema that does not exist. The most\n"
	       "serious finding decides.\n");
}

static const char *
outcome_name(ret_code rc)
{
	switch (rc) {
	case RET_OK:
		return "clean";
	case RET_USAGE:
		return "invalid";
	case RET_GUARD:
		return "guard";
	case RET_DRIFT:
		return "drift";
	case RET_RUNTIME:
	case RET_LOCKED:
		break;
	}
	return "failed";
}

static void
print_text(const policy *p, bool live, const char *conn_desc, const drift_result *r,
           ret_code outcome)
{
	printf("policy \"%s\" version %d (%s), sha256 %s: valid, %d class%s\n", p->name, p->version,
	       p->path, p->sha256, p->n_classes, p->n_classes == 1 ? "" : "es");
	for (int i = 0; i < p->n_classes; i++) {
		const policy_class *c = &p->classes[i];

		printf("  class %s: %s %s.%s%s%s\n", c->name, policy_action_name(c->action), c->schema,
		       c->table, c->action == ACTION_KEEP ? "" : " after ",
		       c->action == ACTION_KEEP ? "" : c->retain.text);
	}
	if (!live) {
		printf("result: valid; not checked against a database (add --db)\n");
		return;
	}
	printf("%s: %d of %d class%s in order, %d table%s in governed schemas\n", conn_desc,
	       r->classes_ok, p->n_classes, p->n_classes == 1 ? "" : "es", r->governed_tables,
	       r->governed_tables == 1 ? "" : "s");
	if (p->n_governed_schemas == 0)
		printf("note: the policy lists no governed_schemas, so no table can be found "
		       "uncovered\n");
	for (int i = 0; i < r->n_findings; i++)
		printf("%s: %s\n", drift_kind_name(r->findings[i].kind), r->findings[i].message);
	if (outcome == RET_OK)
		printf("result: clean\n");
	else
		printf("result: %s (exit %d)\n", outcome_name(outcome), ret_exit_status(outcome));
}

static void
print_json(const char *path, const policy *p, const ret_error *load_err, bool live,
           const char *db_name, const drift_result *r, ret_code outcome)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *pol = cJSON_AddObjectToObject(doc, "policy");
	char *text;

	cJSON_AddStringToObject(pol, "file", path);
	if (p) {
		cJSON_AddStringToObject(pol, "name", p->name);
		cJSON_AddNumberToObject(pol, "version", p->version);
		cJSON_AddStringToObject(pol, "sha256", p->sha256);
		cJSON_AddNumberToObject(pol, "classes", p->n_classes);
	}
	cJSON_AddBoolToObject(doc, "valid", p != NULL);
	if (load_err)
		cJSON_AddStringToObject(doc, "error", load_err->message);
	if (live && r) {
		cJSON *db = cJSON_AddObjectToObject(doc, "database");
		cJSON *arr = cJSON_AddArrayToObject(doc, "findings");

		cJSON_AddStringToObject(db, "name", db_name);
		cJSON_AddNumberToObject(db, "classes_ok", r->classes_ok);
		cJSON_AddNumberToObject(db, "governed_tables", r->governed_tables);
		for (int i = 0; i < r->n_findings; i++) {
			const drift_finding *f = &r->findings[i];
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "kind", drift_kind_name(f->kind));
			if (f->class_name[0])
				cJSON_AddStringToObject(o, "class", f->class_name);
			else
				cJSON_AddNullToObject(o, "class");
			cJSON_AddStringToObject(o, "object", f->object);
			cJSON_AddStringToObject(o, "message", f->message);
			cJSON_AddItemToArray(arr, o);
		}
	}
	cJSON_AddBoolToObject(doc, "checked_against_database", live && r);
	cJSON_AddStringToObject(doc, "outcome", outcome_name(outcome));
	cJSON_AddNumberToObject(doc, "exit_status", ret_exit_status(outcome));
	text = cJSON_Print(doc);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(doc);
}

int
cmd_policy(int argc, char **argv)
{
	static const struct option options[] = {{"policy", required_argument, NULL, 'p'},
	                                        {"db", optional_argument, NULL, 'd'},
	                                        {"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *path = NULL, *conninfo = NULL;
	bool live = false, json = false;
	char conn_desc[300] = "";
	policy *p = NULL;
	PGconn *conn = NULL;
	drift_result r;
	ret_error err;
	ret_code outcome;
	int c, exit_code;
	cli_seen seen = {0};

	memset(&r, 0, sizeof(r));
	ret_error_clear(&err);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? RET_EXIT_USAGE : RET_EXIT_OK;
	}
	if (strcmp(argv[1], "check") != 0)
		return cli_usage("policy", "unknown action \"%s\" (check)", argv[1]);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		if (cli_repeated("policy", options, c, &seen))
			return RET_EXIT_USAGE;
		switch (c) {
		case 'p':
			path = optarg;
			break;
		case 'd':
			live = true;
			conninfo = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			help();
			return RET_EXIT_OK;
		default:
			return cli_bad_option("policy", c, argv + 1);
		}
	}

	/* "--db CONNINFO" as well as "--db=CONNINFO": the one argument left is the conninfo. */
	if (live && conninfo == NULL && optind == argc - 2)
		conninfo = argv[1 + optind++];
	if (optind < argc - 1)
		return cli_usage("policy", "unexpected argument (the connection string?)");
	if (path == NULL)
		return cli_usage("policy", "--policy is required");

	/* Offline: everything a run validates before it connects. */
	if (policy_load(path, &p, &err) != RET_OK) {
		if (json)
			print_json(path, NULL, &err, false, NULL, NULL, err.code);
		return cli_fail(&err);
	}
	outcome = RET_OK;

	/* Live: the catalog. */
	if (live) {
		if (db_connect(conninfo, &conn, &err) != RET_OK ||
		    drift_check(conn, p, &r, &err) != RET_OK) {
			exit_code = cli_fail(&err);
			goto done;
		}
		db_describe(conn, conn_desc, sizeof(conn_desc));
		outcome = drift_outcome(&r);
	}
	if (json)
		print_json(path, p, NULL, live, conn ? PQdb(conn) : NULL, &r, outcome);
	else
		print_text(p, live, conn_desc, &r, outcome);
	exit_code = ret_exit_status(outcome);

done:
	drift_free(&r);
	db_close(conn);
	policy_free(p);
	return exit_code;
}
