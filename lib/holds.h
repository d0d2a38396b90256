/*
 * The exception log: investigation holds that keep rows however old they
 * are. A hold names a ticket, a column and a value (and optionally a class);
 * every row of a class whose hold_keys include the column, and whose value
 * read as text equals the hold's, is kept while the hold is open. Holds are
 * released, never deleted; every change is in retention.hold_history.
 */
#ifndef RETENTION_HOLDS_H
#define RETENTION_HOLDS_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"
#include "policy.h"

#define HOLD_TICKET_MAX 64
#define HOLD_VALUE_MAX 256
#define HOLD_REASON_MAX 1000

typedef struct hold_request {
	char ticket[HOLD_TICKET_MAX + 1];
	char column[POLICY_NAME_MAX];
	char value[HOLD_VALUE_MAX + 1];
	char class_name[POLICY_NAME_MAX]; /* empty: every class */
	char reason[HOLD_REASON_MAX + 1];
	char by[129];                     /* empty: the database user */
} hold_request;

/* Ticket IDs: 1-64 of letters, digits and . _ : / -, starting with a letter or digit. */
ret_code holds_check_ticket(const char *ticket, ret_error *err);

/* Splits "COLUMN=VALUE"; the column must be a plain identifier, the value 1-256
 * bytes without control characters and without a blank at either end. */
ret_code holds_parse_match(const char *arg, char *column, char *value, ret_error *err);

/* Free text (reason, actor): not empty, at most max bytes, no control characters. */
ret_code holds_check_text(const char *what, const char *text, size_t max, ret_error *err);

/*
 * Checks a request against a policy (may be NULL): the class must exist and
 * the column must be one of its hold_keys (of some class, without --class).
 */
ret_code holds_check_against_policy(const hold_request *req, const policy *p, ret_error *err);

/* Adds an open hold; *hold_id receives its ID. RET_USAGE if the same hold is already open. */
ret_code holds_add(PGconn *conn, const hold_request *req, long long *hold_id, ret_error *err);

/* Releases every open hold of ticket; *released receives how many. RET_USAGE when none. */
ret_code holds_release(PGconn *conn, const char *ticket, const char *reason, const char *by,
                       int *released, ret_error *err);

/* The holds (open only, or all with their release) as a new JSON array. */
ret_code holds_list(PGconn *conn, bool include_released, cJSON **out, ret_error *err);

#endif
