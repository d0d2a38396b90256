#!/usr/bin/env bash
# Case 6: an old parent row still referenced by a young child through
# ON DELETE RESTRICT (or NO ACTION) is skipped and counted as pinned, not a
# failed run; the other eligible parents go, no lock or open transaction is
# left behind, and a dry run gives the same numbers.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.parent (id bigint PRIMARY KEY, created_at timestamptz);
CREATE TABLE app.child (id bigint PRIMARY KEY,
  parent_id bigint REFERENCES app.parent ON DELETE RESTRICT, created_at timestamptz);
CREATE TABLE app.child2 (id bigint PRIMARY KEY,
  parent_id bigint REFERENCES app.parent, created_at timestamptz);
INSERT INTO app.parent SELECT i, now() - interval '400 days' FROM generate_series(1, 10) i;
INSERT INTO app.parent SELECT i, now() - interval '10 days' FROM generate_series(11, 15) i;
INSERT INTO app.child VALUES (1, 3, now() - interval '1 day'), (2, 3, now() - interval '1 day'),
                             (3, 12, now() - interval '1 day');
INSERT INTO app.child2 VALUES (1, 7, now() - interval '1 day');
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case06", "version": 1, "max_fraction": 1.0,
 "classes": [{"name": "parent", "table": "app.parent", "key": "id",
              "timestamp_column": "created_at", "action": "purge", "retain": "90 days"}]}
EOF2

run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
assert_eq "dry run pinned" 2 "$(class_get parent pinned)"
assert_eq "dry run eligible" 8 "$(class_get parent eligible)"
dry=$(latest_report)
sleep 1

run_job --policy "$WORK/policy.json"
assert_eq "run exits 0 (pinned rows are not a failure)" 0 "$rc"
assert_eq "status" success "$(report_get '["status"]')"
assert_eq "purged the unpinned old parents" 8 "$(class_get parent purged)"
assert_eq "pinned counted" 2 "$(class_get parent pinned)"
assert_eq "pinned equals the dry run's" "$(class_get parent pinned "$dry")" \
  "$(class_get parent pinned)"
assert_eq "the pinned parents stay" "3 7" \
  "$(q "SELECT string_agg(id::text, ' ' ORDER BY id) FROM app.parent WHERE id <= 10")"
assert_eq "young parents stay" 5 "$(q "SELECT count(*) FROM app.parent WHERE id > 10")"
assert_eq "children untouched" "3 1" \
  "$(q "SELECT (SELECT count(*) FROM app.child) || ' ' || (SELECT count(*) FROM app.child2)")"
assert_eq "no retry needed" 0 "$(class_get parent retries)"
assert_eq "no session left idle in transaction" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'
        AND datname = current_database()")"
assert_eq "no lock left on the table" 0 \
  "$(q "SELECT count(*) FROM pg_locks WHERE relation = 'app.parent'::regclass
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")"

# Once the children go, the parents follow.
q "DELETE FROM app.child; DELETE FROM app.child2" >/dev/null
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "unpinned later: purged" 2 "$(class_get parent purged)"
assert_eq "unpinned later: none pinned" 0 "$(class_get parent pinned)"
finish
