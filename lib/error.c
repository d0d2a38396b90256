/* Error codes, their exit statuses and the helpers that fill a ret_error. */
#include "error.h"

#include <stdio.h>
#include <string.h>

int
ret_exit_status(ret_code code)
{
	switch (code) {
	case RET_OK:
		return RET_EXIT_OK;
	case RET_USAGE:
		return RET_EXIT_USAGE;
	case RET_GUARD:
		return RET_EXIT_GUARD;
	case RET_LOCKED:
		return RET_EXIT_LOCKED;
	case RET_DRIFT:
		return RET_EXIT_DRIFT;
	case RET_RUNTIME:
		break;
	}
	return RET_EXIT_RUNTIME;
}

const char *
ret_code_name(ret_code code)
{
	switch (code) {
	case RET_OK:
		return "ok";
	case RET_USAGE:
		return "usage-error";
	case RET_GUARD:
		return "guard-refused";
	case RET_LOCKED:
		return "locked";
	case RET_DRIFT:
		return "drift";
	case RET_RUNTIME:
		break;
	}
	return "runtime-error";
}

void
ret_error_clear(ret_error *err)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
}

ret_code
ret_fail(ret_error *err, ret_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	err->hint[0] = '\0';
	err->sqlstate[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void
ret_hint(ret_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void
ret_prefix(ret_error *err, const char *fmt, ...)
{
	char prefix[512];
	char old[sizeof(err->message)];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof(old));
	snprintf(err->message, sizeof(err->message), "%s: %s", prefix, old);
}
