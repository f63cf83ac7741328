-- Account status (docs/api.md "Account status"): a banker freezes a compromised account (it
-- refuses debits, still accepts credits) and unfreezes it; its owner or a banker closes an empty
-- account for good. The status lives in the row the journal updates, so the journal's update
-- (APPLY_DELTAS) refuses a debit of an account some replica froze, as it refuses an overdraft.
ALTER TABLE accounts
    ADD COLUMN status text NOT NULL DEFAULT 'active'
        CONSTRAINT accounts_status_known CHECK (status IN ('active', 'frozen', 'closed')),
    -- When the status last changed (clock time of the change, not of its transaction's start).
    ADD COLUMN status_changed_at timestamptz,
    -- A closed account holds nothing and never will: no credit can land on it.
    ADD CONSTRAINT accounts_closed_is_empty CHECK (status <> 'closed' OR (balance = 0 AND held = 0)),
    -- Money enters and leaves through the reserve: it is never frozen or closed.
    ADD CONSTRAINT accounts_reserve_active CHECK (kind = 'customer' OR status = 'active');
