/* Validating, adding, releasing and listing holds. */
#include "holds.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "strbuf.h"

ret_code
holds_check_ticket(const char *ticket, ret_error *err)
{
	size_t n = strlen(ticket);

	if (n == 0)
		return ret_fail(err, RET_USAGE, "--ticket: a ticket ID must not be empty");
	if (n > HOLD_TICKET_MAX)
		return ret_fail(err, RET_USAGE, "--ticket: a ticket ID is at most %d characters",
		                HOLD_TICKET_MAX);
	if (!isascii((unsigned char)ticket[0]) || !isalnum((unsigned char)ticket[0]))
		return ret_fail(err, RET_USAGE, "--ticket: \"%s\" must start with a letter or digit",
		                ticket);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)ticket[i];

		if (!(isascii(c) && (isalnum(c) || strchr("._:/-", c) != NULL)))
			return ret_fail(err, RET_USAGE,
			                "--ticket: character %zu is not allowed (letters, digits and . _ : / "
			                "- only)",
			                i + 1);
	}
	return RET_OK;
}

ret_code
holds_check_text(const char *what, const char *text, size_t max, ret_error *err)
{
	size_t n = strlen(text);

	if (n == 0)
		return ret_fail(err, RET_USAGE, "%s must not be empty", what);
	if (n > max)
		return ret_fail(err, RET_USAGE, "%s is longer than %zu bytes", what, max);
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char)text[i]))
			return ret_fail(err, RET_USAGE, "%s contains a control character at byte %zu", what,
			                i + 1);
	{
		size_t bad = 0;

		if (!text_utf8_valid(text, n, &bad))
			return ret_fail(err, RET_USAGE, "%s is not valid UTF-8 (byte %zu)", what, bad + 1);
	}
	return RET_OK;
}

ret_code
holds_parse_match(const char *arg, char *column, char *value, ret_error *err)
{
	const char *eq = strchr(arg, '=');
	size_t cl;

	if (eq == NULL)
		return ret_fail(err, RET_USAGE, "--match: expected COLUMN=VALUE");
	cl = (size_t)(eq - arg);
	if (cl == 0 || cl >= POLICY_NAME_MAX)
		return ret_fail(err, RET_USAGE, "--match: the column name is empty or too long");
	memcpy(column, arg, cl);
	column[cl] = '\0';
	if (!policy_identifier_ok(column))
		return ret_fail(err, RET_USAGE,
		                "--match: column \"%.*s\" is not a plain identifier (letters, digits, _ "
		                "and $ only)",
		                (int)cl, arg);
	if (holds_check_text("--match value", eq + 1, HOLD_VALUE_MAX, err) != RET_OK)
		return RET_USAGE;
	/* The value is compared with the column's text exactly: " 42" would keep nothing. */
	if (isspace((unsigned char)eq[1]) || isspace((unsigned char)eq[strlen(eq) - 1]))
		return ret_fail(err, RET_USAGE,
		                "--match value \"%s\" starts or ends with a blank: it would never equal "
		                "the column's text",
		                eq + 1);
	memcpy(value, eq + 1, strlen(eq + 1) + 1);
	return RET_OK;
}

ret_code
holds_check_against_policy(const hold_request *req, const policy *p, ret_error *err)
{
	if (p == NULL)
		return RET_OK;
	if (req->class_name[0]) {
		const policy_class *c = policy_find_class(p, req->class_name);

		if (c == NULL)
			return ret_fail(err, RET_USAGE, "--class: policy %s has no class \"%s\"", p->path,
			                req->class_name);
		for (int k = 0; k < c->n_hold_keys; k++)
			if (strcmp(c->hold_keys[k], req->column) == 0)
				return RET_OK;
		return ret_fail(err, RET_USAGE,
		                "--match: column \"%s\" is not a hold key of class \"%s\" in %s",
		                req->column, c->name, p->path);
	}
	for (int i = 0; i < p->n_classes; i++)
		for (int k = 0; k < p->classes[i].n_hold_keys; k++)
			if (strcmp(p->classes[i].hold_keys[k], req->column) == 0)
				return RET_OK;
	return ret_fail(err, RET_USAGE, "--match: column \"%s\" is not a hold key of any class in %s",
	                req->column, p->path);
}

