-- Least privilege: three group roles (NOLOGIN) and what each may do in the
-- retention schema. Login roles are made members by the DBA, e.g.
--   CREATE ROLE retention LOGIN IN ROLE retention_job;
--
--   retention_job         the nightly run: reads the holds and their history,
--                         writes its runs ledger and the archive segment
--                         ledger; never adds, changes or releases a hold
--   retention_auditor     reads everything, changes nothing: the dry run
--   retention_hold_admin  adds and releases holds; no access to the data
--
-- Grants on the policy's own tables cannot be known here: `retention db
-- grants --policy FILE` prints (or with --apply runs) them from the catalog.
-- Roles are cluster-wide, the grants below belong to this database.
-- Idempotent: roles are created only when missing; GRANT is repeatable.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['retention_job', 'retention_auditor', 'retention_hold_admin'] LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r);
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                       AND (rolcreaterole OR rolsuper)) THEN
            RAISE EXCEPTION 'role % does not exist and % may not create roles', r, current_user
                USING HINT = format('have a role with CREATEROLE run: CREATE ROLE %I NOLOGIN;'
                                    ' then run retention db migrate again', r);
        END IF;
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created meanwhile by the migration of another database of the cluster
        END;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA retention TO retention_job, retention_auditor, retention_hold_admin;

-- Every command checks the schema version first.
GRANT SELECT ON retention.schema_migrations
    TO retention_job, retention_auditor, retention_hold_admin;

-- The job. The hold test inside every DELETE reads retention.holds; the
-- report's evidence reads the history. Its ledger row is inserted at the start
-- and only its outcome is recorded at the end (runs_guard refuses the rest);
-- a segment's ledger row goes in with the batch that deleted its rows.
GRANT SELECT ON retention.holds, retention.hold_history TO retention_job;
GRANT SELECT, INSERT ON retention.runs TO retention_job;
GRANT UPDATE (status, finished_at, exit_code, report_file, report_sha256)
    ON retention.runs TO retention_job;
GRANT SELECT, INSERT ON retention.archive_segments TO retention_job;
GRANT USAGE ON SEQUENCE retention.archive_segments_segment_id_seq TO retention_job;

-- The auditor reads every table of the schema.
GRANT SELECT ON retention.schema_migrations, retention.holds, retention.hold_history,
    retention.runs, retention.archive_segments, retention.archive_restores
    TO retention_auditor;

-- The hold administrator: a hold is inserted, then only released. The columns
-- are named so that neither the creation time nor an open hold's match can be
-- set by hand (holds_guard refuses any other change anyway).
GRANT SELECT ON retention.holds, retention.hold_history TO retention_hold_admin;
GRANT INSERT (ticket, match_column, match_value, class_name, reason, created_by)
    ON retention.holds TO retention_hold_admin;
GRANT UPDATE (released_at, released_by, release_reason) ON retention.holds
    TO retention_hold_admin;
GRANT USAGE ON SEQUENCE retention.holds_hold_id_seq TO retention_hold_admin;

-- Nobody but the owner writes the history: the trigger that records each
-- change runs as its owner, so the hold administrator needs no INSERT on
-- retention.hold_history and cannot write an event of its own. The history
-- then names the login that made the change (session_user), not the owner.
ALTER FUNCTION retention.holds_guard() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER TABLE retention.hold_history ALTER COLUMN db_user SET DEFAULT session_user;
