/*
 * Text and HTML renderings of a report. Both are written through one small
 * document model (headings, key-value lines, tables, paragraphs), so that the
 * two formats always say the same things.
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonnum.h"
#include "strbuf.h"

#define MAX_COLS 12

typedef struct doc {
	render_format format;
	strbuf out;
	/* The table being built: text tables need every row before the first is written. */
	int ncols;
	char **cells; /* rows * ncols, owned */
	int nrows, cap_rows;
	bool numeric[MAX_COLS];
	bool in_kv;
} doc;

void
render_html_escape(strbuf *sb, const char *text)
{
	char one[2] = {0, 0};

	for (const char *p = text; *p; p++) {
		switch (*p) {
		case '&':
			strbuf_append(sb, "&amp;");
			break;
		case '<':
			strbuf_append(sb, "&lt;");
			break;
		case '>':
			strbuf_append(sb, "&gt;");
			break;
		case '"':
			strbuf_append(sb, "&quot;");
			break;
		case '\'':
			strbuf_append(sb, "&#39;");
			break;
		default:
			one[0] = *p;
			strbuf_append(sb, one);
		}
	}
}

static void
end_kv(doc *d)
{
	if (!d->in_kv)
		return;
	strbuf_append(&d->out, d->format == RENDER_HTML ? "</table>\n" : "");
	d->in_kv = false;
}

static void
heading(doc *d, const char *text)
{
	end_kv(d);
	if (d->format == RENDER_HTML) {
		strbuf_append(&d->out, "<h2>");
		render_html_escape(&d->out, text);
		strbuf_append(&d->out, "</h2>\n");
	} else {
		size_t n = strlen(text);

		strbuf_appendf(&d->out, "\n%s\n", text);
		for (size_t i = 0; i < n; i++)
			strbuf_append(&d->out, "-");
		strbuf_append(&d->out, "\n");
	}
}

/* A line of the run's particulars; css names a status class for the value (HTML only). */
static void
kv(doc *d, const char *key, const char *value, const char *css)
{
	if (d->format == RENDER_HTML) {
		if (!d->in_kv)
			strbuf_append(&d->out, "<table class=\"kv\">\n");
		strbuf_append(&d->out, "<tr><th>");
		render_html_escape(&d->out, key);
		strbuf_appendf(&d->out, "</th><td%s%s%s>", css ? " class=\"" : "", css ? css : "",
		               css ? "\"" : "");
		render_html_escape(&d->out, value);
		strbuf_append(&d->out, "</td></tr>\n");
	} else {
		strbuf_appendf(&d->out, "%-20s %s\n", key, value);
	}
	d->in_kv = true;
}

static void
para(doc *d, const char *text)
{
	end_kv(d);
	if (d->format == RENDER_HTML) {
		strbuf_append(&d->out, "<p>");
		render_html_escape(&d->out, text);
		strbuf_append(&d->out, "</p>\n");
	} else {
		strbuf_appendf(&d->out, "%s\n", text);
	}
}

/* Makes room for one more row; false when out of memory. */
static bool
room_for_row(doc *d)
{
	int want;
	char **p;

	if (d->nrows < d->cap_rows)
		return true;
	want = d->cap_rows ? d->cap_rows * 2 : 16;
	p = realloc(d->cells, (size_t)want * MAX_COLS * sizeof(char *));
	if (p == NULL)
		return false;
	d->cells = p;
	d->cap_rows = want;
	return true;
}

static void
table_row(doc *d, const char *const *cells)
{
	if (!room_for_row(d))
		return;
	for (int c = 0; c < d->ncols; c++)
		d->cells[d->nrows * d->ncols + c] = strdup(cells[c] ? cells[c] : "");
	d->nrows++;
}

