/*
 * Archive segments: gzip files of PostgreSQL CSV COPY output with a header,
 * so that `zcat SEGMENT | psql -c "\copy TABLE FROM STDIN CSV HEADER"`
 * restores them without this program. A segment is written under a hidden
 * ".partial" name, fsynced, then renamed into place (and the directory
 * fsynced) before the transaction whose rows it holds may commit.
 *
 * Layout: ARCHIVE_DIR/<class>/<class>-<run id>-<batch>.csv.gz, each with a
 * manifest beside it (<segment>.manifest.json: run, class, table, key,
 * batch, rows, bytes, SHA-256 and the CSV's columns) written and renamed
 * before the segment itself; files that no committed ledger row names are
 * moved to ARCHIVE_DIR/orphans/<run id>/ (the run that set them aside and
 * names them in its report), a manifest with its segment. When that run
 * never records a report, a later run moves them into its own directory and
 * names them, so every orphan is named by a report in the ledger.
 */
#ifndef RETENTION_ARCHIVE_H
#define RETENTION_ARCHIVE_H

#include <libpq-fe.h>
#include <stdint.h>

#define ARCHIVE_MANIFEST_SUFFIX ".manifest.json"

#include "error.h"

typedef struct archive_segment archive_segment;

/* The relative path of a segment: "<class>/<class>-<run_id>-<batch:06>.csv.gz". */
void archive_segment_name(const char *class_name, const char *run_id, int batch, char *out,
                          size_t len);

/*
 * Starts a segment at dir/rel_path (written to a hidden partial file first).
 * Creates the class directory when missing. Never overwrites an existing
 * segment: RET_RUNTIME if one is there.
 */
ret_code archive_segment_open(const char *dir, const char *rel_path, archive_segment **out,
                              ret_error *err);

/* Compresses and writes len bytes; RET_RUNTIME on a write error (disk full, ...). */
ret_code archive_segment_write(archive_segment *seg, const void *data, size_t len,
                               ret_error *err);

/* What a segment's manifest records beside what the writer knows (bytes, SHA-256, columns). */
typedef struct archive_manifest_info {
	const char *run_id;
	const char *class_name;
	const char *table;    /* the class's table, schema.table */
	const char *relation; /* the relation the rows were deleted from (a partition or the table) */
	const char *key;      /* the class's key column */
	const char *policy_name;
	const char *policy_sha256;
	const char *cutoff;
	int batch;
	int64_t rows;
} archive_manifest_info;

/*
 * Asks archive_segment_finish to write the segment's manifest too (the
 * strings are copied). Without it no manifest is written.
 */
ret_code archive_segment_describe(archive_segment *seg, const archive_manifest_info *info,
                                  ret_error *err);

/*
 * Finishes the gzip stream, fsyncs the file, writes the manifest when the
 * segment was described (through a partial file, fsync and rename), renames
 * the segment to its final name
 * and fsyncs the directory. Fills the SHA-256 of the file's bytes and its
 * size. After RET_OK the segment is durable; the handle is freed either way.
 */
ret_code archive_segment_finish(archive_segment *seg, char sha256[65], int64_t *bytes,
                                ret_error *err);

/* Abandons an unfinished segment: closes and removes the partial file. Accepts NULL. */
void archive_segment_abort(archive_segment *seg);

/*
 * Called once per orphan moved aside: the path it had and the path it has
 * now, both relative to the archive directory, and the earlier run that had
 * set it aside (NULL when it came from a class directory).
 */
typedef void (*archive_orphan_fn)(void *arg, const char *from_rel, const char *to_rel,
                                  const char *set_aside_by);

/*
 * Finds, in dir/<class_name>/, files this program wrote that no row of
 * retention.archive_segments names, and (unless dry_run) moves them into
 * dir/orphans/<run_id>/, run_id being the run that sets them aside. Only
 * files of runs recorded in retention.runs are touched; anything else is
 * left where it is. Reports each through fn.
 */
ret_code archive_set_aside_orphans(PGconn *conn, const char *dir, const char *class_name,
                                   const char *run_id, int dry_run, archive_orphan_fn fn,
                                   void *arg, ret_error *err);

/*
 * Moves into dir/orphans/<run_id>/ every file under dir/orphans/<other>/
 * whose run <other> is done (not running) and never recorded a report in
 * retention.runs: its report, had it been written, named them, but no
 * report in the ledger does. Directories of runs the ledger does not know,
 * of runs still running and of runs with a recorded report are left alone.
 * Reports each move through fn; never deletes a file.
 */
ret_code archive_rehome_orphans(PGconn *conn, const char *dir, const char *run_id,
                                archive_orphan_fn fn, void *arg, ret_error *err);

/* Makes dir (and parents) if missing; RET_USAGE when that is impossible. */
ret_code archive_mkdirs(const char *dir, ret_error *err);

/*
 * Makes dir if missing and proves that a file can be created, written,
 * fsynced and removed there. RET_USAGE names the directory and why when not:
 * a run checks its report and archive directories before it touches a row.
 */
ret_code archive_check_writable(const char *dir, const char *what, ret_error *err);

#endif
