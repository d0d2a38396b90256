#!/usr/bin/env bash
# A class that removes more than 10% of its table has the table analyzed and
# its dead tuples (pg_stat_user_tables.n_dead_tup) in its report entry;
# "vacuum_after": true also vacuums it. A class removing less is left alone.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.big (id bigserial PRIMARY KEY, at timestamptz, customer_id bigint);
CREATE TABLE app.vac (id bigserial PRIMARY KEY, at timestamptz, customer_id bigint);
CREATE TABLE app.small (id bigserial PRIMARY KEY, at timestamptz, customer_id bigint);
INSERT INTO app.big (at, customer_id) SELECT now() - (g % 2) * interval '100 days', 1
  FROM generate_series(1, 200) g;
INSERT INTO app.vac (at, customer_id) SELECT now() - (g % 2) * interval '100 days', 1
  FROM generate_series(1, 200) g;
INSERT INTO app.small (at, customer_id) SELECT now() - (g % 20 = 0)::int * interval '100 days', 1
  FROM generate_series(1, 200) g;
SQL

cat >"$WORK/policy.json" <<'EOF2'
{"name": "upkeep", "version": 1, "max_fraction": 0.9, "classes": [
  {"name": "big", "table": "app.big", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days"},
  {"name": "vac", "table": "app.vac", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days", "vacuum_after": true},
  {"name": "small", "table": "app.small", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days", "vacuum_after": true}]}
EOF2
analyzed() { q "SELECT analyze_count || ' ' || vacuum_count FROM pg_stat_user_tables
                WHERE relid = '$1'::regclass"; }

run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
assert_eq "big: half purged" 100 "$(class_get big purged)"
assert_eq "big: analyzed, not vacuumed" "True False" \
  "$(class_get big analyzed) $(class_get big vacuumed)"
assert_eq "big: the server analyzed it once, vacuumed it never" "1 0" "$(analyzed app.big)"
assert_eq "big: its 100 deleted rows are dead tuples" 100 "$(class_get big n_dead_tup)"
assert_eq "vac: analyzed and vacuumed" "True True" \
  "$(class_get vac analyzed) $(class_get vac vacuumed)"
assert_eq "vac: the server analyzed and vacuumed it once" "1 1" "$(analyzed app.vac)"
assert_eq "vac: no dead tuple left" 0 "$(class_get vac n_dead_tup)"
assert_eq "small: 5% purged" 10 "$(class_get small purged)"
assert_eq "small: left alone, n_dead_tup not read" "False False null" \
  "$(class_get small analyzed) $(class_get small vacuumed) $(class_get small n_dead_tup)"
assert_eq "small: the server neither analyzed nor vacuumed it" "0 0" "$(analyzed app.small)"

echo '{"name": "x", "version": 1, "vacuum_after": "yes", "classes": []}' >"$WORK/bad.json"
run_job --policy "$WORK/bad.json"
assert_eq "vacuum_after must be a boolean (exit 2)" 2 "$rc"
assert_match "the error names the field" 'vacuum_after.{0,2} must be true or false' \
  "$(cat "$WORK/run.log")"
finish
