/* Reading the holds' evidence for the report: open holds and releases since the last run. */
#include "evidence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define ISO_FORMAT "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"

/* Fills events from rows of (hold_id, ticket, column, value, class, reason, actor, at). */
static ret_code
read_events(const PGresult *res, hold_event **out, int *n, ret_error *err)
{
	int rows = PQntuples(res);
	hold_event *ev;

	*out = NULL;
	*n = 0;
	if (rows == 0)
		return RET_OK;
	ev = calloc((size_t)rows, sizeof(*ev));
	if (ev == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	for (int i = 0; i < rows; i++) {
		ev[i].hold_id = db_int64(res, i, 0);
		snprintf(ev[i].ticket, sizeof(ev[i].ticket), "%s", PQgetvalue(res, i, 1));
		snprintf(ev[i].match_column, sizeof(ev[i].match_column), "%s", PQgetvalue(res, i, 2));
		snprintf(ev[i].match_value, sizeof(ev[i].match_value), "%s", PQgetvalue(res, i, 3));
		snprintf(ev[i].class_name, sizeof(ev[i].class_name), "%s", PQgetvalue(res, i, 4));
		snprintf(ev[i].reason, sizeof(ev[i].reason), "%s", PQgetvalue(res, i, 5));
		snprintf(ev[i].actor, sizeof(ev[i].actor), "%s", PQgetvalue(res, i, 6));
		snprintf(ev[i].at, sizeof(ev[i].at), "%s", PQgetvalue(res, i, 7));
	}
	*out = ev;
	*n = rows;
	return RET_OK;
}

ret_code
evidence_load_holds(PGconn *conn, const char *policy_name, const char *run_id,
                    run_evidence *ev, ret_error *err)
{
	const char *params[2] = {policy_name, run_id};
	const char *since_param[1] = {NULL};
	char since_raw[64] = "";
	PGresult *res = NULL;
	ret_code rc;

	evidence_free(ev);

	/* Open holds, with who added them, when and why. */
	rc = db_query(conn, "open holds",
	              "SELECT hold_id, ticket, match_column, match_value, coalesce(class_name, ''),"
	              " reason, created_by, to_char(created_at, " ISO_FORMAT ")"
	              " FROM retention.holds WHERE released_at IS NULL ORDER BY ticket, hold_id",
	              0, NULL, &res, err);
	if (rc != RET_OK)
		goto done;
	rc = read_events(res, &ev->open, &ev->n_open, err);
	PQclear(res);
	res = NULL;
	if (rc != RET_OK)
		goto done;

	/*
	 * Since the start of the previous executed run (not its end): a hold
	 * released while that run was going is listed again rather than missed.
	 */
	rc = db_query(conn, "previous run",
	              "SELECT started_at::text, to_char(started_at, " ISO_FORMAT ")"
	              " FROM retention.runs WHERE policy_name = $1 AND mode = 'execute'"
	              " AND report_sha256 IS NOT NULL AND run_id::text <> $2"
	              " ORDER BY sequence DESC LIMIT 1",
	              2, params, &res, err);
	if (rc != RET_OK)
		goto done;
	if (PQntuples(res) == 1) {
		snprintf(since_raw, sizeof(since_raw), "%s", PQgetvalue(res, 0, 0));
		snprintf(ev->released_since, sizeof(ev->released_since), "%s", PQgetvalue(res, 0, 1));
		since_param[0] = since_raw;
	}
	PQclear(res);
	res = NULL;

	rc = db_query(conn, "released holds",
	              "SELECT hold_id, ticket, match_column, match_value, coalesce(class_name, ''),"
	              " reason, actor, to_char(at, " ISO_FORMAT ") FROM retention.hold_history"
	              " WHERE event = 'released' AND ($1::timestamptz IS NULL OR at > $1)"
	              " ORDER BY event_id",
	              1, since_param, &res, err);
	if (rc != RET_OK)
		goto done;
	rc = read_events(res, &ev->released, &ev->n_released, err);
	if (rc == RET_OK)
		ev->loaded = true;

done:
	PQclear(res);
	return rc;
}

void
evidence_free(run_evidence *ev)
{
	free(ev->open);
	free(ev->released);
	memset(ev, 0, sizeof(*ev));
}
