/* Writing and reading the batch ledger (retention.batches). */
#include "batchlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "strbuf.h"

ret_code
batchlog_record_purge(PGconn *conn, const char *run_id, const char *class_name,
                      const char *relation, int batch, int64_t rows, ret_error *err)
{
	char nbatch[16], nrows[32];
	const char *params[5];

	snprintf(nbatch, sizeof(nbatch), "%d", batch);
	snprintf(nrows, sizeof(nrows), "%lld", (long long)rows);
	params[0] = run_id;
	params[1] = class_name;
	params[2] = nbatch;
	params[3] = relation;
	params[4] = nrows;
	return db_query(conn, "batch ledger",
	                "INSERT INTO retention.batches (run_id, class_name, batch, action, table_name,"
	                " rows) VALUES ($1, $2, $3, 'purge', $4, $5)",
	                5, params, NULL, err);
}

ret_code
batchlog_read(PGconn *conn, char *const *run_ids, int n, batchlog_sum **out, int *n_out,
              ret_error *err)
{
	const char *params[1];
	PGresult *res = NULL;
	strbuf ids = {0};
	char *list = NULL;
	ret_code rc;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return RET_OK;

	/* Run IDs come from the ledger's uuid column: plain hex and dashes, safe in an array. */
	strbuf_appendf(&ids, "{");
	for (int i = 0; i < n; i++)
		strbuf_appendf(&ids, "%s%s", i ? "," : "", run_ids[i]);
	strbuf_appendf(&ids, "}");
	list = strbuf_take(&ids);
	if (list == NULL)
		return ret_fail(err, RET_RUNTIME, "out of memory");
	params[0] = list;
	rc = db_query(conn, "batch ledger",
	              "SELECT run_id::text, class_name, action = 'archive', count(*), sum(rows)"
	              " FROM retention.batches WHERE run_id = ANY ($1::uuid[])"
	              " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
	              1, params, &res, err);
	free(list);
	if (rc != RET_OK)
		return rc;
	if (PQntuples(res) > 0) {
		*out = calloc((size_t)PQntuples(res), sizeof(**out));
		if (*out == NULL) {
			PQclear(res);
			return ret_fail(err, RET_RUNTIME, "out of memory");
		}
	}
	for (int i = 0; i < PQntuples(res); i++) {
		batchlog_sum *s = &(*out)[i];

		snprintf(s->run_id, sizeof(s->run_id), "%s", PQgetvalue(res, i, 0));
		snprintf(s->class_name, sizeof(s->class_name), "%s", PQgetvalue(res, i, 1));
		s->archive = PQgetvalue(res, i, 2)[0] == 't';
		s->batches = db_int64(res, i, 3);
		s->rows = db_int64(res, i, 4);
	}
	*n_out = PQntuples(res);
	PQclear(res);
	return RET_OK;
}

void
batchlog_describe(const batchlog_sum *sums, int n, const char *run_id, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && used < len; i++) {
		const batchlog_sum *s = &sums[i];
		int w;

		if (strcmp(s->run_id, run_id) != 0)
			continue;
		w = snprintf(buf + used, len - used, "%sclass %s %s %lld rows in %lld batch%s",
		             used ? "; " : "", s->class_name, s->archive ? "archived" : "purged",
		             (long long)s->rows, (long long)s->batches, s->batches == 1 ? "" : "es");
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, len, "no batch of it committed");
}
