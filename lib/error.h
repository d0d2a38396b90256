/*
 * The one error type of the library. Every lib/ function that can fail
 * returns a ret_code and fills a ret_error with a message a person can act
 * on; only jobs/ logs it and turns it into the process exit status.
 */
#ifndef RETENTION_ERROR_H
#define RETENTION_ERROR_H

#include <stdarg.h>

typedef enum ret_code {
	RET_OK = 0,
	RET_RUNTIME,     /* work may have been attempted; exit 1 */
	RET_USAGE,       /* bad option, bad policy, unknown table; nothing done; exit 2 */
	RET_GUARD,       /* a safety guard refused the run; nothing done; exit 3 */
	RET_LOCKED,      /* another run holds the advisory lock; exit 75 */
	RET_DRIFT,       /* policy check: the database has tables the policy does not govern; exit 4 */
} ret_code;

typedef struct ret_error {
	ret_code code;
	char message[1024];
	char hint[512];
	char sqlstate[6];
} ret_error;

/* Documented process exit status for an outcome (the single mapping). */
int ret_exit_status(ret_code code);

/* Short stable name of a code, as written in reports and logs. */
const char *ret_code_name(ret_code code);

/* Clears err to RET_OK with empty strings. err may be NULL. */
void ret_error_clear(ret_error *err);

/*
 * Sets err (when not NULL) to code and a printf-style message; returns code
 * so that callers can write `return ret_fail(err, RET_USAGE, "...")`.
 * Any previous hint and SQLSTATE are cleared.
 */
ret_code ret_fail(ret_error *err, ret_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Adds a hint line to an error already set. */
void ret_hint(ret_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "prefix: " (for adding context). */
void ret_prefix(ret_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define RET_EXIT_OK 0
#define RET_EXIT_RUNTIME 1
#define RET_EXIT_USAGE 2
#define RET_EXIT_GUARD 3
#define RET_EXIT_DRIFT 4
#define RET_EXIT_LOCKED 75

#endif
