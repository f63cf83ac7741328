//! The journal's statements, public so that a benchmark can replay exactly what the journal
//! sends (`cargo bench -p tally-actors --bench replay`) and compare the engine with the raw rate
//! of its own write shape. A batch of plain transfers without keys or references (the common
//! case) is one round trip: BEGIN, LOCK_ACCOUNTS, WRITE_TRANSFERS and COMMIT, pipelined. Any
//! other batch (holds, keys, references) is two: BEGIN, (LOCK_PENDING, CLAIM_PENDING),
//! LOCK_ACCOUNTS, APPLY_DELTAS, ALLOCATE_IDS; then INSERT_TRANSFERS (and
//! INSERT_REFERENCED_TRANSFERS, INSERT_HOLD_ROWS, INSERT_IDEMPOTENCY_KEYS as needed) and COMMIT
//! (held back when a key or a reference may still refuse an item).

/// The columns of a plain transfer's row, in the order INSERT_TRANSFERS,
/// INSERT_REFERENCED_TRANSFERS and WRITE_TRANSFERS fill them: one place to extend.
macro_rules! transfer_columns {
    () => {
        "id, from_account_id, to_account_id, amount, currency, posted_at, from_balance_after,
        to_balance_after, description, metadata, reversal_of"
    };
}

/// When a net change `d` (`d.delta`, `d.debited`) may apply to account row `a`: APPLY_DELTAS
/// updates only such rows, and WRITE_TRANSFERS writes nothing unless every row is one. One text
/// for both, so the one-round-trip path refuses exactly what the other does.
macro_rules! delta_allowed {
    () => {
        "a.balance::numeric + d.delta BETWEEN -9223372036854775807 AND 9223372036854775807
      AND (a.kind = 'reserve' OR a.balance::numeric + d.delta - a.held >= a.floor)
      AND (NOT d.debited OR a.status = 'active')
      AND (a.status <> 'closed' OR d.delta = 0)"
    };
}

/// An account's floor after net change `d` (V12's ratchet: it rises with what the account has,
/// never past −overdraft). One text for APPLY_DELTAS and WRITE_TRANSFERS.
macro_rules! floor_after {
    () => {
        "LEAST(-a.overdraft, GREATEST(a.floor, a.balance::numeric + d.delta - a.held))"
    };
}

/// Set on every journal connection before its statements are prepared. PostgreSQL re-planned
/// LOCK_ACCOUNTS on every call (it judged a custom plan for each array cheaper), 0.09 ms of
/// planning per batch on the path hot batches take one after another; every journal statement
/// is a lookup by primary key or a join of the batch's arrays with one, which the generic plan
/// does as well. Only the journal's sessions: the auditor's queries rely on custom plans.
/// A journal transaction is never idle for longer than a round trip, so one idle for 30 s has
/// lost its writer (a network partition the server did not notice): PostgreSQL ends it, and its
/// account locks no longer hold up every later batch, and the check of a batch in doubt
/// (`journal::in_doubt`), until TCP gives up hours later.
pub const JOURNAL_SESSION: &str = "SET plan_cache_mode = force_generic_plan; \
     SET idle_in_transaction_session_timeout = '30s'";

pub const ALLOCATE_IDS: &str =
    "SELECT nextval('transfers_id_seq'), now() FROM generate_series(1, $1::bigint)";

/// Locks the touched accounts in ascending id order (the sort sits below the lock), so
/// concurrent writers, and other replicas' journals, always wait for each other in one order.
pub const LOCK_ACCOUNTS: &str =
    "SELECT id FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE";

/// Relative updates of the net deltas. An account the update would take out of bounds is
/// skipped (not updated, not returned) instead of failing the whole statement, so the journal
/// learns exactly which accounts were stale and refuses only their items: a customer account
/// whose balance minus its held amount would go below its floor, a reserve past the supply (its
/// balance stays within ±(2^63 − 1); the sum is taken in numeric, so it cannot raise `bigint out
/// of range`), an account debited (`$3`) that is not active, a closed account whose balance
/// would change. A freeze, a close or a lowered limit committed by any replica is so seen by
/// every later batch. The floor rises with what the account has (never past `−overdraft`): a
/// debt above a lowered limit is paid back, never deepened (V12). A reserve's floor stays 0. The
/// CHECK constraints (floor, holds, the reserve's supply, a closed account's emptiness) stay as
/// the last net.
pub const APPLY_DELTAS: &str = concat!(
    "UPDATE accounts AS a SET balance = a.balance + d.delta, floor = ",
    floor_after!(),
    "
    FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) AS d(id, delta, debited)
    WHERE a.id = d.id AND ",
    delta_allowed!(),
    "
    RETURNING a.id, a.balance, a.held, a.status, a.overdraft, a.floor"
);