/* Starts a table, its header as row 0; a header starting with '#' marks a numeric column. */
static void
table_start(doc *d, int ncols, const char *const *headers)
{
	const char *names[MAX_COLS];

	end_kv(d);
	d->ncols = ncols;
	d->nrows = 0;
	for (int c = 0; c < ncols; c++) {
		d->numeric[c] = headers[c][0] == '#';
		names[c] = headers[c] + (d->numeric[c] ? 1 : 0);
	}
	table_row(d, names);
}

static void
table_end(doc *d)
{
	size_t width[MAX_COLS] = {0};

	if (d->format == RENDER_HTML) {
		strbuf_append(&d->out, "<table class=\"grid\">\n");
		for (int r = 0; r < d->nrows; r++) {
			strbuf_append(&d->out, r == 0 ? "<thead><tr>" : "<tr>");
			for (int c = 0; c < d->ncols; c++) {
				const char *cell = d->cells[r * d->ncols + c];

				strbuf_appendf(&d->out, "<%s%s>", r == 0 ? "th" : "td",
				               d->numeric[c] ? " class=\"num\"" : "");
				render_html_escape(&d->out, cell ? cell : "");
				strbuf_appendf(&d->out, "</%s>", r == 0 ? "th" : "td");
			}
			strbuf_append(&d->out, r == 0 ? "</tr></thead>\n<tbody>\n" : "</tr>\n");
		}
		strbuf_append(&d->out, "</tbody></table>\n");
	} else {
		for (int r = 0; r < d->nrows; r++)
			for (int c = 0; c < d->ncols; c++) {
				const char *cell = d->cells[r * d->ncols + c];
				size_t n = cell ? strlen(cell) : 0;

				if (n > width[c])
					width[c] = n;
			}
		for (int r = 0; r < d->nrows; r++) {
			strbuf_append(&d->out, "  ");
			for (int c = 0; c < d->ncols; c++) {
				const char *cell = d->cells[r * d->ncols + c];
				bool last = c == d->ncols - 1;

				if (d->numeric[c])
					strbuf_appendf(&d->out, "%*s%s", (int)width[c], cell ? cell : "",
					               last ? "" : "  ");
				else
					strbuf_appendf(&d->out, "%-*s%s", last ? 0 : (int)width[c],
					               cell ? cell : "", last ? "" : "  ");
			}
			strbuf_append(&d->out, "\n");
		}
	}
	for (int i = 0; i < d->nrows * d->ncols; i++)
		free(d->cells[i]);
	d->nrows = 0;
	d->ncols = 0;
}

static const char *
jstr(const cJSON *obj, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));

	return v ? v : "";
}

/* A number of the report as text ("" when absent). */
static const char *
jnum(const cJSON *obj, const char *name, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	long long n;

	if (!json_long_long(v, &n)) {
		snprintf(buf, len, "%s", cJSON_IsNull(v) || v == NULL ? "" : "?");
		return buf;
	}
	snprintf(buf, len, "%lld", n);
	return buf;
}

static const char *
sig_css(report_sig_status sig)
{
	switch (sig) {
	case REPORT_SIG_VALID:
		return "good";
	case REPORT_SIG_NOT_CHECKED:
		return "warn";
	default:
		return "bad";
	}
}

