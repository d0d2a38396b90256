#!/usr/bin/env bash
# A run killed after some batches committed leaves no report, but every
# committed batch left its row in retention.batches in its own transaction.
# The next run's report states, per class, exactly the rows the killed run
# removed (equal to what the tables lost), for purge and archive classes; a
# dry run reads the same as a SELECT-only role and says so when it may not;
# `verify --chain --db` lists the killed run's rows and adds each report's
# counts up against the ledger, which nobody may rewrite.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.a (id bigint PRIMARY KEY, at timestamptz, body text);
CREATE TABLE app.b (id bigint PRIMARY KEY, at timestamptz, body text);
CREATE TABLE app.c (id bigint PRIMARY KEY, at timestamptz, body text);
-- About 9 heap pages of old rows each in a and b: with batch_max_pages 1, 9 or so batches.
INSERT INTO app.a SELECT i, now() - interval '60 days', repeat('a', 200)
  FROM generate_series(1, 300) i;
INSERT INTO app.b SELECT i, now() - interval '60 days', repeat('b', 200)
  FROM generate_series(1, 300) i;
INSERT INTO app.a SELECT 1000 + i, now() - interval '1 day', 'young'
  FROM generate_series(1, 20) i;
INSERT INTO app.b SELECT 1000 + i, now() - interval '1 day', 'young'
  FROM generate_series(1, 20) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "batchlog", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "classes": [{"name": "a", "table": "app.a", "key": "id", "timestamp_column": "at",
              "action": "purge", "retain": "30 days"},
             {"name": "b", "table": "app.b", "key": "id", "timestamp_column": "at",
              "action": "purge", "retain": "30 days"},
             {"name": "c", "table": "app.c", "key": "id", "timestamp_column": "at",
              "action": "archive", "retain": "30 days"}]}
EOF2
count() { q "SELECT count(*) FROM app.$1"; }
# The newest report's unfinished_runs_removed: run ID, then class purged archived batches.
removed_by() {
  report_eval '" ".join(str(x) for u in r["unfinished_runs_removed"] for x in [u["run_id"]]
    + [y for c in u["classes"] for y in (c["class"], c["purged"], c["archived"], c["batches"])])'
}
# How many of the newest report's warnings are exactly $1.
warned() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["warnings"].count(sys.argv[2]))' \
    "$(latest_report)" "$1"
}

# 1. A purge run killed after its 12th committed batch: all of a, part of b.
a0=$(count a) b0=$(count b)
RETENTION_FAULT=after-commit:12 run_job --policy "$WORK/policy.json"
assert_eq "purge run killed" 137 "$rc"
killed=$(q "SELECT run_id FROM retention.runs ORDER BY sequence DESC LIMIT 1")
ra=$((a0 - $(count a))) rb=$((b0 - $(count b)))
assert_eq "the killed run removed all of a's old rows" 300 "$ra"
assert_match "... and part of b's" '^[1-9][0-9]?$|^[12][0-9]{2}$' "$rb"
na=$(q "SELECT count(*) FROM retention.batches WHERE run_id = '$killed' AND class_name = 'a'")
nb=$(q "SELECT count(*) FROM retention.batches WHERE run_id = '$killed' AND class_name = 'b'")
assert_eq "twelve committed batches in the ledger" 12 "$((na + nb))"
assert_eq "the ledger's rows per class are what the tables lost" "a $ra b $rb" \
  "$(q "SELECT string_agg(class_name || ' ' || rows, ' ' ORDER BY class_name) FROM
        (SELECT class_name, sum(rows) AS rows FROM retention.batches
         WHERE run_id = '$killed' AND action = 'purge' GROUP BY 1) s")"

# 2. The next run's report names it with exactly those rows, per class.
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "next run exits 0" 0 "$rc"
assert_eq "it names the killed run" "[\"$killed\"]" "$(report_get '["unfinished_runs"]')"
assert_eq "with the rows it removed per class" \
  "$killed a $ra 0 $na b $rb 0 $nb" \
  "$(removed_by)"
w="run $killed (sequence 1) ended without recording a report in the ledger (killed, or its "
w+="database went away); "
w+="its committed batches: class a purged $ra rows in $na batches; "
w+="class b purged $rb rows in $nb batches"
assert_eq "and says so in its warnings" 1 "$(warned "$w")"
retention report render "$(latest_report)" --format text --public-key "$PUB" >"$WORK/render.txt"
assert_eq "the sign-off view lists the killed run's rows per class" 2 \
  "$(grep -cE "$killed[ |]+(a[ |]+$ra[ |]+0[ |]+$na|b[ |]+$rb[ |]+0[ |]+$nb)[ |]*$" \
     "$WORK/render.txt")"
assert_eq "the next run purged the rest of b" "$((300 - rb))" "$(class_get b purged)"
assert_eq "... and nothing of a" 0 "$(class_get a purged)"
next=$(report_get '["run_id"]')
assert_eq "its own batches add up to its report's counts" "a 0 b $((300 - rb))" \
  "$(q "SELECT string_agg(c || ' ' || n, ' ' ORDER BY c) FROM
        (SELECT c, coalesce((SELECT sum(rows) FROM retention.batches
          WHERE run_id = '$next' AND class_name = c), 0) AS n FROM unnest('{a,b}'::text[]) c) s")"

# 3. An archive class killed after two committed batches; a dry run reads the ledger first.
sql <<'SQL'
INSERT INTO app.c SELECT i, now() - interval '60 days', repeat('c', 200)
  FROM generate_series(1, 300) i;
