/* Loading and validating a retention policy file (format: policies/README.md). */
#include "policy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sign.h"
#include "strbuf.h"

#define DEFAULT_MAX_FRACTION 0.5
#define DEFAULT_LOCK_TIMEOUT_MS 2000
#define DEFAULT_STATEMENT_TIMEOUT_MS 60000
#define DEFAULT_BATCH_TARGET_MS 500
#define DEFAULT_BATCH_MAX_PAGES 65536

static const char *const top_fields[] = {
	"name", "version", "timezone", "description", "max_fraction", "lock_timeout_ms",
	"statement_timeout_ms", "batch_target_ms", "batch_pause_ms", "batch_max_pages",
	"governed_schemas", "vacuum_after", "classes",
	"$schema", NULL};

static const char *const class_fields[] = {
	"name", "table", "key", "timestamp_column", "action", "retain", "hold_keys",
	"max_fraction", "procedure", "description", "allow_cascade_to", "allow_triggers",
	"vacuum_after", NULL};

const char *
policy_action_name(policy_action action)
{
	switch (action) {
	case ACTION_PURGE:
		return "purge";
	case ACTION_ARCHIVE:
		return "archive";
	case ACTION_KEEP:
		return "keep";
	}
	return "?";
}

bool
policy_identifier_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\0' || isdigit((unsigned char)s[0]) || s[0] == '$')
		return false;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];

		if (!(isascii(c) && (isalnum(c) || c == '_' || c == '$')))
			return false;
	}
	return n < POLICY_NAME_MAX;
}

ret_code
policy_parse_retain(const char *text, policy_retain *out, ret_error *err)
{
	const char *p = text;
	char *end = NULL;
	long amount;
	char unit[16];
	size_t ulen = 0;

	memset(out, 0, sizeof(*out));
	if (strcmp(text, "indefinite") == 0) {
		out->unit = RETAIN_INDEFINITE;
		snprintf(out->text, sizeof(out->text), "indefinite");
		return RET_OK;
	}

	/* An amount: digits only, no sign, no leading blanks. */
	if (!isdigit((unsigned char)*p))
		return ret_fail(err, RET_USAGE,
		                "\"%s\" is not a retention: expected \"N days\", \"N weeks\", "
		                "\"N months\", \"N years\", \"N hours\" or \"indefinite\"",
		                text);
	errno = 0;
	amount = strtol(p, &end, 10);
	if (errno != 0 || amount <= 0 || amount > POLICY_RETAIN_MAX)
		return ret_fail(err, RET_USAGE, "retention amount in \"%s\" must be between 1 and %d",
		                text, POLICY_RETAIN_MAX);
	p = end;

	/* Exactly one space, then a unit, then nothing. */
	if (*p != ' ')
		return ret_fail(err, RET_USAGE,
		                "retention \"%s\" has no unit: write e.g. \"%ld days\"; a bare number "
		                "is never read as any unit",
		                text, amount);
	p++;
	while (isalpha((unsigned char)p[ulen]) && ulen < sizeof(unit) - 1) {
		unit[ulen] = p[ulen];
		ulen++;
	}
	unit[ulen] = '\0';
	if (p[ulen] != '\0')
		return ret_fail(err, RET_USAGE, "retention \"%s\" has unexpected text after the unit",
		                text);

	if (strcmp(unit, "day") == 0 || strcmp(unit, "days") == 0) {
		out->unit = RETAIN_DAYS;
		out->amount = (int)amount;
	} else if (strcmp(unit, "week") == 0 || strcmp(unit, "weeks") == 0) {
		out->unit = RETAIN_DAYS;
		out->amount = (int)amount * 7;
	} else if (strcmp(unit, "month") == 0 || strcmp(unit, "months") == 0) {
		out->unit = RETAIN_MONTHS;
		out->amount = (int)amount;
	} else if (strcmp(unit, "year") == 0 || strcmp(unit, "years") == 0) {
		out->unit = RETAIN_YEARS;
		out->amount = (int)amount;
	} else if (strcmp(unit, "hour") == 0 || strcmp(unit, "hours") == 0) {
		out->unit = RETAIN_HOURS;
		out->amount = (int)amount;
	} else {
		return ret_fail(err, RET_USAGE,
		                "retention \"%s\" has unknown unit \"%s\": use days, weeks, months, "
		                "years or hours",
		                text, unit);
	}
	snprintf(out->text, sizeof(out->text), "%d %s", out->amount,
	         out->unit == RETAIN_DAYS     ? "days"
	         : out->unit == RETAIN_MONTHS ? "months"
	         : out->unit == RETAIN_YEARS  ? "years"
	                                      : "hours");
	return RET_OK;
}

