//! The money invariants (docs/design.md), checked in the database by name. Each `check_*`
//! asserts one invariant and names it when it breaks; [`check_invariants`] runs them all.
//!
//! Not checked here, because they are not states of the tables but of behaviour, which the
//! tests exercise directly: `amounts_in_minor_units` (the column types), `idempotency`,
//! `acknowledged_is_durable` and `privacy_of_state`.

use tokio_postgres::Client;

/// What [`check_invariants`] saw, for tests that assert more than the rules themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invariants {
    pub transfers: i64,
    pub entries: i64,
}

/// Asserts every money invariant the tables can show, with a message naming the broken one.
pub async fn check_invariants(client: &Client) -> Invariants {
    check_double_entry(client).await;
    check_conservation(client).await;
    check_floors(client).await;
    check_holds(client).await;
    check_currency_match(client).await;
    let counts = client
        .query_one(
            "SELECT (SELECT count(*) FROM transfers), (SELECT count(*) FROM entries)",
            &[],
        )
        .await
        .expect("the count query");
    Invariants {
        transfers: counts.get(0),
        entries: counts.get(1),
    }
}

/// `double_entry`: every posted transfer has exactly its debit (−amount, payer) and its credit
/// (+amount, payee) entry, a transfer not posted has none, and each account's balance is the
/// sum of its entries.
pub async fn check_double_entry(client: &Client) {
    let drifted = client
        .query(
            "SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0)::bigint
             FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
             GROUP BY a.id HAVING a.balance <> COALESCE(SUM(e.amount), 0)",
            &[],
        )
        .await
        .expect("the balance query");
    let drifted: Vec<(i64, i64, i64)> = drifted
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert!(
        drifted.is_empty(),
        "double_entry broken: balance != sum(entries) for (id, balance, sum) {drifted:?}"
    );

    // Entries are a view over transfer rows, so a leg without its transfer cannot exist; what
    // can break is a transfer whose legs are not exactly its debit and credit, or a transfer
    // that is not posted yet has legs.
    let malformed: i64 = client
        .query_one(
            "SELECT count(*) FROM (
                 SELECT t.id FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
                 WHERE t.pending_id IS NULL
                 GROUP BY t.id, t.status
                 HAVING (t.status = 'posted' AND (count(e.id) <> 2
                     OR count(*) FILTER (WHERE e.account_id = t.from_account_id AND e.amount = -t.amount) <> 1
                     OR count(*) FILTER (WHERE e.account_id = t.to_account_id AND e.amount = t.amount) <> 1))
                     OR (t.status <> 'posted' AND count(e.id) <> 0)
             ) AS broken",
            &[],
        )
        .await
        .expect("the double-entry query")
        .get(0);
    assert_eq!(
        malformed, 0,
        "double_entry broken: a transfer without exactly its debit and credit entries"
    );
}

/// `conservation`: money enters only from a currency's reserve, so each currency's balances,
/// reserve included, sum to 0.
pub async fn check_conservation(client: &Client) {
    let unbalanced = client
        .query(
            "SELECT currency, SUM(balance)::bigint FROM accounts GROUP BY currency HAVING SUM(balance) <> 0",
            &[],
        )
        .await
        .expect("the conservation query");
    let unbalanced: Vec<(String, i64)> = unbalanced
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(
        unbalanced.is_empty(),
        "conservation broken: a currency's balances do not sum to 0: {unbalanced:?}"
    );
}

/// `floor`: no customer account's `balance − held` is below its floor, and no floor is above
/// `−overdraft` (with no limit set, no customer balance is below 0; only reserves may be, and
/// they have no limit).
pub async fn check_floors(client: &Client) {
    let below: Vec<(i64, i64, i64, i64, i64)> = client
        .query(
            "SELECT id, balance, held, overdraft, floor FROM accounts
             WHERE (kind = 'customer' AND balance::numeric - held < floor)
                OR floor > -overdraft
                OR (kind = 'reserve' AND (overdraft <> 0 OR floor <> 0))",
            &[],
        )
        .await
        .expect("the floor query")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    assert!(
        below.is_empty(),
        "floor broken: (id, balance, held, overdraft, floor) {below:?}"
    );
}

/// `holds`: each account's `held` is the sum of its pending outgoing transfers (that `balance −
/// held` stays above the floor is `check_floors`'s).
pub async fn check_holds(client: &Client) {
    let misheld: Vec<(i64, i64, i64)> = client
        .query(
            "SELECT a.id, a.held, COALESCE(SUM(t.amount), 0)::bigint
             FROM accounts a LEFT JOIN transfers t
                  ON t.from_account_id = a.id AND t.status = 'pending'
             GROUP BY a.id HAVING a.held <> COALESCE(SUM(t.amount), 0)",
            &[],
        )
        .await
        .expect("the holds query")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert!(
        misheld.is_empty(),
        "holds broken: held != sum(pending) for (id, held, pending) {misheld:?}"
    );
}

/// `currency_match`: both accounts of every transfer are in the transfer's currency.
pub async fn check_currency_match(client: &Client) {
    let mismatched: i64 = client
        .query_one(
            "SELECT count(*) FROM transfers t
             JOIN accounts f ON f.id = t.from_account_id
             JOIN accounts d ON d.id = t.to_account_id
             WHERE f.currency <> t.currency OR d.currency <> t.currency",
            &[],
        )
        .await
        .expect("the currency query")
        .get(0);
    assert_eq!(
        mismatched, 0,
        "currency_match broken: a transfer between accounts of another currency"
    );
}
