-- The continuous invariant auditor's progress (actors/src/audit.rs): one row, written only by the
-- replica holding the audit's advisory lock.
--
-- Transfer ids come from a sequence, so a transaction can commit after another that took a higher
-- id. An audit therefore checks the legs above `watermark_id`, and moves the watermark only up to
-- the highest id the previous audit saw (`seen_id`): by then every transaction that had taken a
-- lower id has committed (a journal transaction lasts far less than an audit interval).
CREATE TABLE audit_state (
    id              smallint PRIMARY KEY CONSTRAINT audit_state_one_row CHECK (id = 1),
    watermark_id    bigint NOT NULL DEFAULT 0,
    seen_id         bigint NOT NULL DEFAULT 0,
    -- The last audit of every account and leg; a day later the next audit is full again.
    last_full_at    timestamptz,
    -- Violations the last full audit found, per invariant: they stay reported until a full
    -- audit finds none, since an incremental audit does not look at the legs they are in.
    full_violations jsonb NOT NULL DEFAULT '{}',
    last_success_at timestamptz
);
INSERT INTO audit_state (id) VALUES (1);
