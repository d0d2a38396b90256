#!/usr/bin/env bash
# A range-partitioned table: a partition wholly before the cutoff with no
# held row is dropped whole (its keys still in the digest); one with a held
# row, one straddling the cutoff and the default partition are batched and
# stay. An archive class archives a partition before dropping it, and the
# segment restores the rows exactly.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.events (id bigint NOT NULL, at timestamptz, customer_id bigint, body text,
  UNIQUE (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.p_old PARTITION OF app.events
  FOR VALUES FROM ('2000-01-01') TO (date_trunc('day', now()) - interval '300 days');
CREATE TABLE app.p_held PARTITION OF app.events
  FOR VALUES FROM (date_trunc('day', now()) - interval '300 days')
  TO (date_trunc('day', now()) - interval '200 days');
CREATE TABLE app.p_wide PARTITION OF app.events
  FOR VALUES FROM (date_trunc('day', now()) - interval '200 days')
  TO (date_trunc('day', now()) + interval '10 days');
CREATE TABLE app.p_default PARTITION OF app.events DEFAULT;
INSERT INTO app.events VALUES
  (1, now() - interval '350 days', 1, 'old'), (2, now() - interval '350 days', 1, 'old'),
  (3, now() - interval '340 days', 2, 'old'),
  (4, now() - interval '250 days', 1, 'old'), (5, now() - interval '250 days', 1, 'old'),
  (6, now() - interval '250 days', 42, 'held'),
  (7, now() - interval '150 days', 1, 'old'), (8, now() - interval '150 days', 1, 'old'),
  (9, now() - interval '1 day', 1, 'young'), (10, now() - interval '1 day', 1, 'young'),
  (11, NULL, 1, 'undated'), (12, now() + interval '100 days', 1, 'future');

CREATE TABLE app.arch (ref text NOT NULL, closed_at timestamptz NOT NULL, customer_id bigint,
  note text, PRIMARY KEY (ref, closed_at)) PARTITION BY RANGE (closed_at);
CREATE TABLE app.a_old PARTITION OF app.arch
  FOR VALUES FROM ('2000-01-01') TO (date_trunc('day', now()) - interval '300 days');
CREATE TABLE app.a_default PARTITION OF app.arch DEFAULT;
INSERT INTO app.arch VALUES
  ('A-1', now() - interval '400 days', 5, 'comma, "quote"'),
  ('A-2', now() - interval '390 days', 5, NULL), ('A-3', now() - interval '380 days', 6, 'x'),
  ('A-4', now() - interval '1 day', 5, 'young');
CREATE TABLE app.expected AS SELECT * FROM app.a_old;
CREATE TABLE app.restored (LIKE app.arch);
SQL

cat >"$WORK/policy.json" <<'EOF2'
{"name": "partitions", "version": 1, "max_fraction": 0.95, "classes": [
  {"name": "events", "table": "app.events", "key": "id", "timestamp_column": "at",
   "action": "purge", "retain": "90 days", "hold_keys": ["customer_id"]},
  {"name": "arch", "table": "app.arch", "key": "ref", "timestamp_column": "closed_at",
   "action": "archive", "retain": "90 days", "hold_keys": ["customer_id"]}]}
EOF2
retention hold add --ticket INV-42 --match customer_id=42 --reason "open case" >/dev/null \
  || die "hold add"
keys_sha() { q "$1" | sha256sum | cut -d' ' -f1; }
purge_keys=$(keys_sha "SELECT id FROM app.events WHERE id IN (1, 2, 3, 4, 5, 7, 8)
  ORDER BY id::text COLLATE \"C\"")

run_job --policy "$WORK/policy.json" --dry-run
assert_eq "dry run exits 0" 0 "$rc"
dry=$(latest_report)
sleep 1
run_job --policy "$WORK/policy.json"
assert_eq "run exits 0" 0 "$rc"
assert_eq "events purged" 7 "$(class_get events purged)"
assert_eq "events held" 1 "$(class_get events held)"
assert_eq "events undated" 1 "$(class_get events undated)"
assert_eq "eligible equals the dry run's" "$(class_get events eligible "$dry")" \
  "$(class_get events eligible)"
assert_eq "report: the old partition dropped with its rows" '[["app.p_old", 3, "dropped"]]' \
  "$(report_eval 'json.dumps([[p["name"], p["rows"], p["outcome"]] for p in
     r["classes"][0]["partitions"]])')"
assert_match "the sign-off view lists the dropped partition" \
  "Partitions removed whole.*events +app.p_old +3 +dropped" \
  "$(retention report render "$(latest_report)" --public-key "$PUB" | tr '\n' ' ')"
assert_eq "p_old is gone" 0 "$(q "SELECT count(*) FROM pg_class WHERE relname = 'p_old'")"
assert_eq "held partition stays, its held row with it" "6" \
  "$(q "SELECT string_agg(id::text, ',') FROM app.p_held")"
assert_eq "wide partition stays with its young rows" "9,10" \
  "$(q "SELECT string_agg(id::text, ',' ORDER BY id) FROM app.p_wide")"
assert_eq "default partition: undated and future rows stay" "11,12" \
  "$(q "SELECT string_agg(id::text, ',' ORDER BY id) FROM app.p_default")"
assert_eq "partitions left" "p_default p_held p_wide" \
  "$(q "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'app.events'::regclass")"
digest() { report_get "[\"classes\"][[c[\"name\"] for c in r[\"classes\"]].index(\"$1\")][\"key_digests\"][\"$2\"][\"$3\"]" "${4:-}"; }
assert_eq "purge digest counts the dropped partition's keys" "$purge_keys" \
  "$(digest events purged sha256)"
assert_eq "dry run's digest is the real run's" "$(digest events purged sha256 "$dry")" \
  "$(digest events purged sha256)"

# The archive class: the old partition archived, then dropped; the segment restores it.
assert_eq "arch archived" 3 "$(class_get arch archived)"
assert_eq "report: archive partition dropped" '[["app.a_old", 3, "dropped"]]' \
  "$(report_eval 'json.dumps([[p["name"], p["rows"], p["outcome"]] for p in
     r["classes"][1]["partitions"]])')"
assert_eq "young archive row stays" "A-4" "$(q "SELECT string_agg(ref, ',') FROM app.arch")"
assert_eq "one segment for the partition" "1 3" \
  "$(q "SELECT count(*) || ' ' || sum(rows) FROM retention.archive_segments
        WHERE class_name = 'arch'")"
file=$(q "SELECT file_name FROM retention.archive_segments WHERE class_name = 'arch'")
assert_eq "segment sha256 as recorded" \
  "$(q "SELECT sha256 FROM retention.archive_segments WHERE class_name = 'arch'")" \
  "$(sha256sum "$ARCHIVE/$file" | cut -d' ' -f1)"
zcat "$ARCHIVE/$file" | psql -X -q -v ON_ERROR_STOP=1 \
  -c "\\copy app.restored FROM STDIN WITH (FORMAT csv, HEADER true)" || die "restore $file"
assert_eq "restored rows equal the partition's, every column" "3 0" \
  "$(q "SELECT (SELECT count(*) FROM app.restored) || ' ' || count(*) FROM
        ((TABLE app.expected EXCEPT ALL TABLE app.restored)
         UNION ALL (TABLE app.restored EXCEPT ALL TABLE app.expected)) d")"
retention verify --public-key "$PUB" --archive-dir "$ARCHIVE" "$(latest_report)" >/dev/null 2>&1
assert_eq "verify accepts the report and its segment" 0 "$?"
finish
