#!/usr/bin/env bash
# The three group roles of sql/003_roles.sql, plus `retention db grants
# --apply` on the policy's tables, give each role what it must do and nothing
# more. Login roles IN each group prove it:
#   job         runs for real (purge, archive, partitions); cannot add, change
#               or release a hold, write the history, delete a ledger row, or
#               touch a keep class's table
#   auditor     gets the dry run's numbers; a real run fails and removes nothing
#   hold admin  adds and releases holds (the history names its login); cannot
#               read or delete the data, nor delete a ledger row, nor run
. "$(dirname "$0")/lib.sh"
setup_db

P=${RETENTION_TEST_DB_PREFIX:-}t_roles
JOB=${P}_job
AUDITOR=${P}_auditor
HOLDER=${P}_hold_admin
drop_login_roles() {
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $JOB, $AUDITOR, $HOLDER" >/dev/null 2>&1
}
drop_login_roles
trap 'drop_login_roles; cleanup_work' EXIT
sql <<SQL
CREATE ROLE $JOB LOGIN IN ROLE retention_job;
CREATE ROLE $AUDITOR LOGIN IN ROLE retention_auditor;
CREATE ROLE $HOLDER LOGIN IN ROLE retention_hold_admin;
CREATE SCHEMA app;
-- Days 61..100 are past 60 days: 40 rows, 8 of them customer 3's.
CREATE TABLE app.logs (id bigserial PRIMARY KEY, logged_at timestamptz, customer_id int);
INSERT INTO app.logs (logged_at, customer_id)
  SELECT now() - (i || ' days')::interval + interval '12 hours', i % 5
  FROM generate_series(1, 100) i;
-- 10 x days: 100..200 are past 90 days: 11 rows, 2 of them customer 3's.
CREATE TABLE app.esc (id bigserial PRIMARY KEY, closed_at timestamptz, customer_id int);
INSERT INTO app.esc (closed_at, customer_id)
  SELECT now() - (i * 10 || ' days')::interval + interval '12 hours', i % 5
  FROM generate_series(1, 20) i;
CREATE TABLE app.events (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE app.events_old PARTITION OF app.events
  FOR VALUES FROM ('2000-01-01') TO ('2020-01-01');
CREATE TABLE app.events_new PARTITION OF app.events
  FOR VALUES FROM ('2020-01-01') TO ('2200-01-01');
INSERT INTO app.events SELECT i, timestamptz '2010-01-01' + (i || ' days')::interval
  FROM generate_series(1, 10) i;
INSERT INTO app.events SELECT i, now() FROM generate_series(11, 20) i;
CREATE TABLE app.agg (day date PRIMARY KEY, n int);
INSERT INTO app.agg SELECT d::date, 1 FROM generate_series(date '2000-01-01', date '2000-01-10',
  interval '1 day') d;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "roles", "version": 1, "max_fraction": 0.9, "governed_schemas": ["app"], "classes": [
  {"name": "logs", "table": "app.logs", "key": "id", "timestamp_column": "logged_at",
   "action": "purge", "retain": "60 days", "hold_keys": ["customer_id"]},
  {"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days", "hold_keys": ["customer_id"]},
  {"name": "events", "table": "app.events", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "1 year"},
  {"name": "agg", "table": "app.agg", "action": "keep", "retain": "indefinite"}]}
