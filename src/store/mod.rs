//! SQL for the rows handlers read and write directly (users, sessions). Money never goes through
//! here: balances belong to the engine. Each function checks a connection out of the pool for
//! its own statement only, so no connection is held across a bcrypt hash.

pub mod login_failures;
pub mod sessions;
pub mod users;
pub mod webhooks;
