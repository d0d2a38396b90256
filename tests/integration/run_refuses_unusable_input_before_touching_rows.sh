#!/usr/bin/env bash
# Input the run cannot use is refused with exit 2 before any row is touched:
# a report or archive directory that cannot take files (no report means no
# evidence, so no run), an as-of time that is infinite or absurd, a retention
# beyond the server's calendar, a policy that is not UTF-8, a time zone that
# names no place ("localtime", "Factory"). A dry run of an archive class needs
# no archive directory at all.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.esc (id bigserial PRIMARY KEY, closed_at timestamptz);
INSERT INTO app.esc (closed_at) SELECT now() - (i || ' days')::interval FROM generate_series(1, 100) i;
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "dirs", "version": 1, "classes": [{"name": "esc", "table": "app.esc", "key": "id",
  "timestamp_column": "closed_at", "action": "archive", "retain": "60 days"}]}
EOF2
touch "$WORK/a-file"

retention run --policy "$WORK/policy.json" --report-dir "$WORK/a-file" --archive-dir "$ARCHIVE" \
  --signing-key "$KEY" 2>"$WORK/run.log"
assert_eq "report dir that is a file: exit 2" 2 "$?"
assert_match "names the option" "report-dir" "$(cat "$WORK/run.log")"
assert_eq "... nothing removed" 100 "$(q "SELECT count(*) FROM app.esc")"

retention run --policy "$WORK/policy.json" --report-dir "$REPORTS" \
  --archive-dir "$WORK/a-file/sub" --signing-key "$KEY" 2>"$WORK/run.log"
assert_eq "archive dir under a file: exit 2" 2 "$?"
assert_match "names the option" "archive-dir" "$(cat "$WORK/run.log")"
assert_eq "... nothing removed" 100 "$(q "SELECT count(*) FROM app.esc")"
assert_eq "... no run reached the ledger" 0 "$(q "SELECT count(*) FROM retention.runs")"

for t in infinity -infinity "99999-01-01 00:00+00" "1066-10-14 09:00+00"; do
  run_job --policy "$WORK/policy.json" --dry-run --as-of "$t"
  assert_eq "--as-of $t: exit 2" 2 "$rc"
done

sed 's/"60 days"/"100000 years"/' "$WORK/policy.json" >"$WORK/far.json"
run_job --policy "$WORK/far.json" --dry-run
assert_eq "retention beyond the calendar: exit 2" 2 "$rc"
assert_match "names the field" 'field \\"retain\\"' "$(cat "$WORK/run.log")"

printf '{"name": "t\xff\xfe", "version": 1, "classes": []}' >"$WORK/latin1.json"
run_job --policy "$WORK/latin1.json"
assert_eq "policy that is not UTF-8: exit 2" 2 "$rc"
assert_match "says so" "not valid UTF-8" "$(cat "$WORK/run.log")"

retention hold add --ticket T-1 --match id=1 --reason "$(printf 'bad\xff')" 2>"$WORK/run.log"
assert_eq "hold reason that is not UTF-8: exit 2" 2 "$?"

for tz in localtime posixrules Factory; do
  sed "s/\"classes\"/\"timezone\": \"$tz\", \"classes\"/" "$WORK/policy.json" >"$WORK/tz.json"
  run_job --policy "$WORK/tz.json"
  assert_eq "time zone $tz, which names no place: exit 2" 2 "$rc"
  assert_match "... names the field" 'field \\"timezone\\"' "$(cat "$WORK/run.log")"
done
assert_eq "... nothing removed" 100 "$(q "SELECT count(*) FROM app.esc")"

retention run --policy "$WORK/policy.json" --report-dir "$REPORTS" --dry-run \
  --progress-interval 0 2>"$WORK/run.log"
assert_eq "dry run of an archive class without --archive-dir: exit 0" 0 "$?"
assert_eq "... counts the same" 41 "$(class_get esc eligible)"
assert_eq "nothing removed at all" 100 "$(q "SELECT count(*) FROM app.esc")"
finish
