//! `tally seed` against a real database: users, accounts funded through the engine, the output
//! file, and fresh planner statistics for the tables it filled.

use std::path::PathBuf;
use std::time::Duration;

use tally::cli::seed::{self, SeedOptions, DEFAULT_PASSWORD};
use tally_actors::Currency;
use tally_test_support::{check_invariants, fresh_database};

use crate::helpers::test_settings;

#[actix_web::test]
async fn seed_funds_every_account_through_the_engine_and_analyzes_what_it_filled() {
    let database = fresh_database().await;
    let settings = test_settings(&database.url());
    let directory = tempfile::tempdir().expect("a temporary directory");
    let out: PathBuf = directory.path().join("users.json");
    let options = SeedOptions {
        users: 25,
        balance: 1_000,
        currency: Currency::EUR,
        out: out.clone(),
        token_ttl: Duration::from_secs(600),
        password: DEFAULT_PASSWORD.to_owned(),
        prefix: Some("seedtest".to_owned()),
    };

    let report = seed::run(&settings, options).await.expect("the seed runs");
    assert_eq!(report.users, 25);

    let users: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&out).expect("the output file")).expect("JSON");
    assert_eq!(users.len(), 25);
    assert_eq!(users[0]["username"], "seedtest_1");
    assert_eq!(users[0]["account_id"], report.first_account_id);

    let client = database.connect().await;
    let funded: i64 = client
        .query_one(
            "SELECT count(*) FROM accounts WHERE owner LIKE 'seedtest\\_%' AND balance = 1000",
            &[],
        )
        .await
        .expect("the funded count")
        .get(0);
    assert_eq!(funded, 25, "every account got its deposit, once");
    check_invariants(&client).await;

    // The seed ran ANALYZE on each table it bulk-inserted into (a clone of the template starts
    // with no statistics at all, so this is the seed's doing).
    for table in seed::rows::BULK_TABLES {
        let analyzed: bool = client
            .query_one(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = $1",
                &[&table],
            )
            .await
            .expect("the table's statistics")
            .get(0);
        assert!(analyzed, "{table} was analyzed by the seed");
    }
}
