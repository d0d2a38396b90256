#!/usr/bin/env bash
# The exception log's history cannot be rewritten: retention.hold_history
# refuses UPDATE, DELETE and TRUNCATE, from the owner, from a role with every
# privilege on it, and with triggers switched off the usual way
# (session_replication_role = replica); holds are released, never deleted.
# The report lists each open hold with who added it, when and why, and the
# holds released since the previous run with who released them and why.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.inputs (id bigserial PRIMARY KEY, received_at timestamptz, customer_id int);
INSERT INTO app.inputs (received_at, customer_id)
  SELECT now() - (i || ' days')::interval, i % 10 FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "history", "version": 1, "max_fraction": 0.9, "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]}]}
EOF2

retention hold add --ticket INV-1 --match customer_id=3 --reason "fraud case" --by alice >/dev/null
retention hold add --ticket INV-2 --match customer_id=4 --reason "complaint" --by bob >/dev/null
retention hold add --ticket INV-3 --match account_no=9 --reason "other system" --by carol >/dev/null
retention hold release --ticket INV-2 --reason "complaint closed" --by dave >/dev/null
events=$(q "SELECT count(*) FROM retention.hold_history")
assert_eq "history has every change" 4 "$events"

refused() { # SQL [psql options]: the error text, or "accepted"
  local sql=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 "$@" -c "$sql" 2>&1 >/dev/null && echo accepted
}
assert_match "UPDATE of the history is refused" "hold_history is append-only: UPDATE refused" \
  "$(refused "UPDATE retention.hold_history SET actor = 'mallory'")"
assert_match "DELETE from the history is refused" "hold_history is append-only: DELETE refused" \
  "$(refused "DELETE FROM retention.hold_history WHERE ticket = 'INV-2'")"
assert_match "TRUNCATE of the history is refused" "hold_history is append-only: TRUNCATE refused" \
  "$(refused "TRUNCATE retention.hold_history")"
assert_match "even with triggers switched off for replication" "append-only: DELETE refused" \
  "$(refused "SET session_replication_role = replica; DELETE FROM retention.hold_history")"
assert_match "a hold is never deleted" "holds are released, never deleted" \
  "$(refused "DELETE FROM retention.holds WHERE ticket = 'INV-1'")"
assert_match "a released hold cannot be reopened" "hold .* is already released" \
  "$(refused "UPDATE retention.holds SET released_at = NULL, released_by = NULL,
              release_reason = NULL WHERE ticket = 'INV-2'")"
assert_match "an open hold's match cannot be changed" "only the release of hold .* may change" \
  "$(refused "UPDATE retention.holds SET match_value = '99' WHERE ticket = 'INV-1'")"
q "DROP ROLE IF EXISTS t_history_admin; CREATE ROLE t_history_admin LOGIN;
   GRANT USAGE ON SCHEMA retention TO t_history_admin;
   GRANT ALL ON ALL TABLES IN SCHEMA retention TO t_history_admin" >/dev/null
assert_match "a role with every privilege is refused too" "append-only: DELETE refused" \
  "$(PGUSER=t_history_admin refused "DELETE FROM retention.hold_history")"
assert_eq "the history is intact" "$events" "$(q "SELECT count(*) FROM retention.hold_history")"
assert_eq "its release event names who and why" "dave|complaint closed" \
  "$(q "SELECT actor, reason FROM retention.hold_history WHERE event = 'released'")"

# The report: open holds with who, when and why; releases since the previous run.
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
hold() { report_get "$(printf '["holds"][[h["ticket"] for h in r["holds"]].index("%s")]["matches"][0]["%s"]' "$1" "$2")"; }
assert_eq "open hold: added by" alice "$(hold INV-1 created_by)"
assert_eq "open hold: reason" "fraud case" "$(hold INV-1 reason)"
assert_match "open hold: added at" '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T' "$(hold INV-1 created_at)"
assert_eq "open hold: rows it kept" 7 "$(hold INV-1 rows_held)"
assert_eq "a hold no class can match is listed, keeping nothing" "null 0" \
  "$(hold INV-3 class) $(hold INV-3 rows_held)"
assert_eq "the released hold is not open" False \
  "$(report_eval '"INV-2" in [h["ticket"] for h in r["holds"]]')"
assert_eq "first run: every release so far" "INV-2 dave complaint closed" \
  "$(report_eval '" ".join([x["ticket"] + " " + x["released_by"] + " " + x["reason"] for x in r["holds_released"]])')"
assert_eq "first run: no previous run" null "$(report_get '["holds_released_since"]')"

sleep 1
retention hold release --ticket INV-1 --reason "case closed" --by erin >/dev/null
run_job --policy "$WORK/policy.json"
assert_eq "second run exits 0" 0 "$rc"
assert_eq "second run: only the release since the first run" "INV-1 erin case closed" \
  "$(report_eval '" ".join([x["ticket"] + " " + x["released_by"] + " " + x["reason"] for x in r["holds_released"]])')"
assert_eq "second run: since the first run's start" \
  "$(q "SELECT to_char(started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM retention.runs WHERE sequence = 1")" \
  "$(report_get '["holds_released_since"]')"
q "DROP OWNED BY t_history_admin; DROP ROLE t_history_admin" >/dev/null
finish
