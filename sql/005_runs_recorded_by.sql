-- A run whose database went away after it wrote and signed its report could
-- not record that report in its ledger row. The next run checks the report
-- (signature, run, sequence, previous report) and records it there; this
-- column names the run that did, so the ledger shows that the row was
-- completed late and by whom. NULL when a run recorded its own report.
-- Idempotent.

ALTER TABLE retention.runs ADD COLUMN IF NOT EXISTS report_recorded_by uuid;

COMMENT ON COLUMN retention.runs.report_recorded_by IS
    'the later run that recorded this run''s report, found signed but unrecorded in the report '
    'directory; NULL when the run recorded its own';

-- Written with the report's hash, in the one update runs_guard allows.
GRANT UPDATE (report_recorded_by) ON retention.runs TO retention_job;
