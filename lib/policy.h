/*
 * The retention policy: a JSON file naming tables, their timestamp columns,
 * what to do with rows older than a retention period, and which columns an
 * open hold may match. Loading validates everything that can be validated
 * without a database; lib/catalog.c checks the rest against the live catalog.
 * The format is documented in policies/README.md.
 */
#ifndef RETENTION_POLICY_H
#define RETENTION_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define POLICY_NAME_MAX 64      /* PostgreSQL's NAMEDATALEN */
#define POLICY_LIST_MAX 16      /* hold keys, allowed dependents, allowed triggers */
#define POLICY_FILE_MAX (1024 * 1024)
#define POLICY_RETAIN_MAX 100000 /* in its own unit: ample for 36500 days */
#define POLICY_NESTING_MAX 64  /* arrays and objects; a policy needs 4 */

typedef enum policy_action { ACTION_PURGE, ACTION_ARCHIVE, ACTION_KEEP } policy_action;

typedef enum retain_unit {
	RETAIN_INDEFINITE,
	RETAIN_HOURS,  /* elapsed time */
	RETAIN_DAYS,   /* calendar days in the policy's time zone (weeks are 7 days) */
	RETAIN_MONTHS, /* calendar months */
	RETAIN_YEARS,  /* calendar years */
} retain_unit;

typedef struct policy_retain {
	retain_unit unit;
	int amount;    /* in unit; weeks are stored as days */
	char text[32]; /* normalised, e.g. "30 days" or "indefinite" */
} policy_retain;

typedef struct policy_class {
	char name[POLICY_NAME_MAX];
	char schema[POLICY_NAME_MAX];
	char table[POLICY_NAME_MAX];
	char key[POLICY_NAME_MAX];              /* empty for keep classes without one */
	char timestamp_column[POLICY_NAME_MAX]; /* empty for keep classes without one */
	policy_action action;
	policy_retain retain;
	char hold_keys[POLICY_LIST_MAX][POLICY_NAME_MAX];
	int n_hold_keys;
	char allow_cascade_to[POLICY_LIST_MAX][2 * POLICY_NAME_MAX]; /* "schema.table" */
	int n_allow_cascade_to;
	char allow_triggers[POLICY_LIST_MAX][POLICY_NAME_MAX];
	int n_allow_triggers;
	double max_fraction; /* share of the table one run may remove, (0, 1] */
	bool vacuum_after;   /* VACUUM the table after a run that removed a large share */
	char procedure[128];
} policy_class;

typedef struct policy {
	char path[512];
	char name[128];
	int version;
	char timezone[64];
	double max_fraction;
	int lock_timeout_ms;
	int statement_timeout_ms;
	int batch_target_ms;   /* aimed-for duration of one batch */
	int batch_pause_ms;    /* pause between batches */
	int batch_max_pages;   /* upper bound on heap blocks one batch covers */
	bool vacuum_after;     /* default for every class */
	char governed_schemas[POLICY_LIST_MAX][POLICY_NAME_MAX];
	int n_governed_schemas;
	char sha256[65]; /* of the file's exact bytes, lowercase hex */
	policy_class *classes;
	int n_classes;
} policy;

/*
 * Reads and validates the policy at path. On success *out is a new policy the
 * caller frees with policy_free. On failure returns RET_USAGE with a message
 * naming the file, the class and the field; *out is NULL.
 */
ret_code policy_load(const char *path, policy **out, ret_error *err);

/* As policy_load, from bytes in memory; origin names them in messages. */
ret_code policy_parse(const char *text, size_t len, const char *origin, policy **out,
                      ret_error *err);

void policy_free(policy *p);

/* The class called name, or NULL. */
const policy_class *policy_find_class(const policy *p, const char *name);

/*
 * Parses a retention such as "30 days", "48 hours", "6 months" or
 * "indefinite". A bare number, a zero or negative amount, an unknown unit or
 * any trailing text is refused with RET_USAGE.
 */
ret_code policy_parse_retain(const char *text, policy_retain *out, ret_error *err);

/*
 * True when s is a plain SQL identifier the policy accepts: 1 to 63 bytes of
 * ASCII letters, digits, '_' and '$', not starting with a digit or '$'.
 * Everything else (quotes, spaces, semicolons, Unicode) is refused rather
 * than quoted, so a policy can never name something it did not mean to.
 */
bool policy_identifier_ok(const char *s);

const char *policy_action_name(policy_action action);

#endif
