//! The engine's few plain reads, with PostgreSQL's errors as one line each.

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// A database error as one line, with PostgreSQL's own message (tokio-postgres' `Display` says
/// only "db error").
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Runs one prepared (and cached) statement expecting at most one row (reads by key).
pub(crate) async fn query_opt(
    pool: &Pool,
    sql: &str,
    parameters: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, String> {
    Ok(query(pool, sql, parameters).await?.into_iter().next())
}

/// Runs one prepared (and cached) statement; every row.
pub(crate) async fn query(
    pool: &Pool,
    sql: &str,
    parameters: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, String> {
    let client = pool.get().await.map_err(|error| error.to_string())?;
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(|error| describe(&error))?;
    client
        .query(&statement, parameters)
        .await
        .map_err(|error| describe(&error))
}
