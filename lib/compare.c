/* Dry run against real run, by key digests. */
#include "compare.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonnum.h"

static const char *
str_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, a);
	const char *v;

	if (b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	v = cJSON_GetStringValue(o);
	return v ? v : "";
}

static void
line(compare_line_fn fn, void *arg, bool differs, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
line(compare_line_fn fn, void *arg, bool differs, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(arg, differs, buf);
}

static const cJSON *
find_class(const cJSON *report, const char *name)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "classes"))
	{
		if (strcmp(str_at(c, "name", NULL), name) == 0)
			return c;
	}
	return NULL;
}

/* Compares one digest ("purged", "archived" or "held") of one class; false when it differs. */
static bool
compare_digest(const char *class_name, const char *what, const cJSON *a, const cJSON *b,
               compare_line_fn fn, void *arg)
{
	const cJSON *da = cJSON_GetObjectItemCaseSensitive(a, what);
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(b, what);
	const cJSON *ra = cJSON_GetObjectItemCaseSensitive(da, "rows");
	const cJSON *rb = cJSON_GetObjectItemCaseSensitive(db, "rows");
	long long na, nb;

	if (!json_long_long(ra, &na) || !json_long_long(rb, &nb)) {
		line(fn, arg, true, "class %s: %s: no digest in %s", class_name, what,
		     cJSON_IsNumber(ra) ? "the real run's report" : "the dry run's report");
		return false;
	}
	if (strcmp(str_at(da, "sha256", NULL), str_at(db, "sha256", NULL)) == 0) {
		line(fn, arg, false, "class %s: %s: match (%lld row%s)", class_name, what, na,
		     na == 1 ? "" : "s");
		return true;
	}
	if (na == nb)
		line(fn, arg, true, "class %s: %s: differ: the same number of rows (%lld) but not the "
		     "same keys", class_name, what, na);
	else
		line(fn, arg, true, "class %s: %s: differ by %lld row%s: dry run %lld, real run %lld",
		     class_name, what, na > nb ? na - nb : nb - na, (na > nb ? na - nb : nb - na) == 1
		     ? "" : "s", na, nb);
	return false;
}

ret_code
compare_reports(const cJSON *dry, const cJSON *real, compare_line_fn fn, void *arg, bool *match,
                ret_error *err)
{
	const cJSON *c;

	*match = true;
	if (strcmp(str_at(dry, "format", NULL), "retention-report") != 0 ||
	    strcmp(str_at(real, "format", NULL), "retention-report") != 0)
		return ret_fail(err, RET_USAGE, "both files must be retention reports");
	if (strcmp(str_at(dry, "policy", "sha256"), str_at(real, "policy", "sha256")) != 0)
		return ret_fail(err, RET_USAGE, "the reports concern different policies (\"%s\" SHA-256 "
		                "%.16s... and \"%s\" SHA-256 %.16s...)", str_at(dry, "policy", "name"),
		                str_at(dry, "policy", "sha256"), str_at(real, "policy", "name"),
		                str_at(real, "policy", "sha256"));
	if (strcmp(str_at(dry, "database", "name"), str_at(real, "database", "name")) != 0 ||
	    strcmp(str_at(dry, "database", "system_identifier"),
	           str_at(real, "database", "system_identifier")) != 0)
		return ret_fail(err, RET_USAGE, "the reports concern different databases (\"%s\" and "
		                "\"%s\")", str_at(dry, "database", "name"),
		                str_at(real, "database", "name"));
	/* A verdict "dry run and real run match" on any other pair would mislead. */
	if (strcmp(str_at(dry, "mode", NULL), "dry-run") != 0 ||
	    strcmp(str_at(real, "mode", NULL), "execute") != 0)
		return ret_fail(err, RET_USAGE, "--compare takes a dry run's report, then an executed"
		                " run's; these are of mode %s, then %s", str_at(dry, "mode", NULL),
		                str_at(real, "mode", NULL));

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(dry, "classes"))
	{
		const char *name = str_at(c, "name", NULL);
		const cJSON *other = find_class(real, name);
		const cJSON *da = cJSON_GetObjectItemCaseSensitive(c, "key_digests");
		const cJSON *db = cJSON_GetObjectItemCaseSensitive(other, "key_digests");

		if (strcmp(str_at(c, "action", NULL), "keep") == 0)
			continue;
		if (other == NULL) {
			line(fn, arg, true, "class %s: not in the real run's report", name);
			*match = false;
			continue;
		}
		if (!cJSON_IsObject(da) || !cJSON_IsObject(db)) {
			line(fn, arg, true, "class %s: no key digests in the %s report (status %s)", name,
			     cJSON_IsObject(da) ? "real run's" : "dry run's",
			     str_at(cJSON_IsObject(da) ? other : c, "status", NULL));
			*match = false;
			continue;
		}
		if (!compare_digest(name, "purged", da, db, fn, arg))
			*match = false;
		if (!compare_digest(name, "archived", da, db, fn, arg))
			*match = false;
		if (!compare_digest(name, "held", da, db, fn, arg))
			*match = false;
	}
	return RET_OK;
}
