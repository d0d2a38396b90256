/* `retention run`: one run of a policy, from options to signed report and exit status. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "archive.h"
#include "cli.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "report.h"
#include "sign.h"

static volatile sig_atomic_t stop_requested;

/*
 * SIGTERM and SIGINT only raise a flag: the current batch finishes and
 * commits. The store is atomic: the workers of --jobs read the flag from
 * other threads.
 */
static void
on_stop_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_requested, 1, __ATOMIC_SEQ_CST);
}

static void
help(void)
{
	printf("Usage: retention run --policy FILE --report-dir DIR [options]\n\n"
	       "Applies a retention policy: removes (purge) or moves to the archive (archive)\n"
	       "every row past its retention that no open hold keeps, in short batches, and\n"
	       "writes a signed JSON report to the report directory.\n\n"
	       "Options:\n"
	       "  --policy FILE            the policy (format: policies/README.md)\n"
	       "  --report-dir DIR         where the report and its .sig are written\n"
	       "  --archive-dir DIR        where archive segments go (needed by archive classes)\n"
	       "  --signing-key KEY.pem    Ed25519 private key (mode 0600); required unless\n"
	       "                           --dry-run, where an unsigned report is written\n"
	       "  --dry-run                count in one read-only snapshot; change nothing\n"
	       "  --as-of TIME             pretend the run happens at TIME (dry runs only;\n"
	       "                           a time without a zone is read as UTC)\n"
	       "  --db CONNINFO            connection string; default: libpq environment\n"
	       "  --jobs N                 work on up to N classes at once, each on a session\n"
	       "                           of its own (1 to 64, default 1); the lock stays on\n"
	       "                           the first session; a dry run's sessions share one\n"
	       "                           snapshot\n"
	       "  --progress-interval SEC  seconds between progress lines (default 10, 0 = none)\n"
	       "  --max-clock-skew SEC     refuse when the database clock is further than this\n"
	       "                           from the host clock (default 300, 0 = no check)\n"
	       "  --metrics-file PATH      after the run, replace PATH atomically with Prometheus\n"
	       "                           text-format metrics (rows per class, duration, exit\n"
	       "                           status, last success); dry runs are labelled\n"
	       "                           mode=\"dry-run\"\n"
	       "  --help                   this text\n\n"
	       "Exit status: 0 success, 1 runtime failure or interrupted, 2 usage or policy\n"
	       "error, 3 a guard refused, 75 another run holds the lock.\n");
}

static void
iso_now(char *buf, size_t len, time_t *t_out)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	if (t_out)
		*t_out = ts.tv_sec;
}

/* What the command line names beside the engine's own options. */
typedef struct run_args {
	const char *policy_path;
	const char *report_dir;
	const char *key_path;
	const char *conninfo;
} run_args;

/* What the metrics need from a run once its state is gone. */
typedef struct run_summary {
	char policy_name[128];
	metrics_class *classes;
	int n_classes;
} run_summary;

static double
monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the counts of every class the run counted (keep classes are never counted). */
static void
summarise(const run_state *st, run_summary *sum)
{
	if (st->pol)
		snprintf(sum->policy_name, sizeof(sum->policy_name), "%s", st->pol->name);
	sum->classes = calloc((size_t)st->n_classes + 1, sizeof(metrics_class));
	if (sum->classes == NULL)
		return;
	for (int i = 0; i < st->n_classes; i++) {
		const class_result *cr = &st->classes[i];
		metrics_class *mc;

		if (!cr->checked)
			continue;
		mc = &sum->classes[sum->n_classes++];
		snprintf(mc->name, sizeof(mc->name), "%s", cr->cls->name);
		mc->eligible = cr->eligible;
		mc->purged = cr->purged;
		mc->archived = cr->archived;
		mc->held = cr->held;
		mc->undated = cr->undated;
	}
}

/*
 * One run, from checked options to the signed report and its ledger entry.
 * Returns the exit status; sum receives what the metrics need.
 */
