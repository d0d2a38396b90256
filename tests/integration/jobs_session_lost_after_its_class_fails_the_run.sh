#!/usr/bin/env bash
# --jobs 3 with one long class and two small ones: a session that finished a
# small class is terminated while it waits for the long one. That class's key
# digests and rows per hold can no longer be read, so the run fails (exit 1)
# and the report never calls that class done with its evidence missing.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
-- the long class: about 30 heap pages, one page a batch, 150 ms apart
CREATE TABLE app.big (id bigint PRIMARY KEY, ts timestamptz, body text);
INSERT INTO app.big SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 2000) i;
CREATE TABLE app.s1 (id bigint PRIMARY KEY, ts timestamptz, owner text);
CREATE TABLE app.s2 (id bigint PRIMARY KEY, ts timestamptz, owner text);
INSERT INTO app.s1 SELECT i, now() - interval '90 days', 'o' || i % 2 FROM generate_series(1, 10) i;
INSERT INTO app.s2 SELECT i, now() - interval '90 days', 'o' || i % 2 FROM generate_series(1, 10) i;
SQL
retention hold add --ticket LEGAL-1 --match owner=o1 --reason "open case" >/dev/null \
  || die "cannot add a hold"
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-evidence", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 150, "classes": [
  {"name": "big", "table": "app.big", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "s1", "table": "app.s1", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "hold_keys": ["owner"]},
  {"name": "s2", "table": "app.s2", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days", "hold_keys": ["owner"]}]}
EOF2

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
  --archive-dir "$ARCHIVE" --progress-interval 0 --jobs 3 2>"$WORK/run.log" &
pid=$!
# Once the long class is under way, the sessions of the run done with their
# class: idle, their last statement the batches' timeouts set back after the
# class. The lock's session stays.
victims=""
for _ in $(seq 100); do
  big=$(q "SELECT count(*) FROM app.big")
  if [ "$big" -ge 1900 ]; then
    sleep 0.1
    continue
  fi
  victims=$(q "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
               WHERE application_name = 'retention' AND datname = current_database()
               AND state = 'idle' AND query LIKE 'SET lock_timeout%'
               AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory'
                               AND objid = 7400100)")
  [ -n "$victims" ] && [ "$big" -gt 500 ] && break
  sleep 0.1
done
[ -n "$victims" ] || die "no session of the run finished its class while the long one ran"
for v in $victims; do
  q "SELECT pg_terminate_backend($v)" >/dev/null
done
wait "$pid"
rc=$?

assert_eq "exit 1" 1 "$rc"
assert_eq "status failed" failed "$(report_get '["status"]')"
assert_eq "no class reported ok without its key digests" "" \
  "$(report_eval '" ".join(c["name"] for c in r["classes"]
                          if c["status"] == "ok" and c["key_digests"] is None)')"
assert_match "a class fails naming its evidence" "evidence not read" \
  "$(report_eval '" ".join(c.get("error") or "" for c in r["classes"])')"
assert_eq "the long class is done all the same" "0 ok" \
  "$(q "SELECT count(*) FROM app.big") $(class_get big status)"
finish
