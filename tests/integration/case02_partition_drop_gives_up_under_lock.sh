#!/usr/bin/env bash
# Case 2: another session holds ACCESS SHARE on a partitioned parent in an
# open transaction. The job's detach waits at most lock_timeout, gives up on
# that partition only and reports it; the default partition's old rows are
# still batched and another class still purged, all committed; no session of
# the job is left idle in transaction, and the reader's transaction is
# untouched. Once the reader is gone the next run drops the partition.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.events (id bigint NOT NULL, at timestamptz, customer_id bigint,
  UNIQUE (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.p_old PARTITION OF app.events
  FOR VALUES FROM ('2000-01-01') TO (date_trunc('day', now()) - interval '300 days');
CREATE TABLE app.p_default PARTITION OF app.events DEFAULT;
INSERT INTO app.events VALUES (1, now() - interval '350 days', 1),
  (2, now() - interval '340 days', 1), (3, now() - interval '330 days', 1),
  (4, now() - interval '200 days', 1), (5, now() - interval '1 day', 1), (6, NULL, 1);
CREATE TABLE app.logs (id bigserial PRIMARY KEY, at timestamptz, customer_id bigint);
INSERT INTO app.logs (at, customer_id) VALUES (now() - interval '100 days', 1),
  (now() - interval '100 days', 1), (now() - interval '1 day', 1);
SQL

cat >"$WORK/policy.json" <<'EOF2'
{"name": "partition-lock", "version": 1, "max_fraction": 0.95, "lock_timeout_ms": 500,
 "classes": [
  {"name": "events", "table": "app.events", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days", "hold_keys": ["customer_id"]},
  {"name": "logs", "table": "app.logs", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days", "hold_keys": ["customer_id"]}]}
EOF2

# The reader: ACCESS SHARE on the parent, in a transaction left open.
mkfifo "$WORK/reader"
psql -X -q -v ON_ERROR_STOP=1 -c "SET application_name = 'reader'" -f "$WORK/reader" \
  >/dev/null 2>&1 &
exec 3>"$WORK/reader"
echo "BEGIN; LOCK TABLE app.events IN ACCESS SHARE MODE; SELECT 1;" >&3
for _ in $(seq 1 100); do
  [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'reader' AND a.datname = current_database()
          AND l.relation = 'app.events'::regclass
          AND l.mode = 'AccessShareLock' AND l.granted")" = 1 ] && break
  sleep 0.1
done
assert_eq "the reader holds ACCESS SHARE on the parent" 1 \
  "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE a.application_name = 'reader' AND a.datname = current_database()
          AND l.relation = 'app.events'::regclass
        AND l.mode = 'AccessShareLock' AND l.granted")"

start=$(date +%s%N)
run_job --policy "$WORK/policy.json"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
assert_eq "run exits 1: a partition was left undone" 1 "$rc"
assert_match "the run did not queue behind the reader (under 10 s)" '^[0-9]{1,4}$' "$elapsed_ms"
assert_eq "events failed, naming why" \
  "failed: 1 partition(s) not locked within lock_timeout, left for the next run" \
  "$(class_get events status): $(class_get events error)"
assert_eq "report: the partition skipped, with lock_timeout as the reason" \
  '[["app.p_old", 0, "skipped", true]]' \
  "$(report_eval 'json.dumps([[p["name"], p["rows"], p["outcome"], "lock timeout" in p["reason"]]
     for p in r["classes"][0]["partitions"]])')"
assert_eq "the partition's rows are all there" 3 "$(q "SELECT count(*) FROM app.p_old")"
assert_eq "default partition's old row purged, committed" 1 "$(class_get events purged)"
assert_eq "default partition keeps young and undated" "5,6" \
  "$(q "SELECT string_agg(id::text, ',' ORDER BY id) FROM app.p_default")"
assert_eq "the other class ran and committed" "ok 2 1" \
  "$(class_get logs status) $(class_get logs purged) $(q "SELECT count(*) FROM app.logs")"
assert_eq "no session of the job is left (idle in transaction or otherwise)" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retention'
        AND datname = current_database()")"
assert_eq "the reader's transaction is untouched" "idle in transaction" \
  "$(q "SELECT state FROM pg_stat_activity WHERE application_name = 'reader'
        AND datname = current_database()")"

# The reader ends; the next run drops the partition.
echo "COMMIT;" >&3
exec 3>&-
wait
run_job --policy "$WORK/policy.json"
assert_eq "next run exits 0" 0 "$rc"
assert_eq "next run: the partition dropped with its 3 rows" '[["app.p_old", 3, "dropped"]]' \
  "$(report_eval 'json.dumps([[p["name"], p["rows"], p["outcome"]]
     for p in r["classes"][0]["partitions"]])')"
assert_eq "p_old is gone" 0 "$(q "SELECT count(*) FROM pg_class WHERE relname = 'p_old'")"
finish
