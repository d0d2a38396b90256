/*
 * A streaming reader for the CSV that PostgreSQL's COPY writes (FORMAT csv):
 * fields separated by commas, quoted with double quotes when they hold a
 * comma, a quote or a line break, a quote inside doubled, an unquoted empty
 * field meaning NULL and a quoted one the empty string. It reads through a
 * callback (gzread for segments), so only the current record is in memory,
 * however large the file; a record may span any number of lines.
 *
 * Hand-written because it is this narrow dialect only, about a hundred lines,
 * and unit-tested; a CSV library would be a new dependency of the image.
 */
#ifndef RETENTION_CSVREAD_H
#define RETENTION_CSVREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Fills buf with up to len bytes: how many, 0 at the end, negative on an error. */
typedef ssize_t (*csv_read_fn)(void *arg, void *buf, size_t len);

typedef struct csv_reader csv_reader;

/* Records larger than this are refused rather than buffered. */
#define CSV_RECORD_MAX ((size_t)1 << 30)

/* A reader over fn; NULL when out of memory. */
csv_reader *csv_reader_new(csv_read_fn fn, void *arg);

void csv_reader_free(csv_reader *r);

/* Reads the next record: 1 when there is one, 0 at the end, -1 on an error (err says which). */
int csv_next(csv_reader *r, ret_error *err);

/* The number of fields of the current record. */
int csv_nfields(const csv_reader *r);

/* Field i of the current record (NUL-terminated, len bytes), or NULL for SQL NULL. */
const char *csv_field(const csv_reader *r, int i, size_t *len);

/* The current record's bytes as they stand in the file, without its final line break. */
const char *csv_raw(const csv_reader *r, size_t *len);

/* The number of the current record, from 1 (the header, when there is one, is record 1). */
int64_t csv_record_number(const csv_reader *r);

#endif
