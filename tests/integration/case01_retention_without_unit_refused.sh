#!/usr/bin/env bash
# Case 1: "retain": "10" or 10 has no unit. The policy is refused with exit
# status 2, naming the class and the field, and nothing is removed.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz);
INSERT INTO app.t (ts) SELECT now() - (i || ' seconds')::interval FROM generate_series(1, 50) i;
SQL
for retain in '"10"' '10' '"10 "' '" 10 days"' '"10days"' '"0 days"' '"-5 days"' \
  '"10 fortnights"' '"1e3 days"' '"10 days 2 hours"' 'null' '"30 days'"'"'; select 1; --"'; do
  cat >"$WORK/policy.json" <<EOF2
{"name": "unit", "version": 1, "classes": [{"name": "t_class", "table": "app.t", "key": "id",
  "timestamp_column": "ts", "action": "purge", "retain": $retain}]}
EOF2
  run_job --policy "$WORK/policy.json"
  assert_eq "retain $retain: exit 2" 2 "$rc"
  assert_match "retain $retain: names class and field" \
    'class \\"t_class\\": field \\"retain\\"' "$(cat "$WORK/run.log")"
done
assert_eq "nothing removed" 50 "$(q "SELECT count(*) FROM app.t")"
assert_eq "no run reached the database" 0 "$(q "SELECT count(*) FROM retention.runs")"
finish
