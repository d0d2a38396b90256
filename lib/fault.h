/*
 * Fault points for crash tests. In builds with RETENTION_FAULTS, the
 * environment variable RETENTION_FAULT=<point>[:<n>] makes the process kill
 * itself with SIGKILL the n-th time (default first) it reaches <point>;
 * "archive-write" instead makes the archive write fail as a full disk would.
 * Without RETENTION_FAULTS fault_hit is always false.
 */
#ifndef RETENTION_FAULT_H
#define RETENTION_FAULT_H

#include <stdbool.h>

/* True when the fault named point should fire now (for points that fail, not kill). */
bool fault_hit(const char *point);

/* Kills the process with SIGKILL when the fault named point should fire now. */
void fault_point(const char *point);

#endif