/* Refuses any member of obj not in allowed: a misspelt field must not be ignored. */
static ret_code
check_fields(const cJSON *obj, const char *const *allowed, const char *origin,
             const char *where, ret_error *err)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, obj)
	{
		bool known = false;

		for (int i = 0; allowed[i]; i++)
			if (item->string && strcmp(item->string, allowed[i]) == 0)
				known = true;
		if (!known)
			return ret_fail(err, RET_USAGE, "%s: %s: unknown field \"%s\"", origin, where,
			                item->string ? item->string : "?");
	}
	return RET_OK;
}

/* Copies a required or optional string member into buf (size len). */
static ret_code
get_string(const cJSON *obj, const char *field, bool required, char *buf, size_t len,
           const char *origin, const char *where, ret_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);

	buf[0] = '\0';
	if (item == NULL) {
		if (required)
			return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" is required", origin, where,
			                field);
		return RET_OK;
	}
	if (!cJSON_IsString(item))
		return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" must be a string", origin, where,
		                field);
	if (strlen(item->valuestring) >= len)
		return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" is longer than %zu bytes", origin,
		                where, field, len - 1);
	if (required && item->valuestring[0] == '\0')
		return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" must not be empty", origin, where,
		                field);
	memcpy(buf, item->valuestring, strlen(item->valuestring) + 1);
	return RET_OK;
}

/* An optional integer member in [lo, hi]; absent leaves *out unchanged. */
static ret_code
get_int(const cJSON *obj, const char *field, int lo, int hi, int *out, const char *origin,
        const char *where, ret_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
	double v;

	if (item == NULL)
		return RET_OK;
	if (!cJSON_IsNumber(item))
		return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" must be a number", origin, where,
		                field);
	/* The range first: a cast of 1e99 (or NaN) to an integer type is undefined. */
	v = item->valuedouble;
	if (!(v >= lo && v <= hi) || v != (double)(int)v)
		return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" must be an integer from %d to %d",
		                origin, where, field, lo, hi);
	*out = (int)v;
	return RET_OK;
}

static ret_code
get_fraction(const cJSON *obj, double *out, const char *origin, const char *where,
             ret_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "max_fraction");

	if (item == NULL)
		return RET_OK;
	if (!cJSON_IsNumber(item) || !(item->valuedouble > 0.0 && item->valuedouble <= 1.0))
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"max_fraction\" must be a number above 0 and at most 1",
		                origin, where);
	*out = item->valuedouble;
	return RET_OK;
}

/* Reads the optional boolean "vacuum_after"; *out keeps its value when the field is absent. */
static ret_code
get_vacuum_after(const cJSON *obj, bool *out, const char *origin, const char *where,
                 ret_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "vacuum_after");

	if (item == NULL)
		return RET_OK;
	if (!cJSON_IsBool(item))
		return ret_fail(err, RET_USAGE, "%s: %s: field \"vacuum_after\" must be true or false",
		                origin, where);
	*out = cJSON_IsTrue(item);
	return RET_OK;
}

/*
 * Reads an optional array of strings into rows of width w; qualified says
 * each must be "schema.table", otherwise a plain identifier.
 */
