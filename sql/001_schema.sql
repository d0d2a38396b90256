-- retention's own schema: the exception log of holds, its append-only
-- history, the runs ledger and the archive segment ledger.
-- Idempotent: every object is created only when missing.

CREATE SCHEMA IF NOT EXISTS retention;

-- The exception log. A hold keeps every row of its class (or of every class,
-- when class_name is NULL) whose match_column, read as text, equals
-- match_value. Holds are released, never deleted.
CREATE TABLE IF NOT EXISTS retention.holds (
    hold_id        bigserial PRIMARY KEY,
    ticket         text NOT NULL
                   CHECK (ticket ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$'),
    match_column   text NOT NULL
                   CHECK (match_column ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'),
    match_value    text NOT NULL
                   CHECK (length(match_value) BETWEEN 1 AND 256
                          AND match_value !~ '[[:cntrl:]]'),
    class_name     text
                   CHECK (class_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'),
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    created_by     text NOT NULL DEFAULT current_user,
    created_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    released_by    text,
    release_reason text,
    CHECK ((released_at IS NULL) = (released_by IS NULL)),
    CHECK ((released_at IS NULL) = (release_reason IS NULL))
);

-- The lookup made inside every DELETE: open holds by column and value.
CREATE INDEX IF NOT EXISTS holds_open_match
    ON retention.holds (match_column, match_value) WHERE released_at IS NULL;

-- One open hold per ticket, column, value and class.
CREATE UNIQUE INDEX IF NOT EXISTS holds_open_unique
    ON retention.holds (ticket, match_column, match_value, coalesce(class_name, ''))
    WHERE released_at IS NULL;

-- Every change to a hold, written by trigger so that no path can skip it.
CREATE TABLE IF NOT EXISTS retention.hold_history (
    event_id     bigserial PRIMARY KEY,
    hold_id      bigint NOT NULL,
    event        text NOT NULL CHECK (event IN ('added', 'released')),
    ticket       text NOT NULL,
    match_column text NOT NULL,
    match_value  text NOT NULL,
    class_name   text,
    reason       text NOT NULL,
    actor        text NOT NULL,
    db_user      text NOT NULL DEFAULT current_user,
    at           timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION retention.holds_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'holds are released, never deleted (hold %)', OLD.hold_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.released_at IS NOT NULL THEN
            RAISE EXCEPTION 'hold % is already released', OLD.hold_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF (NEW.hold_id, NEW.ticket, NEW.match_column, NEW.match_value, NEW.class_name,
            NEW.reason, NEW.created_by, NEW.created_at)
           IS DISTINCT FROM
           (OLD.hold_id, OLD.ticket, OLD.match_column, OLD.match_value, OLD.class_name,
            OLD.reason, OLD.created_by, OLD.created_at) THEN
            RAISE EXCEPTION 'only the release of hold % may change', OLD.hold_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO retention.hold_history
            (hold_id, event, ticket, match_column, match_value, class_name, reason, actor)
        VALUES (NEW.hold_id, 'released', NEW.ticket, NEW.match_column, NEW.match_value,
                NEW.class_name, NEW.release_reason, NEW.released_by);
        RETURN NEW;
    END IF;
    INSERT INTO retention.hold_history
        (hold_id, event, ticket, match_column, match_value, class_name, reason, actor)
    VALUES (NEW.hold_id, 'added', NEW.ticket, NEW.match_column, NEW.match_value,
            NEW.class_name, NEW.reason, NEW.created_by);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS holds_guard_del ON retention.holds;
CREATE TRIGGER holds_guard_del BEFORE DELETE ON retention.holds
    FOR EACH ROW EXECUTE FUNCTION retention.holds_guard();
DROP TRIGGER IF EXISTS holds_history ON retention.holds;
CREATE TRIGGER holds_history AFTER INSERT OR UPDATE ON retention.holds
    FOR EACH ROW EXECUTE FUNCTION retention.holds_guard();

CREATE OR REPLACE FUNCTION retention.append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS hold_history_append_only ON retention.hold_history;
CREATE TRIGGER hold_history_append_only BEFORE UPDATE OR DELETE ON retention.hold_history
    FOR EACH ROW EXECUTE FUNCTION retention.append_only();
DROP TRIGGER IF EXISTS hold_history_no_truncate ON retention.hold_history;
CREATE TRIGGER hold_history_no_truncate BEFORE TRUNCATE ON retention.hold_history
    FOR EACH STATEMENT EXECUTE FUNCTION retention.append_only();

-- One row per run, written as it starts and completed as it ends; a run that
-- never completed its row was killed.
CREATE TABLE IF NOT EXISTS retention.runs (
    run_id                 uuid PRIMARY KEY,
    sequence               bigint,
    mode                   text NOT NULL CHECK (mode IN ('execute', 'dry-run')),
    policy_name            text NOT NULL,
    policy_version         integer NOT NULL,
    policy_sha256          text NOT NULL,
    as_of                  timestamptz NOT NULL,
    started_at             timestamptz NOT NULL DEFAULT now(),
    finished_at            timestamptz,
    status                 text NOT NULL DEFAULT 'running',
    exit_code              integer,
    report_file            text,
    report_sha256          text,
    previous_report_sha256 text
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_sequence
    ON retention.runs (policy_name, sequence) WHERE sequence IS NOT NULL;

-- Archive segments: a row is inserted in the same transaction as the DELETE
-- whose rows the segment holds, so a committed row means a durable file.
CREATE TABLE IF NOT EXISTS retention.archive_segments (
    segment_id  bigserial PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES retention.runs (run_id),
    class_name  text NOT NULL,
    table_name  text NOT NULL,
    batch       integer NOT NULL,
    file_name   text NOT NULL UNIQUE,
    sha256      text NOT NULL,
    rows        bigint NOT NULL CHECK (rows >= 0),
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS archive_segments_run ON retention.archive_segments (run_id);
