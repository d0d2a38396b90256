#!/usr/bin/env bash
# `retention run --jobs 3` works on several classes at once, on sessions of
# its own, and its report says exactly what a --jobs 1 run says on identical
# data (three copies of one database): the same counts, key digests,
# segments' rows, partitions and hold counts per class, classes in policy
# order. A dry run with --jobs 3 counts exactly what the real run removes.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
-- ages are whole days plus 12 hours: no row is near a cutoff, whenever the run starts
CREATE TABLE app.inputs (id bigint PRIMARY KEY, received_at timestamptz, customer_id int);
INSERT INTO app.inputs SELECT i, now() - interval '100 days 12 hours', i % 50
  FROM generate_series(1, 2400) i;
INSERT INTO app.inputs SELECT i, now() - interval '1 day 12 hours', i % 50
  FROM generate_series(2401, 3000) i;
INSERT INTO app.inputs SELECT i, NULL, i % 50 FROM generate_series(3001, 3020) i;
CREATE TABLE app.esc (ref text PRIMARY KEY, closed_at timestamptz, ticket_id text, note text);
INSERT INTO app.esc SELECT 'E-' || i, now() - interval '200 days 12 hours', 'TK-' || (i % 25),
  'note, "' || i || '"' FROM generate_series(1, 1000) i;
INSERT INTO app.esc SELECT 'E-' || i, now() - interval '10 days 12 hours', 'TK-' || (i % 25),
  NULL FROM generate_series(1001, 1200) i;
