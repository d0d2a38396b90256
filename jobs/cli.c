/* Small helpers shared by the command entry points. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int
cli_fail(const ret_error *err)
{
	log_error_detail(NULL, err->message, err->hint, err->sqlstate);
	return ret_exit_status(err->code);
}

int
cli_usage(const char *command, const char *fmt, ...)
{
	char msg[1024];
	char hint[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(hint, sizeof(hint), "try \"retention %s --help\"", command);
	log_error_detail(NULL, msg, hint, NULL);
	return RET_EXIT_USAGE;
}

int
cli_bad_option(const char *command, int c, char *const *argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	/* A short option may sit inside a cluster ("-hx"): name the letter itself. */
	if (optopt != 0 && strncmp(arg, "--", 2) != 0)
		return cli_usage(command, c == ':' ? "option -%c needs a value" : "unknown option -%c",
		                 optopt);
	/* A known long option given a value it does not take ("--dry-run=yes"). */
	if (c == '?' && optopt != 0 && strchr(arg, '=') != NULL)
		return cli_usage(command, "option %.*s takes no value", (int)strcspn(arg, "="), arg);

	/* Never the text after '=': a mistyped --db=... may carry a password. */
	return cli_usage(command, c == ':' ? "option %.*s needs a value" : "unknown option %.*s",
	                 (int)strcspn(arg, "="), arg);
}

bool
cli_repeated(const char *command, const struct option *options, int c, cli_seen *seen)
{
	if (c <= 0 || c > 255 || c == '?' || c == ':' || c == 'h')
		return false;
	if (!seen->given[c]) {
		seen->given[c] = 1;
		return false;
	}
	for (const struct option *o = options; o->name; o++)
		if (o->val == c) {
			cli_usage(command, "option --%s is given twice", o->name);
			return true;
		}
	cli_usage(command, "option -%c is given twice", c);
	return true;
}

bool
cli_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}
