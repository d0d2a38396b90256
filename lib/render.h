/*
 * A report rendered for compliance sign-off: a plain-text summary or one
 * self-contained HTML page (inline styles, no scripts, no external files)
 * that prints well. Per class the cutoff and the rows purged, archived, held
 * and undated; the key digests; the holds open and released; the archive
 * segments; the guards; and the signature's status as checked on the spot.
 */
#ifndef RETENTION_RENDER_H
#define RETENTION_RENDER_H

#include <cjson/cJSON.h>

#include "report.h"

typedef enum render_format { RENDER_TEXT, RENDER_HTML } render_format;

/*
 * Renders report (as read from file_name) with the signature's status and
 * detail. Returns new text the caller frees, or NULL when out of memory.
 */
char *render_report(const cJSON *report, const char *file_name, report_sig_status sig,
                    const char *sig_detail, render_format format);

/* Appends text to sb with &, <, >, " and ' escaped for HTML. */
struct strbuf;
void render_html_escape(struct strbuf *sb, const char *text);

#endif
