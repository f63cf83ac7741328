//! The schema itself guards the money rules: these tests bypass the engine and assert the
//! database's own refusal, naming the constraint.

use tally_test_support::fresh_database;
use tokio_postgres::error::SqlState;

async fn customer_account(client: &tokio_postgres::Client, username: &str) -> i64 {
    client
        .execute(
            "INSERT INTO users (username, hashed_password, full_name, email)
             VALUES ($1, 'x', 'Test', $1 || '@example.com')",
            &[&username],
        )
        .await
        .expect("a user");
    client
        .query_one(
            "INSERT INTO accounts (owner, currency) VALUES ($1, 'USD') RETURNING id",
            &[&username],
        )
        .await
        .expect("an account")
        .get(0)
}

fn violated_constraint(error: tokio_postgres::Error) -> (SqlState, String) {
    let database_error = error.as_db_error().expect("a database error");
    (
        database_error.code().clone(),
        database_error.constraint().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn migrations_create_one_reserve_account_per_currency() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let rows = client
        .query(
            "SELECT currency FROM accounts WHERE kind = 'reserve' AND owner IS NULL ORDER BY currency",
            &[],
        )
        .await
        .expect("the reserves");
    let currencies: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(currencies, ["CAD", "EUR", "GBP", "JPY", "KRW", "USD"]);
}

#[tokio::test]
async fn migrations_apply_again_as_a_no_op() {
    let database = fresh_database().await;
    let settings = crate::helpers::test_settings(&database.url());
    let pool = tally::db::build_pool(&settings.database).expect("a pool");
    let applied = tally::db::migrate(&pool)
        .await
        .expect("migrating twice works");
    assert!(applied.is_empty(), "nothing left to apply, got {applied:?}");
    tally::db::readiness(&pool)
        .await
        .expect("the schema is current");
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let empty = format!("{}_empty", database.name);
    client
        .batch_execute(&format!("CREATE DATABASE {empty}"))
        .await
        .expect("an empty database");
    let url = format!("{}_empty", database.url());
    let settings = crate::helpers::test_settings(&url);
    let pool = tally::db::build_pool(&settings.database).expect("a pool");
    let applied = tally::db::migrate(&pool)
        .await
        .expect("the migrations apply");
    assert_eq!(applied.first(), Some(&1));
    assert_eq!(applied.last(), Some(&tally::db::latest_embedded_version()));
    tally::db::readiness(&pool)
        .await
        .expect("the schema is current");
}

#[tokio::test]
async fn a_customer_balance_below_zero_is_refused_by_the_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let account = customer_account(&client, "alice").await;
    let error = client
        .execute(
            "UPDATE accounts SET balance = balance - 1 WHERE id = $1",
            &[&account],
        )
        .await
        .expect_err("an overdraft is refused");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::CHECK_VIOLATION,
            "accounts_within_floor".to_owned()
        )
    );
    // holds: held money cannot be spent either, whatever the balance.
    let error = client
        .execute("UPDATE accounts SET held = 1 WHERE id = $1", &[&account])
        .await
        .expect_err("a hold above the balance is refused");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::CHECK_VIOLATION,
            "accounts_within_floor".to_owned()
        )
    );
    // The reserve is the one account that may go negative.
    client
        .execute(
            "UPDATE accounts SET balance = -500 WHERE kind = 'reserve' AND currency = 'USD'",
            &[],
        )
        .await
        .expect("the reserve may go below zero");
}

