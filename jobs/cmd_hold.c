/* `retention hold add|release|list`: the exception log from the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "holds.h"
#include "log.h"
#include "migrate.h"
#include "policy.h"

static void
help(void)
{
	printf("Usage:\n"
	       "  retention hold add --ticket ID --match COLUMN=VALUE [--class NAME]\n"
	       "                     --reason TEXT [--by WHO] [--policy FILE] [--db CONNINFO]\n"
	       "  retention hold release --ticket ID --reason TEXT [--by WHO] [--db CONNINFO]\n"
	       "  retention hold list [--json] [--all] [--db CONNINFO]\n\n"
	       "A hold keeps every row whose COLUMN, read as text, equals VALUE, in every class\n"
	       "that lists COLUMN among its hold_keys (or only in --class NAME), however old.\n"
	       "Holds are released, never deleted; retention.hold_history keeps every change.\n\n"
	       "  --ticket ID        investigation ticket: 1-64 of letters, digits and . _ : / -\n"
	       "  --match COL=VALUE  the column and value to hold\n"
	       "  --class NAME       limit the hold to one class\n"
	       "  --reason TEXT      why (required, recorded in the history)\n"
	       "  --by WHO           who asks (default: the database user)\n"
	       "  --policy FILE      check that COLUMN is a hold key of the class (or of some class)\n"
	       "  --json             list as JSON\n"
	       "  --all              list released holds too\n"
	       "  --db CONNINFO      connection string; default: libpq's environment\n"
	       "  --help             this text\n\n"
	       "Exit status: 0 done; 1 runtime failure (database unreachable, permission\n"
	       "denied: adding and releasing holds needs retention_hold_admin); 2 usage error,\n"
	       "a malformed ticket or match, a column that is no hold key (--policy), the same\n"
	       "hold already open, or a release of a ticket with no open hold.\n");
}

static void
print_list(const cJSON *arr, bool json)
{
	const cJSON *h;

	if (json) {
		char *text = cJSON_Print(arr);

		if (text) {
			printf("%s\n", text);
			cJSON_free(text);
		}
		return;
	}
	printf("%-8s %-20s %-28s %-22s %-20s %s\n", "hold", "ticket", "match", "class", "added",
	       "state");
	cJSON_ArrayForEach(h, arr)
	{
		const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(h, "class"));
		const char *rel = cJSON_GetStringValue(cJSON_GetObjectItem(h, "released_at"));
		char match[300];

		snprintf(match, sizeof(match), "%s=%s",
		         cJSON_GetStringValue(cJSON_GetObjectItem(h, "match_column")),
		         cJSON_GetStringValue(cJSON_GetObjectItem(h, "match_value")));
		printf("%-8s %-20s %-28s %-22s %-20s %s\n",
		       cJSON_GetObjectItem(h, "hold_id")->valuestring,
		       cJSON_GetStringValue(cJSON_GetObjectItem(h, "ticket")), match,
		       cls ? cls : "(every class)",
		       cJSON_GetStringValue(cJSON_GetObjectItem(h, "created_at")),
		       rel ? "released" : "open");
	}
}

int
cmd_hold(int argc, char **argv)
{
	static const struct option options[] = {
		{"ticket", required_argument, NULL, 't'}, {"match", required_argument, NULL, 'm'},
		{"class", required_argument, NULL, 'c'},  {"reason", required_argument, NULL, 'r'},
		{"by", required_argument, NULL, 'b'},     {"policy", required_argument, NULL, 'p'},
		{"db", required_argument, NULL, 'd'},     {"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},          {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *ticket = NULL, *match = NULL, *class_name = NULL, *reason = NULL, *by = NULL;
	const char *policy_path = NULL, *conninfo = NULL;
	bool json = false, all = false;
	hold_request req;
	policy *pol = NULL;
	PGconn *conn = NULL;
	ret_error err;
	const char *action;
	int c, exit_code = 0;
	cli_seen seen = {0};

	ret_error_clear(&err);
	memset(&req, 0, sizeof(req));
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? 2 : 0;
	}
	action = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		if (cli_repeated("hold", options, c, &seen))
			return RET_EXIT_USAGE;
		switch (c) {
		case 't':
			ticket = optarg;
			break;
		case 'm':
			match = optarg;
			break;
		case 'c':
			class_name = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'p':
			policy_path = optarg;
			break;
		case 'd':
			conninfo = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return cli_bad_option("hold", c, argv + 1);
		}
	}
	if (optind < argc - 1)
		return cli_usage("hold", "unexpected argument \"%s\"", argv[optind + 1]);

	/* Validate everything before connecting. */
	if (strcmp(action, "add") == 0) {
		if (!ticket || !match || !reason)
			return cli_usage("hold", "hold add needs --ticket, --match and --reason");
		if (holds_check_ticket(ticket, &err) != RET_OK ||
		    holds_parse_match(match, req.column, req.value, &err) != RET_OK ||
		    holds_check_text("--reason", reason, HOLD_REASON_MAX, &err) != RET_OK ||
		    (by && holds_check_text("--by", by, 128, &err) != RET_OK))
			return cli_fail(&err);
		if (class_name && !policy_identifier_ok(class_name))
			return cli_usage("hold", "--class: \"%s\" is not a class name", class_name);
		snprintf(req.ticket, sizeof(req.ticket), "%s", ticket);
		snprintf(req.class_name, sizeof(req.class_name), "%s", class_name ? class_name : "");
		snprintf(req.reason, sizeof(req.reason), "%s", reason);
		snprintf(req.by, sizeof(req.by), "%s", by ? by : "");
		if (policy_path) {
			if (policy_load(policy_path, &pol, &err) != RET_OK)
				return cli_fail(&err);
			if (holds_check_against_policy(&req, pol, &err) != RET_OK) {
				policy_free(pol);
				return cli_fail(&err);
			}
			policy_free(pol);
		}
	} else if (strcmp(action, "release") == 0) {
		if (!ticket || !reason)
			return cli_usage("hold", "hold release needs --ticket and --reason");
		if (holds_check_ticket(ticket, &err) != RET_OK ||
		    holds_check_text("--reason", reason, HOLD_REASON_MAX, &err) != RET_OK ||
		    (by && holds_check_text("--by", by, 128, &err) != RET_OK))
			return cli_fail(&err);
	} else if (strcmp(action, "list") != 0) {
		return cli_usage("hold", "unknown action \"%s\" (add, release or list)", action);
	}

	if (db_connect(conninfo, &conn, &err) != RET_OK || migrate_check(conn, &err) != RET_OK) {
		db_close(conn);
		return cli_fail(&err);
	}
	if (strcmp(action, "add") == 0) {
		long long id = 0;

		if (holds_add(conn, &req, &id, &err) == RET_OK)
			printf("hold %lld added: ticket %s keeps %s=%s in %s%s\n", id, req.ticket,
			       req.column, req.value, req.class_name[0] ? "class " : "every class",
			       req.class_name);
		else
			exit_code = cli_fail(&err);
	} else if (strcmp(action, "release") == 0) {
		int n = 0;

		if (holds_release(conn, ticket, reason, by, &n, &err) == RET_OK)
			printf("ticket %s: %d hold%s released\n", ticket, n, n == 1 ? "" : "s");
		else
			exit_code = cli_fail(&err);
	} else {
		cJSON *arr = NULL;

		if (holds_list(conn, all, &arr, &err) == RET_OK)
			print_list(arr, json);
		else
			exit_code = cli_fail(&err);
		cJSON_Delete(arr);
	}
	db_close(conn);
	return exit_code;
}
