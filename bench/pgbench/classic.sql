-- The classic row-lock transfer (the Go "simple bank" shape): one transaction per transfer,
-- the transfer row and its two entries first, then both balances updated in ascending id order.
-- Run by scripts/bench as:
--   pgbench -n -M prepared -c N -j 2 -T 20 -D first=ID -D count=N -f bench/pgbench/classic.sql DB
-- Accounts are first .. first+count-1 (the seeded ones); sender and recipient differ.
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
INSERT INTO transfers (from_account_id, to_account_id, amount, currency)
    VALUES (:from, :to, :amount, 'USD') RETURNING id AS transfer_id \gset
INSERT INTO entries (account_id, transfer_id, amount) VALUES (:from, :transfer_id, :debit);
INSERT INTO entries (account_id, transfer_id, amount) VALUES (:to, :transfer_id, :amount);
UPDATE accounts SET balance = balance + :dlo WHERE id = :lo;
UPDATE accounts SET balance = balance + :dhi WHERE id = :hi;
COMMIT;