/// `floor` (V12): an overdraft limit lets the balance go down to its floor and no further; the
/// floor is never above the limit's, and a reserve has none.
#[tokio::test]
async fn a_balance_below_its_floor_is_refused_by_the_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let account = customer_account(&client, "alice").await;
    let update = |sql: &'static str| {
        let client = &client;
        async move { client.execute(sql, &[&account]).await }
    };
    update("UPDATE accounts SET overdraft = 100, floor = -100 WHERE id = $1")
        .await
        .expect("a limit");
    update("UPDATE accounts SET balance = -100 WHERE id = $1")
        .await
        .expect("down to the floor");
    for (sql, constraint) in [
        (
            "UPDATE accounts SET balance = -101 WHERE id = $1",
            "accounts_within_floor",
        ),
        (
            "UPDATE accounts SET held = 1 WHERE id = $1",
            "accounts_within_floor",
        ),
        (
            "UPDATE accounts SET floor = -99 WHERE id = $1",
            "accounts_floor_within_limit",
        ),
        (
            "UPDATE accounts SET overdraft = 1000000000001, floor = -1000000000001 WHERE id = $1",
            "accounts_overdraft_bounded",
        ),
    ] {
        let error = update(sql).await.expect_err(sql);
        assert_eq!(
            violated_constraint(error),
            (SqlState::CHECK_VIOLATION, constraint.to_owned()),
            "{sql}"
        );
    }
    let error = client
        .execute(
            "UPDATE accounts SET overdraft = 1, floor = -1 WHERE kind = 'reserve'",
            &[],
        )
        .await
        .expect_err("a reserve has no limit");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::CHECK_VIOLATION,
            "accounts_reserve_without_limit".to_owned()
        )
    );
}

#[tokio::test]
async fn a_zero_amount_transfer_is_refused_by_the_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let from = customer_account(&client, "alice").await;
    let to = customer_account(&client, "bob").await;
    let error = client
        .execute(
            "INSERT INTO transfers (from_account_id, to_account_id, amount, currency)
             VALUES ($1, $2, 0, 'USD')",
            &[&from, &to],
        )
        .await
        .expect_err("a zero amount is refused");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::CHECK_VIOLATION,
            "transfers_amount_positive".to_owned()
        )
    );
}

#[tokio::test]
async fn a_transfer_to_the_same_account_is_refused_by_the_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let account = customer_account(&client, "alice").await;
    let error = client
        .execute(
            "INSERT INTO transfers (from_account_id, to_account_id, amount, currency)
             VALUES ($1, $1, 10, 'USD')",
            &[&account],
        )
        .await
        .expect_err("from = to is refused");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::CHECK_VIOLATION,
            "transfers_distinct_accounts".to_owned()
        )
    );
}

#[tokio::test]
async fn a_second_customer_account_in_one_currency_is_refused_by_the_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    customer_account(&client, "alice").await;
    let error = client
        .execute(
            "INSERT INTO accounts (owner, currency) VALUES ('alice', 'USD')",
            &[],
        )
        .await
        .expect_err("a duplicate is refused");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::UNIQUE_VIOLATION,
            "accounts_one_per_owner_and_currency".to_owned()
        )
    );
}

#[tokio::test]
async fn a_transfer_in_another_currency_than_its_accounts_is_refused_by_the_database() {
    let database = fresh_database().await;
    let client = database.connect().await;
    let from = customer_account(&client, "alice").await;
    let to = customer_account(&client, "bob").await;
    let error = client
        .execute(
            "INSERT INTO transfers (from_account_id, to_account_id, amount, currency, status,
                 expires_at)
             VALUES ($1, $2, 10, 'EUR', 'pending', now())",
            &[&from, &to],
        )
        .await
        .expect_err("a transfer in EUR between USD accounts is refused");
    assert_eq!(
        violated_constraint(error),
        (
            SqlState::FOREIGN_KEY_VIOLATION,
            "transfers_from_account_in_currency".to_owned()
        )
    );
}

