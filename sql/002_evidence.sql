-- Evidence an auditor can trust: the ledgers refuse to be rewritten, and
-- restores from the archive are recorded like everything else.
-- Idempotent: every object is created or replaced only as needed.

-- The append-only triggers fire even under session_replication_role =
-- replica, the usual way to skip triggers: silencing them takes ALTER TABLE
-- by the owner, a deliberate act that signed reports would contradict.
ALTER TABLE retention.hold_history ENABLE ALWAYS TRIGGER hold_history_append_only;
ALTER TABLE retention.hold_history ENABLE ALWAYS TRIGGER hold_history_no_truncate;
ALTER TABLE retention.holds ENABLE ALWAYS TRIGGER holds_guard_del;
ALTER TABLE retention.holds ENABLE ALWAYS TRIGGER holds_history;

DROP TRIGGER IF EXISTS holds_no_truncate ON retention.holds;
CREATE TRIGGER holds_no_truncate BEFORE TRUNCATE ON retention.holds
    FOR EACH STATEMENT EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.holds ENABLE ALWAYS TRIGGER holds_no_truncate;

-- The runs ledger: a run's row is completed once, with its report's hash,
-- and is frozen from then on. A row without a report may still be marked
-- abandoned by a later run. No row is ever deleted.
CREATE OR REPLACE FUNCTION retention.runs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'retention.runs keeps every run: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.report_sha256 IS NOT NULL THEN
        RAISE EXCEPTION 'run % is complete and its ledger row is frozen', OLD.run_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.run_id, NEW.sequence, NEW.mode, NEW.policy_name, NEW.policy_version,
        NEW.policy_sha256, NEW.as_of, NEW.started_at, NEW.previous_report_sha256)
       IS DISTINCT FROM
       (OLD.run_id, OLD.sequence, OLD.mode, OLD.policy_name, OLD.policy_version,
        OLD.policy_sha256, OLD.as_of, OLD.started_at, OLD.previous_report_sha256) THEN
        RAISE EXCEPTION 'only the outcome of run % may be recorded', OLD.run_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS runs_guard ON retention.runs;
CREATE TRIGGER runs_guard BEFORE UPDATE OR DELETE ON retention.runs
    FOR EACH ROW EXECUTE FUNCTION retention.runs_guard();
ALTER TABLE retention.runs ENABLE ALWAYS TRIGGER runs_guard;
DROP TRIGGER IF EXISTS runs_no_truncate ON retention.runs;
CREATE TRIGGER runs_no_truncate BEFORE TRUNCATE ON retention.runs
    FOR EACH STATEMENT EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.runs ENABLE ALWAYS TRIGGER runs_no_truncate;

-- The segment ledger is what `retention archive verify` trusts: insert only.
DROP TRIGGER IF EXISTS archive_segments_append_only ON retention.archive_segments;
CREATE TRIGGER archive_segments_append_only BEFORE UPDATE OR DELETE
    ON retention.archive_segments FOR EACH ROW EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.archive_segments ENABLE ALWAYS TRIGGER archive_segments_append_only;
DROP TRIGGER IF EXISTS archive_segments_no_truncate ON retention.archive_segments;
CREATE TRIGGER archive_segments_no_truncate BEFORE TRUNCATE ON retention.archive_segments
    FOR EACH STATEMENT EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.archive_segments ENABLE ALWAYS TRIGGER archive_segments_no_truncate;

-- Rows brought back from the archive (SOP-17), written in the transaction
-- that inserts them.
CREATE TABLE IF NOT EXISTS retention.archive_restores (
    restore_id   bigserial PRIMARY KEY,
    segment_id   bigint REFERENCES retention.archive_segments (segment_id),
    file_name    text NOT NULL,
    sha256       text NOT NULL,
    target_table text NOT NULL,
    rows         bigint NOT NULL CHECK (rows >= 0),
    db_user      text NOT NULL DEFAULT current_user,
    restored_at  timestamptz NOT NULL DEFAULT now()
);
DROP TRIGGER IF EXISTS archive_restores_append_only ON retention.archive_restores;
CREATE TRIGGER archive_restores_append_only BEFORE UPDATE OR DELETE
    ON retention.archive_restores FOR EACH ROW EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.archive_restores ENABLE ALWAYS TRIGGER archive_restores_append_only;

-- Releases since a given time are read from the history at every run.
CREATE INDEX IF NOT EXISTS hold_history_released
    ON retention.hold_history (at) WHERE event = 'released';