static ret_code
get_list(const cJSON *obj, const char *field, char *rows, size_t w, int *count, bool qualified,
         const char *origin, const char *where, ret_error *err)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, field);
	const cJSON *item;

	*count = 0;
	if (arr == NULL)
		return RET_OK;
	if (!cJSON_IsArray(arr))
		return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" must be an array of strings",
		                origin, where, field);
	cJSON_ArrayForEach(item, arr)
	{
		const char *s;
		char copy[2 * POLICY_NAME_MAX];
		char *dot;

		if (!cJSON_IsString(item))
			return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" must hold only strings",
			                origin, where, field);
		if (*count >= POLICY_LIST_MAX)
			return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" has more than %d entries",
			                origin, where, field, POLICY_LIST_MAX);
		s = item->valuestring;
		if (strlen(s) >= sizeof(copy))
			return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\": name too long", origin,
			                where, field);
		memcpy(copy, s, strlen(s) + 1);
		dot = strchr(copy, '.');
		if (qualified) {
			if (dot == NULL)
				return ret_fail(err, RET_USAGE,
				                "%s: %s: field \"%s\": \"%s\" must be written schema.table",
				                origin, where, field, s);
			*dot = '\0';
			if (!policy_identifier_ok(copy) || !policy_identifier_ok(dot + 1))
				return ret_fail(err, RET_USAGE,
				                "%s: %s: field \"%s\": \"%s\" is not a plain identifier "
				                "(letters, digits, _ and $ only)",
				                origin, where, field, s);
		} else if (!policy_identifier_ok(s)) {
			return ret_fail(err, RET_USAGE,
			                "%s: %s: field \"%s\": \"%s\" is not a plain identifier "
			                "(letters, digits, _ and $ only)",
			                origin, where, field, s);
		}
		for (int i = 0; i < *count; i++)
			if (strcmp(rows + (size_t)i * w, s) == 0)
				return ret_fail(err, RET_USAGE, "%s: %s: field \"%s\" lists \"%s\" twice",
				                origin, where, field, s);
		snprintf(rows + (size_t)(*count) * w, w, "%s", s);
		(*count)++;
	}
	return RET_OK;
}

/* An identifier field: required or optional, and plain. */
static ret_code
get_identifier(const cJSON *obj, const char *field, bool required, char *buf,
               const char *origin, const char *where, ret_error *err)
{
	char tmp[256];
	ret_code rc;

	rc = get_string(obj, field, required, tmp, sizeof(tmp), origin, where, err);
	if (rc != RET_OK)
		return rc;
	if (tmp[0] == '\0') {
		buf[0] = '\0';
		return RET_OK;
	}
	if (!policy_identifier_ok(tmp))
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"%s\": \"%s\" is not a plain identifier (letters, "
		                "digits, _ and $ only, at most 63 bytes)",
		                origin, where, field, tmp);
	snprintf(buf, POLICY_NAME_MAX, "%s", tmp);
	return RET_OK;
}

