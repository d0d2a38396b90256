#!/usr/bin/env bash
# When the archive cannot be written (a full disk, by fault point), the
# archive batch rolls back: the class fails and says why, its table is
# unchanged, no segment is committed or left beside the committed ones, the
# other classes still run, and the exit is 1. An archive dir that cannot be
# made at all (its parent is a file) is refused before any row is touched.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigint PRIMARY KEY, closed_at timestamptz, body text);
INSERT INTO app.esc SELECT i, now() - interval '100 days', repeat('e', 300)
  FROM generate_series(1, 500) i;
CREATE TABLE app.logs (id bigint PRIMARY KEY, at timestamptz);
INSERT INTO app.logs SELECT i, now() - interval '100 days' FROM generate_series(1, 50) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "full", "version": 1, "max_fraction": 1.0,
 "classes": [
  {"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days"},
  {"name": "logs", "table": "app.logs", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days"}]}
EOF2
md5_esc() { q "SELECT md5(string_agg(id || body, ',' ORDER BY id)) FROM app.esc"; }
before=$(md5_esc)

# The disk fills during the first write of the segment.
RETENTION_FAULT=archive-write run_job --policy "$WORK/policy.json"
assert_eq "full disk: exit 1" 1 "$rc"
assert_eq "full disk: status failed" failed "$(report_get '["status"]')"
assert_eq "full disk: archive class failed" failed "$(class_get esc status)"
assert_match "full disk: the report says why" 'write failed' "$(class_get esc error)"
assert_match "full disk: the log names the class" '"class":"esc".*write failed' \
  "$(grep -m1 'write failed' "$WORK/run.log")"
assert_eq "full disk: archived 0" 0 "$(class_get esc archived)"
assert_eq "full disk: table unchanged" "$before" "$(md5_esc)"
assert_eq "full disk: no committed segment" 0 \
  "$(q "SELECT count(*) FROM retention.archive_segments")"
assert_eq "full disk: no segment file left" "" \
  "$(find "$ARCHIVE" -type f -name '*.csv.gz' 2>/dev/null)"
assert_eq "full disk: the purge class still ran" "ok 50" \
  "$(class_get logs status) $(class_get logs purged)"
sleep 1

# The archive dir cannot even be made: its parent is a file.
q "INSERT INTO app.logs SELECT 1000 + i, now() - interval '100 days' FROM generate_series(1, 5) i" \
  >/dev/null
: >"$WORK/notadir"
retention run --report-dir "$REPORTS" --archive-dir "$WORK/notadir/archive" \
  --signing-key "$KEY" --progress-interval 0 --policy "$WORK/policy.json" 2>"$WORK/run.log"
rc=$?
# Refused before any row is touched (exit 2): no class runs, not even the purge class.
assert_eq "unusable archive dir: refused, exit 2" 2 "$rc"
assert_match "unusable archive dir: the log names the path" 'notadir/archive' \
  "$(grep -m1 '"level":"error"' "$WORK/run.log")"
assert_eq "unusable archive dir: table unchanged" "$before" "$(md5_esc)"
assert_eq "unusable archive dir: no committed segment" 0 \
  "$(q "SELECT count(*) FROM retention.archive_segments")"
assert_eq "unusable archive dir: the purge class's rows stay too" 5 \
  "$(q "SELECT count(*) FROM app.logs")"
sleep 1

# With the disk back, the rerun archives everything once.
run_job --policy "$WORK/policy.json"
assert_eq "rerun exits 0" 0 "$rc"
assert_eq "rerun archived 500" 500 "$(class_get esc archived)"
assert_eq "ledger rows 500" 500 "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_eq "table empty" 0 "$(q "SELECT count(*) FROM app.esc")"
finish