static void
run_section(doc *d, const cJSON *r, const char *file_name, report_sig_status sig,
            const char *sig_detail)
{
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(r, "policy");
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(r, "database");
	const char *status = jstr(r, "status");
	char line[1024], n1[32], n2[32];

	kv(d, "Report", file_name, NULL);
	kv(d, "Signature", sig_detail, sig_css(sig));
	snprintf(line, sizeof(line), "%s (%s)", jstr(r, "run_id"), jstr(r, "mode"));
	kv(d, "Run", line, NULL);
	snprintf(line, sizeof(line), "%s, exit status %s", status, jnum(r, "exit_code", n1,
	                                                                 sizeof(n1)));
	kv(d, "Outcome", line, strcmp(status, "success") == 0 ? "good" : "bad");
	snprintf(line, sizeof(line), "%s to %s", jstr(r, "started_at"), jstr(r, "finished_at"));
	kv(d, "Ran", line, NULL);
	kv(d, "As of", jstr(r, "as_of"), NULL);
	snprintf(line, sizeof(line), "%s version %s (SHA-256 %s), time zone %s", jstr(pol, "name"),
	         jnum(pol, "version", n1, sizeof(n1)), jstr(pol, "sha256"), jstr(pol, "timezone"));
	kv(d, "Policy", line, NULL);
	snprintf(line, sizeof(line), "%s (system %s, PostgreSQL %s) as %s", jstr(db, "name"),
	         jstr(db, "system_identifier"), jstr(db, "server_version"), jstr(db, "user"));
	kv(d, "Database", line, NULL);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "sequence")))
		snprintf(line, sizeof(line), "sequence %s, previous report SHA-256 %s",
		         jnum(r, "sequence", n2, sizeof(n2)),
		         jstr(r, "previous_report_sha256")[0] ? jstr(r, "previous_report_sha256")
		                                               : "none (first of the chain)");
	else
		snprintf(line, sizeof(line), "%s", strcmp(jstr(r, "mode"), "dry-run") == 0
		                                       ? "dry run: outside the chain"
		                                       : "never reached the ledger: outside the chain");
	kv(d, "Chain", line, NULL);
	kv(d, "Signing key", jstr(r, "key_fingerprint")[0] ? jstr(r, "key_fingerprint") : "none",
	   NULL);
}

static void
classes_section(doc *d, const cJSON *r)
{
	static const char *const headers[] = {"class",    "action",   "retain", "cutoff",
	                                      "status",   "#total",   "#purged", "#archived",
	                                      "#held",    "#undated", "#pinned"};
	static const char *const dheaders[] = {"class", "keys", "#rows", "SHA-256"};
	const cJSON *c;
	bool dry = strcmp(jstr(r, "mode"), "dry-run") == 0;

	heading(d, dry ? "Classes (dry run: nothing removed; eligible rows would be)" : "Classes");
	table_start(d, 11, headers);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "classes"))
	{
		char t[32], p[32], a[32], h[32], u[32], n[32];
		const char *cells[11] = {jstr(c, "name"), jstr(c, "action"), jstr(c, "retain"),
		                         jstr(c, "cutoff"), jstr(c, "status"),
		                         jnum(c, "total", t, sizeof(t)), jnum(c, "purged", p, sizeof(p)),
		                         jnum(c, "archived", a, sizeof(a)), jnum(c, "held", h, sizeof(h)),
		                         jnum(c, "undated", u, sizeof(u)),
		                         jnum(c, "pinned", n, sizeof(n))};

		/* A keep class is never read: zeros there would read as an empty table. */
		if (strcmp(jstr(c, "action"), "keep") == 0)
			for (int i = 5; i < 11; i++)
				cells[i] = "-";
		table_row(d, cells);
	}
	table_end(d);
	if (dry) {
		char line[256];
		const char *sep = "";
		strbuf sb = {0};

		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "classes"))
		{
			char e[32];

			strbuf_appendf(&sb, "%s%s %s", sep, jstr(c, "name"), jnum(c, "eligible", e,
			                                                           sizeof(e)));
			sep = ", ";
		}
		snprintf(line, sizeof(line), "Eligible rows: %s.", sb.data ? sb.data : "none");
		strbuf_free(&sb);
		para(d, line);
	}

	heading(d, "Key digests (SHA-256 over the sorted keys, one a line)");
	table_start(d, 4, dheaders);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "classes"))
	{
		const cJSON *kd = cJSON_GetObjectItemCaseSensitive(c, "key_digests");
		const char *kinds[2] = {strcmp(jstr(c, "action"), "archive") == 0 ? "archived"
		                                                                   : "purged",
		                        "held"};

		if (!cJSON_IsObject(kd))
			continue;
		for (int k = 0; k < 2; k++) {
			const cJSON *dg = cJSON_GetObjectItemCaseSensitive(kd, kinds[k]);
			char rows[32], what[64];
			const char *cells[4];

			if (!cJSON_IsObject(dg))
				continue;
			snprintf(what, sizeof(what), "%s%s", dry && k == 0 ? "would be " : "", kinds[k]);
			cells[0] = jstr(c, "name");
			cells[1] = what;
			cells[2] = jnum(dg, "rows", rows, sizeof(rows));
			cells[3] = jstr(dg, "sha256");
			table_row(d, cells);
		}
	}
	table_end(d);
}

