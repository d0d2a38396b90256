/*
 * The run's metrics in Prometheus' text format, for the node-exporter
 * textfile collector or a push sidecar. One file belongs to one job: each
 * run replaces it whole, atomically (a temporary file in the same directory,
 * fsynced, then renamed over the old one), so a collector never reads half a
 * file. The time of the last successful run survives failed runs: a failed
 * run reads it from the file it replaces and writes it again, so that an
 * alert can fire when the job has not succeeded for a day.
 *
 * Every series carries the labels policy and mode ("execute" or "dry-run");
 * per-class series add class. The row counts are gauges: what the last run
 * did, not running totals.
 */
#ifndef RETENTION_METRICS_H
#define RETENTION_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define METRICS_FILE_MAX (1024 * 1024) /* a previous file larger than this is not read */

typedef struct metrics_class {
	char name[64];
	int64_t eligible, purged, archived, held, undated;
} metrics_class;

typedef struct metrics_run {
	const char *policy;            /* policy name; NULL or empty when it did not load */
	const char *mode;              /* "execute" or "dry-run" */
	const metrics_class *classes;  /* the classes this run counted */
	int n_classes;
	double duration_s;
	int exit_status;
	int64_t finished_at_s;         /* Unix time */
} metrics_run;

/*
 * The file's text for run m. last_success_s is the Unix time of the last
 * successful run, or a negative number when there never was one (then 0 is
 * written, which makes a "no success for 26 hours" alert fire: the job has
 * never done its work). policy NULL or empty is written as "unknown".
 * Returns a new string the caller frees, or NULL when out of memory.
 */
char *metrics_render(const metrics_run *m, double last_success_s);

/*
 * Finds retention_last_success_timestamp_seconds with label mode equal to
 * mode in a previous file's text. On success fills *value and, when policy
 * is not NULL, the series' policy label (unescaped, truncated to policy_len)
 * and returns true. Malformed lines are skipped.
 */
bool metrics_find_last_success(const char *text, const char *mode, double *value, char *policy,
                               size_t policy_len);

/*
 * Writes m to path atomically. A run with exit status 0 is the last success
 * itself; any other run carries forward the last success found in the file
 * at path (and, when m->policy is unknown, its policy label). The directory
 * must exist. The file is mode 0644 so that a collector running as another
 * user can read it. RET_RUNTIME with the path and the system's reason on
 * failure; the previous file is then untouched.
 */
ret_code metrics_write(const char *path, const metrics_run *m, ret_error *err);

#endif
