-- The batch ledger: one row for every batch transaction of an executed run
-- that committed, inserted by that transaction itself, so a row exists if
-- and only if the batch's DELETE committed. A run killed after some batches
-- leaves no report, but its rows here say what it removed, class by class.
-- Idempotent: every object is created only when missing, or replaced.

CREATE TABLE IF NOT EXISTS retention.batches (
    run_id       uuid NOT NULL REFERENCES retention.runs (run_id),
    class_name   text NOT NULL,
    batch        integer NOT NULL CHECK (batch > 0),
    action       text NOT NULL CHECK (action IN ('purge', 'archive')),
    table_name   text NOT NULL,   -- the relation the rows came from (a partition, for some)
    rows         bigint NOT NULL CHECK (rows >= 0),
    segment_id   bigint REFERENCES retention.archive_segments (segment_id),
    -- The last statement before COMMIT: the commit follows within the same
    -- round trip's time, and a row that exists was committed.
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, class_name, batch),
    CHECK ((action = 'archive') = (segment_id IS NOT NULL))
);

-- Insert only, like the other ledgers, even under session_replication_role = replica.
DROP TRIGGER IF EXISTS batches_append_only ON retention.batches;
CREATE TRIGGER batches_append_only BEFORE UPDATE OR DELETE ON retention.batches
    FOR EACH ROW EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.batches ENABLE ALWAYS TRIGGER batches_append_only;
DROP TRIGGER IF EXISTS batches_no_truncate ON retention.batches;
CREATE TRIGGER batches_no_truncate BEFORE TRUNCATE ON retention.batches
    FOR EACH STATEMENT EXECUTE FUNCTION retention.append_only();
ALTER TABLE retention.batches ENABLE ALWAYS TRIGGER batches_no_truncate;

-- The job inserts its batches and reads them back for the report; the
-- auditor reads them. Nobody is granted UPDATE or DELETE.
GRANT SELECT, INSERT ON retention.batches TO retention_job;
GRANT SELECT ON retention.batches TO retention_auditor;
