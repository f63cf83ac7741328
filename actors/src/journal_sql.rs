//! The journal's statements, public so that a benchmark can replay exactly what the journal
//! sends (`cargo bench -p tally-actors --bench replay`) and compare the engine with the raw rate
//! of its own write shape. A batch is, in this order, pipelined: BEGIN, LOCK_ACCOUNTS,
//! APPLY_DELTAS, ALLOCATE_IDS; then INSERT_TRANSFERS (and INSERT_IDEMPOTENCY_KEYS when keyed)
//! and COMMIT.

pub const ALLOCATE_IDS: &str =
    "SELECT nextval('transfers_id_seq'), now() FROM generate_series(1, $1::bigint)";

/// Locks the touched accounts in ascending id order (the sort sits below the lock), so
/// concurrent writers, and other replicas' journals, always wait for each other in one order.
pub const LOCK_ACCOUNTS: &str =
    "SELECT id FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE";

/// Relative updates of the net deltas. A customer account the update would take below its held
/// amount is skipped (not updated, not returned) instead of failing the whole statement, so the
/// journal learns exactly which accounts were stale. The CHECK constraints (no_overdraft, holds)
/// stay as the last net.
pub const APPLY_DELTAS: &str = "UPDATE accounts AS a SET balance = a.balance + d.delta
    FROM unnest($1::bigint[], $2::bigint[]) AS d(id, delta)
    WHERE a.id = d.id AND (a.kind = 'reserve' OR a.balance + d.delta - a.held >= 0)
    RETURNING a.id, a.balance, a.held";

/// One row per transfer: both legs, and each account's balance right after its leg.
pub const INSERT_TRANSFERS: &str =
    "INSERT INTO transfers (id, from_account_id, to_account_id, amount,
        currency, posted_at, from_balance_after, to_balance_after)
    SELECT id, from_id, to_id, amount, currency, now(), from_after, to_after
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                $7::bigint[]) AS t(id, from_id, to_id, amount, currency, from_after, to_after)";

/// A key some other request committed first is skipped, not an error, so only its transfer
/// leaves the batch.
pub const INSERT_IDEMPOTENCY_KEYS: &str = "INSERT INTO idempotency_keys
        (username, key, request_hash, transfer_id, operation, outcome)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::text[],
                         $6::jsonb[])
    ON CONFLICT DO NOTHING
    RETURNING username, key";
