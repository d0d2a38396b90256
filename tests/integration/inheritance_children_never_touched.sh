#!/usr/bin/env bash
# A class governs exactly the table it names. A plain table's inheritance
# children are other relations: every statement reads and deletes the class's
# table ONLY, so a child keeps all its rows (and so does a table cascading
# from it, and its DELETE trigger never fires), whatever the parent's class
# does; a child named by no class refuses the parent's class (exit 2, in the
# run, the dry run and policy check alike) before any row goes. A class on a
# child touches the child alone. A foreign key pins only the rows its own
# table references, as PostgreSQL enforces it, not those an inheriting table
# names. The least-privilege job role, granted what
# `db grants` prints, runs such a policy without touching a child, and
# `archive restore` puts the parent's rows back into the parent even where a
# child holds the same key.
. "$(dirname "$0")/lib.sh"
setup_db

# Each table: 1000 rows, row i (i % 60) days and 12 hours old. Past 30 days:
# i % 60 in 30..59, which is 16 x 30 + 11 = 491 rows of 1000.
sql <<'SQL'
CREATE SCHEMA app;
CREATE FUNCTION app.fill(rel regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %s (id, ts, cust) SELECT i,'
                 ' now() - make_interval(days => i %% 60, hours => 12), i %% 7'
                 ' FROM generate_series(1, 1000) i', rel);
END$$;
-- Purge on the parent, keep on the child; a cascade and a trigger hang off the child.
CREATE TABLE app.parent (id int PRIMARY KEY, ts timestamptz, cust int);
CREATE TABLE app.child (extra text) INHERITS (app.parent);
ALTER TABLE app.child ADD PRIMARY KEY (id);
CREATE TABLE app.grand (id int PRIMARY KEY,
  child_id int CONSTRAINT grand_child_fk REFERENCES app.child ON DELETE CASCADE);
CREATE TABLE app.audit (id int);
CREATE FUNCTION app.log_delete() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO app.audit VALUES (OLD.id); RETURN OLD; END$$;
CREATE TRIGGER child_audit BEFORE DELETE ON app.child
  FOR EACH ROW EXECUTE FUNCTION app.log_delete();
SELECT app.fill('app.parent'), app.fill('app.child');
UPDATE app.child SET extra = 'x';
INSERT INTO app.grand SELECT id, id FROM app.child;
-- A key that pins parent 30; an inheriting table, which no key binds, names parent 31.
CREATE TABLE app.ref (id int, parent_id int REFERENCES app.parent ON DELETE RESTRICT);
CREATE TABLE app.ref_hist () INHERITS (app.ref);
INSERT INTO app.ref VALUES (1, 30);
INSERT INTO app.ref_hist VALUES (2, 31);
-- Archive on the parent, purge on the child.
CREATE TABLE app.aparent (id int PRIMARY KEY, ts timestamptz, cust int);
CREATE TABLE app.achild (extra text) INHERITS (app.aparent);
-- Keep on the parent, purge on the child.
CREATE TABLE app.kparent (id int PRIMARY KEY, ts timestamptz, cust int);
CREATE TABLE app.kchild (extra text) INHERITS (app.kparent);
-- Primary keys are not inherited: a child that a class purges declares its own.
ALTER TABLE app.achild ADD PRIMARY KEY (id);
ALTER TABLE app.kchild ADD PRIMARY KEY (id);
SELECT app.fill('app.aparent'), app.fill('app.achild'), app.fill('app.kparent'),
  app.fill('app.kchild');
SQL
counts() {
  q "SELECT concat_ws(' ', (SELECT count(*) FROM ONLY app.parent), (SELECT count(*) FROM app.child),
       (SELECT count(*) FROM app.grand), (SELECT count(*) FROM app.audit),
       (SELECT count(*) FROM ONLY app.aparent), (SELECT count(*) FROM app.achild),
       (SELECT count(*) FROM ONLY app.kparent), (SELECT count(*) FROM app.kchild))"
}
cls() { # NAME TABLE ACTION
  if [ "$3" = keep ]; then
    printf '{"name": "%s", "table": "%s", "action": "keep", "retain": "indefinite"}' "$1" "$2"
  else
    printf '{"name": "%s", "table": "%s", "action": "%s", "key": "id",' "$1" "$2" "$3"
    printf ' "timestamp_column": "ts", "retain": "30 days", "hold_keys": ["cust"]}'
  fi
}
policy() { # FILE CLASS...
  local file=$1 sep=""
  shift
  { printf '{"name": "inherit", "version": 1, "classes": ['
    for c in "$@"; do printf '%s\n  %s' "$sep" "$c"; sep=,; done
    printf ']}\n'; } >"$file"
}
assert_eq "the data" "1000 1000 1000 0 1000 1000 1000 1000" "$(counts)"

# A child no class names: refused everywhere, before any row goes.
policy "$WORK/unnamed.json" "$(cls p app.parent purge)"
refusal="$WORK/unnamed.json: class \"p\": field \"table\": app.parent has an inheritance child"
refusal+=" that no class names: app.child; the job removes rows from app.parent itself only,"
refusal+=" never from its children"
retention policy check --policy "$WORK/unnamed.json" --db >"$WORK/check.out" 2>&1
assert_eq "policy check: exit 2" 2 "$?"
assert_eq "policy check names the file, class, table and child" "invalid: $refusal" \
  "$(grep '^invalid:' "$WORK/check.out")"
