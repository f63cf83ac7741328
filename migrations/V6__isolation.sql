-- Issue 20: one user can neither lock another out nor stall another's holds.

-- Failed logins counted per (username, address) and per address, which lock out,
-- and per username, which only slows down: nobody can lock another user out. One table, one
-- row per counted subject: `pair:<address> <username>`, `address:<address>`, `user:<username>`.
ALTER TABLE login_failures RENAME COLUMN username TO subject;
-- Rows keyed by a bare username would never be read again.
DELETE FROM login_failures;

-- Open holds are bounded per paying account (engine.holds_open_max), counted before
-- each new one by this index.
CREATE INDEX transfers_pending_by_payer ON transfers (from_account_id) WHERE status = 'pending';
