-- Synthetic demo data for the DSP number-pattern pilot (load after schema.sql).
--
-- Deterministic: every timestamp is an exact function of the row number,
-- placed relative to now() (the start of this one transaction), and every
-- other value comes from random() after setseed(), so each load gives the
-- same rows and the same counts, only shifted to the day it is loaded. The
-- demo therefore always has rows on both sides of every cutoff.
--
-- No row lies within 23 hours of its class's cutoff (30, 180 and 90 days
-- before now()), so a run any time within about 23 hours of loading (either
-- side) counts exactly this:
--
--   class                   total  past cutoff  held  eligible  undated
--   raw_customer_inputs      4000         1500    20      1480        0
--   pilot_interaction_logs   5000         1800    15      1785        0
--   anonymised_aggregates    2920   (keep: never touched, never counted)
--   support_escalations      3000         1000     2       998      150
--
-- "held" assumes the demo's two holds: ticket INV-2026-0142 on
-- ticket_id=INV-2026-0142 (class raw_customer_inputs only: 10 rows past the
-- cutoff) and ticket INV-2026-0157 on customer_id=100042 (every class:
-- 10 + 15 + 2 rows). "eligible" is past cutoff minus held, as the job reports
-- it; that is what the real run purges or archives. Every class stays under
-- max_fraction 0.5 (37.5%, 36%, 33.3% before holds).

-- Phone numbers are from Ofcom's ranges reserved for drama (07700 900xxx,
-- 020 7946 0xxx, 0113 496 0xxx, 0161 496 0xxx): realistic, never real.

\set ON_ERROR_STOP on

BEGIN;

SELECT setseed(0.2026) \gset

-- raw_customer_inputs: 4000 inputs over 60 days, received_at a row-number
-- permutation: 1500 received 31 to 60 days ago (past the 30-day cutoff),
-- 2500 received in the last 29 days.
-- Investigation INV-2026-0142 (customer 100077) has 24 inputs, with the
-- ticket in ticket_id (10 past the cutoff); customer 100042 (investigation
-- INV-2026-0157) has 28 (10 past the cutoff). Some 12% of the other inputs
-- belong to a support escalation (ESC-nnnnnn); those are not held.
INSERT INTO dsp.raw_customer_inputs (received_at, customer_id, ticket_id, channel, input_text)
SELECT received_at, customer_id, ticket_id, channel, input_text
FROM (
    SELECT
        CASE WHEN p < 1500
             THEN now() - interval '31 days' - p * interval '29 days' / 1500
             ELSE now() - interval '10 minutes' - (p - 1500) * interval '29 days' / 2500
        END - floor(random() * 600) * interval '1 second' AS received_at,
        CASE WHEN i % 167 = 42 THEN 100077
             WHEN i % 139 = 17 THEN 100042
             ELSE 100100 + floor(random() * 9900)::bigint
        END AS customer_id,
        CASE WHEN i % 167 = 42 THEN 'INV-2026-0142'
             WHEN random() < 0.12 THEN 'ESC-' || lpad((1 + floor(random() * 3000))::text, 6, '0')
        END AS ticket_id,
        (ARRAY['web_chat', 'web_chat', 'app', 'app', 'app', 'sms', 'ivr', 'email'])
            [1 + floor(random() * 8)::int] AS channel,
        format((ARRAY[
            'Please call me back on 07700 900%s',
            'Is 020 7946 0%s a genuine number from your company?',
            'I got a text from 07700 900%s asking for my PIN, is that you?',
            'My new mobile number is 07700 900%s, please update it',
            'Update my contact number to 0161 496 0%s please',
            'Someone rang from 0113 496 0%s claiming to be from the bank',
            'Can you block 07700 900%s? It keeps calling me',
            'The reference on my letter is REF-2026-%s, what does it mean?',
            'Why was my number 07700 900%s rejected by the form?',
            'I missed a call from 020 7946 0%s, did you try to reach me?'
        ])[1 + floor(random() * 10)::int], lpad(floor(random() * 1000)::text, 3, '0'))
            AS input_text
    FROM generate_series(1, 4000) AS i,
         LATERAL (SELECT (i * 7919) % 4000 AS p) AS perm
) AS g
ORDER BY received_at;

