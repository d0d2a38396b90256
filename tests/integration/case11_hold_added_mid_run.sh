#!/usr/bin/env bash
# Case 11: media rows 60 days old, an open hold on one customer, policy 30
# days; a second hold, on a customer whose rows lie in the last heap blocks,
# is added by another session while the run is in progress. No held row is
# purged or archived: a batch that starts after the hold commits honours it.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.media (id bigint PRIMARY KEY, completed_at timestamptz, customer_id bigint,
                        blob text);
INSERT INTO app.media SELECT i, now() - interval '60 days', 1 + i % 7, repeat('m', 100)
  FROM generate_series(1, 4000) i;
-- customer 9's rows come last, in the final heap blocks
INSERT INTO app.media SELECT 10000 + i, now() - interval '60 days', 9, repeat('m', 100)
  FROM generate_series(1, 150) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "case11", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1, "batch_pause_ms": 150,
 "classes": [{"name": "media", "table": "app.media", "key": "id",
              "timestamp_column": "completed_at", "action": "archive", "retain": "30 days",
              "hold_keys": ["customer_id"]}]}
EOF2
retention hold add --ticket INV-1 --match customer_id=3 --reason "open case" >/dev/null \
  || die "first hold"
held3=$(q "SELECT count(*) FROM app.media WHERE customer_id = 3")
total=$(q "SELECT count(*) FROM app.media")

"$RETENTION_BIN" run --policy "$WORK/policy.json" --report-dir "$REPORTS" --archive-dir "$ARCHIVE" \
  --signing-key "$KEY" --progress-interval 0 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 100); do
  [ "$(q "SELECT count(*) FROM app.media")" -lt $((total - 300)) ] && break
  sleep 0.1
done
retention hold add --ticket INV-2 --match customer_id=9 --reason "added mid-run" >/dev/null \
  || die "second hold"
left_at_hold=$(q "SELECT count(*) FROM app.media")
wait "$pid"
rc=$?
assert_eq "run exits 0" 0 "$rc"
assert_match "the hold came while the run was in progress" '^[0-9]+$' "$left_at_hold"
[ "$left_at_hold" -gt 1000 ] || die "the run was nearly done before the hold ($left_at_hold left)"
assert_eq "customer 9 rows all stay" 150 \
  "$(q "SELECT count(*) FROM app.media WHERE customer_id = 9")"
assert_eq "customer 3 rows all stay" "$held3" \
  "$(q "SELECT count(*) FROM app.media WHERE customer_id = 3")"
assert_eq "nothing else stays" 0 \
  "$(q "SELECT count(*) FROM app.media WHERE customer_id NOT IN (3, 9)")"
archived_held=0
while read -r file; do
  n=$(zcat "$ARCHIVE/$file" | tail -n +2 | awk -F, '$3 == 3 || $3 == 9' | wc -l)
  archived_held=$((archived_held + n))
done < <(q "SELECT file_name FROM retention.archive_segments")
assert_eq "no held row in any segment" 0 "$archived_held"
assert_eq "archived the rest" "$((total - held3 - 150))" "$(class_get media archived)"
assert_eq "report: rows kept by the mid-run hold" 150 \
  "$(report_get '["holds"][[h["ticket"] for h in r["holds"]].index("INV-2")]["rows_held"]')"
assert_eq "report: rows kept by the first hold" "$held3" \
  "$(report_get '["holds"][[h["ticket"] for h in r["holds"]].index("INV-1")]["rows_held"]')"

# A dry run afterwards counts both holds.
sleep 1
run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run held" "$((held3 + 150))" "$(class_get media held)"
assert_eq "dry run eligible" 0 "$(class_get media eligible)"
finish
