#!/usr/bin/env bash
# SIGTERM under --jobs 2: each session finishes its batch in flight and
# commits, then stops; a class not yet started is not run. The signed report
# is marked interrupted and counts exactly the rows gone, class by class, and
# the archive ledger and segment files hold exactly the archived rows. A
# rerun with --jobs 2 does the rest and the chain verifies.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
-- about 60 heap pages of old rows each: one page a batch, 200 ms apart
CREATE TABLE app.p (id bigint PRIMARY KEY, ts timestamptz, body text);
CREATE TABLE app.r (id bigint PRIMARY KEY, ts timestamptz, body text);
CREATE TABLE app.w (id bigint PRIMARY KEY, ts timestamptz, body text);
INSERT INTO app.p SELECT i, now() - interval '90 days', repeat('x', 100)
  FROM generate_series(1, 4000) i;
INSERT INTO app.r SELECT i, now() - interval '90 days', repeat('y', 100)
  FROM generate_series(1, 4000) i;
INSERT INTO app.w SELECT i, now() - interval '90 days', repeat('z', 100)
  FROM generate_series(1, 4000) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs-sig", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "batch_pause_ms": 200, "classes": [
  {"name": "p", "table": "app.p", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"},
  {"name": "r", "table": "app.r", "key": "id", "timestamp_column": "ts",
   "action": "archive", "retain": "30 days"},
  {"name": "w", "table": "app.w", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "30 days"}]}
EOF2
left() { q "SELECT count(*) FROM app.$1"; }

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --signing-key "$KEY" \
  --archive-dir "$ARCHIVE" --progress-interval 0 --jobs 2 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 100); do
  [ "$(left p)" -lt 3700 ] && [ "$(left r)" -lt 3700 ] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
rc=$?
p_gone=$((4000 - $(left p)))
r_gone=$((4000 - $(left r)))

assert_eq "exit 1" 1 "$rc"
assert_eq "status interrupted" interrupted "$(report_get '["status"]')"
assert_eq "class statuses" "p:interrupted r:interrupted w:not-run" \
  "$(report_eval '" ".join(c["name"] + ":" + c["status"] for c in r["classes"])')"
assert_match "both sessions did some work" '^[1-9][0-9]* [1-9][0-9]*$' "$p_gone $r_gone"
assert_match "stopped before the end" '^[1-9][0-9]* [1-9][0-9]*$' "$(left p) $(left r)"
assert_eq "purge class: purged equals the rows gone" "$p_gone" "$(class_get p purged)"
assert_eq "archive class: archived equals the rows gone" "$r_gone" "$(class_get r archived)"
assert_eq "archive class: its segments in the report hold the rows gone" "$r_gone" \
  "$(report_eval 'sum(s["rows"] for s in r["archive_segments"])')"
assert_eq "archive ledger: the rows gone" "$r_gone" \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_eq "no segment file left uncommitted" \
  "$(q "SELECT count(*) FROM retention.archive_segments")" \
  "$(find "$ARCHIVE/r" -name '*.csv.gz' | wc -l)"
assert_eq "class not started: untouched" "0 4000" "$(class_get w purged) $(left w)"
assert_eq "removed digests count the rows gone" "$p_gone $r_gone" \
  "$(report_eval '" ".join(str(c["key_digests"][k]["rows"]) for c, k in
     zip(r["classes"][:2], ("purged", "archived")))')"
report=$(latest_report)
openssl pkeyutl -verify -pubin -inkey "$PUB" -rawin -in "$report" -sigfile "$report.sig" \
  >/dev/null 2>&1
assert_eq "report signed (openssl verifies)" 0 "$?"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$report" >/dev/null 2>&1
assert_eq "report and segments verify" 0 "$?"
assert_eq "ledger records the interrupted run" "interrupted 1" \
  "$(q "SELECT status || ' ' || exit_code FROM retention.runs ORDER BY sequence DESC LIMIT 1")"
assert_eq "no session of the run left" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retention'
      AND datname = current_database()")"

# The rerun does the rest.
sleep 1
sed -i 's/"batch_pause_ms": 200/"batch_pause_ms": 0/' "$WORK/policy.json"
run_job --policy "$WORK/policy.json" --jobs 2
assert_eq "rerun exits 0" 0 "$rc"
assert_eq "rerun: the rest of each class" "$((4000 - p_gone)) $((4000 - r_gone)) 4000" \
  "$(class_get p purged) $(class_get r archived) $(class_get w purged)"
assert_eq "no row left" "0 0 0" "$(left p) $(left r) $(left w)"
retention verify --chain "$REPORTS" --public-key "$PUB" >"$WORK/chain.out" 2>&1
assert_eq "chain of the interrupted and the complete report verifies" 0 "$?"
finish
