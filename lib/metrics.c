/* Prometheus textfile metrics of a run, written atomically (format: lib/metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strbuf.h"

#define LAST_SUCCESS "retention_last_success_timestamp_seconds"

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void
append_label_value(strbuf *sb, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			strbuf_append(sb, "\\\\");
		else if (*v == '"')
			strbuf_append(sb, "\\\"");
		else if (*v == '\n')
			strbuf_append(sb, "\\n");
		else
			strbuf_appendf(sb, "%c", *v);
	}
}

/* "name{policy=...,mode=...[,class=...]} " */
static void
append_series(strbuf *sb, const char *name, const char *policy, const char *mode,
              const char *class_name)
{
	strbuf_appendf(sb, "%s{policy=\"", name);
	append_label_value(sb, policy);
	strbuf_append(sb, "\",mode=\"");
	append_label_value(sb, mode);
	if (class_name) {
		strbuf_append(sb, "\",class=\"");
		append_label_value(sb, class_name);
	}
	strbuf_append(sb, "\"} ");
}

static void
append_family(strbuf *sb, const char *name, const char *help)
{
	strbuf_appendf(sb, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

char *
metrics_render(const metrics_run *m, double last_success_s)
{
	static const struct {
		const char *name;
		const char *help;
	} per_class[] = {
		{"retention_rows_purged", "Rows the last run deleted, per class."},
		{"retention_rows_archived", "Rows the last run moved to the archive, per class."},
		{"retention_rows_held", "Rows past retention that open holds kept, per class."},
		{"retention_rows_eligible", "Rows past retention and not held when the run counted."},
		{"retention_rows_undated", "Rows without a usable timestamp, never removed."},
	};
	const char *policy = m->policy && m->policy[0] ? m->policy : "unknown";
	strbuf sb = {0};

	for (size_t f = 0; f < sizeof(per_class) / sizeof(per_class[0]); f++) {
		append_family(&sb, per_class[f].name, per_class[f].help);
		for (int i = 0; i < m->n_classes; i++) {
			const metrics_class *c = &m->classes[i];
			int64_t v = f == 0 ? c->purged
			            : f == 1 ? c->archived
			            : f == 2 ? c->held
			            : f == 3 ? c->eligible
			                     : c->undated;

			append_series(&sb, per_class[f].name, policy, m->mode, c->name);
			strbuf_appendf(&sb, "%lld\n", (long long)v);
		}
	}
	append_family(&sb, "retention_run_duration_seconds", "How long the last run took.");
	append_series(&sb, "retention_run_duration_seconds", policy, m->mode, NULL);
	strbuf_appendf(&sb, "%.3f\n", m->duration_s);
	append_family(&sb, "retention_run_exit_status",
	              "Exit status of the last run: 0 success, 1 runtime failure or interrupted, "
	              "2 usage or policy error, 3 a guard refused, 75 another run held the lock.");
	append_series(&sb, "retention_run_exit_status", policy, m->mode, NULL);
	strbuf_appendf(&sb, "%d\n", m->exit_status);
	append_family(&sb, LAST_SUCCESS,
	              "Unix time at which the last successful run ended (0: none yet).");
	append_series(&sb, LAST_SUCCESS, policy, m->mode, NULL);
	strbuf_appendf(&sb, "%.0f\n", last_success_s < 0 ? 0.0 : last_success_s);
	append_family(&sb, "retention_last_run_timestamp_seconds",
	              "Unix time at which the last run ended, whatever its outcome.");
	append_series(&sb, "retention_last_run_timestamp_seconds", policy, m->mode, NULL);
	strbuf_appendf(&sb, "%lld\n", (long long)m->finished_at_s);
	return strbuf_take(&sb);
}

/*
 * Reads one quoted label value at *p (just after the opening quote) into buf,
 * undoing the escapes; leaves *p after the closing quote. False if unclosed.
 */
static bool
read_label_value(const char **p, char *buf, size_t len)
{
	const char *s = *p;
	size_t n = 0;

	while (*s && *s != '"' && *s != '\n') {
		char c = *s++;

		if (c == '\\') {
			if (*s == 'n')
				c = '\n';
			else if (*s == '\\' || *s == '"')
				c = *s;
			else
				return false;
			s++;
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
	if (*s != '"')
		return false;
	buf[n] = '\0';
	*p = s + 1;
	return true;
}

/* Parses one "name{labels} value" line of LAST_SUCCESS; false when it is not one. */
static bool
parse_last_success(const char *line, char *mode, size_t mode_len, char *policy,
                   size_t policy_len, double *value)
{
	const char *p = line;
	char *end;

	if (strncmp(p, LAST_SUCCESS "{", strlen(LAST_SUCCESS) + 1) != 0)
		return false;
	p += strlen(LAST_SUCCESS) + 1;
	mode[0] = policy[0] = '\0';
	while (*p != '}') {
		char name[32], v[256];
		size_t n = 0;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '}')
			break;
		while (*p && *p != '=' && *p != '\n' && n + 1 < sizeof(name))
			name[n++] = *p++;
		name[n] = '\0';
		if (p[0] != '=' || p[1] != '"')
			return false;
		p += 2;
		if (!read_label_value(&p, v, sizeof(v)))
			return false;
		if (strcmp(name, "mode") == 0)
			snprintf(mode, mode_len, "%s", v);
		else if (strcmp(name, "policy") == 0)
			snprintf(policy, policy_len, "%s", v);
	}
	p++;
	if (*p != ' ' && *p != '\t')
		return false;
	errno = 0;
	*value = strtod(p, &end);
	return errno == 0 && end != p && (*end == '\0' || *end == '\n' || *end == ' ');
}

bool
metrics_find_last_success(const char *text, const char *mode, double *value, char *policy,
                          size_t policy_len)
{
	const char *line = text;

	while (line && *line) {
		char m[32], pol[256];
		double v;

		if (parse_last_success(line, m, sizeof(m), pol, sizeof(pol), &v) &&
		    strcmp(m, mode) == 0) {
			*value = v;
			if (policy)
				snprintf(policy, policy_len, "%s", pol);
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* The previous file's text, or NULL when there is none or it cannot be read. */
static char *
read_previous(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t got;

	if (f == NULL)
		return NULL;
	buf = malloc(METRICS_FILE_MAX + 1);
	if (buf != NULL) {
		got = fread(buf, 1, METRICS_FILE_MAX, f);
		buf[got] = '\0';
	}
	fclose(f);
	return buf;
}

static ret_code
write_all(int fd, const char *text, const char *what, ret_error *err)
{
	size_t left = strlen(text);

	while (left > 0) {
		ssize_t n = write(fd, text, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ret_fail(err, RET_RUNTIME, "%s: cannot write: %s", what, strerror(errno));
		text += n;
		left -= (size_t)n;
	}
	return RET_OK;
}

ret_code
metrics_write(const char *path, const metrics_run *m, ret_error *err)
{
	char dir[4096], tmp[4096 + 16];
	char prev_policy[256] = "";
	const char *slash = strrchr(path, '/');
	double last_success = -1;
	metrics_run run = *m;
	char *prev = NULL, *text = NULL;
	ret_code rc = RET_OK;
	int fd = -1, dfd = -1;

	/* The temporary name starts with a dot and ends without ".prom": no collector reads it. */
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (slash != NULL && slash[1] == '\0')
		return ret_fail(err, RET_USAGE, "%s: the metrics file needs a file name", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, slash ? slash + 1 : path) >=
	    sizeof(tmp))
		return ret_fail(err, RET_USAGE, "%s: path too long", path);

	/* This run is the last success, or the previous file says when it was. */
	if (m->exit_status == 0) {
		last_success = (double)m->finished_at_s;
	} else {
		prev = read_previous(path);
		if (prev && metrics_find_last_success(prev, m->mode, &last_success, prev_policy,
		                                      sizeof(prev_policy)) &&
		    (m->policy == NULL || m->policy[0] == '\0') && prev_policy[0])
			run.policy = prev_policy;
	}
	text = metrics_render(&run, last_success);
	if (text == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}

	/* Temporary file, made durable, then renamed over the old one. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = ret_fail(err, RET_RUNTIME, "%s: cannot create a temporary file in %s: %s", path,
		              dir, strerror(errno));
		tmp[0] = '\0';
		goto done;
	}
	if (fchmod(fd, 0644) != 0) {
		rc = ret_fail(err, RET_RUNTIME, "%s: chmod failed: %s", tmp, strerror(errno));
		goto done;
	}
	if ((rc = write_all(fd, text, tmp, err)) != RET_OK)
		goto done;
	if (fsync(fd) != 0) {
		rc = ret_fail(err, RET_RUNTIME, "%s: fsync failed: %s", tmp, strerror(errno));
		goto done;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = ret_fail(err, RET_RUNTIME, "%s: close failed: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = ret_fail(err, RET_RUNTIME, "%s: cannot rename %s over it: %s", path, tmp,
		              strerror(errno));
		goto done;
	}
	tmp[0] = '\0';

	/* The new name survives a crash only once the directory is on disk too. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || fsync(dfd) != 0)
		rc = ret_fail(err, RET_RUNTIME, "%s: directory fsync failed: %s", dir, strerror(errno));

done:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp[0])
		unlink(tmp);
	free(text);
	free(prev);
	return rc;
}
