-- The journal writes one transfer row and two entry rows per transfer. Per transfer, V1 cost
-- PostgreSQL six foreign-key trigger checks (two on transfers, four on entries) and nine index
-- insertions, and that work, on one backend per batch, is what bounds a batch's commit time.
-- Measured with scripts/bench and `cargo bench -p tally-actors --bench engine` (numbers in
-- bench/results.md). This shape keeps every money invariant where the database can see it:
--
-- * transfers reference both accounts WITH the transfer's currency, so PostgreSQL itself now
--   refuses a transfer between accounts of another currency (invariant 5), for the same two
--   checks per transfer as before;
-- * entries lose their foreign keys: they are append-only rows that only the journal writes, in
--   the same transaction as their transfer and from the same values, and the transfer row's keys
--   already pin both accounts. Balances stay guarded by accounts_no_overdraft (invariant 4), and
--   balance = sum(entries) (invariant 2) is checked by the test suite after every scenario, as no
--   constraint can express it;
-- * the index of entries by transfer goes: no query of the API reads entries by transfer.

ALTER TABLE accounts ADD CONSTRAINT accounts_id_currency_key UNIQUE (id, currency);

ALTER TABLE transfers
    DROP CONSTRAINT transfers_from_account_id_fkey,
    DROP CONSTRAINT transfers_to_account_id_fkey,
    ADD CONSTRAINT transfers_from_account_in_currency
        FOREIGN KEY (from_account_id, currency) REFERENCES accounts (id, currency),
    ADD CONSTRAINT transfers_to_account_in_currency
        FOREIGN KEY (to_account_id, currency) REFERENCES accounts (id, currency);

ALTER TABLE entries
    DROP CONSTRAINT entries_account_id_fkey,
    DROP CONSTRAINT entries_transfer_id_fkey;

DROP INDEX entries_by_transfer;
