#!/usr/bin/env bash
# Every line `retention run` writes on stderr carries the run ID: option
# errors before anything else, a policy that does not load, a database that
# cannot be reached, the server's own warnings during the run, and the
# report's run ID is the logs' one. JSON lines when stderr is not a
# terminal; in text mode every line, detail lines too, has the short run ID.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.t (id bigserial PRIMARY KEY, ts timestamptz);
INSERT INTO app.t (ts) SELECT now() - (i || ' days')::interval FROM generate_series(1, 20) i;
-- The server's own warning, once per DELETE statement.
CREATE FUNCTION app.noisy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE WARNING 'rows leaving app.t'; RETURN NULL; END $$;
CREATE TRIGGER noisy AFTER DELETE ON app.t FOR EACH STATEMENT EXECUTE FUNCTION app.noisy();
SQL
cat >"$WORK/policy.json" <<'EOF2'
{"name": "runid", "version": 1, "max_fraction": 0.9, "classes": [
  {"name": "t", "table": "app.t", "key": "id", "timestamp_column": "ts", "action": "purge",
   "retain": "10 days", "allow_triggers": ["noisy"]}]}
EOF2
echo '[]' >"$WORK/broken.json"

# lines_check LOG [RUN_ID]: "N lines, all with run ID X" or what is wrong.
lines_check() {
  python3 - "$1" "${2:-}" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
ids = set()
for n, line in enumerate(lines, 1):
    try:
        obj = json.loads(line)
    except ValueError:
        print(f"line {n} is not JSON: {line}"); sys.exit()
    rid = obj.get("run_id", "")
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    if not re.fullmatch(uuid, rid):
        print(f"line {n} has no run ID: {line}"); sys.exit()
    ids.add(rid)
want = sys.argv[2]
if len(ids) != 1 or (want and want not in ids):
    print(f"run IDs {sorted(ids)}, expected {want or 'one'}"); sys.exit()
print(f"{len(lines)} lines, one run ID")
PY
}

run_job --policy "$WORK/policy.json" --no-such-option
assert_eq "unknown option exits 2" 2 "$rc"
assert_eq "unknown option line" "1 lines, one run ID" "$(lines_check "$WORK/run.log")"
run_job --policy "$WORK/policy.json" --dry-run=yes
assert_eq "a value for a flag exits 2" 2 "$rc"
assert_eq "... and says so" 1 \
  "$(grep -c '"message":"option --dry-run takes no value"' "$WORK/run.log")"
run_job --policy "$WORK/policy.json" "--dbx=password=secret"
assert_eq "an unknown option's value is never logged" 0 "$(grep -c secret "$WORK/run.log")"
run_job --policy
assert_eq "missing value exits 2" 2 "$rc"
assert_eq "missing value line" "1 lines, one run ID" "$(lines_check "$WORK/run.log")"
retention run --report-dir "$REPORTS" 2>"$WORK/run.log"
assert_eq "missing --policy line" "1 lines, one run ID" "$(lines_check "$WORK/run.log")"

run_job --policy "$WORK/broken.json"
assert_eq "broken policy exits 2" 2 "$rc"
rid=$(report_get '["run_id"]')
assert_eq "broken policy: every line, the report's run ID" "4 lines, one run ID" \
  "$(lines_check "$WORK/run.log" "$rid")"

run_job --policy "$WORK/policy.json" --db "host=$WORK/no-server connect_timeout=2"
assert_eq "unreachable database exits 1" 1 "$rc"
rid=$(report_get '["run_id"]')
assert_match "unreachable database: every line, the report's run ID" "^[0-9]+ lines, one run ID$" \
  "$(lines_check "$WORK/run.log" "$rid")"
[ "$(lines_check "$WORK/run.log" "$rid")" = "$(lines_check "$WORK/run.log")" ] || die "IDs differ"

run_job --policy "$WORK/policy.json"
assert_eq "run with server warnings exits 0" 0 "$rc"
rid=$(report_get '["run_id"]')
assert_match "successful run: every line, the report's run ID" "^[0-9]+ lines, one run ID$" \
  "$(lines_check "$WORK/run.log" "$rid")"
assert_eq "the server's warning is a log line of its own" 1 \
  "$(grep -c '"level":"warning","run_id":"'"$rid"'","message":"server says: rows leaving app.t"' \
     "$WORK/run.log")"

# Text for a person: every line, hint lines too, starts with the time and the short run ID.
RETENTION_LOG_FORMAT=text run_job --policy "$WORK/broken.json"
rid=$(report_get '["run_id"]')
assert_eq "text lines all carry the short run ID" 0 \
  "$(grep -cv "^[0-9T:.-]*Z \[${rid:0:8}\] " "$WORK/run.log")"
RETENTION_LOG_FORMAT=text run_job
assert_eq "text usage error: message and hint, both with a run ID" 2 \
  "$(grep -c '^[0-9T:.-]*Z \[[0-9a-f]\{8\}\] ' "$WORK/run.log")"
finish