static void
holds_section(doc *d, const cJSON *r)
{
	static const char *const headers[] = {"ticket", "match", "scope", "counted in", "added",
	                                      "by", "reason", "#rows kept"};
	static const char *const rheaders[] = {"ticket", "match", "scope", "released", "by",
	                                       "reason"};
	const cJSON *t, *m;
	const cJSON *released = cJSON_GetObjectItemCaseSensitive(r, "holds_released");
	char line[256];

	heading(d, "Holds open at the end of the run");
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "holds")) == 0) {
		para(d, "No open hold.");
	} else {
		table_start(d, 8, headers);
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "holds"))
		{
			cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(t, "matches"))
			{
				char match[400], rows[32];
				const char *cells[8];

				snprintf(match, sizeof(match), "%s=%s", jstr(m, "match_column"),
				         jstr(m, "match_value"));
				cells[0] = jstr(t, "ticket");
				cells[1] = match;
				cells[2] = jstr(m, "hold_class")[0] ? jstr(m, "hold_class") : "every class";
				cells[3] = jstr(m, "class")[0] ? jstr(m, "class") : "(no class matches)";
				cells[4] = jstr(m, "created_at");
				cells[5] = jstr(m, "created_by");
				cells[6] = jstr(m, "reason");
				cells[7] = jnum(m, "rows_held", rows, sizeof(rows));
				table_row(d, cells);
			}
		}
		table_end(d);
	}

	if (!cJSON_IsArray(released))
		return;
	if (jstr(r, "holds_released_since")[0])
		snprintf(line, sizeof(line), "Holds released since the previous run (started %s)",
		         jstr(r, "holds_released_since"));
	else
		snprintf(line, sizeof(line), "Holds released (no previous run of this policy)");
	heading(d, line);
	if (cJSON_GetArraySize(released) == 0) {
		para(d, "None.");
		return;
	}
	table_start(d, 6, rheaders);
	cJSON_ArrayForEach(m, released)
	{
		char match[400];
		const char *cells[6];

		snprintf(match, sizeof(match), "%s=%s", jstr(m, "match_column"), jstr(m, "match_value"));
		cells[0] = jstr(m, "ticket");
		cells[1] = match;
		cells[2] = jstr(m, "hold_class")[0] ? jstr(m, "hold_class") : "every class";
		cells[3] = jstr(m, "released_at");
		cells[4] = jstr(m, "released_by");
		cells[5] = jstr(m, "reason");
		table_row(d, cells);
	}
	table_end(d);
}