static ret_code
parse_class(const cJSON *obj, int index, const policy *p, policy_class *c, const char *origin,
            ret_error *err)
{
	char where[128];
	char table[256];
	char action[32];
	char *dot;
	const cJSON *retain;
	ret_code rc;

	snprintf(where, sizeof(where), "classes[%d]", index);
	if (!cJSON_IsObject(obj))
		return ret_fail(err, RET_USAGE, "%s: %s must be an object", origin, where);

	/* The name first, so that every later message can name the class. */
	rc = get_identifier(obj, "name", true, c->name, origin, where, err);
	if (rc != RET_OK)
		return rc;
	/* ARCHIVE_DIR/orphans/ holds what never committed, beside each ARCHIVE_DIR/<class>/. */
	if (strcmp(c->name, "orphans") == 0)
		return ret_fail(err, RET_USAGE, "%s: %s: field \"name\": \"orphans\" is the archive"
		                " directory's place for segments that never committed; name the class"
		                " otherwise", origin, where);
	snprintf(where, sizeof(where), "class \"%s\"", c->name);
	if ((rc = check_fields(obj, class_fields, origin, where, err)) != RET_OK)
		return rc;

	/* The table, always schema-qualified so search_path cannot redirect it. */
	rc = get_string(obj, "table", true, table, sizeof(table), origin, where, err);
	if (rc != RET_OK)
		return rc;
	dot = strchr(table, '.');
	if (dot == NULL)
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"table\": \"%s\" must be written schema.table", origin,
		                where, table);
	*dot = '\0';
	if (!policy_identifier_ok(table) || !policy_identifier_ok(dot + 1)) {
		*dot = '.';
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"table\": \"%s\" is not schema.table with plain "
		                "identifiers (letters, digits, _ and $ only)",
		                origin, where, table);
	}
	snprintf(c->schema, sizeof(c->schema), "%s", table);
	snprintf(c->table, sizeof(c->table), "%s", dot + 1);

	/* The action and the retention, which must agree. */
	rc = get_string(obj, "action", true, action, sizeof(action), origin, where, err);
	if (rc != RET_OK)
		return rc;
	if (strcmp(action, "purge") == 0)
		c->action = ACTION_PURGE;
	else if (strcmp(action, "archive") == 0)
		c->action = ACTION_ARCHIVE;
	else if (strcmp(action, "keep") == 0)
		c->action = ACTION_KEEP;
	else
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"action\": \"%s\" is not purge, archive or keep", origin,
		                where, action);

	retain = cJSON_GetObjectItemCaseSensitive(obj, "retain");
	if (retain == NULL)
		return ret_fail(err, RET_USAGE, "%s: %s: field \"retain\" is required", origin, where);
	if (!cJSON_IsString(retain))
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"retain\" must be a string with a unit, such as \"30 "
		                "days\"; a bare number is never read as any unit",
		                origin, where);
	rc = policy_parse_retain(retain->valuestring, &c->retain, err);
	if (rc != RET_OK) {
		ret_prefix(err, "%s: %s: field \"retain\"", origin, where);
		return rc;
	}
	if (c->action == ACTION_KEEP && c->retain.unit != RETAIN_INDEFINITE)
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"retain\": a keep class must say \"indefinite\"", origin,
		                where);
	if (c->action != ACTION_KEEP && c->retain.unit == RETAIN_INDEFINITE)
		return ret_fail(err, RET_USAGE,
		                "%s: %s: field \"retain\": \"indefinite\" needs action \"keep\"", origin,
		                where);

	/* Columns; a keep class need not name any. */
	rc = get_identifier(obj, "key", c->action != ACTION_KEEP, c->key, origin, where, err);
	if (rc != RET_OK)
		return rc;
	rc = get_identifier(obj, "timestamp_column", c->action != ACTION_KEEP, c->timestamp_column,
	                    origin, where, err);
	if (rc != RET_OK)
		return rc;
	rc = get_list(obj, "hold_keys", &c->hold_keys[0][0], POLICY_NAME_MAX, &c->n_hold_keys,
	              false, origin, where, err);
	if (rc != RET_OK)
		return rc;
	rc = get_list(obj, "allow_cascade_to", &c->allow_cascade_to[0][0],
	              sizeof(c->allow_cascade_to[0]), &c->n_allow_cascade_to, true, origin, where,
	              err);
	if (rc != RET_OK)
		return rc;
	rc = get_list(obj, "allow_triggers", &c->allow_triggers[0][0], POLICY_NAME_MAX,
	              &c->n_allow_triggers, false, origin, where, err);
	if (rc != RET_OK)
		return rc;

	c->max_fraction = p->max_fraction;
	if ((rc = get_fraction(obj, &c->max_fraction, origin, where, err)) != RET_OK)
		return rc;
	c->vacuum_after = p->vacuum_after;
	if ((rc = get_vacuum_after(obj, &c->vacuum_after, origin, where, err)) != RET_OK)
		return rc;
	rc = get_string(obj, "procedure", false, c->procedure, sizeof(c->procedure), origin, where,
	                err);
	if (rc != RET_OK)
		return rc;
	{
		char ignored[4096];

		rc = get_string(obj, "description", false, ignored, sizeof(ignored), origin, where,
		                err);
	}
	return rc;
}