/// V4 turns the entries table into a view over one row per transfer: existing transfers keep
/// their legs, gain running balances, and stored idempotent answers gain the new fields.
#[tokio::test]
async fn the_one_row_migration_converts_existing_transfers_and_answers() {
    let database = fresh_database().await;
    let admin = database.connect().await;
    let name = format!("{}_v3", database.name);
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("an empty database");
    let settings = crate::helpers::test_settings(&format!("{}_v3", database.url()));
    let pool = tally::db::build_pool(&settings.database).expect("a pool");
    tally::db::migrate_to(&pool, refinery::Target::Version(3))
        .await
        .expect("V1 to V3");
    let client = pool.get().await.expect("a connection");
    // The old shape: a deposit of 100 into alice, then alice pays bob 30 (three rows each).
    client
        .batch_execute(
            "INSERT INTO users (username, hashed_password, full_name, email)
                 VALUES ('alice', 'x', 'A', 'a@example.com'), ('bob', 'x', 'B', 'b@example.com');
             INSERT INTO accounts (id, owner, currency, balance) VALUES (101, 'alice', 'USD', 70),
                 (102, 'bob', 'USD', 30);
             UPDATE accounts SET balance = -100 WHERE kind = 'reserve' AND currency = 'USD';
             INSERT INTO transfers (id, from_account_id, to_account_id, amount, currency)
                 SELECT 1, id, 101, 100, 'USD' FROM accounts WHERE kind = 'reserve' AND currency = 'USD';
             INSERT INTO transfers (id, from_account_id, to_account_id, amount, currency)
                 VALUES (2, 101, 102, 30, 'USD');
             INSERT INTO entries (id, account_id, transfer_id, amount)
                 SELECT 1, id, 1, -100 FROM accounts WHERE kind = 'reserve' AND currency = 'USD';
             INSERT INTO entries (id, account_id, transfer_id, amount) VALUES
                 (2, 101, 1, 100), (3, 101, 2, -30), (4, 102, 2, 30);
             INSERT INTO idempotency_keys (username, key, request_hash, transfer_id, operation, outcome)
                 VALUES ('alice', 'k', '\\x00', 2, 'transfer', '{
                   \"transfer\": {\"id\": 2, \"from_account_id\": 101, \"to_account_id\": 102,
                     \"amount\": 30, \"currency\": \"USD\", \"created_at\": \"2026-01-01T00:00:00Z\"},
                   \"from_entry\": {\"id\": 3, \"account_id\": 101, \"transfer_id\": 2, \"amount\": -30,
                     \"created_at\": \"2026-01-01T00:00:00Z\"},
                   \"to_entry\": {\"id\": 4, \"account_id\": 102, \"transfer_id\": 2, \"amount\": 30,
                     \"created_at\": \"2026-01-01T00:00:00Z\"},
                   \"from_account\": {\"id\": 101, \"owner\": \"alice\", \"balance\": 70, \"currency\": \"USD\",
                     \"kind\": \"customer\", \"created_at\": \"2026-01-01T00:00:00Z\"},
                   \"to_account\": {\"id\": 102, \"owner\": \"bob\", \"balance\": 30, \"currency\": \"USD\",
                     \"kind\": \"customer\", \"created_at\": \"2026-01-01T00:00:00Z\"}}');",
        )
        .await
        .expect("old-shape rows");
    tally::db::migrate(&pool).await.expect("V4 onwards");

    let legs: Vec<(i64, i64, i64, i64, i64)> = client
        .query(
            "SELECT id, account_id, transfer_id, amount, balance_after FROM entries
             WHERE account_id IN (101, 102) ORDER BY id",
            &[],
        )
        .await
        .expect("the entries view")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    assert_eq!(
        legs,
        [
            (3, 101, 1, 100, 100),
            (4, 101, 2, -30, 70),
            (5, 102, 2, 30, 30)
        ]
    );
    let status: String = client
        .query_one("SELECT status FROM transfers WHERE id = 2", &[])
        .await
        .expect("the transfer")
        .get(0);
    assert_eq!(status, "posted");
    let outcome: serde_json::Value = client
        .query_one("SELECT outcome FROM idempotency_keys WHERE key = 'k'", &[])
        .await
        .expect("the stored answer")
        .get(0);
    let replayed: tally_actors::Transferred =
        serde_json::from_value(outcome).expect("a stored answer the engine reads");
    let debit = replayed.from_entry.expect("a posted leg");
    assert_eq!((debit.id, debit.balance_after), (4, 70));
    assert_eq!(
        replayed.transfer.status,
        tally_actors::TransferStatus::Posted
    );
    tally_test_support::check_invariants(&client).await;
}
