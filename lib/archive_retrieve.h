/*
 * Getting rows back out of the compliance archive (SOP-17): checking every
 * segment against the ledger and its manifest, restoring a segment's rows
 * into the original table or a scratch table, and finding the segments and
 * rows that hold a customer or a ticket. Segments are read with gzread and
 * lib/csvread.c one record at a time: no segment is ever held in memory.
 */
#ifndef RETENTION_ARCHIVE_RETRIEVE_H
#define RETENTION_ARCHIVE_RETRIEVE_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "csvread.h"
#include "error.h"

/* Receives each finding of archive_verify_dir: a problem, or a note. */
typedef void (*archive_finding_fn)(void *arg, bool is_problem, const char *file,
                                   const char *message);

typedef struct archive_verify_stats {
	int segments;      /* ledger rows checked */
	int64_t rows;      /* rows read back from them */
	int problems;
} archive_verify_stats;

/*
 * Checks every segment the ledger of conn's database records against the
 * files under dir: present, SHA-256 and size as recorded, a gzip stream that
 * reads to its end with a valid CRC, as many CSV rows as recorded, a header
 * equal to the manifest's columns and naming only columns the table still
 * has, and a manifest that agrees with the ledger. A segment or manifest in
 * dir that the ledger does not name is a problem too. RET_USAGE when dir
 * cannot be read; the findings go through fn.
 */
ret_code archive_verify_dir(PGconn *conn, const char *dir, archive_finding_fn fn, void *arg,
                            archive_verify_stats *stats, ret_error *err);

typedef struct archive_restore_request {
	const char *segment;  /* path of the segment file */
	const char *target;   /* schema.table to insert into */
	bool create;          /* create target (columns of the segment's table) when missing */
	const char *key;      /* key column for the duplicate check; NULL: manifest, then the PK */
} archive_restore_request;

/*
 * Restores the rows of one segment into req->target in one transaction,
 * after checking the segment against the ledger (SHA-256, row count). Refuses
 * (RET_GUARD, nothing inserted) a segment the ledger does not know or whose
 * bytes differ, and rows whose key still exists in the target, naming a few.
 * Records the restore in retention.archive_restores. *restored receives the
 * number of rows inserted.
 */
ret_code archive_restore(PGconn *conn, const archive_restore_request *req, int64_t *restored,
                         ret_error *err);

/*
 * Receives each matching row of archive_find: the segment (relative to dir),
 * the row's number in it (from 1, after the header), the record and the
 * segment's column names (a JSON array of strings).
 */
typedef void (*archive_match_fn)(void *arg, const char *segment, int64_t row,
                                 const csv_reader *record, const cJSON *columns);

typedef struct archive_find_stats {
	int segments;         /* segments read */
	int without_column;   /* segments whose header lacks the column */
	int64_t rows;         /* rows read */
	int64_t matches;
	int segments_matched;
} archive_find_stats;

/*
 * Streams every segment of class_name under dir (the .csv.gz files of
 * dir/<class>/, in name order) and reports each row whose column, as text,
 * equals value (a NULL never matches), like a hold's match. Reads files
 * only: no database.
 */
ret_code archive_find(const char *dir, const char *class_name, const char *column,
                      const char *value, archive_match_fn fn, void *arg,
                      archive_find_stats *stats, ret_error *err);

#endif