/* Time zone names are checked by the server; here only their spelling. */
static bool
timezone_spelling_ok(const char *tz)
{
	if (tz[0] == '\0')
		return false;
	for (const char *s = tz; *s; s++)
		if (!(isascii((unsigned char)*s) &&
		      (isalnum((unsigned char)*s) || strchr("_+-/", *s) != NULL)))
			return false;
	return true;
}

/*
 * Offset of the first NUL in the text, raw or written \u0000 inside a
 * string, or -1. cJSON ends its strings at a NUL, so "app.t\u0000; x" would
 * silently become "app.t": the policy would name something it did not say.
 */
static long
nul_offset(const char *text, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\0')
			return (long)i;
		if (text[i] == '"') {
			in_string = !in_string;
		} else if (in_string && text[i] == '\\' && i + 1 < len) {
			if (text[i + 1] == 'u' && i + 5 < len && strncmp(text + i + 2, "0000", 4) == 0)
				return (long)i;
			i++; /* the escaped character, so \\u0000 is not read as an escape */
		}
	}
	return -1;
}

/*
 * The byte at which arrays and objects nest deeper than POLICY_NESTING_MAX,
 * or -1. Checked before parsing so that a too deep file is named as such:
 * cJSON's own limit only makes the parse fail like any syntax error.
 */
static long
nesting_too_deep(const char *text, size_t len)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		if (in_string) {
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_string = false;
		} else if (text[i] == '"') {
			in_string = true;
		} else if (text[i] == '[' || text[i] == '{') {
			if (++depth > POLICY_NESTING_MAX)
				return (long)i;
		} else if ((text[i] == ']' || text[i] == '}') && depth > 0) {
			depth--;
		}
	}
	return -1;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The first member name that appears twice in one object, anywhere in the
 * tree, or NULL (also when out of memory: the caller then says so). cJSON keeps
 * both and readers differ on which wins, so a policy must not say it twice.
 */
