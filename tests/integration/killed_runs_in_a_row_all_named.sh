#!/usr/bin/env bash
# Runs killed one after another each leave committed work and no report. The
# first run that completes names every one of them in `unfinished_runs`, with
# what their committed batches archived, not only the last.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigserial PRIMARY KEY, closed_at timestamptz, note text);
INSERT INTO app.esc (closed_at, note)
  SELECT now() - ((i % 200) || ' days')::interval, repeat('n', 400) FROM generate_series(1, 3000) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "killed", "version": 1, "max_fraction": 1, "batch_max_pages": 2, "classes": [
  {"name": "esc", "table": "app.esc", "key": "id", "timestamp_column": "closed_at",
   "action": "archive", "retain": "30 days"}]}
EOF2
eligible=$(q "SELECT count(*) FROM app.esc WHERE closed_at < now() - interval '30 days'")

for n in 1 2 3; do
  RETENTION_FAULT=after-commit:2 run_job --policy "$WORK/policy.json"
  assert_eq "killed run $n dies by SIGKILL" 137 "$rc"
done
killed=$(q "SELECT string_agg(run_id::text, ' ' ORDER BY sequence) FROM retention.runs")
run_job --policy "$WORK/policy.json"
assert_eq "the next run completes" 0 "$rc"
assert_eq "it names all three killed runs, in order" "$killed" \
  "$(report_eval '" ".join(r["unfinished_runs"])')"
assert_eq "each killed run committed two batches, listed in the ledger" 6 \
  "$(q "SELECT count(*) FROM retention.archive_segments a JOIN retention.runs r USING (run_id)
        WHERE r.report_sha256 IS NULL")"
assert_eq "every eligible row archived exactly once" "$eligible" \
  "$(q "SELECT sum(rows) FROM retention.archive_segments")"
assert_eq "nothing old left" 0 "$(q "SELECT count(*) FROM app.esc WHERE closed_at < now() - interval '30 days'")"

# The run after that names none: they were reported once.
run_job --policy "$WORK/policy.json"
assert_eq "a later run names no unfinished run" 0 "$(report_eval 'len(r["unfinished_runs"])')"
finish
