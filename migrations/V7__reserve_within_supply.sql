-- A currency's supply (what its reserve has issued: minus the reserve's balance) stays within
-- 2^63 - 1, so by conservation no customer balance can pass i64::MAX. Each replica checks it in
-- memory, but two replicas can each see room for a deposit the other already took: PostgreSQL
-- is the last word. The journal's update skips such a reserve (its item alone is refused and
-- retried with the reserve reloaded) before this constraint would fail a whole batch.
ALTER TABLE accounts
    ADD CONSTRAINT accounts_reserve_within_supply
        CHECK (kind <> 'reserve' OR balance >= -9223372036854775807);
