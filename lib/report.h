/*
 * The audit report: one JSON document per run and a detached Ed25519
 * signature over its exact bytes (REPORT.json.sig, 64 raw bytes), which
 * stock OpenSSL can check:
 *   openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin -in R.json -sigfile R.json.sig
 */
#ifndef RETENTION_REPORT_H
#define RETENTION_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "error.h"
#include "sign.h"

#define REPORT_FORMAT_VERSION 1

/* Names the key digest's definition in every report (lib/keydigest.h). */
#define REPORT_DIGEST_METHOD "sha256 of key::text + LF per row, sorted bytewise (C collation)"

typedef struct report_meta {
	const char *started_at;      /* ISO 8601 UTC */
	const char *finished_at;
	int exit_code;
	const char *key_fingerprint; /* NULL for an unsigned report */
	const char *error;           /* the run-level error, or NULL */
	const char *error_hint;
} report_meta;

/*
 * Renders the report of a run as JSON text (caller frees). st may describe a
 * run that never reached the database (policy refused); p may then be NULL
 * and policy_path/policy_sha256 name what was refused.
 */
char *report_render(const run_state *st, const policy *p, const report_meta *meta);

/*
 * Writes text to dir/name and, when key is not NULL, its signature to
 * dir/name.sig, each through a temporary file, fsync and rename. Fills the
 * SHA-256 of the written report.
 */
ret_code report_write(const char *dir, const char *name, const char *text,
                      const signing_key *key, char sha256[65], ret_error *err);

/*
 * Moves what runs the ledger just marked abandoned (st->unfinished_runs)
 * left in dir into dir/incomplete/: a half-written report (.tmp), a
 * signature whose report is missing, and a complete report that the run
 * never recorded in the ledger and that report_check_stranded refused (moved
 * with its signature). Names each move in a warning of st. Those files stand
 * in no chain: left in place, every later chain check would call them a
 * break. Never deletes anything.
 */
ret_code report_set_aside_incomplete(run_state *st, const char *dir, ret_error *err);

/*
 * Moves this run's own report dir/name and its signature into dir/incomplete/:
 * for a run whose ledger row a later run already marked abandoned (it lost
 * its lock), so its report stands in no chain. Never deletes anything.
 */
ret_code report_set_aside_own(const char *dir, const char *name, ret_error *err);

/* What the ledger row of an executed run that never recorded its report says. */
typedef struct stranded_run {
	const char *run_id;
	int64_t sequence;
	const char *previous_report_sha256; /* "" when none */
	const char *policy_name;
	const char *policy_sha256;
	const char *db_name;
	const char *system_identifier; /* "" when unknown */
} stranded_run;

/* A report found for a stranded run, and whether it can be adopted. */
typedef struct stranded_report {
	bool found;            /* dir holds a file named as this run's report */
	char file[256];        /* its name inside dir */
	char sha256[65];       /* of its exact bytes */
	char status[16];       /* the status it states */
	int exit_code;         /* the exit code it states */
	char finished_at[40];  /* ISO 8601 UTC, as it states */
	char problem[512];     /* why it cannot be adopted; empty when it can */
} stranded_report;

/*
 * Looks in dir for the report of run (named "retention-<start>-<run id>.json")
 * and checks that it is the report that run wrote: signed by key (the key
 * this run signs with) over its exact bytes, a retention report of an
 * executed run whose run ID, sequence, previous report, policy and database
 * are the ledger row's, named as `retention run` names it, with a status and
 * exit code a run can end with. Fills out; out->problem says why a report
 * found cannot be adopted. RET_RUNTIME only when dir cannot be listed.
 */
ret_code report_check_stranded(const char *dir, const stranded_run *run, const signing_key *key,
                               stranded_report *out, ret_error *err);

/* "retention-<YYYYmmddTHHMMSSZ>-<run id>.json" for a run started at started (time_t). */
void report_file_name(long started, const char *run_id, char *out, size_t len);

/*
 * Checks a report: its signature with key, and each archive segment it lists
 * that exists under archive_dir (when not NULL): SHA-256 and size. Missing
 * segments count as failures only when require_segments. Problems are
 * appended as lines to problems (caller frees). Returns true when all hold.
 */
bool report_verify(const char *path, const signing_key *key, const char *archive_dir,
                   bool require_segments, char **problems);

/* A report's signature as checked against a keyring. */
typedef enum report_sig_status {
	REPORT_SIG_VALID,       /* signed by a key of the ring, bytes unchanged */
	REPORT_SIG_NOT_CHECKED, /* no public key was given */
	REPORT_SIG_UNSIGNED,    /* the report names no signing key */
	REPORT_SIG_MISSING,     /* it names one, but REPORT.json.sig is missing */
	REPORT_SIG_UNKNOWN_KEY, /* signed by a key not in the ring */
	REPORT_SIG_INVALID,     /* the signature does not match the bytes */
} report_sig_status;

/* Short words for the status: valid, not checked, unsigned, missing, unknown key, invalid. */
const char *report_sig_status_name(report_sig_status status);

/*
 * Reads the report at path: its exact bytes (*text, NUL-terminated, caller
 * frees), their length and SHA-256, and the parsed JSON (*root, caller
 * frees with cJSON_Delete; NULL when the bytes are not JSON). RET_RUNTIME
 * when the file cannot be read.
 */
ret_code report_read(const char *path, char **text, size_t *len, char sha256[65],
                     cJSON **root, ret_error *err);

/*
 * Checks the detached signature path.sig over text with the key the report's
 * key_fingerprint selects in ring (which may be NULL: not checked). detail
 * receives a sentence for a person.
 */
report_sig_status report_check_signature(const char *path, const char *text, size_t len,
                                         const cJSON *root, const signing_keyring *ring,
                                         char *detail, size_t detail_len);

#endif
