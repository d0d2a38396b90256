/*
 * `retention archive verify|restore|find`: the compliance archive's
 * retrieval procedure (SOP-17) from the command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_retrieve.h"
#include "cli.h"
#include "db.h"
#include "holds.h"
#include "log.h"
#include "migrate.h"

static void
help(void)
{
	printf("Usage:\n"
	       "  retention archive verify ARCHIVE_DIR [--db CONNINFO]\n"
	       "  retention archive restore --segment FILE --into SCHEMA.TABLE [--create]\n"
	       "                            [--key COLUMN] [--db CONNINFO]\n"
	       "  retention archive find --archive-dir DIR --class NAME --match COLUMN=VALUE\n"
	       "                         [--json]\n\n"
	       "verify   checks every segment the ledger (retention.archive_segments) records:\n"
	       "         present, SHA-256 and size, gzip readable to the end, as many CSV rows as\n"
	       "         recorded, header equal to the manifest's columns and to columns the\n"
	       "         table still has; a segment in the directory that the ledger does not\n"
	       "         name is a failure too.\n"
	       "restore  inserts the rows of one segment into SCHEMA.TABLE (the original table,\n"
	       "         or a scratch table, made with --create) in one transaction, after\n"
	       "         checking the segment against the ledger; refuses when a row's key\n"
	       "         (--key, else the manifest's, else the primary key) still exists there.\n"
	       "         Restored rows are old: put a hold on them, or the next run removes\n"
	       "         them again.\n"
	       "find     streams the class's segments and lists each row whose COLUMN equals\n"
	       "         VALUE as text, as SEGMENT:ROW: CSV (or JSON lines with --json).\n"
	       "--help   this text\n\n"
	       "Exit status: 0 success, 1 failure or a damaged archive, 2 usage error,\n"
	       "3 restore refused (segment not as recorded, or duplicate rows).\n");
}

typedef struct verify_tally {
	int problems;
} verify_tally;

static void
print_finding(void *arg, bool is_problem, const char *file, const char *message)
{
	(void)arg;
	printf("%s %s: %s\n", is_problem ? "FAILED" : "note  ", file, message);
}

static int
do_verify(const char *dir, const char *conninfo)
{
	archive_verify_stats stats;
	PGconn *conn = NULL;
	ret_error err;
	int exit_code;

	if (db_connect(conninfo, &conn, &err) != RET_OK || migrate_check(conn, &err) != RET_OK ||
	    archive_verify_dir(conn, dir, print_finding, NULL, &stats, &err) != RET_OK) {
		exit_code = cli_fail(&err);
		db_close(conn);
		return exit_code;
	}
	db_close(conn);
	if (stats.problems == 0) {
		printf("archive OK: %d segment%s, %lld rows, as the ledger records them\n",
		       stats.segments, stats.segments == 1 ? "" : "s", (long long)stats.rows);
		return RET_EXIT_OK;
	}
	printf("archive FAILED: %d problem%s in %d segment%s\n", stats.problems,
	       stats.problems == 1 ? "" : "s", stats.segments, stats.segments == 1 ? "" : "s");
	return RET_EXIT_RUNTIME;
}

static int
do_restore(const archive_restore_request *req, const char *conninfo)
{
	PGconn *conn = NULL;
	int64_t restored = 0;
	ret_error err;
	int exit_code = RET_EXIT_OK;

	if (db_connect(conninfo, &conn, &err) != RET_OK || migrate_check(conn, &err) != RET_OK ||
	    archive_restore(conn, req, &restored, &err) != RET_OK)
		exit_code = cli_fail(&err);
	else
		printf("restored %lld row%s from %s into %s\n", (long long)restored,
		       restored == 1 ? "" : "s", req->segment, req->target);
	db_close(conn);
	return exit_code;
}

static void
print_match_text(void *arg, const char *segment, int64_t row, const csv_reader *record,
                 const cJSON *columns)
{
	size_t len;
	const char *raw = csv_raw(record, &len);

	(void)arg;
	(void)columns;
	printf("%s:%lld: %.*s\n", segment, (long long)row, (int)len, raw);
}

static void
print_match_json(void *arg, const char *segment, int64_t row, const csv_reader *record,
                 const cJSON *columns)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *values = NULL;
	const cJSON *c;
	char *text;
	int i = 0;

	(void)arg;
	cJSON_AddStringToObject(o, "segment", segment);
	cJSON_AddNumberToObject(o, "row", (double)row);
	values = cJSON_AddObjectToObject(o, "values");
	cJSON_ArrayForEach(c, columns)
	{
		const char *v = csv_field(record, i++, NULL);

		if (v)
			cJSON_AddStringToObject(values, c->valuestring, v);
		else
			cJSON_AddNullToObject(values, c->valuestring);
	}
	text = cJSON_PrintUnformatted(o);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

static int
do_find(const char *dir, const char *class_name, const char *match, bool json)
{
	char column[POLICY_NAME_MAX], value[HOLD_VALUE_MAX + 1];
	archive_find_stats stats;
	ret_error err;

	if (holds_parse_match(match, column, value, &err) != RET_OK)
		return cli_fail(&err);
	if (archive_find(dir, class_name, column, value, json ? print_match_json : print_match_text,
	                 NULL, &stats, &err) != RET_OK)
		return cli_fail(&err);
	log_msg(LOG_INFO, class_name, "%lld matching row%s in %d of %d segment%s (%lld rows read)%s",
	        (long long)stats.matches, stats.matches == 1 ? "" : "s", stats.segments_matched,
	        stats.segments, stats.segments == 1 ? "" : "s", (long long)stats.rows,
	        stats.without_column ? "; some segments have no such column" : "");
	return RET_EXIT_OK;
}

int
cmd_archive(int argc, char **argv)
{
	static const struct option options[] = {
		{"db", required_argument, NULL, 'd'},        {"segment", required_argument, NULL, 's'},
		{"into", required_argument, NULL, 'i'},      {"create", no_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},       {"archive-dir", required_argument, NULL, 'a'},
		{"class", required_argument, NULL, 'l'},     {"match", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},            {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	archive_restore_request req = {NULL, NULL, false, NULL};
	const char *conninfo = NULL, *dir = NULL, *class_name = NULL, *match = NULL;
	const char *action;
	bool json = false;
	int c;
	cli_seen seen = {0};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? 2 : 0;
	}
	action = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
		if (cli_repeated("archive", options, c, &seen))
			return RET_EXIT_USAGE;
		switch (c) {
		case 'd':
			conninfo = optarg;
			break;
		case 's':
			req.segment = optarg;
			break;
		case 'i':
			req.target = optarg;
			break;
		case 'c':
			req.create = true;
			break;
		case 'k':
			req.key = optarg;
			break;
		case 'a':
			dir = optarg;
			break;
		case 'l':
			class_name = optarg;
			break;
		case 'm':
			match = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return cli_bad_option("archive", c, argv + 1);
		}
	}

	if (strcmp(action, "verify") == 0) {
		if (optind + 1 < argc - 1)
			return cli_usage("archive", "archive verify takes one directory");
		if (optind + 1 == argc - 1)
			dir = argv[optind + 1];
		if (dir == NULL)
			return cli_usage("archive", "archive verify needs the archive directory");
		return do_verify(dir, conninfo);
	}
	if (optind < argc - 1)
		return cli_usage("archive", "unexpected argument \"%s\"", argv[optind + 1]);
	if (strcmp(action, "restore") == 0) {
		if (req.segment == NULL || req.target == NULL)
			return cli_usage("archive", "archive restore needs --segment and --into");
		return do_restore(&req, conninfo);
	}
	if (strcmp(action, "find") == 0) {
		if (dir == NULL || class_name == NULL || match == NULL)
			return cli_usage("archive", "archive find needs --archive-dir, --class and --match");
		return do_find(dir, class_name, match, json);
	}
	return cli_usage("archive", "unknown action \"%s\" (verify, restore or find)", action);
}
