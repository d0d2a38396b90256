#!/usr/bin/env bash
# Case 10: a class whose table has an ON DELETE CASCADE child or a DELETE
# trigger the policy does not cover is refused (exit 3) before any row goes,
# naming the foreign key or trigger; listing the child in allow_cascade_to or
# the trigger in allow_triggers lets the run go ahead.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, at timestamptz);
CREATE TABLE app.lines (id bigint PRIMARY KEY,
  order_id bigint CONSTRAINT lines_order_fk REFERENCES app.orders ON DELETE CASCADE);
INSERT INTO app.orders SELECT i, now() - interval '100 days' FROM generate_series(1, 10) i;
INSERT INTO app.lines SELECT i, i FROM generate_series(1, 10) i;
CREATE TABLE app.events (id bigint PRIMARY KEY, at timestamptz);
CREATE TABLE app.audit (id bigint);
CREATE FUNCTION app.log_delete() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO app.audit VALUES (OLD.id); RETURN OLD; END$$;
CREATE TRIGGER events_audit BEFORE DELETE ON app.events
  FOR EACH ROW EXECUTE FUNCTION app.log_delete();
INSERT INTO app.events SELECT i, now() - interval '100 days' FROM generate_series(1, 10) i;
SQL
policy() { # ORDERS_EXTRA EVENTS_EXTRA
  cat >"$WORK/policy.json" <<EOF2
{"name": "case10", "version": 1, "max_fraction": 1.0,
 "classes": [
  {"name": "orders", "table": "app.orders", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days"$1},
  {"name": "events", "table": "app.events", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days"$2}]}
EOF2
}
counts() {
  q "SELECT (SELECT count(*) FROM app.orders) || ' ' || (SELECT count(*) FROM app.lines) || ' '
       || (SELECT count(*) FROM app.events) || ' ' || (SELECT count(*) FROM app.audit)"
}

policy "" ""
run_job --policy "$WORK/policy.json"
assert_eq "uncovered cascade and trigger: exit 3" 3 "$rc"
assert_eq "status refused" refused "$(report_get '["status"]')"
assert_eq "nothing touched" "10 10 10 0" "$(counts)"
assert_eq "cascade guard names the foreign key" \
  "foreign key \"lines_order_fk\" on app.lines is ON DELETE CASCADE and app.lines is not in\
 the class's allow_cascade_to" \
  "$(report_eval '[c["guard"]["detail"] for c in r["classes"] if c["name"] == "orders"][0]')"
assert_eq "trigger guard names the trigger" \
  "trigger \"events_audit\" fires on DELETE from app.events and is not in the class's\
 allow_triggers" \
  "$(report_eval '[g["detail"] for g in r["guards"] if g["class"] == "events"][0]')"
assert_eq "guards listed" "orders:cascade events:trigger" \
  "$(report_eval '" ".join(g["class"] + ":" + g["guard"] for g in r["guards"])')"
assert_match "the log names the foreign key" 'lines_order_fk' "$(cat "$WORK/run.log")"
assert_match "the log names the trigger" 'events_audit' "$(cat "$WORK/run.log")"
sleep 1

# Covering only one still refuses the run.
policy ', "allow_cascade_to": ["app.lines"]' ""
run_job --policy "$WORK/policy.json"
assert_eq "one still uncovered: exit 3" 3 "$rc"
assert_eq "one still uncovered: nothing touched" "10 10 10 0" "$(counts)"
assert_eq "only the trigger guard fires" "events:trigger" \
  "$(report_eval '" ".join(g["class"] + ":" + g["guard"] for g in r["guards"])')"
sleep 1

policy ', "allow_cascade_to": ["app.lines"]' ', "allow_triggers": ["events_audit"]'
run_job --policy "$WORK/policy.json"
assert_eq "covered: exit 0" 0 "$rc"
assert_eq "covered: orders, their lines and events go; the trigger ran" "0 0 0 10" "$(counts)"
assert_eq "covered: no guard" "[]" "$(report_get '["guards"]')"
finish
