#!/usr/bin/env bash
# A rule on DELETE (DO ALSO or DO INSTEAD) on a purge or archive class's
# table, or on one of its partitions, refuses the class with exit 2 before
# any row goes, naming the rule: in policy check, the dry run and the run
# alike. PostgreSQL would refuse the job's statements under most rules, and
# an INSTEAD rule would delete somewhere else. A keep class's table may have
# one; once the rule is dropped the class runs.
. "$(dirname "$0")/lib.sh"
setup_db

# Each table: 20 rows, 10 of them 100 days old.
sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.other (id int);
INSERT INTO app.other SELECT generate_series(1, 20);
CREATE TABLE app.t (id int PRIMARY KEY, ts timestamptz);
CREATE RULE also_del AS ON DELETE TO app.t DO ALSO DELETE FROM app.other WHERE id = OLD.id;
CREATE TABLE app.i (id int PRIMARY KEY, ts timestamptz);
CREATE RULE instead_del AS ON DELETE TO app.i DO INSTEAD DELETE FROM app.other WHERE id = OLD.id;
CREATE TABLE app.p (id int, ts timestamptz NOT NULL, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
CREATE TABLE app.p_all PARTITION OF app.p DEFAULT;
CREATE RULE part_del AS ON DELETE TO app.p_all DO ALSO DELETE FROM app.other WHERE id = OLD.id;
CREATE TABLE app.k (id int PRIMARY KEY, ts timestamptz);
CREATE RULE keep_del AS ON DELETE TO app.k DO INSTEAD NOTHING;
INSERT INTO app.t SELECT i, now() - (CASE WHEN i <= 10 THEN 100 ELSE 1 END || ' days')::interval
  FROM generate_series(1, 20) i;
INSERT INTO app.i SELECT * FROM app.t;
INSERT INTO app.p SELECT * FROM app.t;
INSERT INTO app.k SELECT * FROM app.t;
SQL
counts() {
  q "SELECT concat_ws(' ', (SELECT count(*) FROM app.t), (SELECT count(*) FROM app.i),
       (SELECT count(*) FROM app.p), (SELECT count(*) FROM app.k),
       (SELECT count(*) FROM app.other))"
}
policy() { # CLASS TABLE
  cat >"$WORK/$1.json" <<EOF2
{"name": "rules", "version": 1, "max_fraction": 1, "classes": [
  {"name": "$1", "table": "$2", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "kept", "table": "app.k", "action": "keep", "retain": "indefinite"}]}
EOF2
}
# Refused everywhere with the same message. Usage: refused CLASS TABLE RULE ON KIND
refused() {
  local msg="$WORK/$1.json: class \"$1\": field \"table\": rule \"$3\" on $4 rewrites DELETE"
  msg+=" ($5); the job cannot remove rows through a rule"
  policy "$1" "$2"
  retention policy check --policy "$WORK/$1.json" --db >"$WORK/check.out" 2>&1
  assert_eq "$1: policy check exits 2" 2 "$?"
  assert_eq "$1: policy check names the rule" "invalid: $msg" \
    "$(grep '^invalid:' "$WORK/check.out")"
  run_job --policy "$WORK/$1.json" --dry-run
  assert_eq "$1: dry run exits 2" 2 "$rc"
  assert_eq "$1: dry run names the rule" "$msg" "$(class_get "$1" error)"
  sleep 1
  run_job --policy "$WORK/$1.json"
  assert_eq "$1: run exits 2" 2 "$rc"
  assert_eq "$1: run refused" refused "$(report_get '["status"]')"
  assert_eq "$1: run names the rule" "$msg" "$(class_get "$1" error)"
  assert_match "$1: the log names the rule" "rule \\\\\"$3\\\\\" on $4" "$(cat "$WORK/run.log")"
  assert_match "$1: the log gives the way out" 'DELETE trigger listed in allow_triggers' \
    "$(cat "$WORK/run.log")"
  assert_eq "$1: nothing touched" "20 20 20 20 20" "$(counts)"
  sleep 1
}
refused t app.t also_del app.t "DO ALSO"
refused i app.i instead_del app.i "DO INSTEAD"
refused p app.p part_del app.p_all "DO ALSO"

# Without the rule the class runs; the keep class's table keeps its rule and rows.
q "DROP RULE also_del ON app.t" >/dev/null
policy t app.t
retention policy check --policy "$WORK/t.json" --db >"$WORK/check.out" 2>&1
assert_eq "rule dropped: policy check clean" "0 result: clean" "$? $(tail -n 1 "$WORK/check.out")"
run_job --policy "$WORK/t.json" --dry-run
assert_eq "rule dropped: dry run exits 0" 0 "$rc"
assert_eq "rule dropped: dry run counts 10 of 20" "20 10" \
  "$(class_get t total) $(class_get t eligible)"
sleep 1
run_job --policy "$WORK/t.json"
assert_eq "rule dropped: run exits 0" 0 "$rc"
assert_eq "rule dropped: 10 purged" 10 "$(class_get t purged)"
assert_eq "rule dropped: only app.t lost rows" "10 20 20 20 20" "$(counts)"
finish