ret_code
holds_add(PGconn *conn, const hold_request *req, long long *hold_id, ret_error *err)
{
	const char *params[6];
	PGresult *res = NULL;
	ret_code rc;

	params[0] = req->ticket;
	params[1] = req->column;
	params[2] = req->value;
	params[3] = req->class_name[0] ? req->class_name : NULL;
	params[4] = req->reason;
	params[5] = req->by[0] ? req->by : NULL;
	rc = db_query(conn, "hold add",
	              "INSERT INTO retention.holds (ticket, match_column, match_value, class_name,"
	              " reason, created_by) VALUES ($1, $2, $3, $4, $5, coalesce($6, current_user))"
	              " RETURNING hold_id",
	              6, params, &res, err);
	if (rc != RET_OK) {
		if (strcmp(err->sqlstate, "23505") == 0) {
			ret_fail(err, RET_USAGE, "ticket %s already holds %s=%s%s%s", req->ticket,
			         req->column, req->value, req->class_name[0] ? " in class " : "",
			         req->class_name);
			return RET_USAGE;
		}
		if (strcmp(err->sqlstate, "23514") == 0)
			err->code = RET_USAGE;
		return err->code;
	}
	*hold_id = (long long)db_int64(res, 0, 0);
	PQclear(res);
	return RET_OK;
}

ret_code
holds_release(PGconn *conn, const char *ticket, const char *reason, const char *by,
              int *released, ret_error *err)
{
	const char *params[3] = {ticket, reason, by && by[0] ? by : NULL};
	PGresult *res = NULL;
	ret_code rc;

	rc = db_query(conn, "hold release",
	              "UPDATE retention.holds SET released_at = now(),"
	              " released_by = coalesce($3, current_user), release_reason = $2"
	              " WHERE ticket = $1 AND released_at IS NULL RETURNING hold_id",
	              3, params, &res, err);
	if (rc != RET_OK)
		return rc;
	*released = PQntuples(res);
	PQclear(res);
	if (*released == 0)
		return ret_fail(err, RET_USAGE, "ticket %s has no open hold", ticket);
	return RET_OK;
}

ret_code
holds_list(PGconn *conn, bool include_released, cJSON **out, ret_error *err)
{
	PGresult *res = NULL;
	cJSON *arr;
	ret_code rc;

	*out = NULL;
	rc = db_query(conn, "hold list",
	              include_released
	                  ? "SELECT hold_id, ticket, match_column, match_value, class_name, reason,"
	                    " created_by, to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	                    " to_char(released_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), released_by,"
	                    " release_reason FROM retention.holds ORDER BY hold_id"
	                  : "SELECT hold_id, ticket, match_column, match_value, class_name, reason,"
	                    " created_by, to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	                    " NULL, NULL, NULL FROM retention.holds WHERE released_at IS NULL"
	                    " ORDER BY hold_id",
	              0, NULL, &res, err);
	if (rc != RET_OK)
		return rc;
	arr = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(res); i++) {
		static const char *const names[] = {"hold_id", "ticket", "match_column", "match_value",
		                                    "class", "reason", "created_by", "created_at",
		                                    "released_at", "released_by", "release_reason"};
		cJSON *h = cJSON_CreateObject();

		for (int c = 0; c < 11; c++) {
			if (PQgetisnull(res, i, c))
				cJSON_AddNullToObject(h, names[c]);
			else if (c == 0)
				cJSON_AddItemToObject(h, names[c], cJSON_CreateRaw(PQgetvalue(res, i, c)));
			else
				cJSON_AddStringToObject(h, names[c], PQgetvalue(res, i, c));
		}
		cJSON_AddItemToArray(arr, h);
	}
	PQclear(res);
	*out = arr;
	return RET_OK;
}