static void
segments_section(doc *d, const cJSON *r)
{
	static const char *const headers[] = {"class", "segment", "#batch", "#rows", "#bytes",
	                                      "SHA-256"};
	static const char *const gheaders[] = {"class", "guard", "detail"};
	const cJSON *segs = cJSON_GetObjectItemCaseSensitive(r, "archive_segments");
	const cJSON *s;
	char line[128];

	snprintf(line, sizeof(line), "Archive segments (%d)", cJSON_GetArraySize(segs));
	heading(d, line);
	if (cJSON_GetArraySize(segs) == 0) {
		para(d, "None written by this run.");
	} else {
		table_start(d, 6, headers);
		cJSON_ArrayForEach(s, segs)
		{
			char b[32], n[32], y[32];
			const char *slash = strrchr(jstr(s, "path"), '/');
			const char *cells[6] = {jstr(s, "class"), slash ? slash + 1 : jstr(s, "path"),
			                        jnum(s, "batch", b, sizeof(b)), jnum(s, "rows", n, sizeof(n)),
			                        jnum(s, "bytes", y, sizeof(y)), jstr(s, "sha256")};

			table_row(d, cells);
		}
		table_end(d);
	}
	/* Each in full: the sign-off must name every file set aside, and where it is now. */
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "orphaned_segments"))
	{
		char orphan[1400];

		snprintf(orphan, sizeof(orphan), "Set aside (never committed): %s, now %s%s%s%s",
		         jstr(s, "path"), jstr(s, "moved_to"),
		         jstr(s, "set_aside_by")[0] ? " (first set aside by run " : "",
		         jstr(s, "set_aside_by"),
		         jstr(s, "set_aside_by")[0] ? ", which recorded no report)" : "");
		para(d, orphan);
	}

	heading(d, "Guards");
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "guards")) == 0) {
		para(d, "No guard fired.");
	} else {
		table_start(d, 3, gheaders);
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "guards"))
		{
			const char *cells[3] = {jstr(s, "class")[0] ? jstr(s, "class") : "(run)",
			                        jstr(s, "guard"), jstr(s, "detail")};

			table_row(d, cells);
		}
		table_end(d);
	}
}

/* Partitions a class removed whole, or tried to, with their rows and outcome. */
static void
partitions_section(doc *d, const cJSON *r)
{
	static const char *const headers[] = {"class", "partition", "#rows", "outcome", "reason"};
	const cJSON *c, *p;
	int n = 0;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "classes"))
		n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "partitions"));
	if (n == 0)
		return;
	heading(d, "Partitions removed whole");
	table_start(d, 5, headers);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "classes"))
	{
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "partitions"))
		{
			char rows[32];
			const char *cells[5] = {jstr(c, "name"), jstr(p, "name"),
			                        jnum(p, "rows", rows, sizeof(rows)), jstr(p, "outcome"),
			                        jstr(p, "reason")};

			table_row(d, cells);
		}
	}
	table_end(d);
}

/*
 * Runs that ended without a report (killed, or their database went away)
 * and what their committed batches removed per class, from the batch ledger.
 */
static void
unfinished_section(doc *d, const cJSON *r)
{
	static const char *const headers[] = {"run", "class", "#purged", "#archived", "#batches"};
	const cJSON *runs = cJSON_GetObjectItemCaseSensitive(r, "unfinished_runs");
	const cJSON *removed = cJSON_GetObjectItemCaseSensitive(r, "unfinished_runs_removed");
	const cJSON *u, *c;

	if (cJSON_GetArraySize(runs) == 0)
		return;
	heading(d, "Runs without a report");
	if (!cJSON_IsArray(removed)) {
		para(d, "What these runs removed was not read from the batch ledger (see the "
		        "warnings).");
		cJSON_ArrayForEach(u, runs)
		{
			para(d, u->valuestring ? u->valuestring : "");
		}
		return;
	}
	table_start(d, 5, headers);
	cJSON_ArrayForEach(u, removed)
	{
		const char *none[5] = {jstr(u, "run_id"), "(no batch committed)", "0", "0", "0"};

		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "classes")) == 0)
			table_row(d, none);
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(u, "classes"))
		{
			char p[32], a[32], b[32];
			const char *cells[5] = {jstr(u, "run_id"), jstr(c, "class"),
			                        jnum(c, "purged", p, sizeof(p)),
			                        jnum(c, "archived", a, sizeof(a)),
			                        jnum(c, "batches", b, sizeof(b))};

			table_row(d, cells);
		}
	}
	table_end(d);
}

