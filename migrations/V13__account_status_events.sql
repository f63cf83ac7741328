-- Account status in the change stream (design.md "Events"): `account.frozen`,
-- `account.unfrozen` and `account.closed`. An account changes status many times, so each change
-- is a row of its own, written by a trigger in the status update's own transaction with a
-- position drawn there (after the account's row lock, so in commit order on the account), and
-- the account as it stood then: the event is read from this row, never from the account's
-- current state.
CREATE TABLE account_status_changes (
    position   bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    status     text NOT NULL
               CONSTRAINT account_status_changes_status_known
               CHECK (status IN ('active', 'frozen', 'closed')),
    balance    bigint NOT NULL,
    held       bigint NOT NULL,
    overdraft  bigint NOT NULL,
    changed_at timestamptz NOT NULL
);

CREATE FUNCTION tally_account_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_status_changes
        (position, account_id, status, balance, held, overdraft, changed_at)
    VALUES (tally_event_position(), NEW.id, NEW.status, NEW.balance, NEW.held, NEW.overdraft,
            COALESCE(NEW.status_changed_at, clock_timestamp()));
    RETURN NULL;
END $$;
-- Only an update naming `status` fires it: the journal's balance updates never do.
CREATE TRIGGER accounts_status_changed AFTER UPDATE OF status ON accounts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION tally_account_status_changed();

-- Accounts frozen or closed before this migration: one change each, at positions after every
-- change of that time, in the order they changed (an unfreeze then is not replayed: the account
-- is active, as it was opened).
INSERT INTO account_status_changes
    (position, account_id, status, balance, held, overdraft, changed_at)
SELECT nextval('transfers_id_seq'), id, status, balance, held, overdraft, changed_at
FROM (SELECT id, status, balance, held, overdraft, COALESCE(status_changed_at, created_at) AS changed_at
      FROM accounts WHERE status <> 'active'
      ORDER BY COALESCE(status_changed_at, created_at), id) o;
