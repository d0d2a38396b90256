#!/usr/bin/env bash
# Dependents of a plain (unpartitioned) table are seen: an ON DELETE CASCADE
# key the policy does not allow refuses the run, and rows a RESTRICT key
# still references are pinned, not deleted.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.inputs (id bigserial PRIMARY KEY, received_at timestamptz);
CREATE TABLE app.replies (id bigserial PRIMARY KEY,
                          input_id bigint REFERENCES app.inputs (id) ON DELETE CASCADE);
CREATE TABLE app.notes (id bigserial PRIMARY KEY,
                        input_id bigint REFERENCES app.inputs (id) ON DELETE RESTRICT);
INSERT INTO app.inputs (received_at)
  SELECT now() - (i || ' days')::interval FROM generate_series(1, 40) i;
INSERT INTO app.replies (input_id) VALUES (35);
INSERT INTO app.notes (input_id) VALUES (36), (37);
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "cascade-test", "version": 1, "max_fraction": 0.9, "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days"}]}
EOF2
run_job --policy "$WORK/policy.json"
assert_eq "uncovered cascade refuses the run" 3 "$rc"
assert_eq "guard named" cascade "$(report_eval 'r["classes"][0]["guard"]["name"]')"
assert_eq "nothing deleted" 40 "$(q "SELECT count(*) FROM app.inputs")"
assert_eq "the child row survives" 1 "$(q "SELECT count(*) FROM app.replies")"

sed -i 's/"retain": "30 days"}/"retain": "30 days", "allow_cascade_to": ["app.replies"]}/' \
  "$WORK/policy.json"
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "allowed cascade: run exits 0" 0 "$rc"
assert_eq "rows 30 to 40 days old, less the two pinned" 9 "$(class_get inputs purged)"
assert_eq "pinned" 2 "$(class_get inputs pinned)"
assert_eq "pinned rows stay" 2 "$(q "SELECT count(*) FROM app.inputs WHERE id IN (36, 37)")"
assert_eq "the cascade removed the reply" 0 "$(q "SELECT count(*) FROM app.replies")"
finish