static int
run_policy(const run_args *a, run_options *opt, run_summary *sum)
{
	char started_at[40], finished_at[40], report_name[160], report_sha[65], fingerprint[80];
	char conn_desc[300];
	policy *pol = NULL;
	signing_key *key = NULL;
	PGconn *conn = NULL;
	run_state st;
	ret_error err, rerr;
	report_meta meta = {0};
	char *text = NULL;
	time_t started;
	int exit_code;

	ret_error_clear(&err);
	fingerprint[0] = '\0';
	/* Both directories must take files before a row is touched: no report, no run. */
	if (archive_check_writable(a->report_dir, "--report-dir", &err) != RET_OK)
		return cli_fail(&err);
	if (opt->archive_dir && !opt->dry_run &&
	    archive_check_writable(opt->archive_dir, "--archive-dir", &err) != RET_OK)
		return cli_fail(&err);

	/* Policy and key come first: without them nothing may be deleted. */
	opt->report_dir = a->report_dir;
	iso_now(started_at, sizeof(started_at), &started);
	if (policy_load(a->policy_path, &pol, &err) == RET_OK) {
		engine_init(&st, pol, NULL, opt);
	} else {
		policy empty = {0};

		engine_init(&st, &empty, NULL, opt);
		st.pol = NULL;
		st.outcome = err.code;
	}
	log_msg(LOG_INFO, NULL,
	        "starting %s run of policy %s (report dir %s, archive dir %s, jobs %d)",
	        opt->dry_run ? "dry" : "execute", a->policy_path, a->report_dir,
	        opt->archive_dir ? opt->archive_dir : "none", opt->jobs);
	if (a->key_path && st.outcome == RET_OK) {
		/* The key also checks a report an earlier run left unrecorded before it is adopted. */
		if (signing_key_load(a->key_path, &key, &err) == RET_OK) {
			signing_key_fingerprint(key, fingerprint);
			st.opt.key = key;
		} else
			st.outcome = err.code;
	}

	/* The database. */
	if (st.outcome == RET_OK && db_connect(a->conninfo, &conn, &err) != RET_OK)
		st.outcome = err.code;
	if (st.outcome == RET_OK) {
		st.conn = conn;
		db_describe(conn, conn_desc, sizeof(conn_desc));
		log_msg(LOG_INFO, NULL, "connected to %s", conn_desc);
		st.outcome = engine_prepare(&st, &err);
		if (st.outcome == RET_LOCKED) {
			/* Another run is at work: no report, no ledger row, nothing to chain. */
			exit_code = cli_fail(&err);
			goto done;
		}
		/* What runs killed mid-report left would break every later chain check. */
		if (!opt->dry_run && st.n_unfinished > 0) {
			ret_error aerr;

			ret_error_clear(&aerr);
			if (report_set_aside_incomplete(&st, a->report_dir, &aerr) != RET_OK)
				engine_warn(&st, "%s", aerr.message);
		}
		if (st.outcome == RET_OK) {
			ret_error xerr;

			ret_error_clear(&xerr);
			st.outcome = engine_execute(&st, &xerr);
			if (st.outcome != RET_OK)
				err = xerr;
		}
	}
	if (st.outcome != RET_OK) {
		log_error_detail(NULL, err.message, err.hint, err.sqlstate);
		snprintf(st.outcome_message, sizeof(st.outcome_message), "%s", err.message);
	}
	if (stop_requested)
		st.interrupted = true;
	if (st.interrupted && st.outcome == RET_OK) {
		st.outcome = RET_RUNTIME;
		snprintf(err.message, sizeof(err.message), "interrupted by a signal; stopped between "
		         "batches");
		err.hint[0] = '\0';
	}
	exit_code = ret_exit_status(st.outcome);

	/* The report, signed, and its hash in the ledger. */
	iso_now(finished_at, sizeof(finished_at), NULL);
	meta.started_at = started_at;
	meta.finished_at = finished_at;
	meta.exit_code = exit_code;
	meta.key_fingerprint = fingerprint[0] ? fingerprint : NULL;
	meta.error = st.outcome != RET_OK ? err.message : NULL;
	meta.error_hint = st.outcome != RET_OK ? err.hint : NULL;
	text = report_render(&st, pol, &meta);
	report_file_name((long)started, st.run_id, report_name, sizeof(report_name));
	ret_error_clear(&rerr);
	if (text == NULL || report_write(a->report_dir, report_name, text, key, report_sha, &rerr)) {
		if (text == NULL)
			ret_fail(&rerr, RET_RUNTIME, "cannot render the report");
		log_error_detail(NULL, rerr.message, rerr.hint, NULL);
		exit_code = RET_EXIT_RUNTIME;
	} else {
		log_msg(LOG_INFO, NULL, "report %s/%s%s", a->report_dir, report_name,
		        key ? " (signed)" : " (unsigned)");
		/*
		 * A lost connection left this run's ledger row running: without the
		 * report's hash there, the next run would chain past this report. One
		 * new session records it; the advisory lock went with the old one
		 * (a run that lost its lock lost that session, used since or not).
		 */
		if (!opt->dry_run && st.ledger_row && conn && (db_lost(conn) || st.lock_lost)) {
			PGconn *again = NULL;

			if (db_connect(a->conninfo, &again, &rerr) == RET_OK) {
				log_msg(LOG_INFO, NULL, "reconnected to record the report in the ledger");
				db_close(conn);
				conn = st.conn = again;
				st.locked = false;
			} else {
				log_error_detail(NULL, rerr.message, rerr.hint, rerr.sqlstate);
			}
		}
		if (engine_record_report(&st, exit_code, report_name, report_sha, &rerr) != RET_OK) {
			log_error_detail(NULL, rerr.message, rerr.hint, rerr.sqlstate);
			exit_code = RET_EXIT_RUNTIME;
			/* A later run took over: its chain goes on without this report. */
			if (st.row_taken_over) {
				if (report_set_aside_own(a->report_dir, report_name, &rerr) == RET_OK)
					log_msg(LOG_WARNING, NULL, "report %s moved with its signature to "
					        "incomplete/: a later run chains past it", report_name);
				else
					log_error_detail(NULL, rerr.message, rerr.hint, NULL);
			}
		} else if (!opt->dry_run && st.ledger_row && db_lost(conn)) {
			log_error_detail(NULL, "the report is signed but not recorded in the ledger: the "
			                 "database cannot be reached",
			                 "the next run checks its signature, records it in this run's "
			                 "ledger row and chains to it", NULL);
			exit_code = RET_EXIT_RUNTIME;
		}
	}
	log_msg(st.outcome == RET_OK ? LOG_INFO : LOG_ERROR, NULL, "finished: %s, exit status %d",
	        engine_status(&st), exit_code);

done:
	summarise(&st, sum);
	free(text);
	engine_free(&st);
	db_close(conn);
	policy_free(pol);
	signing_key_free(key);
	return exit_code;
}

