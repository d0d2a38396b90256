/*
 * Log lines on stderr: human text when stderr is a terminal, one JSON object
 * a line otherwise (RETENTION_LOG_FORMAT=text|json overrides). Every line
 * carries the level, the time and the run ID once one is set; dry-run lines
 * say so. Callers must never pass a password or a connection string.
 * log_msg and the other line writers may be called from several threads at
 * once: each line is written whole. log_init and the setters are not.
 */
#ifndef RETENTION_LOG_H
#define RETENTION_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR } log_level;

/* Chooses the format from the environment and stderr; safe to call twice. */
void log_init(void);

/* Sets the run ID (a UUID string, copied) written on every later line. */
void log_set_run_id(const char *run_id);

/* Marks every later line as belonging to a dry run. */
void log_set_dry_run(bool dry_run);

/* One line; class_name may be NULL. */
void log_msg(log_level level, const char *class_name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A line with a detail and a hint, as PostgreSQL's clients print errors. */
void log_error_detail(const char *class_name, const char *message, const char *hint,
                      const char *sqlstate);

/* Counts for one class: eligible, purged, archived, held, undated. */
void log_counts(log_level level, const char *class_name, const char *message, int64_t eligible,
                int64_t purged, int64_t archived, int64_t held, int64_t undated);

/* Progress of long work: rows done of an expected total, rate and time left. */
void log_progress(const char *class_name, int64_t rows_done, int64_t rows_expected,
                  double rows_per_second, double seconds_left);

#endif
