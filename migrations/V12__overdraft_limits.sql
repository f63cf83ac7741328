-- Overdraft limits (docs/api.md "Overdraft limits", docs/design.md "Overdraft limits"): a banker
-- lets a customer account's balance go below 0, down to -overdraft. The invariant `floor`
-- replaces "no customer balance below 0": no account's balance - held goes below its floor.
--
-- A CHECK sees only the row as it is after an update, so it cannot tell a debit that dug a debt
-- (refused) from a limit lowered below an existing debt (allowed: the debt stays, no new debit
-- is taken). So the row carries its floor, the lowest balance - held may reach now:
--   * the limit update (PUT /accounts/{id}/limits) sets floor = LEAST(-overdraft, balance - held):
--     the limit, or the debt when that is deeper;
--   * the journal's update (APPLY_DELTAS, APPLY_HELD_DELTAS) only ever raises it, with what the
--     account has, never past -overdraft: floor = LEAST(-overdraft, GREATEST(floor, new
--     balance - held)). A credit so pays a deep debt back towards the limit and no debit can
--     deepen it again; once balance - held is within the limit the floor is -overdraft again.
--   * CHECK balance - held >= floor then refuses any update that takes an account below the
--     floor it had, since the journal's new floor is never above the new balance - held unless
--     the old floor was.
-- A reserve keeps overdraft = floor = 0 (its own bound is the supply, V7).
ALTER TABLE accounts
    ADD COLUMN overdraft bigint NOT NULL DEFAULT 0
        -- OVERDRAFT_MAX, actors/src/config.rs.
        CONSTRAINT accounts_overdraft_bounded CHECK (overdraft BETWEEN 0 AND 1000000000000),
    ADD COLUMN floor bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT accounts_floor_within_limit CHECK (floor <= -overdraft),
    ADD CONSTRAINT accounts_within_floor
        CHECK (kind = 'reserve' OR balance::numeric - held >= floor),
    ADD CONSTRAINT accounts_reserve_without_limit
        CHECK (kind = 'customer' OR (overdraft = 0 AND floor = 0)),
    -- Replaced by accounts_within_floor: with overdraft 0 and floor 0 it is the same rule.
    DROP CONSTRAINT accounts_no_overdraft,
    DROP CONSTRAINT accounts_available_nonnegative;