static const char *
duplicate_member(const cJSON *node, bool *oom)
{
	const cJSON *c;
	const char *dup = NULL;

	if (cJSON_IsObject(node)) {
		const char **names;
		int n = 0;

		for (c = node->child; c; c = c->next)
			n++;
		names = malloc((size_t)(n ? n : 1) * sizeof(*names));
		if (names == NULL) {
			*oom = true;
			return NULL;
		}
		n = 0;
		for (c = node->child; c; c = c->next)
			names[n++] = c->string ? c->string : "";
		qsort(names, (size_t)n, sizeof(*names), compare_names);
		for (int i = 1; i < n && dup == NULL; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				dup = names[i];
		free(names);
	}
	for (c = node->child; c && dup == NULL && !*oom; c = c->next)
		dup = duplicate_member(c, oom);
	return dup;
}

ret_code
policy_parse(const char *text, size_t len, const char *origin, policy **out, ret_error *err)
{
	cJSON *root = NULL;
	const cJSON *classes;
	const cJSON *item;
	policy *p = NULL;
	ret_code rc = RET_OK;
	int i;

	*out = NULL;
	if (len > POLICY_FILE_MAX)
		return ret_fail(err, RET_USAGE, "%s: policy is larger than %d bytes", origin,
		                POLICY_FILE_MAX);

	/* Text first: a reviewer's tools and the server must read the same characters. */
	{
		size_t bad = 0;

		if (!text_utf8_valid(text, len, &bad)) {
			rc = ret_fail(err, RET_USAGE, "%s: not valid UTF-8 (byte %zu)", origin, bad);
			goto done;
		}
	}

	/* Parse: not too deep, and nothing may follow the object. */
	{
		long at = nul_offset(text, len);

		if (at >= 0) {
			rc = ret_fail(err, RET_USAGE, "%s: a NUL character at byte %ld: a policy is text",
			              origin, at);
			goto done;
		}
	}
	{
		long at = nesting_too_deep(text, len);
		int line = 1;

		for (long k = 0; k < at; k++)
			if (text[k] == '\n')
				line++;
		if (at >= 0) {
			rc = ret_fail(err, RET_USAGE, "%s: arrays and objects nested deeper than %d levels "
			              "(line %d, byte %ld); a policy needs 4", origin, POLICY_NESTING_MAX,
			              line, at);
			goto done;
		}
	}
	{
		const char *end = NULL;

		root = cJSON_ParseWithLengthOpts(text, len, &end, false);
		while (root && end && end < text + len && isspace((unsigned char)*end))
			end++;
		if (root && end && end < text + len) {
			rc = ret_fail(err, RET_USAGE, "%s: not valid JSON: text after the policy's object "
			              "(byte %ld)", origin, (long)(end - text));
			goto done;
		}
	}
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		long offset = (at && at >= text && at <= text + len) ? (long)(at - text) : -1;
		int line = 1;

		for (long k = 0; k < offset; k++)
			if (text[k] == '\n')
				line++;
		rc = ret_fail(err, RET_USAGE, "%s: not valid JSON (near line %d, byte %ld)", origin,
		              line, offset);
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		rc = ret_fail(err, RET_USAGE, "%s: a policy must be a JSON object", origin);
		goto done;
	}
	{
		bool oom = false;
		const char *dup = duplicate_member(root, &oom);

		if (oom) {
			rc = ret_fail(err, RET_RUNTIME, "out of memory");
			goto done;
		}
		if (dup) {
			rc = ret_fail(err, RET_USAGE, "%s: field \"%s\" appears twice in one object",
			              origin, dup);
			goto done;
		}
	}
	if ((rc = check_fields(root, top_fields, origin, "policy", err)) != RET_OK)
		goto done;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	snprintf(p->path, sizeof(p->path), "%s", origin);
	p->max_fraction = DEFAULT_MAX_FRACTION;
	p->lock_timeout_ms = DEFAULT_LOCK_TIMEOUT_MS;
	p->statement_timeout_ms = DEFAULT_STATEMENT_TIMEOUT_MS;
	p->batch_target_ms = DEFAULT_BATCH_TARGET_MS;
	p->batch_max_pages = DEFAULT_BATCH_MAX_PAGES;
	sha256_hex((const unsigned char *)text, len, p->sha256);

	/* Policy-wide settings. */
	if ((rc = get_string(root, "name", true, p->name, sizeof(p->name), origin, "policy", err)))
		goto done;
	item = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (item == NULL) {
		rc = ret_fail(err, RET_USAGE, "%s: policy: field \"version\" is required", origin);
		goto done;
	}
	if ((rc = get_int(root, "version", 1, 1000000, &p->version, origin, "policy", err)))
		goto done;
	snprintf(p->timezone, sizeof(p->timezone), "UTC");
	if ((rc = get_string(root, "timezone", false, p->timezone, sizeof(p->timezone), origin,
	                     "policy", err)))
		goto done;
	if (p->timezone[0] == '\0')
		snprintf(p->timezone, sizeof(p->timezone), "UTC");
	if (!timezone_spelling_ok(p->timezone)) {
		rc = ret_fail(err, RET_USAGE, "%s: policy: field \"timezone\": \"%s\" is not a time "
		              "zone name", origin, p->timezone);
		goto done;
	}
	if ((rc = get_fraction(root, &p->max_fraction, origin, "policy", err)))
		goto done;
	if ((rc = get_vacuum_after(root, &p->vacuum_after, origin, "policy", err)))
		goto done;
	if ((rc = get_int(root, "lock_timeout_ms", 1, 600000, &p->lock_timeout_ms, origin,
	                  "policy", err)))
		goto done;
	if ((rc = get_int(root, "statement_timeout_ms", 1, 86400000, &p->statement_timeout_ms,
	                  origin, "policy", err)))
		goto done;
	if ((rc = get_int(root, "batch_target_ms", 10, 60000, &p->batch_target_ms, origin,
	                  "policy", err)))
		goto done;
	if ((rc = get_int(root, "batch_pause_ms", 0, 60000, &p->batch_pause_ms, origin, "policy",
	                  err)))
		goto done;
	if ((rc = get_int(root, "batch_max_pages", 1, 1048576, &p->batch_max_pages, origin,
	                  "policy", err)))
		goto done;
	if ((rc = get_list(root, "governed_schemas", &p->governed_schemas[0][0], POLICY_NAME_MAX,
	                   &p->n_governed_schemas, false, origin, "policy", err)))
		goto done;
	{
		char ignored[4096];

		if ((rc = get_string(root, "description", false, ignored, sizeof(ignored), origin,
		                     "policy", err)))
			goto done;
	}

	/* Classes. */
	classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
	if (!cJSON_IsArray(classes) || cJSON_GetArraySize(classes) == 0) {
		rc = ret_fail(err, RET_USAGE,
		              "%s: policy: field \"classes\" must be a non-empty array", origin);
		goto done;
	}
	p->n_classes = cJSON_GetArraySize(classes);
	if (p->n_classes > 1000) {
		rc = ret_fail(err, RET_USAGE, "%s: policy: more than 1000 classes", origin);
		goto done;
	}
	p->classes = calloc((size_t)p->n_classes, sizeof(policy_class));
	if (p->classes == NULL) {
		rc = ret_fail(err, RET_RUNTIME, "out of memory");
		goto done;
	}
	i = 0;
	cJSON_ArrayForEach(item, classes)
	{
		if ((rc = parse_class(item, i, p, &p->classes[i], origin, err)) != RET_OK)
			goto done;
		i++;
	}

	/* Names unique; one class per table, so two rules can never disagree on a row. */
	for (i = 0; i < p->n_classes; i++) {
		for (int j = 0; j < i; j++) {
			const policy_class *a = &p->classes[j];
			const policy_class *b = &p->classes[i];

			if (strcmp(a->name, b->name) == 0) {
				rc = ret_fail(err, RET_USAGE, "%s: class \"%s\": field \"name\": defined twice",
				              origin, b->name);
				goto done;
			}
			if (strcmp(a->schema, b->schema) == 0 && strcmp(a->table, b->table) == 0) {
				rc = ret_fail(err, RET_USAGE,
				              "%s: class \"%s\": field \"table\": %s.%s is already governed by "
				              "class \"%s\"; one table takes one rule",
				              origin, b->name, b->schema, b->table, a->name);
				goto done;
			}
		}
	}

done:
	cJSON_Delete(root);
	if (rc != RET_OK) {
		policy_free(p);
		return rc;
	}
	*out = p;
	return RET_OK;
}

ret_code
policy_load(const char *path, policy **out, ret_error *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	struct stat st;
	size_t got;
	ret_code rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return ret_fail(err, RET_USAGE, "%s: cannot open policy: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return ret_fail(err, RET_USAGE, "%s: policy is not a regular file", path);
	}
	if (st.st_size > POLICY_FILE_MAX) {
		fclose(f);
		return ret_fail(err, RET_USAGE, "%s: policy is larger than %d bytes", path,
		                POLICY_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		return ret_fail(err, RET_RUNTIME, "out of memory");
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (got != (size_t)st.st_size) {
		free(buf);
		return ret_fail(err, RET_USAGE, "%s: cannot read policy", path);
	}
	buf[got] = '\0';
	rc = policy_parse(buf, got, path, out, err);
	free(buf);
	return rc;
}

void
policy_free(policy *p)
{
	if (p == NULL)
		return;
	free(p->classes);
	free(p);
}

const policy_class *
policy_find_class(const policy *p, const char *name)
{
	for (int i = 0; i < p->n_classes; i++)
		if (strcmp(p->classes[i].name, name) == 0)
			return &p->classes[i];
	return NULL;
}