/* The metrics file; a failure to write it is logged and leaves the exit status alone. */
static void
write_metrics(const char *path, const run_options *opt, const run_summary *sum, double start_s,
              int exit_code)
{
	metrics_run m;
	ret_error err;

	m.policy = sum->policy_name;
	m.mode = opt->dry_run ? "dry-run" : "execute";
	m.classes = sum->classes;
	m.n_classes = sum->n_classes;
	m.duration_s = monotonic_s() - start_s;
	m.exit_status = exit_code;
	m.finished_at_s = (int64_t)time(NULL);
	ret_error_clear(&err);
	if (metrics_write(path, &m, &err) == RET_OK)
		log_msg(LOG_INFO, NULL, "metrics %s", path);
	else
		log_error_detail(NULL, err.message, "the run's exit status stands; the alert on the "
		                 "last success will notice a file that stops changing", NULL);
}

int
cmd_run(int argc, char **argv)
{
	static const struct option options[] = {
		{"policy", required_argument, NULL, 'p'},
		{"report-dir", required_argument, NULL, 'r'},
		{"archive-dir", required_argument, NULL, 'a'},
		{"signing-key", required_argument, NULL, 'k'},
		{"dry-run", no_argument, NULL, 'n'},
		{"as-of", required_argument, NULL, 't'},
		{"db", required_argument, NULL, 'd'},
		{"progress-interval", required_argument, NULL, 'i'},
		{"max-clock-skew", required_argument, NULL, 's'},
		{"metrics-file", required_argument, NULL, 'm'},
		{"jobs", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	run_args a = {NULL, NULL, NULL, NULL};
	run_options opt = {.progress_interval_s = 10, .max_clock_skew_s = 300,
	                   .stop = &stop_requested, .jobs = 1};
	run_summary sum;
	const char *metrics_path = NULL;
	char run_id[37];
	double start_s = monotonic_s();
	struct sigaction sa;
	ret_error err;
	uuid_t u;
	long v;
	int c, exit_code;
	cli_seen seen = {0};

	/* The run ID first, so that every line this run logs carries it. */
	uuid_generate_random(u);
	uuid_unparse_lower(u, run_id);
	log_set_run_id(run_id);
	opt.run_id = run_id;
	memset(&sum, 0, sizeof(sum));
	ret_error_clear(&err);

	/* Options. */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (cli_repeated("run", options, c, &seen))
			return RET_EXIT_USAGE;
		switch (c) {
		case 'p':
			a.policy_path = optarg;
			break;
		case 'r':
			a.report_dir = optarg;
			break;
		case 'a':
			opt.archive_dir = optarg;
			break;
		case 'k':
			a.key_path = optarg;
			break;
		case 'n':
			opt.dry_run = true;
			break;
		case 't':
			opt.as_of = optarg;
			break;
		case 'd':
			a.conninfo = optarg;
			break;
		case 'i':
			if (!cli_parse_long(optarg, 0, 86400, &v))
				return cli_usage("run", "--progress-interval: \"%s\" is not 0 to 86400", optarg);
			opt.progress_interval_s = (int)v;
			break;
		case 's':
			if (!cli_parse_long(optarg, 0, 86400, &v))
				return cli_usage("run", "--max-clock-skew: \"%s\" is not 0 to 86400", optarg);
			opt.max_clock_skew_s = (int)v;
			break;
		case 'j':
			if (!cli_parse_long(optarg, 1, ENGINE_JOBS_MAX, &v))
				return cli_usage("run", "--jobs: \"%s\" is not 1 to %d", optarg,
				                 ENGINE_JOBS_MAX);
			opt.jobs = (int)v;
			break;
		case 'm':
			if (optarg[0] == '\0')
				return cli_usage("run", "--metrics-file: the path is empty");
			metrics_path = optarg;
			break;
		case 'h':
			help();
			return 0;
		default:
			return cli_bad_option("run", c, argv);
		}
	}
	log_set_dry_run(opt.dry_run);
	opt.conninfo = a.conninfo;

	/* From here on every outcome, refusals included, reaches the metrics. */
	if (optind < argc) {
		exit_code = cli_usage("run", "unexpected argument \"%s\"", argv[optind]);
		goto finish;
	}
	if (a.policy_path == NULL || a.report_dir == NULL) {
		exit_code = cli_usage("run", "--policy and --report-dir are required");
		goto finish;
	}
	if (opt.as_of && !opt.dry_run) {
		ret_fail(&err, RET_GUARD, "guard as-of: --as-of is allowed only with --dry-run");
		ret_hint(&err, "a real run always uses the database's clock");
		exit_code = cli_fail(&err);
		goto finish;
	}
	if (a.key_path == NULL && !opt.dry_run) {
		exit_code = cli_usage("run", "--signing-key is required unless --dry-run");
		goto finish;
	}

	/* Stop cleanly on SIGTERM (Kubernetes) and SIGINT; a second signal changes nothing. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	exit_code = run_policy(&a, &opt, &sum);

finish:
	if (metrics_path)
		write_metrics(metrics_path, &opt, &sum, start_s, exit_code);
	free(sum.classes);
	return exit_code;
}
