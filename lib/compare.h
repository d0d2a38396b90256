/*
 * Comparing a dry run's report with the real run that followed: class by
 * class, the digests of the keys purged, archived and held. On unchanged
 * data they are equal; when they are not, the row counts say by how many
 * rows each class differs (equal counts with different digests mean the
 * same number of different rows).
 */
#ifndef RETENTION_COMPARE_H
#define RETENTION_COMPARE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "error.h"

/* One line of the comparison; differs when it shows a difference. */
typedef void (*compare_line_fn)(void *arg, bool differs, const char *line);

/*
 * Compares the reports dry and real. *match is true when every class's
 * digests agree. RET_USAGE when a report is not a retention report, dry is
 * not a dry run's or real not an executed run's, the two concern different
 * policies or databases, or a class has no digests.
 */
ret_code compare_reports(const cJSON *dry, const cJSON *real, compare_line_fn fn, void *arg,
                         bool *match, ret_error *err);

#endif