/// One row per transfer: both legs, each account's balance right after its leg, and what the
/// transfer says (description, metadata). Rows without a reference only: they cannot collide.
pub const INSERT_TRANSFERS: &str = concat!(
    "INSERT INTO transfers (",
    transfer_columns!(),
    ")
    SELECT id, from_id, to_id, amount, currency, now(), from_after, to_after, description, metadata,
           reversal_of
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                $7::bigint[], $8::text[], $9::jsonb[], $10::bigint[])
         AS t(id, from_id, to_id, amount, currency, from_after, to_after, description, metadata,
              reversal_of)"
);

/// INSERT_TRANSFERS for rows with a reference: a reference its payer account already used (in
/// this batch or committed by any journal) is skipped, not an error, and its id not returned, so
/// only that item leaves the batch. Kept apart so rows without one skip the conflict check.
pub const INSERT_REFERENCED_TRANSFERS: &str = concat!(
    "INSERT INTO transfers (",
    transfer_columns!(),
    ", reference)
    SELECT id, from_id, to_id, amount, currency, now(), from_after, to_after, description,
           metadata, reversal_of, reference
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                $7::bigint[], $8::text[], $9::jsonb[], $10::bigint[], $11::text[])
         AS t(id, from_id, to_id, amount, currency, from_after, to_after, description, metadata,
              reversal_of, reference)
    ON CONFLICT (from_account_id, reference) WHERE reference IS NOT NULL DO NOTHING
    RETURNING id"
);

/// A key some other request committed first is skipped, not an error, so only its transfer
/// leaves the batch.
pub const INSERT_IDEMPOTENCY_KEYS: &str = "INSERT INTO idempotency_keys
        (username, key, request_hash, transfer_id, operation, outcome)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::text[],
                         $6::jsonb[])
    ON CONFLICT DO NOTHING
    RETURNING username, key";

/// Pending transfers a batch posts or releases, locked in ascending id order before any account
/// row (every writer and replica locks transfers first, then accounts, each in id order).
pub const LOCK_PENDING: &str =
    "SELECT id FROM transfers WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE";

/// Ends pending transfers exactly once: only a row still `pending` changes, a post or void only
/// before `expires_at`, an expiry only after it. A row another request ended first is not
/// returned, and its item leaves the batch.
pub const CLAIM_PENDING: &str = "UPDATE transfers AS t
    SET status = c.status, amount = c.amount,
        posted_at = CASE WHEN c.status = 'posted' THEN now() END
    FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS c(id, status, amount)
    WHERE t.id = c.id AND t.status = 'pending'
      AND CASE WHEN c.status = 'expired' THEN t.expires_at <= now() ELSE t.expires_at > now() END
    RETURNING t.id, t.created_at, t.expires_at, t.posted_at, t.description, t.reference,
        t.metadata";

/// APPLY_DELTAS with held amounts too, for batches that create, post or release holds. An
/// account whose held amount would go below zero is skipped too: that is a post or release
/// whose claim CLAIM_PENDING refused (a hold another request ended), and its item leaves the
/// batch alone, instead of a constraint failing the whole transaction.
pub const APPLY_HELD_DELTAS: &str = "UPDATE accounts AS a
    SET balance = a.balance + d.delta, held = a.held + d.held_delta,
        floor = LEAST(-a.overdraft, GREATEST(a.floor,
            a.balance::numeric + d.delta - (a.held::numeric + d.held_delta)))
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::boolean[])
         AS d(id, delta, held_delta, debited)
    WHERE a.id = d.id
      AND a.balance::numeric + d.delta BETWEEN -9223372036854775807 AND 9223372036854775807
      AND a.held::numeric + d.held_delta BETWEEN 0 AND 9223372036854775807
      AND (a.kind = 'reserve'
           OR a.balance::numeric + d.delta - (a.held::numeric + d.held_delta) >= a.floor)
      AND (NOT d.debited OR a.status = 'active')
      AND (a.status <> 'closed' OR (d.delta = 0 AND d.held_delta = 0))
    RETURNING a.id, a.balance, a.held, a.status, a.overdraft, a.floor";

