#!/usr/bin/env bash
# An executed run holds no transaction for long: it counts by heap block
# ranges and reads its removed keys back in chunks, each its own transaction,
# so it never holds back the xmin horizon (and vacuum) for the length of a
# scan of the whole table. A second session samples pg_stat_activity every
# 20 ms for the job's sessions and keeps the oldest xact_start it saw.
#
# The counting scan is made slow per row, as a real one is on a big table:
# rows referenced from a child table through an unindexed foreign key are
# "pinned", and with a small work_mem the pinned test cannot be hashed, so it
# scans the child once a row. The dry run, which still counts in one
# statement in one snapshot, shows on this machine and at this moment how
# long that single transaction is: its counting scan and its digests' scan
# each take about a third of it. The executed run's longest transaction must
# stay under a tenth of the dry run's, measured in the same test so that a
# slow or loaded machine moves both (a single counting statement, as before,
# would take about a third). The dry run must take at least MIN_DRY seconds
# for the comparison to mean anything.
. "$(dirname "$0")/lib.sh"
setup_db
MIN_DRY=0.5

sql <<SQL
CREATE SCHEMA app;
CREATE TABLE app.acct (id int PRIMARY KEY, closed_at timestamptz, customer_id int, pad text);
INSERT INTO app.acct
  SELECT i, now() - ((i % 100) || ' days')::interval - interval '1 hour', i % 10, repeat('x', 200)
  FROM generate_series(1, 8000) i;
CREATE TABLE app.note (acct_id int REFERENCES app.acct (id));
INSERT INTO app.note SELECT 1 + (i % 500) * 16 FROM generate_series(1, 16000) i;
VACUUM ANALYZE app.acct;
VACUUM ANALYZE app.note;
ALTER DATABASE $TEST_DB SET work_mem = '64kB';
CREATE SCHEMA probe;
-- The longest transaction of any session of the job on this database, until the job has come
-- and gone (or timeout_s passed).
CREATE FUNCTION probe.longest_job_xact(timeout_s float8) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
  longest float8 := 0;
  now_longest float8;
  sessions int;
  seen bool := false;
  t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT count(*), max(extract(epoch FROM clock_timestamp() - xact_start))
      INTO sessions, now_longest
      FROM pg_stat_activity
     WHERE application_name = 'retention' AND datname = current_database();
    seen := seen OR sessions > 0;
    longest := greatest(longest, coalesce(now_longest, 0));
    EXIT WHEN (seen AND sessions = 0) OR clock_timestamp() - t0 > timeout_s * interval '1 s';
    PERFORM pg_sleep(0.02);
  END LOOP;
  RETURN longest;
END \$\$;
SQL
cat >"$WORK/policy.json" <<'EOF'
{"name": "short", "version": 1, "max_fraction": 0.95, "batch_max_pages": 16,
 "batch_target_ms": 100, "classes": [
  {"name": "acct", "table": "app.acct", "key": "id", "timestamp_column": "closed_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]}]}
EOF

# Runs the job with the sampler alongside; sets $longest (seconds).
sampled_run() {
  PGAPPNAME=probe q "SELECT round(probe.longest_job_xact(300)::numeric, 3)" >"$WORK/longest" &
  local sampler=$!
  for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'probe'
      AND datname = current_database()")" = 1 ] && break
    sleep 0.05
  done
  run_job --policy "$WORK/policy.json" "$@"
  wait "$sampler"
  longest=$(cat "$WORK/longest")
}
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$@"; }

sampled_run --dry-run
assert_eq "dry run exits 0" 0 "$rc"
dry_longest=$longest
echo "# the dry run's one transaction: $dry_longest s"
if below "$dry_longest" "$MIN_DRY"; then
  die "the dry run's single transaction took $dry_longest s, not above $MIN_DRY s:" \
    "too little data for this test to mean anything on this machine"
fi
bound=$(python3 -c "print(round($dry_longest / 10, 3))")

sampled_run
assert_eq "real run exits 0" 0 "$rc"
echo "# the executed run's longest transaction: $longest s"
if below "$longest" "$bound"; then
  assert_eq "no transaction of the executed run reached a tenth of the dry run's" ok ok
else
  assert_eq "no transaction of the executed run reached a tenth of the dry run's" \
    "under $bound s" "$longest s"
fi
assert_match "it counted in many block ranges" \
  'counted in ([2-9][0-9]|[1-9][0-9]{2,}) block ranges' "$(cat "$WORK/run.log")"
dry=$(ls -t "$REPORTS"/*.json | sed -n 2p)
assert_match "it removed rows" '^[1-9][0-9]{3,}$' "$(class_get acct purged)"
assert_eq "it removed what the dry run counted" "$(class_get acct eligible "$dry")" \
  "$(class_get acct purged)"
finish