EOF2
total() { q "SELECT (SELECT count(*) FROM app.logs) || ' ' || (SELECT count(*) FROM app.esc)
             || ' ' || (SELECT count(*) FROM app.events) || ' ' || (SELECT count(*) FROM app.agg)"; }

# as ROLE SQL: "ok", or the server's error without the "ERROR:  " prefix.
as() {
  local role=$1 sql=$2 out
  if out=$(PGUSER=$role psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$sql" 2>&1 >/dev/null); then
    echo ok
  else
    echo "$out" | sed -n 's/^.*ERROR:  //p' | head -n 1
  fi
}

# The owner grants the policy's tables, on a database where PUBLIC may not
# connect nor create temporary tables (the job needs one for its digests).
q "REVOKE CONNECT, TEMPORARY ON DATABASE $TEST_DB FROM PUBLIC" >/dev/null
retention db grants --policy "$WORK/policy.json" >"$WORK/grants.sql" 2>"$WORK/run.log"
assert_eq "grants are printed" 0 "$?"
assert_eq "database privileges, only those missing" \
  "GRANT CONNECT ON DATABASE \"$TEST_DB\" TO retention_job;
GRANT TEMPORARY ON DATABASE \"$TEST_DB\" TO retention_job;
GRANT CONNECT ON DATABASE \"$TEST_DB\" TO retention_auditor;
GRANT CONNECT ON DATABASE \"$TEST_DB\" TO retention_hold_admin;" \
  "$(grep 'ON DATABASE' "$WORK/grants.sql")"
assert_eq "job: the table and each partition; auditor: the parent" \
  'GRANT SELECT, DELETE ON TABLE "app"."events" TO retention_job;
GRANT SELECT ON TABLE "app"."events" TO retention_auditor;
-- its partitions, which the job deletes from one by one
GRANT SELECT, DELETE ON TABLE "app"."events_new" TO retention_job;
GRANT SELECT, DELETE ON TABLE "app"."events_old" TO retention_job;' \
  "$(sed -n '/^-- class events:/,/^$/p' "$WORK/grants.sql" | sed '1d;/^$/d')"
assert_eq "a keep class's table is granted to nobody" 0 "$(grep -c '"agg"' "$WORK/grants.sql")"
assert_eq "the statements are one transaction" "BEGIN; COMMIT;" \
  "$(grep -E '^(BEGIN|COMMIT);$' "$WORK/grants.sql" | tr '\n' ' ' | sed 's/ $//')"
retention db grants --policy "$WORK/policy.json" --apply 2>"$WORK/run.log"
assert_eq "grants --apply as the owner" 0 "$?"
retention db grants --policy "$WORK/policy.json" --apply 2>"$WORK/run.log"
assert_eq "grants --apply again is harmless" 0 "$?"
PGUSER=$JOB retention db grants --policy "$WORK/policy.json" --apply 2>"$WORK/run.log"
assert_eq "the job cannot grant itself anything" 1 "$?"
assert_match "... and says so" '"[0-9]+ GRANT statements granted nothing; none applied"' \
  "$(cat "$WORK/run.log")"

# Hold admin: adds and releases holds; the history names its login.
PGUSER=$HOLDER retention hold add --ticket INV-1 --match customer_id=3 --reason "fraud case" \
  --by alice >/dev/null 2>"$WORK/run.log"
assert_eq "hold admin adds a hold" 0 "$?"
PGUSER=$HOLDER retention hold add --ticket INV-2 --match customer_id=4 --reason "complaint" \
  >/dev/null 2>"$WORK/run.log"
assert_eq "hold admin adds another" 0 "$?"
PGUSER=$HOLDER retention hold release --ticket INV-2 --reason "closed" >/dev/null \
  2>"$WORK/run.log"
assert_eq "hold admin releases a hold" 0 "$?"
assert_eq "hold admin lists holds" 2 \
  "$(PGUSER=$HOLDER retention hold list --all --json 2>/dev/null | python3 -c \
     'import json,sys; print(len(json.load(sys.stdin)))')"
assert_eq "the history: each event with the login that made it" \
  "INV-1 added alice $HOLDER|INV-2 added $HOLDER $HOLDER|INV-2 released $HOLDER $HOLDER" \
  "$(q "SELECT string_agg(ticket || ' ' || event || ' ' || actor || ' ' || db_user, '|'
        ORDER BY event_id) FROM retention.hold_history")"
assert_match "hold admin cannot write the history itself" "permission denied for table hold_history" \
  "$(as "$HOLDER" "INSERT INTO retention.hold_history (hold_id, event, ticket, match_column,
     match_value, reason, actor) VALUES (1, 'released', 'INV-1', 'customer_id', '3', 'x', 'x')")"
assert_match "hold admin cannot change an open hold's match" "permission denied for table holds" \
  "$(as "$HOLDER" "UPDATE retention.holds SET match_value = '9' WHERE ticket = 'INV-1'")"
assert_match "hold admin cannot even see the data's schema" "permission denied for schema app" \
  "$(as "$HOLDER" "SELECT count(*) FROM app.logs")"
assert_match "hold admin cannot delete the data" "permission denied for schema app" \
  "$(as "$HOLDER" "DELETE FROM app.logs")"
assert_match "hold admin cannot delete a partition's rows" "permission denied for schema app" \
  "$(as "$HOLDER" "DELETE FROM app.events_old")"
assert_match "hold admin cannot delete from the runs ledger" "permission denied for table runs" \
  "$(as "$HOLDER" "DELETE FROM retention.runs")"
assert_match "hold admin cannot delete a segment record" \
  "permission denied for table archive_segments" \
  "$(as "$HOLDER" "DELETE FROM retention.archive_segments")"
PGUSER=$HOLDER run_job --policy "$WORK/policy.json" --dry-run
assert_eq "hold admin cannot even count the data" 1 "$rc"
assert_eq "nothing changed" "100 20 20 10" "$(total)"

# Auditor: the dry run works and changes nothing.
PGUSER=$AUDITOR run_job --policy "$WORK/policy.json" --dry-run
assert_eq "auditor's dry run exits 0" 0 "$rc"
dry=$(latest_report)
assert_eq "auditor sees the numbers" "32 8 | 9 2 | 10 0" \
  "$(class_get logs eligible) $(class_get logs held) | $(class_get esc eligible) \
$(class_get esc held) | $(class_get events eligible) $(class_get events held)"
assert_eq "auditor's report has the holds evidence" "INV-1" \
  "$(report_eval '" ".join(h["ticket"] for h in r["holds"])')"
sleep 1
PGUSER=$AUDITOR run_job --policy "$WORK/policy.json"
assert_eq "auditor's real run fails" 1 "$rc"
assert_match "... refused by the database" "permission denied for table runs" \
  "$(cat "$WORK/run.log")"
assert_eq "... and removes nothing" "100 20 20 10" "$(total)"
assert_eq "no ledger row" 0 "$(q "SELECT count(*) FROM retention.runs")"
assert_match "auditor cannot delete" "permission denied for table logs" \
  "$(as "$AUDITOR" "DELETE FROM app.logs WHERE false")"
assert_match "auditor cannot add a hold" "permission denied for table holds" \
  "$(as "$AUDITOR" "INSERT INTO retention.holds (ticket, match_column, match_value, reason)
     VALUES ('X-1', 'customer_id', '1', 'x')")"
assert_eq "auditor reads the ledgers" ok \
  "$(as "$AUDITOR" "SELECT count(*) FROM retention.runs, retention.archive_segments,
     retention.archive_restores, retention.hold_history")"

# Job: the real run, exactly what the auditor counted, the hold honoured.
sleep 1
PGUSER=$JOB run_job --policy "$WORK/policy.json"
assert_eq "job's run exits 0" 0 "$rc"
assert_eq "job removes what the auditor counted" \
  "$(class_get logs eligible "$dry") $(class_get esc eligible "$dry") $(class_get events eligible "$dry")" \
  "$(class_get logs purged) $(class_get esc archived) $(class_get events purged)"
assert_eq "rows left; the keep class untouched" "68 11 10 10" "$(total)"
assert_eq "segments recorded by the job" 9 \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_eq "its ledger row, completed" "success 0" \
  "$(q "SELECT status || ' ' || exit_code FROM retention.runs")"
assert_match "job cannot add a hold" "permission denied for table holds" \
  "$(as "$JOB" "INSERT INTO retention.holds (ticket, match_column, match_value, reason)
     VALUES ('X-1', 'customer_id', '1', 'x')")"
PGUSER=$JOB retention hold add --ticket X-2 --match customer_id=1 --reason x >/dev/null \
  2>"$WORK/run.log"
assert_eq "job's hold add fails" 1 "$?"
assert_match "job cannot release a hold" "permission denied for table holds" \
  "$(as "$JOB" "UPDATE retention.holds SET released_at = now(), released_by = 'job',
     release_reason = 'x' WHERE ticket = 'INV-1'")"
assert_match "job cannot write the history" "permission denied for table hold_history" \
  "$(as "$JOB" "INSERT INTO retention.hold_history (hold_id, event, ticket, match_column,
     match_value, reason, actor) VALUES (1, 'released', 'INV-1', 'customer_id', '3', 'x', 'x')")"
assert_match "job cannot delete the history" "permission denied for table hold_history" \
  "$(as "$JOB" "DELETE FROM retention.hold_history")"
assert_match "job cannot delete a ledger row" "permission denied for table runs" \
  "$(as "$JOB" "DELETE FROM retention.runs")"
assert_match "job cannot rewrite what a run was" "permission denied for table runs" \
  "$(as "$JOB" "UPDATE retention.runs SET policy_sha256 = 'x'")"
assert_match "job cannot touch a keep class's table" "permission denied for table agg" \
  "$(as "$JOB" "DELETE FROM app.agg")"
assert_match "job cannot insert into the data" "permission denied for table logs" \
  "$(as "$JOB" "INSERT INTO app.logs (logged_at) VALUES (now())")"
assert_match "job cannot create in the schema retention" "permission denied for schema retention" \
  "$(as "$JOB" "CREATE TABLE retention.x (i int)")"
assert_eq "the hold is still open" "INV-1 open" \
  "$(q "SELECT ticket || ' ' || CASE WHEN released_at IS NULL THEN 'open' ELSE 'released' END
        FROM retention.holds WHERE ticket = 'INV-1'")"

drop_login_roles
assert_eq "test roles dropped" 0 \
  "$(q "SELECT count(*) FROM pg_roles WHERE rolname IN ('$JOB', '$AUDITOR', '$HOLDER')")"
finish