/// Pending transfers (no legs, an expiry) and the postings of pending transfers (legs, and the
/// pending transfer they post). A pending transfer carries what it says; its posting nothing. A
/// reference its payer already used skips the row (as INSERT_REFERENCED_TRANSFERS).
pub const INSERT_HOLD_ROWS: &str = "INSERT INTO transfers (id, from_account_id, to_account_id,
        amount, currency, status, posted_at, expires_at, pending_id, from_balance_after,
        to_balance_after, description, reference, metadata)
    SELECT id, from_id, to_id, amount, currency, status,
           CASE WHEN status = 'posted' THEN now() END, expires_at, pending_id, from_after, to_after,
           description, reference, metadata
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
                $7::timestamptz[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[],
                $12::text[], $13::jsonb[])
         AS t(id, from_id, to_id, amount, currency, status, expires_at, pending_id, from_after,
              to_after, description, reference, metadata)
    ON CONFLICT (from_account_id, reference) WHERE reference IS NOT NULL DO NOTHING
    RETURNING id";

/// A whole batch of plain transfers without references in one statement, sent after
/// LOCK_ACCOUNTS (so the rows are already locked in id order) and followed by COMMIT in the
/// same pipelined exchange. All or nothing: when any account fails APPLY_DELTAS's rules (the
/// same text, `delta_allowed!`: bounds, floor, status) or is missing, nothing is updated or
/// inserted and only the `stale` rows come back, so COMMIT commits nothing and the journal
/// refuses exactly those accounts' items, as before. Otherwise the net deltas are applied (the
/// floor raised as APPLY_DELTAS does, `floor_after!`), every leg's running balance is computed
/// from the balance before the batch in item order, ids are drawn (after the locks, in item
/// order) and the rows are inserted with what they say (INSERT_TRANSFERS's columns; a
/// reversal's trigger and CHECK fire as there). Parameters: $1 account ids, $2 their net deltas
/// and $3 whether debited (as APPLY_DELTAS), then the items in order: $4 payers, $5 payees,
/// $6 amounts, $7 currencies, $8 descriptions, $9 metadata, $10 reversal_of. Rows returned, by
/// `kind`: 'account' (id, balance, held, status, overdraft, floor: what APPLY_DELTAS returns),
/// 'stale' (id), 'transfer' (item index from 1, transfer id, now()) for each row inserted.
pub const WRITE_TRANSFERS: &str = concat!(
    "WITH deltas AS (
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) AS d(id, delta, debited)
    ), stale AS (
        SELECT d.id FROM deltas AS d LEFT JOIN accounts AS a ON a.id = d.id
        WHERE a.id IS NULL OR NOT (",
    delta_allowed!(),
    ")
    ), updated AS (
        UPDATE accounts AS a SET balance = a.balance + d.delta, floor = ",
    floor_after!(),
    "
        FROM deltas AS d
        WHERE a.id = d.id AND NOT EXISTS (SELECT FROM stale)
        RETURNING a.id, a.balance, a.held, a.status, a.overdraft, a.floor
    ), items AS (
        SELECT * FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[],
                             $9::jsonb[], $10::bigint[])
            WITH ORDINALITY AS t(from_id, to_id, amount, currency, description, metadata,
                                 reversal_of, n)
        WHERE NOT EXISTS (SELECT FROM stale)
    ), moves AS (
        SELECT n, 0 AS leg, from_id AS account_id, -amount AS delta FROM items
        UNION ALL
        SELECT n, 1, to_id, amount FROM items
    ), legs AS (
        SELECT m.n, m.leg, u.balance - d.delta
                + sum(m.delta) OVER (PARTITION BY m.account_id ORDER BY m.n, m.leg)
                AS balance_after
        FROM moves AS m JOIN updated AS u ON u.id = m.account_id
                        JOIN deltas AS d ON d.id = m.account_id
    ), numbered AS (
        SELECT n, nextval('transfers_id_seq') AS id FROM items ORDER BY n
    ), inserted AS (
        INSERT INTO transfers (",
    transfer_columns!(),
    ")
        SELECT r.id, i.from_id, i.to_id, i.amount, i.currency, now(), f.balance_after,
               t.balance_after, i.description, i.metadata, i.reversal_of
        FROM items AS i JOIN numbered AS r ON r.n = i.n
             JOIN legs AS f ON f.n = i.n AND f.leg = 0
             JOIN legs AS t ON t.n = i.n AND t.leg = 1
        ORDER BY i.n
        RETURNING id
    )
    SELECT 'account' AS kind, id, balance, held, status, overdraft, floor,
           NULL::timestamptz AS at
    FROM updated
    UNION ALL
    SELECT 'stale', id, NULL, NULL, NULL, NULL, NULL, NULL FROM stale
    UNION ALL
    SELECT 'transfer', r.n, r.id, NULL, NULL, NULL, NULL, now()
    FROM inserted JOIN numbered AS r USING (id)"
);