static void
notes_section(doc *d, const cJSON *r)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
	const cJSON *w;

	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "warnings")) == 0 &&
	    !cJSON_IsObject(err))
		return;
	heading(d, "Errors and warnings");
	if (cJSON_IsObject(err)) {
		char line[1200];

		snprintf(line, sizeof(line), "Error: %s%s%s", jstr(err, "message"),
		         jstr(err, "hint")[0] ? " Hint: " : "", jstr(err, "hint"));
		para(d, line);
	}
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(r, "warnings"))
	{
		char line[1100];

		snprintf(line, sizeof(line), "Warning: %s", w->valuestring ? w->valuestring : "");
		para(d, line);
	}
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>%s</title>\n<style>\n"
	"body{font:13px/1.4 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#111;"
	"margin:24px auto;max-width:1100px;padding:0 16px}\n"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px;"
	"border-bottom:1px solid #999;padding-bottom:2px}\n"
	".sub{color:#555;margin:0 0 14px}\n"
	"table{border-collapse:collapse;margin:4px 0 8px}\n"
	"table.kv th{text-align:left;font-weight:600;padding:2px 14px 2px 0;vertical-align:top;"
	"white-space:nowrap}\n"
	"table.kv td{padding:2px 0;word-break:break-all}\n"
	"table.grid{width:100%%}\n"
	"table.grid th,table.grid td{border:1px solid #bbb;padding:3px 6px;text-align:left;"
	"vertical-align:top}\n"
	"table.grid th{background:#eee}\n"
	"table.grid td{word-break:break-word}\n"
	"table.grid td.num,table.grid th.num{text-align:right;font-variant-numeric:tabular-nums;"
	"white-space:nowrap}\n"
	".good{color:#0a6b1f;font-weight:600}.bad{color:#b00020;font-weight:700}"
	".warn{color:#8a5a00;font-weight:600}\n"
	".signoff{margin-top:28px;display:grid;grid-template-columns:repeat(3,1fr);gap:24px}\n"
	".signoff div{border-top:1px solid #333;padding-top:4px;color:#333}\n"
	"@media print{body{margin:0;max-width:none;font-size:10.5px}"
	"@page{size:A4 landscape;margin:12mm}"
	"h2{break-after:avoid}tr,.signoff{break-inside:avoid}thead{display:table-header-group}}\n"
	"</style>\n</head>\n<body>\n";

char *
render_report(const cJSON *report, const char *file_name, report_sig_status sig,
              const char *sig_detail, render_format format)
{
	doc d;
	char title[300];

	memset(&d, 0, sizeof(d));
	d.format = format;
	snprintf(title, sizeof(title), "Retention report: %s, %s",
	         jstr(cJSON_GetObjectItemCaseSensitive(report, "policy"), "name"),
	         jstr(report, "started_at"));
	if (format == RENDER_HTML) {
		strbuf sb = {0};

		render_html_escape(&sb, title);
		strbuf_appendf(&d.out, html_head, sb.data ? sb.data : "");
		strbuf_free(&sb);
		strbuf_append(&d.out, "<h1>");
		render_html_escape(&d.out, title);
		strbuf_append(&d.out, "</h1>\n<p class=\"sub\">Data retention run: evidence for "
		                      "compliance sign-off</p>\n");
	} else {
		strbuf_appendf(&d.out, "%s\nData retention run: evidence for compliance sign-off\n\n",
		               title);
	}

	run_section(&d, report, file_name, sig, sig_detail);
	classes_section(&d, report);
	holds_section(&d, report);
	segments_section(&d, report);
	partitions_section(&d, report);
	unfinished_section(&d, report);
	notes_section(&d, report);

	end_kv(&d);
	if (format == RENDER_HTML)
		strbuf_append(&d.out, "<div class=\"signoff\"><div>Reviewed by</div><div>Date</div>"
		                      "<div>Signature</div></div>\n</body>\n</html>\n");
	else
		strbuf_append(&d.out, "\nReviewed by: ____________________  Date: __________  "
		                      "Signature: ____________________\n");
	free(d.cells);
	return strbuf_take(&d.out);
}
