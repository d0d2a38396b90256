/* The stderr logger: text for a person at a terminal, JSON lines for a collector. */
#include "log.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool log_json;
static bool log_dry;
static char log_run_id[40];

static const char *
level_name(log_level level)
{
	switch (level) {
	case LOG_DEBUG:
		return "debug";
	case LOG_INFO:
		return "info";
	case LOG_WARNING:
		return "warning";
	case LOG_ERROR:
		return "error";
	}
	return "info";
}

void
log_init(void)
{
	const char *forced = getenv("RETENTION_LOG_FORMAT");

	if (forced != NULL && strcmp(forced, "json") == 0)
		log_json = true;
	else if (forced != NULL && strcmp(forced, "text") == 0)
		log_json = false;
	else
		log_json = !isatty(STDERR_FILENO);
}

void
log_set_run_id(const char *run_id)
{
	snprintf(log_run_id, sizeof(log_run_id), "%s", run_id ? run_id : "");
}

void
log_set_dry_run(bool dry_run)
{
	log_dry = dry_run;
}

static void
now_iso(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/*
 * Writes one line; obj (JSON mode) receives the common fields and is freed.
 * stderr stays locked for the whole line and its detail lines, so that the
 * workers of a --jobs run never interleave parts of lines.
 */
static void
emit(log_level level, const char *class_name, const char *message, cJSON *obj, const char *tail)
{
	char when[40];

	now_iso(when, sizeof(when));
	flockfile(stderr);
	if (log_json) {
		cJSON *line = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(line, "time", when);
		cJSON_AddStringToObject(line, "level", level_name(level));
		if (log_run_id[0])
			cJSON_AddStringToObject(line, "run_id", log_run_id);
		if (log_dry)
			cJSON_AddBoolToObject(line, "dry_run", true);
		if (class_name)
			cJSON_AddStringToObject(line, "class", class_name);
		cJSON_AddStringToObject(line, "message", message);
		if (obj) {
			cJSON *item = obj->child;

			while (item) {
				cJSON *next = item->next;

				cJSON_DetachItemViaPointer(obj, item);
				cJSON_AddItemToObject(line, item->string, item);
				item = next;
			}
		}
		text = cJSON_PrintUnformatted(line);
		if (text) {
			fprintf(stderr, "%s\n", text);
			cJSON_free(text);
		}
		cJSON_Delete(line);
	} else {
		char prefix[80];
		const char *line = tail;

		/* The detail lines repeat the prefix, so grepping for a run finds all of them. */
		snprintf(prefix, sizeof(prefix), "%s %s%s%.8s%s", when, log_dry ? "[DRY-RUN] " : "",
		         log_run_id[0] ? "[" : "", log_run_id, log_run_id[0] ? "]" : "");
		fprintf(stderr, "%s %s%s%s%s%s\n", prefix,
		        level == LOG_INFO ? "" : level_name(level), level == LOG_INFO ? "" : ": ",
		        class_name ? class_name : "", class_name ? ": " : "", message);
		while (line && line[0]) {
			const char *nl = strchr(line, '\n');
			int n = nl ? (int)(nl - line) : (int)strlen(line);

			fprintf(stderr, "%s %.*s\n", prefix, n, line);
			line = nl ? nl + 1 : NULL;
		}
	}
	fflush(stderr);
	funlockfile(stderr);
	cJSON_Delete(obj);
}

void
log_msg(log_level level, const char *class_name, const char *fmt, ...)
{
	char message[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	emit(level, class_name, message, NULL, NULL);
}

void
log_error_detail(const char *class_name, const char *message, const char *hint,
                 const char *sqlstate)
{
	cJSON *obj = cJSON_CreateObject();
	char tail[1024] = "";

	if (hint && hint[0]) {
		cJSON_AddStringToObject(obj, "hint", hint);
		snprintf(tail, sizeof(tail), "  hint: %s\n", hint);
	}
	if (sqlstate && sqlstate[0]) {
		size_t used = strlen(tail);

		cJSON_AddStringToObject(obj, "sqlstate", sqlstate);
		snprintf(tail + used, sizeof(tail) - used, "  sqlstate: %s\n", sqlstate);
	}
	emit(LOG_ERROR, class_name, message, obj, tail);
}

void
log_counts(log_level level, const char *class_name, const char *message, int64_t eligible,
           int64_t purged, int64_t archived, int64_t held, int64_t undated)
{
	char text[1024];
	cJSON *obj = cJSON_CreateObject();

	cJSON_AddNumberToObject(obj, "eligible", (double)eligible);
	cJSON_AddNumberToObject(obj, "purged", (double)purged);
	cJSON_AddNumberToObject(obj, "archived", (double)archived);
	cJSON_AddNumberToObject(obj, "held", (double)held);
	cJSON_AddNumberToObject(obj, "undated", (double)undated);
	snprintf(text, sizeof(text),
	         "%s (eligible %lld, purged %lld, archived %lld, held %lld, undated %lld)", message,
	         (long long)eligible, (long long)purged, (long long)archived, (long long)held,
	         (long long)undated);
	emit(level, class_name, log_json ? message : text, obj, NULL);
}

void
log_progress(const char *class_name, int64_t rows_done, int64_t rows_expected,
             double rows_per_second, double seconds_left)
{
	char text[512];
	cJSON *obj = cJSON_CreateObject();

	cJSON_AddNumberToObject(obj, "rows_done", (double)rows_done);
	cJSON_AddNumberToObject(obj, "rows_expected", (double)rows_expected);
	cJSON_AddNumberToObject(obj, "rows_per_second", rows_per_second);
	if (seconds_left >= 0)
		cJSON_AddNumberToObject(obj, "seconds_left", seconds_left);
	snprintf(text, sizeof(text), "progress: %lld of %lld rows, %.0f rows/s, %s%.0f s left",
	         (long long)rows_done, (long long)rows_expected, rows_per_second,
	         seconds_left < 0 ? "unknown, " : "", seconds_left < 0 ? 0.0 : seconds_left);
	emit(LOG_INFO, class_name, log_json ? "progress" : text, obj, NULL);
}
