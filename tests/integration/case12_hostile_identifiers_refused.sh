#!/usr/bin/env bash
# Case 12: identifiers and values from the policy are never spliced into SQL.
# A table "t; DROP TABLE users", a column "ts < now() OR true --" and a
# retention "30 days'; select 1; --" are refused with exit 2 before any
# statement touches data, naming the field; nothing is dropped or removed.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE TABLE public.users (id int);
INSERT INTO public.users VALUES (1), (2);
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz);
INSERT INTO app.t (ts) SELECT now() - interval '400 days' FROM generate_series(1, 10);
INSERT INTO app.t (ts) SELECT now() FROM generate_series(1, 30);
SQL

attempt() {
  local label=$1 field=$2 class_json=$3
  printf '{"name": "hostile", "version": 1, "classes": [%s]}\n' "$class_json" >"$WORK/policy.json"
  run_job --policy "$WORK/policy.json"
  assert_eq "$label: exit 2" 2 "$rc"
  assert_match "$label: names the field" "field \\\\\"$field\\\\\"" "$(cat "$WORK/run.log")"
}

attempt "table with a statement" table \
  '{"name": "c", "table": "public.t; DROP TABLE users", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
attempt "table without schema" table \
  '{"name": "c", "table": "t; DROP TABLE users", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
attempt "column with an expression" timestamp_column \
  '{"name": "c", "table": "app.t", "key": "id", "timestamp_column": "ts < now() OR true --", "action": "purge", "retain": "30 days"}'
attempt "retention with a statement" retain \
  '{"name": "c", "table": "app.t", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days'"'"'; select 1; --"}'
attempt "quoted key" key \
  '{"name": "c", "table": "app.t", "key": "id\"", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
attempt "hold key with a space" hold_keys \
  '{"name": "c", "table": "app.t", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days", "hold_keys": ["customer id"]}'
attempt "unicode table name" table \
  '{"name": "c", "table": "app.tëst", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'
attempt "class name with a quote" name \
  '{"name": "c'"'"'x", "table": "app.t", "key": "id", "timestamp_column": "ts", "action": "purge", "retain": "30 days"}'

assert_eq "users still there" 2 "$(q "SELECT count(*) FROM public.users")"
assert_eq "nothing removed" 40 "$(q "SELECT count(*) FROM app.t")"
assert_eq "no statement reached the data (no ledger row)" 0 "$(q "SELECT count(*) FROM retention.runs")"

# Hold arguments are checked the same way.
retention hold add --ticket "T'; DROP TABLE users; --" --match customer_id=1 --reason x \
  2>"$WORK/run.log"
assert_eq "hostile ticket refused" 2 "$?"
retention hold add --ticket T-1 --match "id; DROP TABLE users=1" --reason x 2>"$WORK/run.log"
assert_eq "hostile match column refused" 2 "$?"
retention hold add --ticket T-1 --match "customer_id=1" --reason "$(printf 'a\033[2Jb')" \
  2>"$WORK/run.log"
assert_eq "control characters refused" 2 "$?"
retention hold add --ticket "" --match "customer_id=1" --reason x 2>"$WORK/run.log"
assert_eq "empty ticket refused" 2 "$?"
retention hold add --ticket "$(printf 'T%.0s' $(seq 65))" --match customer_id=1 --reason x \
  2>"$WORK/run.log"
assert_eq "over-long ticket refused" 2 "$?"
assert_eq "no hold stored" 0 "$(q "SELECT count(*) FROM retention.holds")"
assert_eq "users still there" 2 "$(q "SELECT count(*) FROM public.users")"
finish
