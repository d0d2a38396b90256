/*
 * Verifying a directory of reports as a chain: every report's signature
 * (the key its fingerprint selects, so keys may rotate), that each file holds
 * the report its name says, and the chain's continuity per database and
 * policy: each executed run's report carries the SHA-256 of the previous
 * executed run's report and a sequence number, so a removed, reordered,
 * duplicated or altered report shows as a break named after a file.
 * Optionally the directory is checked against the runs ledger as well: that
 * also catches the newest report being removed, which no later report can.
 *
 * Dry-run reports have no sequence and stay outside the chain; their
 * signatures are still checked.
 */
#ifndef RETENTION_CHAIN_H
#define RETENTION_CHAIN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "report.h"
#include "sign.h"

/* One report file as the chain sees it. */
typedef struct chain_entry {
	char file[256];     /* the name inside the directory */
	char sha256[65];    /* of the file's bytes */
	char run_id[40];
	char mode[16];      /* execute or dry-run */
	int64_t sequence;   /* 0 when the report has none */
	char previous[65];  /* previous_report_sha256; empty when none */
	char started_at[40];
	char group[400];    /* the chain it belongs to: policy name and database */
	char policy[128];
	char db_name[128];
	char system_identifier[32];
	report_sig_status sig;
} chain_entry;

/* Receives each finding: a break (the chain cannot be trusted) or a note. */
typedef void (*chain_finding_fn)(void *arg, bool is_break, const char *file, const char *message);

/*
 * Reads every *.json report in dir (hidden files aside), checking each one's
 * signature against ring and that its file name matches its run ID and start
 * time; a stray signature, an unreadable report or a half-written one is a
 * break. *entries (caller frees) receives the reports read. RET_USAGE when
 * dir cannot be listed.
 */
ret_code chain_read_dir(const char *dir, const signing_keyring *ring, chain_entry **entries,
                        int *n, chain_finding_fn fn, void *arg, ret_error *err);

/*
 * Checks the continuity of each chain among entries (sorted in place):
 * duplicates, two reports with one sequence, a previous report that is not
 * there, a report nothing chains to, links that go backwards, and gaps.
 * Pure logic; reports through fn.
 */
void chain_check(chain_entry *entries, int n, chain_finding_fn fn, void *arg);

/*
 * Cross-checks entries against the runs ledger of the database conn is
 * connected to: a report the ledger records that is not in the directory,
 * one in the directory that the ledger does not record, or a hash that
 * differs, is a break. Reports of other databases are left out.
 */
ret_code chain_check_ledger(PGconn *conn, const chain_entry *entries, int n, chain_finding_fn fn,
                            void *arg, ret_error *err);

/*
 * Cross-checks each report in dir of the database conn is connected to
 * against the batch ledger: every class's purged and archived rows must
 * equal the sums of that run's committed batches, and no class may have
 * batches the report does not list; a difference is a break. A run started
 * before the ledger existed is a note. Reports of other databases, and runs
 * the runs ledger does not record as reported, are left out (that is
 * chain_check_ledger's finding).
 */
ret_code chain_check_batches(PGconn *conn, const char *dir, const chain_entry *entries, int n,
                             chain_finding_fn fn, void *arg, ret_error *err);

/* The file name `retention run` gives a report started at started_at (ISO 8601) with run_id. */
void chain_expected_name(const char *started_at, const char *run_id, char *out, size_t len);

#endif
