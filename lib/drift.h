/*
 * Whether a policy still fits the live database, for `retention policy
 * check`: the time zone, every class's table and columns (lib/catalog.c's
 * checks, the same a run makes), the dependents a run's guards would refuse,
 * and drift between the policy and the database: tables in the policy's
 * governed_schemas that no class names, governed schemas that do not exist,
 * and classes whose tables vanished. It only reads the catalog; it never
 * touches a governed table's rows.
 */
#ifndef RETENTION_DRIFT_H
#define RETENTION_DRIFT_H

#include <libpq-fe.h>

#include "error.h"
#include "policy.h"

typedef enum drift_kind {
	DRIFT_INVALID,       /* a class (or the time zone) does not fit: a run refuses, exit 2 */
	DRIFT_VANISHED,      /* a class's table is gone: drift, and a run refuses, exit 2 */
	DRIFT_GUARD,         /* an uncovered cascade or trigger: a run's guard refuses, exit 3 */
	DRIFT_UNCOVERED,     /* a table in a governed schema that no class names: exit 4 */
	DRIFT_NO_SCHEMA,     /* a governed schema that does not exist: exit 4 */
} drift_kind;

typedef struct drift_finding {
	drift_kind kind;
	char class_name[POLICY_NAME_MAX];     /* empty when no class is concerned */
	char object[2 * POLICY_NAME_MAX + 2]; /* schema.table, schema or "timezone" */
	char message[1024];
} drift_finding;

typedef struct drift_result {
	drift_finding *findings;
	int n_findings;
	int classes_ok;      /* classes whose table, columns and dependents are in order */
	int governed_tables; /* tables (not partitions) found in the governed schemas */
} drift_result;

/*
 * Checks p against the database on conn and fills *out (the caller frees it
 * with drift_free, on success and failure alike). Findings are not errors:
 * RET_OK means the check ran; RET_RUNTIME means a query failed.
 */
ret_code drift_check(PGconn *conn, const policy *p, drift_result *out, ret_error *err);

/*
 * The outcome the findings add up to, most serious first: RET_USAGE for an
 * invalid class or vanished table, RET_GUARD, RET_DRIFT, else RET_OK.
 */
ret_code drift_outcome(const drift_result *r);

/* Stable name of a kind, as printed: invalid, vanished, guard, uncovered, no-schema. */
const char *drift_kind_name(drift_kind kind);

void drift_free(drift_result *r);

#endif
