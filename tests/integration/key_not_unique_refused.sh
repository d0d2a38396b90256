#!/usr/bin/env bash
# A class's key must identify one row: a valid primary key or unique index
# (no WHERE, no expression) on the key column alone, the column NOT NULL; on a
# partitioned table, where PostgreSQL can only enforce a unique index that
# includes the partition key, one on the key plus partition key columns. Any
# other key is refused before the run touches a row (exit 2), naming the
# policy file, the class and the field; `policy check --db` says the same.
. "$(dirname "$0")/lib.sh"
setup_db

sql <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.nokey (id bigint NOT NULL, at timestamptz);
CREATE TABLE app.nullable (id bigint UNIQUE, at timestamptz);
CREATE TABLE app.wide (id bigint NOT NULL, other int NOT NULL, at timestamptz,
  UNIQUE (id, other));
CREATE TABLE app.partial (id bigint NOT NULL, at timestamptz);
CREATE UNIQUE INDEX ON app.partial (id) WHERE at IS NOT NULL;
CREATE TABLE app.expr (id text NOT NULL, at timestamptz);
CREATE UNIQUE INDEX ON app.expr (lower(id));
CREATE TABLE app.invalid (id bigint NOT NULL, at timestamptz);
CREATE TABLE app.ev (id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE app.ev_all PARTITION OF app.ev FOR VALUES FROM ('2000-01-01') TO ('2200-01-01');
CREATE TABLE app.agg (id bigint, at timestamptz);
SQL
# A unique index built concurrently over duplicates fails and stays behind, invalid.
q "INSERT INTO app.invalid VALUES (1, now() - interval '60 days'), (1, now())" >/dev/null
q "CREATE UNIQUE INDEX CONCURRENTLY invalid_id ON app.invalid (id)" >/dev/null 2>&1
assert_eq "an invalid unique index is left behind" f \
  "$(q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.invalid_id'::regclass")"
for t in nokey nullable partial expr ev agg; do
  q "INSERT INTO app.$t (id, at) SELECT i, now() - interval '60 days'
     FROM generate_series(1, 10) i" >/dev/null
done
q "INSERT INTO app.wide SELECT i, 0, now() - interval '60 days' FROM generate_series(1, 10) i"\
  >/dev/null

class() { # name table [action]
  printf '{"name": "%s", "table": "app.%s", "key": "id", "timestamp_column": "at",
    "action": "%s", "retain": "%s"}' "$1" "$2" "${3:-purge}" \
    "$([ "${3:-purge}" = keep ] && echo indefinite || echo '30 days')"
}
P=$WORK/policy.json
cat >"$P" <<EOF2
{"name": "keys", "version": 1, "max_fraction": 1.0, "classes": [
  $(class nokey nokey), $(class nullable nullable), $(class wide wide),
  $(class partial partial), $(class expr expr), $(class invalid invalid), $(class ev ev),
  $(class agg agg keep)]}
EOF2
rows_before=$(q "SELECT sum(n) FROM (SELECT count(*) n FROM app.nokey UNION ALL
  SELECT count(*) FROM app.nullable UNION ALL SELECT count(*) FROM app.wide UNION ALL
  SELECT count(*) FROM app.partial UNION ALL SELECT count(*) FROM app.expr UNION ALL
  SELECT count(*) FROM app.invalid UNION ALL SELECT count(*) FROM app.ev) s")

run_job --policy "$P"
assert_eq "the run is refused with exit 2" 2 "$rc"
assert_eq "the report says refused" refused "$(report_get '["status"]')"
alone="is not unique: no valid primary key or unique index (without WHERE or expressions) on that \
column alone"
for c in nokey wide partial expr invalid; do
  assert_eq "$c: refused, naming file, class and field" \
    "$P: class \"$c\": field \"key\": column \"id\" of app.$c $alone" "$(class_get $c error)"
done
assert_eq "nullable: refused, naming file, class and field" \
  "$P: class \"nullable\": field \"key\": column \"id\" of app.nullable may be NULL, and NULL keys \
are not unique: declare it NOT NULL" "$(class_get nullable error)"
assert_eq "partitioned: refused, explaining the partition key" \
  "$P: class \"ev\": field \"key\": column \"id\" of app.ev is not unique: no valid primary key \
or unique index holds it with nothing but the partition key (at), which a unique index on a \
partitioned table must include; declare PRIMARY KEY (id, at), or UNIQUE (id, at) with id NOT NULL" \
  "$(class_get ev error)"
assert_eq "a keep class's key is not checked: it removes nothing" kept "$(class_get agg status)"
assert_eq "every class refused, none failed or run" "refused refused refused refused refused \
refused refused kept" "$(report_eval '" ".join(c["status"] for c in r["classes"])')"
assert_eq "nothing removed" "$rows_before" \
  "$(q "SELECT sum(n) FROM (SELECT count(*) n FROM app.nokey UNION ALL
  SELECT count(*) FROM app.nullable UNION ALL SELECT count(*) FROM app.wide UNION ALL
  SELECT count(*) FROM app.partial UNION ALL SELECT count(*) FROM app.expr UNION ALL
  SELECT count(*) FROM app.invalid UNION ALL SELECT count(*) FROM app.ev) s")"
assert_eq "the log names it too" 1 \
  "$(grep -c "field \\\\\"key\\\\\": column \\\\\"id\\\\\" of app.nokey is not unique" \
     "$WORK/run.log")"

retention policy check --policy "$P" --db "" >"$WORK/check.out" 2>&1
assert_eq "policy check --db exits 2 as well" 2 "$?"
assert_eq "... with the same message" 1 \
  "$(grep -cF "class \"ev\": field \"key\": column \"id\" of app.ev is not unique" \
     "$WORK/check.out")"

# Made unique, each is accepted: a primary key, a unique NOT NULL column, and on the
# partitioned table the key with its partition key; the rows go.
sql <<'SQL'
ALTER TABLE app.nokey ADD PRIMARY KEY (id);
ALTER TABLE app.nullable ALTER COLUMN id SET NOT NULL;
ALTER TABLE app.wide ADD UNIQUE (id);
ALTER TABLE app.partial ADD PRIMARY KEY (id);
ALTER TABLE app.expr ADD UNIQUE (id);
DELETE FROM app.invalid WHERE at > now() - interval '1 day';
DROP INDEX app.invalid_id;
ALTER TABLE app.invalid ADD PRIMARY KEY (id);
ALTER TABLE app.ev ADD PRIMARY KEY (id, at);
SQL
sleep 1
run_job --policy "$P"
assert_eq "unique keys: the run exits 0" 0 "$rc"
assert_eq "each class purged its old rows" "10 10 10 10 10 1 10 0" \
  "$(report_eval '" ".join(str(c["purged"]) for c in r["classes"])')"
finish
