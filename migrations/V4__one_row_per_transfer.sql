-- One row per transfer. The transfer row is the journal: a posted transfer has exactly one debit
-- leg and one credit leg, so `entries` becomes a view over transfers and double_entry holds by
-- construction. Each leg keeps the account's balance right after it (`*_balance_after`), which
-- the journal knows at commit time, so a statement reads like a bank statement.
--
-- Measured price (DESIGN "what Postgres itself can absorb"): three rows per transfer cost twice
-- the rows, index insertions and WAL of one. Entry ids change: a transfer t's debit leg is entry
-- 2t and its credit leg 2t+1 (ids of entries written before this migration are renumbered so).
--
-- Pending (two-phase) transfers live here too: a pending row holds money (`accounts.held`) and
-- writes no legs; posting it writes a second row, the posting, carrying the legs and pointing at
-- the pending one (`pending_id`), so legs are always ordered by the id they were committed with.

ALTER TABLE accounts
    ADD COLUMN held bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT accounts_held_nonnegative CHECK (held >= 0),
    -- holds: available = balance - held never goes below 0 on a customer account.
    ADD CONSTRAINT accounts_available_nonnegative CHECK (kind = 'reserve' OR balance - held >= 0);

ALTER TABLE transfers
    ADD COLUMN status text NOT NULL DEFAULT 'posted'
        CONSTRAINT transfers_status_known CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    ADD COLUMN posted_at timestamptz,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN pending_id bigint,
    ADD COLUMN from_balance_after bigint,
    ADD COLUMN to_balance_after bigint;

-- Running balances of the existing entries, per account in id order.
WITH running AS (
    SELECT transfer_id, amount,
           SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS balance_after
    FROM entries
)
UPDATE transfers t
SET posted_at = t.created_at,
    from_balance_after = (SELECT balance_after FROM running r WHERE r.transfer_id = t.id AND r.amount < 0),
    to_balance_after = (SELECT balance_after FROM running r WHERE r.transfer_id = t.id AND r.amount > 0);

DROP TABLE entries;

ALTER TABLE transfers
    -- A row carries legs exactly when it moved money: an ordinary posted transfer, or the
    -- posting of a pending one. A pending transfer's own row never does.
    ADD CONSTRAINT transfers_legs_when_posted CHECK (
        (from_balance_after IS NOT NULL) = (to_balance_after IS NOT NULL)
        AND (from_balance_after IS NOT NULL) = (status = 'posted' AND expires_at IS NULL)),
    ADD CONSTRAINT transfers_posted_at_when_posted CHECK ((status = 'posted') = (posted_at IS NOT NULL)),
    ADD CONSTRAINT transfers_posting_is_plain CHECK (pending_id IS NULL OR expires_at IS NULL);

-- holds: a pending transfer is posted at most once.
CREATE UNIQUE INDEX transfers_one_posting_per_pending ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- The expiry sweeper's work list: small, since only open holds are in it.
CREATE INDEX transfers_pending_by_expiry ON transfers (expires_at) WHERE status = 'pending';

-- Legs, as the entries table used to hold them; a posting's legs name the pending transfer.
CREATE VIEW entries AS
    SELECT id * 2 AS id, from_account_id AS account_id, COALESCE(pending_id, id) AS transfer_id,
           -amount AS amount, from_balance_after AS balance_after, posted_at AS created_at
    FROM transfers WHERE from_balance_after IS NOT NULL
    UNION ALL
    SELECT id * 2 + 1, to_account_id, COALESCE(pending_id, id),
           amount, to_balance_after, posted_at
    FROM transfers WHERE to_balance_after IS NOT NULL;

-- Stored outcomes of idempotent requests take the new fields, so a replay answers what a new
-- request would: the transfer's status, posted_at and expires_at, the entries' new ids and
-- running balances, and the accounts' held amount.
UPDATE idempotency_keys k
SET outcome = k.outcome
    || jsonb_build_object(
        'transfer', (k.outcome -> 'transfer') || jsonb_build_object(
            'status', 'posted', 'posted_at', k.outcome -> 'transfer' -> 'created_at',
            'expires_at', NULL),
        'from_entry', (k.outcome -> 'from_entry') || jsonb_build_object(
            'id', t.id * 2, 'balance_after', t.from_balance_after),
        'to_entry', (k.outcome -> 'to_entry') || jsonb_build_object(
            'id', t.id * 2 + 1, 'balance_after', t.to_balance_after),
        'from_account', (k.outcome -> 'from_account') || '{"held": 0}'::jsonb,
        'to_account', (k.outcome -> 'to_account') || '{"held": 0}'::jsonb)
FROM transfers t
WHERE t.id = k.transfer_id;

-- A batch's key names no single transfer.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_transfer_id_fkey;
ALTER TABLE idempotency_keys ALTER COLUMN transfer_id DROP NOT NULL;
