//! Helpers shared by the tests of Tally's crates.
//!
//! - [`fresh_database`]: a new database per test, cloned from a migrated template, so each test
//!   starts from the real schema in milliseconds and tests never see each other's rows.
//! - [`TcpProxy`]: a TCP relay in front of PostgreSQL that a test can cut and restore, to make the
//!   database unreachable for one app without stopping the shared server, or (built with
//!   [`TcpProxy::trapping_commits`]) to cut one connection at its COMMIT ([`CommitCut`]).
//! - [`check_invariants`]: the money invariants of docs/design.md, checked in the database, one
//!   `check_<name>` per invariant (`check_double_entry`, `check_conservation`, ...).
//! - [`wait_until_every_change_is_numbered`]: the change stream caught up with the commits.

mod commit_trap;
mod database;
mod events;
mod invariants;
mod proxy;

pub use commit_trap::CommitCut;
pub use database::{admin_url, fresh_database, pool, TestDatabase};
pub use events::wait_until_every_change_is_numbered;
pub use invariants::{
    check_conservation, check_currency_match, check_double_entry, check_floors, check_holds,
    check_invariants, Invariants,
};
pub use proxy::TcpProxy;

/// Inserts a user directly (engine tests need owners; the HTTP tests sign up through the API).
pub async fn insert_user(client: &tokio_postgres::Client, username: &str) {
    client
        .execute(
            "INSERT INTO users (username, hashed_password, full_name, email)
             VALUES ($1, 'not a hash', 'Test User', $1 || '@example.com')",
            &[&username],
        )
        .await
        .expect("a user");
}