-- pilot_interaction_logs: 1000 sessions of 5 events. 360 sessions started
-- 181 to 300 days ago (1800 rows past the 180-day cutoff), 640 in the last
-- 179 days. Customer 100042 has 8 sessions (40 rows), 3 of them (15 rows)
-- past the cutoff. About 8% of sessions end in a handoff to an agent and
-- carry the escalation's ticket.
INSERT INTO dsp.pilot_interaction_logs (logged_at, session_id, customer_id, ticket_id, event, detail)
SELECT logged_at, session_id, customer_id, ticket_id, event, detail
FROM (
    WITH sessions AS MATERIALIZED (
        SELECT
            s,
            CASE WHEN p < 360
                 THEN now() - interval '181 days' - p * interval '119 days' / 360
                 ELSE now() - interval '1 hour' - (p - 360) * interval '178 days' / 640
            END - floor(random() * 1800) * interval '1 second' AS started_at,
            md5('dsp-pilot-session-' || s)::uuid AS session_id,
            CASE WHEN s % 125 = 42 THEN 100042
                 ELSE 100100 + floor(random() * 9900)::bigint
            END AS customer_id,
            (ARRAY['web_chat', 'app', 'app', 'sms', 'ivr'])[1 + floor(random() * 5)::int] AS channel,
            (ARRAY['07### ######', '07### ######', '07### ######', '020 #### ####',
                   '01### ######', '0800 ### ####', '+44 7### ######', '+353 8# ### ####'])
                [1 + floor(random() * 8)::int] AS pattern,
            random() < 0.85 AS matched,
            random() < 0.08 AS handoff,
            lpad(floor(random() * 1000)::text, 3, '0') AS digits
        FROM generate_series(0, 999) AS s,
             LATERAL (SELECT (s * 7919) % 1000 AS p) AS perm
    )
    SELECT
        x.started_at + e * interval '37 seconds' AS logged_at,
        x.session_id,
        x.customer_id,
        CASE WHEN x.handoff THEN 'ESC-' || lpad((1 + x.s * 3)::text, 6, '0') END AS ticket_id,
        ev.event,
        ev.detail
    FROM sessions x
    CROSS JOIN generate_series(0, 4) AS e
    CROSS JOIN LATERAL (
        SELECT
            CASE e
                WHEN 0 THEN 'session_start'
                WHEN 1 THEN 'input_received'
                WHEN 2 THEN CASE WHEN x.matched THEN 'pattern_matched' ELSE 'pattern_rejected' END
                WHEN 3 THEN CASE WHEN x.matched THEN 'number_masked' ELSE 'input_received' END
                ELSE CASE WHEN x.handoff THEN 'handoff_to_agent' ELSE 'session_end' END
            END AS event,
            CASE e
                WHEN 0 THEN jsonb_build_object('channel', x.channel,
                                               'client', CASE x.channel WHEN 'app' THEN 'app 3.4.1'
                                                                        WHEN 'ivr' THEN 'ivr-gw 2.0'
                                                                        ELSE 'web 2026.1' END)
                WHEN 1 THEN jsonb_build_object('chars', 24 + (x.s * 13) % 90, 'digits', 11)
                WHEN 2 THEN CASE WHEN x.matched
                                 THEN jsonb_build_object('pattern', x.pattern,
                                                         'confidence', round(0.80 + ((x.s * 7) % 20) / 100.0, 2))
                                 ELSE jsonb_build_object('reason', (ARRAY['too_short', 'unknown_prefix',
                                                         'mixed_letters'])[1 + x.s % 3])
                            END
                WHEN 3 THEN CASE WHEN x.matched
                                 THEN jsonb_build_object('masked', '07700 900***', 'pattern', x.pattern)
                                 ELSE jsonb_build_object('chars', 12 + x.s % 30, 'retry', true)
                            END
                ELSE CASE WHEN x.handoff
                          THEN jsonb_build_object('queue', 'numbers-tier2',
                                                  'ticket', 'ESC-' || lpad((1 + x.s * 3)::text, 6, '0'))
                          ELSE jsonb_build_object('duration_s', 148, 'outcome',
                                                  CASE WHEN x.matched THEN 'resolved' ELSE 'abandoned' END)
                     END
            END AS detail
    ) AS ev
) AS g
ORDER BY logged_at;

