/*
 * The holds as evidence: every hold open at the end of a run with who added
 * it, when and why, and every hold released since the previous executed run
 * of the same policy with who released it and why (read from the append-only
 * retention.hold_history, not from the holds table). The report lists both.
 */
#ifndef RETENTION_EVIDENCE_H
#define RETENTION_EVIDENCE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct hold_event {
	int64_t hold_id;
	char ticket[80];
	char match_column[64];
	char match_value[260];
	char class_name[64]; /* empty: every class */
	char reason[1004];   /* why it was added, or why released */
	char actor[132];     /* who added it, or who released it */
	char at[40];         /* ISO 8601 UTC */
} hold_event;

typedef struct run_evidence {
	bool loaded;
	hold_event *open; /* open holds, by ticket then hold ID */
	int n_open;
	hold_event *released; /* releases since released_since, in order */
	int n_released;
	char released_since[40]; /* the previous executed run's start; empty: since ever */
} run_evidence;

/*
 * Loads the open holds and the releases since the start of the latest
 * executed run of policy_name other than run_id (which has a report). Reads
 * only; works in a dry run's read-only snapshot. Frees what ev held before.
 */
ret_code evidence_load_holds(PGconn *conn, const char *policy_name, const char *run_id,
                             run_evidence *ev, ret_error *err);

/* Frees what ev owns and clears it; accepts a cleared ev. */
void evidence_free(run_evidence *ev);

#endif
