-- Issue 20: failed logins counted per (username, address) and per address, which lock out,
-- and per username, which only slows down: nobody can lock another user out. One table, one
-- row per counted subject: `pair:<address> <username>`, `address:<address>`, `user:<username>`.
ALTER TABLE login_failures RENAME COLUMN username TO subject;
-- Rows keyed by a bare username would never be read again.
DELETE FROM login_failures;