DROP ROLE IF EXISTS t_batchlog_ro;
CREATE ROLE t_batchlog_ro LOGIN;
GRANT USAGE ON SCHEMA app, retention TO t_batchlog_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA app, retention TO t_batchlog_ro;
SQL
trap 'psql -X -q -c "DROP OWNED BY t_batchlog_ro; DROP ROLE t_batchlog_ro" >/dev/null 2>&1;
      cleanup_work' EXIT
sleep 1
RETENTION_FAULT=after-commit:2 run_job --policy "$WORK/policy.json"
assert_eq "archive run killed" 137 "$rc"
killed2=$(q "SELECT run_id FROM retention.runs ORDER BY sequence DESC LIMIT 1")
rc2=$((300 - $(count c)))
assert_eq "the ledger's archived rows are what the table lost, in its segments" \
  "$rc2 $rc2 2" \
  "$(q "SELECT (SELECT sum(rows) FROM retention.batches WHERE run_id = '$killed2')
        || ' ' || (SELECT sum(rows) FROM retention.archive_segments WHERE run_id = '$killed2')
        || ' ' || (SELECT count(segment_id) FROM retention.batches WHERE run_id = '$killed2')")"

ledgers() {
  q "SELECT (SELECT count(*) FROM retention.runs) || ' '
       || (SELECT count(*) FROM retention.batches)"
}
before=$(ledgers)
sleep 1
PGUSER=t_batchlog_ro run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run as a SELECT-only role exits 0" 0 "$rc"
assert_eq "it names the killed archive run with its archived rows" "$killed2 c 0 $rc2 2" \
  "$(removed_by)"
w="run $killed2 (sequence 3) has no report and is marked running (at work now, or killed); "
w+="its committed batches: class c archived $rc2 rows in 2 batches"
assert_eq "marked as possibly still at work" 1 "$(warned "$w")"
assert_eq "the dry run wrote no run and no batch" "$before" "$(ledgers)"

q "REVOKE SELECT ON retention.batches FROM t_batchlog_ro" >/dev/null
sleep 1
PGUSER=t_batchlog_ro run_job --policy "$WORK/policy.json" --dry-run
assert_eq "without SELECT on the batch ledger the dry run still exits 0" 0 "$rc"
assert_eq "its report has no rows for the killed run" null \
  "$(report_get '["unfinished_runs_removed"]')"
w="the rows removed by runs without a report were not read (batch ledger: permission denied "
w+="for table batches): grant the role SELECT on retention.runs and retention.batches"
assert_eq "and says it could not read them" 1 "$(warned "$w")"
assert_eq "its counts still stand" "$rc2" "$((300 - $(class_get c eligible)))"

sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "the run after the killed archive run exits 0" 0 "$rc"
assert_eq "it names the killed archive run with its archived rows" "$killed2 c 0 $rc2 2" \
  "$(removed_by)"
assert_eq "and archived the rest" "$((300 - rc2))" "$(class_get c archived)"

# 4. verify --chain --db: the killed runs' rows, and every report matching its batches.
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
assert_eq "chain and ledgers verify" 0 "$?"
assert_eq "the killed purge run is listed with its rows" 1 \
  "$(grep -cxF "note  $killed: policy \"batchlog\" sequence 1 left no report (status abandoned); \
its committed batches: class a purged $ra rows in $na batches; class b purged $rb rows in $nb \
batches" "$WORK/chain.out")"
assert_eq "the killed archive run too" 1 \
  "$(grep -c "^note  $killed2: .*its committed batches: class c archived $rc2 rows in 2 batches$" \
     "$WORK/chain.out")"

# 5. Nobody rewrites the ledger: not the owner, not with triggers off, not the job role.
refused() {
  psql -X -q -v ON_ERROR_STOP=1 "$@" 2>&1 >/dev/null && echo accepted
}
assert_match "UPDATE refused" "batches is append-only: UPDATE refused" \
  "$(refused -c "UPDATE retention.batches SET rows = 0")"
assert_match "DELETE refused, even as a replica" "batches is append-only: DELETE refused" \
  "$(refused -c "SET session_replication_role = replica" -c "DELETE FROM retention.batches")"
assert_match "TRUNCATE refused" "batches is append-only: TRUNCATE refused" \
  "$(refused -c "TRUNCATE retention.batches")"
assert_eq "the job may insert and read, not update or delete; the auditor only read" \
  "true true false false true false false false" \
  "$(q "SELECT string_agg(has_table_privilege(r, 'retention.batches', p)::text, ' ' ORDER BY o)
        FROM (VALUES (1, 'retention_job', 'INSERT'), (2, 'retention_job', 'SELECT'),
                     (3, 'retention_job', 'UPDATE'), (4, 'retention_job', 'DELETE'),
                     (5, 'retention_auditor', 'SELECT'), (6, 'retention_auditor', 'INSERT'),
                     (7, 'retention_auditor', 'UPDATE'), (8, 'retention_auditor', 'DELETE'))
             v(o, r, p)")"

# 6. A batch row the report does not account for is a break that names the class.
last=$(report_get '["run_id"]')
q "INSERT INTO retention.batches (run_id, class_name, batch, action, table_name, rows)
   VALUES ('$last', 'a', 9999, 'purge', 'app.a', 5)" >/dev/null
retention verify --chain "$REPORTS" --public-key "$PUB" --db "" >"$WORK/chain.out" 2>&1
assert_eq "verify --db fails" 1 "$?"
assert_eq "naming the report, the class and both counts" 1 \
  "$(grep -cxF "BREAK $(basename "$(latest_report)"): class \"a\": the report says 0 rows \
purged and 0 archived; the batch ledger holds 5 purged and 0 archived in 1 committed batches of \
run $last" "$WORK/chain.out")"
finish
