#!/usr/bin/env bash
# `retention policy check` validates a policy offline (exit 0 or 2) and, with
# --db, against the catalog: drift (a table in a governed schema that no class
# names, a governed schema that does not exist) exits 4, a dependent a run's
# guard would refuse exits 3, a class whose table vanished or whose column is
# unknown exits 2; the most serious finding decides. Partitions are governed
# through their parent; tables outside the governed schemas are not drift.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE SCHEMA other;
CREATE TABLE app.logs (id bigserial PRIMARY KEY, logged_at timestamptz, customer_id int);
CREATE TABLE app.aggregates (day date PRIMARY KEY, n int);
CREATE TABLE app.events (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.events_2025 PARTITION OF app.events
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE other.unrelated (id int);
SQL
policy() { # extra governed schema, if any
  cat <<EOF2
{"name": "drift", "version": 3, "governed_schemas": ["app"$1], "classes": [
  {"name": "logs", "table": "app.logs", "key": "id", "timestamp_column": "logged_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "aggregates", "table": "app.aggregates", "action": "keep", "retain": "indefinite"},
  {"name": "events", "table": "app.events", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "1 year"}]}
EOF2
}
policy "" >"$WORK/policy.json"
policy ', "gone"' >"$WORK/gone.json"
sed 's/"30 days"/"30"/' "$WORK/policy.json" >"$WORK/invalid.json"
DB="dbname=$TEST_DB"

check() { # args...: stdout in $out, stderr in $WORK/check.log, status in $rc
  out=$(retention policy check "$@" 2>"$WORK/check.log")
  rc=$?
}
findings() { # the finding lines of $out
  echo "$out" | grep -E '^(invalid|vanished|guard|uncovered|no-schema): '
}

# Offline.
check --policy "$WORK/policy.json"
assert_eq "offline: valid" 0 "$rc"
assert_eq "offline: says it did not look at a database" \
  "result: valid; not checked against a database (add --db)" "$(echo "$out" | tail -n 1)"
check --policy "$WORK/invalid.json"
assert_eq "offline: a bare number is an invalid policy" 2 "$rc"
assert_match "offline: the error names the class and field" 'class \\"logs\\": field \\"retain\\"' \
  "$(cat "$WORK/check.log")"

# Live, in order: partitions and other schemas are not drift.
check --policy "$WORK/policy.json" --db "$DB"
assert_eq "clean database exits 0" 0 "$rc"
assert_eq "clean: summary" \
  "database \"$TEST_DB\" as \"postgres\" on local socket: 3 of 3 classes in order, 3 tables in governed schemas" \
  "$(echo "$out" | grep '^database ')"
assert_eq "clean: no finding" "" "$(findings)"
assert_eq "clean: result" "result: clean" "$(echo "$out" | tail -n 1)"
check --policy "$WORK/policy.json" "--db=$DB"
assert_eq "--db=CONNINFO works too" 0 "$rc"
PGDATABASE=$TEST_DB check --policy "$WORK/policy.json" --db
assert_eq "--db alone uses libpq's environment" 0 "$rc"

# Drift: a new table in the governed schema, a governed schema that is gone.
q "CREATE TABLE app.signups (id int, email text)" >/dev/null
check --policy "$WORK/gone.json" --db "$DB"
assert_eq "drift exits 4" 4 "$rc"
assert_eq "drift: both findings" \
  "no-schema: governed schema gone does not exist
uncovered: table app.signups in governed schema app is named by no class" "$(findings)"
assert_eq "drift: result" "result: drift (exit 4)" "$(echo "$out" | tail -n 1)"

# A DELETE trigger the policy does not cover: a run's guard would refuse (3 beats 4).
sql <<'SQL'
CREATE FUNCTION other.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER audit_delete AFTER DELETE ON app.events
  FOR EACH STATEMENT EXECUTE FUNCTION other.audit();
SQL
check --policy "$WORK/policy.json" --db "$DB"
assert_eq "guard exits 3" 3 "$rc"
assert_eq "guard: the finding" \
  "guard: class \"events\": guard trigger: trigger \"audit_delete\" fires on DELETE from app.events and is not in the class's allow_triggers" \
  "$(findings | grep '^guard')"
assert_eq "guard: the drift is still listed" 1 "$(findings | grep -c '^uncovered: ')"
q "DROP TRIGGER audit_delete ON app.events" >/dev/null

# A vanished table and an unknown column: a run would refuse (2 beats 4).
q "ALTER TABLE app.aggregates RENAME TO aggregates_old;
   ALTER TABLE app.logs RENAME COLUMN customer_id TO client_id" >/dev/null
check --policy "$WORK/policy.json" --db "$DB"
assert_eq "vanished table and unknown column exit 2" 2 "$rc"
assert_eq "the findings, drift included" \
  "invalid: $WORK/policy.json: class \"logs\": field \"hold_keys\": table app.logs has no column \"customer_id\"
vanished: class \"aggregates\": table app.aggregates does not exist (dropped or renamed?)
uncovered: table app.aggregates_old in governed schema app is named by no class
uncovered: table app.signups in governed schema app is named by no class" "$(findings)"
assert_eq "summary counts the classes in order" 1 \
  "$(echo "$out" | grep -c ': 1 of 3 classes in order, 4 tables in governed schemas$')"

# Two classes on one partition tree: a run refuses, and so does the check.
sed 's/"table": "app.aggregates"/"table": "app.events_2024"/' "$WORK/policy.json" >"$WORK/tree.json"
check --policy "$WORK/tree.json" --db "$DB"
assert_eq "two classes on one partition tree exit 2" 2 "$rc"
assert_eq "... named like the run names it" \
  "invalid: $WORK/tree.json: class \"events\": field \"table\": app.events and class \"aggregates\"'s app.events_2024 are one partition tree; one table takes one rule" \
  "$(findings | grep 'partition tree')"

# The same as JSON, for a pipeline.
check --policy "$WORK/policy.json" --db "$DB" --json
assert_eq "JSON: same exit status" 2 "$rc"
assert_eq "JSON: kinds, classes and outcome" \
  "invalid logs app.logs|vanished aggregates app.aggregates|uncovered None app.aggregates_old|uncovered None app.signups|invalid 2" \
  "$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin)
print("|".join("%s %s %s" % (f["kind"], f["class"], f["object"]) for f in d["findings"])
      + "|%s %s" % (d["outcome"], d["exit_status"]))')"

# No database: a runtime failure, not a verdict.
check --policy "$WORK/policy.json" --db "host=$WORK/no-server connect_timeout=2"
assert_eq "unreachable database exits 1" 1 "$rc"
assert_eq "nothing on stdout" "" "$out"
finish
