/* What the command entry points share: their signatures and small option helpers. */
#ifndef RETENTION_CLI_H
#define RETENTION_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "error.h"

int cmd_run(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/* Logs err (message, hint, SQLSTATE) and returns its documented exit status. */
int cli_fail(const ret_error *err);

/* Logs a usage error about the command and returns exit status 2. */
int cli_usage(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The usage error for what getopt_long returned (':' for a missing value,
 * '?' for an unknown option), naming the option; argv is the vector getopt
 * read. getopt's own messages are off (main sets opterr = 0) so that this
 * line, like every other, goes through the logger.
 */
int cli_bad_option(const char *command, int c, char *const *argv);

/* Which options a command has been given so far; zero-initialise. */
typedef struct cli_seen {
	unsigned char given[256];
} cli_seen;

/*
 * True, after logging a usage error, when option c (a getopt_long result)
 * was given before: a second --match or --policy would otherwise replace the
 * first without a word. Options meant to repeat are not passed here.
 */
bool cli_repeated(const char *command, const struct option *options, int c, cli_seen *seen);

/* Parses a whole decimal integer in [lo, hi]; false otherwise. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);

#endif
