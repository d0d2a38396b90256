-- The DSP number-pattern pilot's demo schema: the four tables that
-- policies/dsp-number-pattern-pilot.json governs. Load into an empty
-- database (deploy/demo.sh does), then deploy/demo/data.sql.
--
-- No foreign keys and no triggers between these tables: the policy lists no
-- allow_cascade_to or allow_triggers, so the job's guards have nothing to
-- refuse.

\set ON_ERROR_STOP on

CREATE SCHEMA dsp;
COMMENT ON SCHEMA dsp IS 'DSP number-pattern pilot (demo data)';

-- What customers typed or said to the pilot. Purged 30 days after receipt.
CREATE TABLE dsp.raw_customer_inputs (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    customer_id bigint NOT NULL,
    ticket_id   text,                 -- NULL unless the input belongs to a support ticket
    channel     text NOT NULL
                CHECK (channel IN ('web_chat', 'app', 'sms', 'ivr', 'email')),
    input_text  text NOT NULL
);
COMMENT ON TABLE dsp.raw_customer_inputs IS
    'retention: class raw_customer_inputs, purge after 30 days (received_at)';
CREATE INDEX raw_customer_inputs_received_at ON dsp.raw_customer_inputs (received_at);
CREATE INDEX raw_customer_inputs_customer_id ON dsp.raw_customer_inputs (customer_id);
CREATE INDEX raw_customer_inputs_ticket_id ON dsp.raw_customer_inputs (ticket_id)
    WHERE ticket_id IS NOT NULL;

-- One row per event of a pilot session. Purged after the 180-day regulator
-- review window.
CREATE TABLE dsp.pilot_interaction_logs (
    id          bigserial PRIMARY KEY,
    logged_at   timestamptz NOT NULL DEFAULT now(),
    session_id  uuid NOT NULL,
    customer_id bigint NOT NULL,
    ticket_id   text,
    event       text NOT NULL
                CHECK (event IN ('session_start', 'input_received', 'pattern_matched',
                                 'pattern_rejected', 'number_masked', 'handoff_to_agent',
                                 'session_end')),
    detail      jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE dsp.pilot_interaction_logs IS
    'retention: class pilot_interaction_logs, purge after 180 days (logged_at)';
CREATE INDEX pilot_interaction_logs_logged_at ON dsp.pilot_interaction_logs (logged_at);
CREATE INDEX pilot_interaction_logs_session_id ON dsp.pilot_interaction_logs (session_id);
CREATE INDEX pilot_interaction_logs_customer_id ON dsp.pilot_interaction_logs (customer_id);

-- Anonymised counts of number patterns per day. Kept indefinitely.
CREATE TABLE dsp.anonymised_aggregates (
    id          bigserial PRIMARY KEY,
    period      date NOT NULL,
    pattern     text NOT NULL,
    occurrences bigint NOT NULL CHECK (occurrences >= 0),
    UNIQUE (period, pattern)
);
COMMENT ON TABLE dsp.anonymised_aggregates IS
    'retention: class anonymised_aggregates, keep indefinitely (never touched)';
CREATE INDEX anonymised_aggregates_period ON dsp.anonymised_aggregates (period);

-- Escalations to support staff. Archived (SOP-17) 90 days after closing;
-- closed_at is NULL while an escalation is open, and open ones are never
-- removed.
CREATE TABLE dsp.support_escalations (
    id          bigserial PRIMARY KEY,
    opened_at   timestamptz NOT NULL,
    closed_at   timestamptz,          -- NULL while open
    customer_id bigint NOT NULL,
    ticket_id   text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    summary     text NOT NULL,
    resolution  text,                 -- NULL while open
    CHECK (closed_at IS NULL OR closed_at >= opened_at),
    CHECK ((closed_at IS NULL) = (resolution IS NULL))
);
COMMENT ON TABLE dsp.support_escalations IS
    'retention: class support_escalations, archive (SOP-17) 90 days after closed_at';
CREATE INDEX support_escalations_closed_at ON dsp.support_escalations (closed_at);
CREATE INDEX support_escalations_opened_at ON dsp.support_escalations (opened_at);
CREATE INDEX support_escalations_customer_id ON dsp.support_escalations (customer_id);
CREATE UNIQUE INDEX support_escalations_ticket_id ON dsp.support_escalations (ticket_id);
