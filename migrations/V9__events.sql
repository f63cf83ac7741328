-- Events out (design.md "Events: the journal as a change stream"). The change stream is read
-- from the rows themselves: no event table, no second write per transfer. Every change takes a
-- *position* from the transfer id sequence, inside the transaction that makes it:
--   - a transfer row: its id (drawn by the journal after the account locks);
--   - a pending transfer voided or expired: `ended_position`, set in the claim's own update;
--   - an account opened: `opened_position`, set in its insert.
-- Positions have gaps (rolled-back batches); `event_marks` numbers them gap-free, one row per
-- numbering step rather than per event.

ALTER TABLE transfers
    ADD COLUMN ended_position bigint,
    -- When a pending transfer stopped being pending, and what it held until then (a post
    -- writes the amount posted over `amount`).
    ADD COLUMN ended_at timestamptz,
    ADD COLUMN pending_amount bigint;
ALTER TABLE accounts ADD COLUMN opened_position bigint;

-- A position, drawn only once the transaction has an xid: the numbering's watermark
-- (actors/src/events.rs) waits for the transactions running when it read the sequence, so a
-- position must never be drawn by a transaction the snapshot could not see.
CREATE FUNCTION tally_event_position() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_current_xact_id();
    RETURN nextval('transfers_id_seq');
END $$;

CREATE FUNCTION tally_pending_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.ended_at := now();
    NEW.pending_amount := OLD.amount;
    IF NEW.status IN ('voided', 'expired') THEN
        NEW.ended_position := tally_event_position();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER transfers_pending_ended BEFORE UPDATE OF status ON transfers
    FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status <> 'pending')
    EXECUTE FUNCTION tally_pending_ended();

CREATE FUNCTION tally_account_opened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.opened_position := tally_event_position();
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_opened BEFORE INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION tally_account_opened();

-- What existed before: accounts, then ended holds, after every transfer of that time.
UPDATE accounts a SET opened_position = p.position
FROM (SELECT id, nextval('transfers_id_seq') AS position FROM (SELECT id FROM accounts ORDER BY id) o) p
WHERE a.id = p.id;
UPDATE transfers t SET ended_position = p.position, ended_at = COALESCE(t.expires_at, t.created_at)
FROM (SELECT id, nextval('transfers_id_seq') AS position
      FROM (SELECT id FROM transfers WHERE status IN ('voided', 'expired') ORDER BY id) o) p
WHERE t.id = p.id;
ALTER TABLE accounts ALTER COLUMN opened_position SET NOT NULL;

CREATE UNIQUE INDEX transfers_by_ended_position ON transfers (ended_position)
    WHERE ended_position IS NOT NULL;
CREATE UNIQUE INDEX accounts_by_opened_position ON accounts (opened_position);

-- The numbering: the event with id `event_id` is at `position`, and every event up to it is
-- final. Ids between two marks are the positions between them, in order. Marks are at most
-- EVENT_MARK_EVENTS_MAX apart.
CREATE TABLE event_marks (
    event_id   bigint PRIMARY KEY CONSTRAINT event_marks_id_nonnegative CHECK (event_id >= 0),
    position   bigint NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO event_marks (event_id, position) VALUES (0, 0);

-- Webhooks (design.md "Webhooks"): one row per target, with its delivery cursor (the last event
-- id it acknowledged, or skipped as not of its types) and a lease, so a restart or another
-- replica continues where it stopped and one replica delivers a webhook at a time.
CREATE TABLE webhooks (
    id              bigserial PRIMARY KEY,
    url             text NOT NULL,
    -- NULL: every type.
    types           text[],
    -- The HMAC key of `Tally-Signature`; shown once, at creation.
    secret          text NOT NULL,
    created_by      text NOT NULL REFERENCES users (username),
    delivered_id    bigint NOT NULL CONSTRAINT webhooks_delivered_nonnegative CHECK (delivered_id >= 0),
    status          text NOT NULL DEFAULT 'active'
                    CONSTRAINT webhooks_status_known CHECK (status IN ('active', 'paused')),
    -- Failed attempts at the event after `delivered_id`, since `failing_since`.
    failures        integer NOT NULL DEFAULT 0,
    failing_since   timestamptz,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     uuid,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE status = 'active';

-- `tally publish`: the last event each exchange confirmed, stored after every confirm.
CREATE TABLE publisher_cursors (
    exchange     text PRIMARY KEY,
    published_id bigint NOT NULL CONSTRAINT publisher_cursors_nonnegative CHECK (published_id >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