CREATE TABLE app.events (id bigint NOT NULL, at timestamptz NOT NULL, body text,
  PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE app.ev_2020_01 PARTITION OF app.events
  FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00');
CREATE TABLE app.ev_2020_02 PARTITION OF app.events
  FOR VALUES FROM ('2020-02-01 00:00+00') TO ('2020-03-01 00:00+00');
CREATE TABLE app.ev_2020_03 PARTITION OF app.events
  FOR VALUES FROM ('2020-03-01 00:00+00') TO ('2020-04-01 00:00+00');
CREATE TABLE app.ev_default PARTITION OF app.events DEFAULT;
INSERT INTO app.events SELECT i, timestamptz '2020-01-01 00:00+00' + (i || ' hours')::interval,
  'old' FROM generate_series(1, 1500) i;
INSERT INTO app.events SELECT i, now() - interval '2 days 12 hours', 'young'
  FROM generate_series(1501, 1800) i;
CREATE TABLE app.logs (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
INSERT INTO app.logs SELECT i, now() - ((i % 400) || ' days')::interval - interval '12 hours'
  FROM generate_series(1, 5000) i;
CREATE TABLE app.aggregates (day date PRIMARY KEY, n bigint);
INSERT INTO app.aggregates SELECT d::date, 1 FROM generate_series(now() - interval '3 years',
  now(), interval '1 day') d;
SQL
retention hold add --ticket T-7 --match customer_id=7 --reason "case" >/dev/null
retention hold add --ticket T-3 --match ticket_id=TK-3 --class esc --reason "case" >/dev/null
cat >"$WORK/policy.json" <<'EOF2'
{"name": "jobs", "version": 1, "max_fraction": 1.0, "batch_max_pages": 4, "classes": [
  {"name": "inputs", "table": "app.inputs", "key": "id", "timestamp_column": "received_at",
   "action": "purge", "retain": "30 days", "hold_keys": ["customer_id"]},
  {"name": "esc", "table": "app.esc", "key": "ref", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days", "hold_keys": ["ticket_id"]},
  {"name": "events", "table": "app.events", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "30 days"},
  {"name": "logs", "table": "app.logs", "key": "id", "timestamp_column": "ts",
   "action": "purge", "retain": "180 days"},
  {"name": "aggregates", "table": "app.aggregates", "key": "day", "timestamp_column": "day",
   "action": "keep", "retain": "indefinite"}]}
EOF2

# What the run must remove, computed before any run.
logs_old=$(q "SELECT count(*) FROM app.logs WHERE ts < now() - interval '180 days'")
keys_sha() { q "$1" | sha256sum | cut -d' ' -f1; }
inputs_sha=$(keys_sha "SELECT id FROM app.inputs WHERE received_at < now() - interval '30 days'
  AND customer_id <> 7 ORDER BY id::text COLLATE \"C\"")
logs_sha=$(keys_sha "SELECT id FROM app.logs WHERE ts < now() - interval '180 days'
  ORDER BY id::text COLLATE \"C\"")

# Three identical databases: one for --jobs 1, one for a --jobs 3 dry run and real run.
one=${TEST_DB}_one
createdb -T "$TEST_DB" "$one" || die "cannot copy the database"
trap 'dropdb --if-exists -f "$one" >/dev/null 2>&1; cleanup_work' EXIT

ARCHIVE=$WORK/archive_one run_job --policy "$WORK/policy.json" --db "dbname=$one"
assert_eq "--jobs 1: exit 0" 0 "$rc"
r1=$(latest_report)
sleep 1
run_job --policy "$WORK/policy.json" --dry-run --jobs 3
assert_eq "--jobs 3 dry run: exit 0" 0 "$rc"
dry=$(latest_report)
assert_match "--jobs 3 dry run: three sessions" '"3 sessions work on the classes"' \
  "$(cat "$WORK/run.log")"
sleep 1
run_job --policy "$WORK/policy.json" --jobs 3
assert_eq "--jobs 3: exit 0" 0 "$rc"
r3=$(latest_report)
assert_match "--jobs 3: three sessions" '"3 sessions work on the classes"' "$(cat "$WORK/run.log")"
assert_eq "--jobs 3: no session of the run left" 0 \
  "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retention'
      AND datname = current_database()")"

# Exact numbers, --jobs 3.
assert_eq "classes in policy order" "inputs esc events logs aggregates" \
  "$(report_eval '" ".join(c["name"] for c in r["classes"])' "$r3")"
assert_eq "statuses" "ok ok ok ok kept" \
  "$(report_eval '" ".join(c["status"] for c in r["classes"])' "$r3")"
assert_eq "inputs: purged held undated" "2352 48 20" "$(class_get inputs purged "$r3")\
 $(class_get inputs held "$r3") $(class_get inputs undated "$r3")"
assert_eq "esc: archived held" "960 40" \
  "$(class_get esc archived "$r3") $(class_get esc held "$r3")"
assert_eq "esc: segments hold every archived row" 960 \
  "$(report_eval 'sum(s["rows"] for s in r["archive_segments"] if s["class"] == "esc")' "$r3")"
assert_eq "events: three partitions dropped whole" \
  "app.ev_2020_01:743:dropped app.ev_2020_02:696:dropped app.ev_2020_03:61:dropped" \
  "$(report_eval '" ".join("%s:%d:%s" % (p["name"], p["rows"], p["outcome"]) for c in r["classes"]
     if c["name"] == "events" for p in c["partitions"])' "$r3")"
assert_eq "events: purged" 1500 "$(class_get events purged "$r3")"
assert_eq "logs: purged" "$logs_old" "$(class_get logs purged "$r3")"
digest() {
  report_eval "[c for c in r['classes'] if c['name'] == '$1'][0]['key_digests']['$2']['sha256']" \
    "$3"
}
assert_eq "inputs: purge digest" "$inputs_sha" "$(digest inputs purged "$r3")"
assert_eq "logs: purge digest" "$logs_sha" "$(digest logs purged "$r3")"
assert_eq "holds: rows kept per ticket" "T-7:inputs:48 T-3:esc:40" \
  "$(report_eval '" ".join("%s:%s:%d" % (h["ticket"], m["class"], m["rows_held"])
     for h in r["holds"] for m in h["matches"])' "$r3")"
assert_eq "rows left" "668 240 300 $((5000 - logs_old))" \
  "$(q "SELECT (SELECT count(*) FROM app.inputs) || ' ' || (SELECT count(*) FROM app.esc)
      || ' ' || (SELECT count(*) FROM app.events) || ' ' || (SELECT count(*) FROM app.logs)")"

# Everything but times and batch sizes, --jobs 1 against --jobs 3.
evidence() {
  report_eval '[[c[k] for k in ("name", "status", "total", "eligible", "purged",
    "archived", "held", "undated", "pinned", "key_digests", "partitions")]
    + [sum(s["rows"] for s in r["archive_segments"] if s["class"] == c["name"])]
    for c in r["classes"]] + [r["holds"]]' "$1"
}
assert_eq "--jobs 1 and --jobs 3 reports carry the same evidence" "$(evidence "$r1")" \
  "$(evidence "$r3")"
assert_eq "--jobs 1 and --jobs 3 leave the same rows" \
  "$(psql -X -A -t -d "$one" -c "SELECT md5(string_agg(id::text, ',' ORDER BY id))
     FROM app.logs")" "$(q "SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM app.logs")"

# The --jobs 3 dry run counted exactly what the run removed.
out=$(retention verify --compare "$dry" "$r3" --public-key "$PUB" 2>&1)
assert_eq "compare: the --jobs 3 dry run and real run match" 0 "$?"
assert_match "compare ends with the verdict" "dry run and real run match" "$out"
assert_eq "dry run: eligible per class" "2352 960 1500 $logs_old" \
  "$(report_eval '" ".join(str(c["eligible"]) for c in r["classes"][:4])' "$dry")"
retention verify --public-key "$PUB" --archive-dir "$WORK/archive_one" "$r1" >/dev/null 2>&1
assert_eq "--jobs 1: report and segments verify" 0 "$?"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$r3" >/dev/null 2>&1
assert_eq "--jobs 3: report and segments verify" 0 "$?"
finish
