#!/usr/bin/env bash
# A class never removes more rows than it counted eligible before the work,
# the count its max_fraction guard approved. Parents 100 days old, half of
# them pinned by children that an earlier class (30 days) purges in the same
# run: the parents it unpins become eligible mid-run, and the parent class's
# batches, which re-check pinning at delete time, would take them too. The
# batch that would pass the count is rolled back and the class stops; the
# rows over it are left for the next run, whose guard refuses them. With
# --jobs 1 and --jobs 2 (the parents' first batch held back until the
# children are gone, the order that goes wrong).
. "$(dirname "$0")/lib.sh"
setup_db

load() {
  sql <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS app CASCADE;
CREATE SCHEMA app;
CREATE TABLE app.p (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
CREATE TABLE app.c (id bigint PRIMARY KEY,
  p_id bigint NOT NULL REFERENCES app.p ON DELETE RESTRICT, created_at timestamptz NOT NULL);
CREATE INDEX ON app.c (p_id);
INSERT INTO app.p SELECT i, now() - interval '100 days' FROM generate_series(1, 20000) i;
INSERT INTO app.c SELECT i, 2 * i, now() - interval '60 days' FROM generate_series(1, 10000) i;
VACUUM ANALYZE app.p;
VACUUM ANALYZE app.c;
SQL
}

# Batches of 10 heap blocks of app.p (185 rows a block), never resized.
cat >"$WORK/policy.json" <<'EOF2'
{"name": "cap", "version": 1, "batch_max_pages": 10, "batch_target_ms": 60000,
 "lock_timeout_ms": 60000,
 "classes": [
   {"name": "c", "table": "app.c", "key": "id", "timestamp_column": "created_at",
    "action": "purge", "retain": "30 days", "max_fraction": 1},
   {"name": "p", "table": "app.p", "key": "id", "timestamp_column": "created_at",
    "action": "purge", "retain": "90 days", "max_fraction": 0.6}]}
EOF2

check_run() {
  local jobs=$1
  assert_eq "jobs $jobs: exit 1 (counted rows of p were left)" 1 "$rc"
  assert_eq "jobs $jobs: status" failed "$(report_get '["status"]')"
  assert_eq "jobs $jobs: c purged all its children" 10000 "$(class_get c purged)"
  assert_eq "jobs $jobs: c ok" ok "$(class_get c status)"
  assert_eq "jobs $jobs: p counted eligible" 10000 "$(class_get p eligible)"
  assert_eq "jobs $jobs: p counted pinned" 10000 "$(class_get p pinned)"
  assert_eq "jobs $jobs: p purged five whole batches, not the sixth" 9250 \
    "$(class_get p purged)"
  assert_eq "jobs $jobs: p batches" 5 "$(class_get p batches)"
  assert_eq "jobs $jobs: p failed" failed "$(class_get p status)"
  assert_match "jobs $jobs: p's error says why" \
    'removed 9250 of the 10000 rows it counted eligible, then stopped: the next batch would have taken it past that count' \
    "$(class_get p error)"
  assert_eq "jobs $jobs: purged <= eligible in every class" True \
    "$(report_eval 'all(c["purged"] + c["archived"] <= c["eligible"] for c in r["classes"] if "eligible" in c)')"
  assert_match "jobs $jobs: warning names the class and its count" \
    'class p: stopped at the 10000 rows it counted eligible before the work \(9250 removed\): rows became eligible during the run \(unpinned by another class.s removals, or inserted with an old timestamp\) and are left for the next run' \
    "$(report_eval '"|".join(r["warnings"])')"
  assert_eq "jobs $jobs: rows left in p: exactly ids 9251..20000" "10750 9251 20000" \
    "$(q "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM app.p")"
  assert_eq "jobs $jobs: max_fraction 0.6 kept (removed share, per mille)" 462 \
    "$(q "SELECT (20000 - count(*)) * 1000 / 20000 FROM app.p")"
  assert_eq "jobs $jobs: batch ledger agrees with the report" \
    "class c purged 10000 rows in 7 batches; class p purged 9250 rows in 5 batches" \
    "$(batches_of "$(report_get '["run_id"]')")"

  # The next run counts what is left, all of it eligible now: its guard refuses.
  sleep 1
  run_job --policy "$WORK/policy.json" --jobs "$jobs"
  assert_eq "jobs $jobs: next run refused by the guard" 3 "$rc"
  assert_eq "jobs $jobs: next run counts the rest eligible" "10750 10750" \
    "$(class_get p eligible) $(class_get p total)"
  assert_eq "jobs $jobs: next run names max_fraction" \
    "max_fraction: would remove 10750 of 10750 rows (100.0%), above max_fraction 60.0%" \
    "$(report_eval '[c["guard"]["name"] + ": " + c["guard"]["detail"] for c in r["classes"] if c["name"] == "p"][0]')"
  assert_eq "jobs $jobs: nothing removed by the refused run" 10750 \
    "$(q "SELECT count(*) FROM app.p")"
}

# --jobs 1: c first, then p; the dry run before says 10000.
load
run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exit" 0 "$rc"
assert_eq "dry run: p would remove" "10000 10000 20000" \
  "$(class_get p eligible) $(class_get p pinned) $(class_get p total)"
sleep 1
run_job --policy "$WORK/policy.json" --jobs 1
check_run 1

# --jobs 2: c and p at once; p's first DELETE waits for a lock held until c is done.
load
psql -X -q -v ON_ERROR_STOP=1 >"$WORK/locker.log" 2>&1 <<'SQL' &
BEGIN;
LOCK TABLE app.p IN SHARE MODE;
DO $$ BEGIN
  FOR i IN 1..600 LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM app.c);
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
COMMIT;
SQL
locker=$!
sleep 0.5
run_job --policy "$WORK/policy.json" --jobs 2
wait "$locker" || die "the session holding app.p failed"
check_run 2
finish
