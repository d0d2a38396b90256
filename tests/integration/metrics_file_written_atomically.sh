#!/usr/bin/env bash
# `retention run --metrics-file PATH` replaces PATH after every run with
# Prometheus text-format metrics: rows per class, duration, exit status and
# the time of the last success, which failed runs carry forward. The file is
# replaced by rename (a hard link to the old file keeps the old bytes), is
# readable by a collector running as another user, and leaves no temporary
# file behind. A metrics file that cannot be written does not change the
# run's exit status.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz, c int);
-- Days 1..100 at noon's distance from the cutoff: days 61..100 are old (40 rows).
INSERT INTO app.t (ts, c)
  SELECT now() - (i || ' days')::interval + interval '12 hours', i % 5
  FROM generate_series(1, 100) i;
INSERT INTO app.t (ts, c) VALUES (NULL, 1), (NULL, 2);
SQL
# Customer 3 is held: 8 of the 40 old rows (days 63, 68, ..., 98).
retention hold add --ticket INV-1 --match c=3 --reason "metrics test" >/dev/null

policy() { # max_fraction
  cat <<EOF2
{"name": "metrics", "version": 1, "max_fraction": $1, "classes": [
  {"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "60 days", "hold_keys": ["c"]}]}
EOF2
}
policy 0.9 >"$WORK/policy.json"
policy 0.05 >"$WORK/strict.json"
echo '{"name": "metrics", ' >"$WORK/broken.json"
M=$WORK/metrics
PROM=$M/retention.prom
mkdir -p "$M"

# metric FILE SERIES: the value of one series, or "absent".
metric() {
  local v
  v=$(grep -F "$2 " "$1" | grep -v '^#' | awk '{print $2}')
  echo "${v:-absent}"
}
E='policy="metrics",mode="execute"'

# A successful run: every series with exact values.
before=$(date +%s)
run_job --policy "$WORK/policy.json" --metrics-file "$PROM"
after=$(date +%s)
assert_eq "first run exits 0" 0 "$rc"
assert_eq "purged" 32 "$(metric "$PROM" "retention_rows_purged{$E,class=\"t\"}")"
assert_eq "archived" 0 "$(metric "$PROM" "retention_rows_archived{$E,class=\"t\"}")"
assert_eq "held" 8 "$(metric "$PROM" "retention_rows_held{$E,class=\"t\"}")"
assert_eq "eligible" 32 "$(metric "$PROM" "retention_rows_eligible{$E,class=\"t\"}")"
assert_eq "undated" 2 "$(metric "$PROM" "retention_rows_undated{$E,class=\"t\"}")"
assert_eq "exit status" 0 "$(metric "$PROM" "retention_run_exit_status{$E}")"
assert_match "duration in seconds" '^[0-9]+\.[0-9]{3}$' \
  "$(metric "$PROM" "retention_run_duration_seconds{$E}")"
success=$(metric "$PROM" "retention_last_success_timestamp_seconds{$E}")
assert_eq "last success is this run" "$success" \
  "$(metric "$PROM" "retention_last_run_timestamp_seconds{$E}")"
assert_eq "last success within the run" 1 "$((success >= before && success <= after))"
assert_eq "each family has HELP and TYPE once" 9 \
  "$(grep -c '^# TYPE retention_[a-z_]* gauge$' "$PROM")"
assert_eq "readable by a collector running as another user" 644 "$(stat -c %a "$PROM")"
assert_eq "logged" 1 "$(grep -c '"message":"metrics '"$PROM"'"' "$WORK/run.log")"

# A run whose policy does not load: the file is replaced, not rewritten in place.
ln "$PROM" "$M/old-link"
cp "$PROM" "$WORK/first.prom"
inode=$(stat -c %i "$PROM")
sleep 1
run_job --policy "$WORK/broken.json" --metrics-file "$PROM"
assert_eq "broken policy exits 2" 2 "$rc"
assert_eq "the file is a new one" 1 "$(( $(stat -c %i "$PROM") != inode ))"
assert_eq "the old file's bytes are untouched" same \
  "$(cmp -s "$M/old-link" "$WORK/first.prom" && echo same)"
assert_eq "exit status 2, under the previous policy label" 2 \
  "$(metric "$PROM" "retention_run_exit_status{$E}")"
assert_eq "last success carried forward" "$success" \
  "$(metric "$PROM" "retention_last_success_timestamp_seconds{$E}")"
assert_eq "last run is this one" 1 \
  "$(( $(metric "$PROM" "retention_last_run_timestamp_seconds{$E}") > success ))"
assert_eq "no class counted, no class series" absent \
  "$(metric "$PROM" "retention_rows_purged{$E,class=\"t\"}")"
rm "$M/old-link"

# A guard refuses: the class was counted, nothing removed, success carried forward.
sql <<'SQL'
INSERT INTO app.t (ts, c) SELECT now() - interval '200 days', 1 FROM generate_series(1, 10);
SQL
run_job --policy "$WORK/strict.json" --metrics-file "$PROM"
assert_eq "guard exits 3" 3 "$rc"
assert_eq "exit status 3" 3 "$(metric "$PROM" "retention_run_exit_status{$E}")"
assert_eq "eligible counted" 10 "$(metric "$PROM" "retention_rows_eligible{$E,class=\"t\"}")"
assert_eq "nothing purged" 0 "$(metric "$PROM" "retention_rows_purged{$E,class=\"t\"}")"
assert_eq "last success still the first run's" "$success" \
  "$(metric "$PROM" "retention_last_success_timestamp_seconds{$E}")"
assert_eq "no temporary file left" "retention.prom" "$(ls -A "$M")"

# A dry run writes metrics only where asked, labelled mode="dry-run".
run_job --policy "$WORK/policy.json" --dry-run --metrics-file "$M/dry.prom"
D='policy="metrics",mode="dry-run"'
assert_eq "dry run exits 0" 0 "$rc"
assert_eq "dry run eligible" 10 "$(metric "$M/dry.prom" "retention_rows_eligible{$D,class=\"t\"}")"
assert_eq "dry run purges nothing" 0 \
  "$(metric "$M/dry.prom" "retention_rows_purged{$D,class=\"t\"}")"
assert_eq "dry run success" 0 "$(metric "$M/dry.prom" "retention_run_exit_status{$D}")"
assert_eq "the execute file is left alone" 3 "$(metric "$PROM" "retention_run_exit_status{$E}")"

# A metrics file that cannot be written is an error line, not a failed run.
run_job --policy "$WORK/policy.json" --metrics-file "$WORK/missing/retention.prom"
assert_eq "run still exits 0" 0 "$rc"
assert_eq "the rows went" 70 "$(q "SELECT count(*) FROM app.t")"
assert_eq "the error is logged" 1 \
  "$(grep -c '"level":"error".*cannot create a temporary file' "$WORK/run.log")"
finish
