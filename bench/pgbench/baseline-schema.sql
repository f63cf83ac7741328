-- The baselines' own write shape: the classic "simple bank" schema (migrations/V1's transfers and
-- entries, as the Go simple-bank services have them), built in each baseline clone of Tally's
-- seeded database (tally_bench_classic, tally_bench_ordered) by scripts/bench:
--
--   psql -v ON_ERROR_STOP=1 -f bench/pgbench/baseline-schema.sql tally_bench_classic
--
-- Tally's own transfers table (one row per transfer, with its V4+ checks, holds and running
-- balances) and its `entries` view step aside; the baselines get tables of their own that no
-- later Tally migration changes:
--   transfers: one row per transfer, foreign keys to both accounts, amount > 0, distinct
--              accounts, indexed by sender and by recipient;
--   entries:   a real table, one debit and one credit row per transfer, foreign keys to the account
--              and to the transfer, indexed by account (a statement's read path).
-- The seeded accounts keep their ids, owners and balances, and the seed's funding transfers are
-- copied with their two legs, so the invariant check (balance = sum of entries, balances sum to
-- 0) holds in the clones before and after the pgbench runs, as in Tally's database.

BEGIN;

CREATE TABLE bank_transfers (
    id              bigserial PRIMARY KEY,
    from_account_id bigint NOT NULL REFERENCES accounts (id),
    to_account_id   bigint NOT NULL REFERENCES accounts (id),
    amount          bigint NOT NULL CONSTRAINT transfers_amount_positive CHECK (amount > 0),
    currency        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transfers_distinct_accounts CHECK (from_account_id <> to_account_id)
);

CREATE TABLE bank_entries (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    transfer_id bigint NOT NULL REFERENCES bank_transfers (id),
    amount      bigint NOT NULL CONSTRAINT entries_amount_nonzero CHECK (amount <> 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- What moved money so far (the seed's deposits): the rows of Tally's table that carry legs.
INSERT INTO bank_transfers (id, from_account_id, to_account_id, amount, currency, created_at)
SELECT id, from_account_id, to_account_id, amount, currency, coalesce(posted_at, created_at)
FROM transfers
WHERE from_balance_after IS NOT NULL
ORDER BY id;

INSERT INTO bank_entries (account_id, transfer_id, amount, created_at)
SELECT account_id, transfer_id, amount, created_at
FROM (
    SELECT id AS transfer_id, 0 AS leg, from_account_id AS account_id, -amount AS amount, created_at
    FROM bank_transfers
    UNION ALL
    SELECT id, 1, to_account_id, amount, created_at FROM bank_transfers
) AS legs
ORDER BY transfer_id, leg;

SELECT setval('bank_transfers_id_seq', coalesce((SELECT max(id) FROM bank_transfers), 0) + 1, false);

-- Tally's shape goes (with whatever depends on it), the baselines' takes its names.
DROP VIEW entries;
DROP TABLE transfers CASCADE;
ALTER TABLE bank_transfers RENAME TO transfers;
ALTER TABLE bank_entries RENAME TO entries;
ALTER SEQUENCE bank_transfers_id_seq RENAME TO transfers_id_seq;
ALTER SEQUENCE bank_entries_id_seq RENAME TO entries_id_seq;

CREATE INDEX transfers_by_from_account ON transfers (from_account_id, id);
CREATE INDEX transfers_by_to_account ON transfers (to_account_id, id);
CREATE INDEX entries_by_account_newest_first ON entries (account_id, id DESC);

COMMIT;

ANALYZE accounts;
ANALYZE transfers;
ANALYZE entries;
