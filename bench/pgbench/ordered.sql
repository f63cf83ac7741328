-- The stronger row-lock baseline: the same transfer, but both balance UPDATEs (ascending id)
-- come before the inserts. The foreign keys of the inserts then find the account rows already
-- locked by this transaction, so no KEY SHARE lock (and no MultiXact) is taken on a hot row
-- another transaction is about to update: the docs/design.md advice, applied to one transfer.
-- It runs on the baselines' own simple-bank tables (bench/pgbench/baseline-schema.sql: a real
-- entries table with foreign keys), not on Tally's one row per transfer and its entries view.
\set a random(0, :count - 1)
\set b (:a + random(1, :count - 1)) % :count
\set from :first + :a
\set to :first + :b
\set amount random(1, 100)
\set debit -:amount
\set lo least(:from, :to)
\set hi greatest(:from, :to)
\set dlo CASE WHEN :lo = :from THEN -:amount ELSE :amount END
\set dhi -:dlo
BEGIN;
UPDATE accounts SET balance = balance + :dlo WHERE id = :lo;
UPDATE accounts SET balance = balance + :dhi WHERE id = :hi;
INSERT INTO transfers (from_account_id, to_account_id, amount, currency)
    VALUES (:from, :to, :amount, 'USD') RETURNING id AS transfer_id \gset
INSERT INTO entries (account_id, transfer_id, amount) VALUES (:from, :transfer_id, :debit);
INSERT INTO entries (account_id, transfer_id, amount) VALUES (:to, :transfer_id, :amount);
COMMIT;