run_job --policy "$WORK/unnamed.json" --dry-run
assert_eq "dry run: exit 2" 2 "$rc"
assert_eq "dry run: the report says why" "$refusal" "$(class_get p error)"
assert_eq "dry run: nothing counted as eligible" 0 "$(class_get p eligible)"
run_job --policy "$WORK/unnamed.json"
assert_eq "run: exit 2" 2 "$rc"
assert_eq "run: refused" refused "$(report_get '["status"]')"
assert_eq "run: the report says why" "$refusal" "$(class_get p error)"
assert_match "run: the log says why" 'inheritance child that no class names: app.child' \
  "$(cat "$WORK/run.log")"
assert_eq "run: nothing touched" "1000 1000 1000 0 1000 1000 1000 1000" "$(counts)"
sleep 1

# Every child named: each class reads and removes its own table only.
policy "$WORK/named.json" "$(cls p app.parent purge)" "$(cls c app.child keep)" \
  "$(cls a app.aparent archive)" "$(cls ac app.achild purge)" \
  "$(cls k app.kparent keep)" "$(cls kc app.kchild purge)"
retention policy check --policy "$WORK/named.json" --db >"$WORK/check.out" 2>&1
assert_eq "policy check: clean" "0 result: clean" "$? $(tail -n 1 "$WORK/check.out")"
# The job runs as the least-privilege role with what `db grants` gives it.
JOB=${RETENTION_TEST_DB_PREFIX:-}t_inherit_job
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $JOB" >/dev/null 2>&1
trap 'psql -X -q -d postgres -c "DROP ROLE IF EXISTS $JOB" >/dev/null 2>&1; cleanup_work' EXIT
q "CREATE ROLE $JOB LOGIN IN ROLE retention_job" >/dev/null
retention db grants --policy "$WORK/named.json" >"$WORK/grants.sql" 2>"$WORK/run.log"
assert_eq "grants: no child the job does not delete from" "" \
  "$(grep -E '"(child|kparent)"' "$WORK/grants.sql")"
retention db grants --policy "$WORK/named.json" --apply 2>"$WORK/run.log"
assert_eq "grants applied" 0 "$?"
PGUSER=$JOB run_job --policy "$WORK/named.json" --dry-run
assert_eq "dry run as the job role: exit 0" 0 "$rc"
dry=$(latest_report)
for c in p a ac kc; do
  old=$(( $(class_get $c eligible "$dry") + $(class_get $c pinned "$dry") ))
  assert_eq "dry run: class $c counts its own table" "1000 491" \
    "$(class_get $c total "$dry") $old"
done
assert_eq "dry run: parent 30 is pinned by app.ref, not 31 by app.ref_hist" "1 490" \
  "$(class_get p pinned "$dry") $(class_get p eligible "$dry")"
sleep 1
PGUSER=$JOB run_job --policy "$WORK/named.json"
assert_eq "run as the job role: exit 0" 0 "$rc"
assert_eq "run: status" success "$(report_get '["status"]')"
assert_eq "run: each class removed its own table's old rows, no other" \
  "510 1000 1000 0 509 509 1000 509" "$(counts)"
assert_eq "run: the pinned parent stays, the other goes" "30" \
  "$(q "SELECT string_agg(id::text, ',') FROM ONLY app.parent WHERE id IN (30, 31)")"
assert_eq "run: purged and archived as counted" "490 491 491 491" \
  "$(class_get p purged) $(class_get a archived) $(class_get ac purged) $(class_get kc purged)"
assert_eq "run: the keep classes were kept" "kept kept" \
  "$(class_get c status) $(class_get k status)"
assert_eq "run: the child's oldest rows are all still there" 491 \
  "$(q "SELECT count(*) FROM app.child WHERE ts < now() - interval '30 days'")"
assert_eq "run: the archive holds the parent's rows, with the parent's columns only" \
  "id,ts,cust 491" \
  "$(zcat "$ARCHIVE"/a/*.csv.gz | head -n 1) $(zcat "$ARCHIVE"/a/*.csv.gz | grep -vc '^id,')"
assert_eq "run: the segments come from app.aparent alone" app.aparent \
  "$(q "SELECT string_agg(DISTINCT table_name, ',') FROM retention.archive_segments")"
retention verify --compare "$dry" "$(latest_report)" >"$WORK/compare.out" 2>&1
assert_eq "the real run removed exactly what the dry run counted" 0 "$?"

# Restoring the parent's segments brings its rows back even where a child
# holds the same key: the child's rows are not the parent's.
q "INSERT INTO app.achild (id, ts, cust, extra) VALUES (30, now(), 0, 'same key')" >/dev/null
for f in "$ARCHIVE"/a/*.csv.gz; do
  retention archive restore --segment "$f" --into app.aparent >/dev/null 2>"$WORK/run.log" \
    || die "archive restore $f"
done
assert_eq "restore: the parent has all its rows again, the child keeps its own" \
  "510 1000 510 1000" \
  "$(q "SELECT concat_ws(' ', (SELECT count(*) FROM ONLY app.parent),
          (SELECT count(*) FROM ONLY app.aparent), (SELECT count(*) FROM app.achild),
          (SELECT count(DISTINCT id) FROM ONLY app.aparent))")"
finish