-- anonymised_aggregates: one row per day of the last 365 days and pattern
-- (2920 rows). A keep class: the job never touches these.
INSERT INTO dsp.anonymised_aggregates (period, pattern, occurrences)
SELECT current_date - d,
       pat.pattern,
       round(pat.base * CASE WHEN extract(isodow FROM current_date - d) >= 6 THEN 0.6 ELSE 1.0 END
             * (0.85 + random() * 0.3))::bigint
FROM generate_series(364, 0, -1) AS d
CROSS JOIN (VALUES ('07### ######', 1850), ('+44 7### ######', 420), ('020 #### ####', 310),
                   ('01### ######', 540), ('0800 ### ####', 95), ('+353 8# ### ####', 37),
                   ('#### #### #### ####', 64), ('##-##-## ########', 120)) AS pat(pattern, base)
ORDER BY 1, 2;

-- support_escalations: 3000 escalations. 150 still open (closed_at NULL:
-- undated, never removed, some opened more than 90 days ago); 1000 closed
-- 91 to 365 days ago (past the 90-day cutoff: archived under SOP-17); 1850
-- closed in the last 89 days. Customer 100042 has 6: 2 closed past the
-- cutoff, 3 closed recently, 1 open.
INSERT INTO dsp.support_escalations
    (opened_at, closed_at, customer_id, ticket_id, severity, summary, resolution)
SELECT opened_at, closed_at, customer_id, ticket_id, severity, summary, resolution
FROM (
    SELECT
        CASE WHEN p < 150 THEN now() - interval '2 hours' - p * interval '120 days' / 150
             ELSE closed_at - interval '1 hour' - floor(random() * 336) * interval '1 hour'
        END AS opened_at,
        closed_at,
        CASE WHEN i % 500 = 42 THEN 100042 ELSE 100100 + floor(random() * 9900)::bigint END
            AS customer_id,
        'ESC-' || lpad(i::text, 6, '0') AS ticket_id,
        CASE WHEN r < 0.40 THEN 'low' WHEN r < 0.75 THEN 'medium'
             WHEN r < 0.95 THEN 'high' ELSE 'critical' END AS severity,
        format((ARRAY[
            'Valid mobile number 07700 900%s rejected by the pattern filter',
            'Masked number shown in full on the customer''s statement (ref %s)',
            'Pattern filter flagged an order reference as a card number (ref %s)',
            'Customer cannot update contact number in the app (error %s)',
            'Suspected scam call from 0113 496 0%s reported by customer',
            'Irish mobile number ending %s rejected at sign-up',
            'IVR misheard the spoken number, ended on 0161 496 0%s',
            'Customer asks for call-back number 020 7946 0%s to be deleted'
        ])[1 + floor(random() * 8)::int], lpad(floor(random() * 1000)::text, 3, '0')) AS summary,
        CASE WHEN closed_at IS NOT NULL THEN (ARRAY[
            'Pattern rule corrected; customer informed',
            'Number verified and allow-listed',
            'Referred to the fraud team; customer advised not to reply',
            'No fault found; guidance sent to customer',
            'Fixed in pilot release 3.4.2; customer confirmed',
            'Duplicate of an earlier escalation; merged and closed',
            'Data corrected at customer''s request'
        ])[1 + floor(random() * 7)::int] END AS resolution
    FROM generate_series(1, 3000) AS i,
         LATERAL (SELECT (i * 7919) % 3000 AS p, random() AS r) AS perm,
         LATERAL (SELECT CASE
             WHEN p < 150 THEN NULL::timestamptz
             WHEN p < 1150 THEN now() - interval '91 days' - (p - 150) * interval '274 days' / 1000
             ELSE now() - interval '30 minutes' - (p - 1150) * interval '89 days' / 1850
         END AS closed_at) AS c
) AS g
ORDER BY opened_at;

COMMIT;

ANALYZE dsp.raw_customer_inputs, dsp.pilot_interaction_logs,
        dsp.anonymised_aggregates, dsp.support_escalations;
