#!/usr/bin/env bash
# A SIGKILL at any fault point of an archive run (after the batch's DELETE,
# after the durable segment, after the commit, in the first or the second
# batch, and halfway through the report) loses no row and archives none
# twice: after a rerun every originally eligible row is in exactly one
# committed segment or still in the table, and the rerun's report verifies
# and chains to the reports before it; what a run killed mid-report left is
# set aside, so the chain check still passes.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigint PRIMARY KEY, closed_at timestamptz, body text);
CREATE TABLE app.eligible (id bigint PRIMARY KEY);
CREATE TABLE app.restored (LIKE app.t);
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "crash", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "classes": [{"name": "t", "table": "app.t", "key": "id", "timestamp_column": "closed_at",
              "action": "archive", "retain": "30 days"}]}
EOF2

# Every restorable segment in the ledger, into app.restored.
restore_all() {
  q "TRUNCATE app.restored" >/dev/null
  while read -r file; do
    zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
      -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore $file"
  done < <(q "SELECT file_name FROM retention.archive_segments ORDER BY segment_id")
}

cycles=0
base=0
for fault in after-delete after-delete:2 after-segment after-segment:2 after-commit \
  after-commit:2 report-write; do
  # About 6 heap pages of old rows, so batch_max_pages 1 gives several batches; young ones stay.
  sql <<SQL
INSERT INTO app.t SELECT $base + i, now() - interval '60 days', repeat('x', 200)
  FROM generate_series(1, 200) i;
INSERT INTO app.t SELECT $base + 200 + i, now() - interval '1 day', 'young'
  FROM generate_series(1, 20) i;
INSERT INTO app.eligible SELECT $base + i FROM generate_series(1, 200) i;
SQL
  base=$((base + 1000))

  sleep 1
  RETENTION_FAULT=$fault run_job --policy "$WORK/policy.json"
  assert_eq "$fault: killed" 137 "$rc"
  sleep 1
  run_job --policy "$WORK/policy.json"
  assert_eq "$fault: rerun exits 0" 0 "$rc"
  cycles=$((cycles + 1))

  restore_all
  assert_eq "$fault: no row in two segments" 0 \
    "$(q "SELECT count(*) FROM (SELECT id FROM app.restored GROUP BY id HAVING count(*) > 1) d")"
  assert_eq "$fault: no archived row is still in the table" 0 \
    "$(q "SELECT count(*) FROM app.restored JOIN app.t USING (id)")"
  assert_eq "$fault: every eligible row archived, none lost" 0 \
    "$(q "SELECT count(*) FROM app.eligible e WHERE NOT EXISTS
          (SELECT 1 FROM app.restored r WHERE r.id = e.id)")"
  assert_eq "$fault: nothing archived that was not eligible" 0 \
    "$(q "SELECT count(*) FROM app.restored r WHERE NOT EXISTS
          (SELECT 1 FROM app.eligible e WHERE e.id = r.id)")"
  assert_eq "$fault: young rows stay" "$cycles" \
    "$(q "SELECT count(*) / 20 FROM app.t WHERE body = 'young'")"
  assert_eq "$fault: ledger rows equal the restored rows" \
    "$(q "SELECT count(*) FROM app.restored")" \
    "$(q "SELECT coalesce(sum(rows), 0) FROM retention.archive_segments")"
  retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >"$WORK/v.out"
  assert_eq "$fault: rerun report verifies" 0 "$?"
  killed=$(report_eval 'r["unfinished_runs"][0]')
  assert_eq "$fault: killed run named unfinished" "[\"$killed\"]" \
    "$(report_get '["unfinished_runs"]')"

  # The chain: a run killed before its report is a note (a gap the ledger explains); what a
  # run killed halfway through its report left (.tmp, .sig) is set aside by the rerun.
  if [ "$fault" = report-write ]; then
    assert_eq "$fault: the half-written report and its .sig moved to incomplete/" \
      "$killed.json.sig $killed.json.tmp" \
      "$(ls "$REPORTS/incomplete" | sed -E 's/^retention-[0-9TZ]+-//' | sort | tr '\n' ' ' \
         | sed 's/ $//')"
    assert_eq "$fault: the rerun's report names both" 2 \
      "$(report_eval 'len([w for w in r["warnings"] if "moved to incomplete/" in w])')"
  fi
  retention verify --chain "$REPORTS" --public-key "$PUB" >"$WORK/chain.out" 2>&1
  crc=$?
  grep '^BREAK' "$WORK/chain.out" | sed 's/^/  /'
  assert_eq "$fault: chain verifies (the killed run is a noted gap)" 0 "$crc"
done

# A purge class, killed after its DELETE (rolled back) or after its commit, in the first or
# second batch: the rerun removes exactly what is left, counts only that, and states what the
# killed run's committed batches purged.
q "CREATE TABLE app.p (id bigint PRIMARY KEY, at timestamptz, body text)" >/dev/null
cat >"$WORK/purge.json" <<'EOF2'
{"name": "crash-purge", "version": 1, "max_fraction": 1.0, "batch_max_pages": 1,
 "classes": [{"name": "p", "table": "app.p", "key": "id", "timestamp_column": "at",
              "action": "purge", "retain": "30 days"}]}
EOF2
for fault in after-delete after-delete:2 after-commit after-commit:2; do
  sql <<SQL
INSERT INTO app.p SELECT $base + i, now() - interval '60 days', repeat('p', 200)
  FROM generate_series(1, 200) i;
INSERT INTO app.p SELECT $base + 200 + i, now() - interval '1 day', 'young'
  FROM generate_series(1, 20) i;
SQL
  base=$((base + 1000))
  sleep 1
  RETENTION_FAULT=$fault run_job --policy "$WORK/purge.json"
  assert_eq "purge $fault: killed" 137 "$rc"
  left=$(q "SELECT count(*) FROM app.p WHERE body <> 'young'")
  case $fault in
  after-delete) assert_eq "purge $fault: the first batch rolled back" 200 "$left" ;;
  *) assert_match "purge $fault: some batches committed" '^(1[0-9]{2}|[1-9][0-9]?)$' "$left" ;;
  esac
  sleep 1
  run_job --policy "$WORK/purge.json"
  cycles=$((cycles + 1))
  assert_eq "purge $fault: rerun exits 0" 0 "$rc"
  assert_eq "purge $fault: rerun purged what was left" "$left" "$(class_get p purged)"
  assert_eq "purge $fault: rerun states what the killed run purged, from the batch ledger" \
    "$((200 - left))" \
    "$(report_eval 'sum(c["purged"] for u in r["unfinished_runs_removed"] for c in u["classes"])')"
  assert_eq "purge $fault: no old row left" 0 \
    "$(q "SELECT count(*) FROM app.p WHERE body <> 'young'")"
  assert_eq "purge $fault: young rows stay" "$((cycles - 7))" \
    "$(q "SELECT count(*) / 20 FROM app.p WHERE body = 'young'")"
done
retention verify --chain "$REPORTS" --public-key "$PUB" >"$WORK/chain.out" 2>&1
assert_eq "both policies' chains verify" 0 "$?"

assert_eq "kill/rerun cycles" 11 "$cycles"
finish
