//! The PostgreSQL pool and the migrations embedded in the binary.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::NoTls;

use crate::configuration::DatabaseSettings;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A pool that fails fast when PostgreSQL is unreachable (so requests answer 503 at once) and
/// heals by itself when it returns: broken connections are dropped on recycle.
pub fn build_pool(settings: &DatabaseSettings) -> anyhow::Result<Pool> {
    let mut config = settings.url.config().clone();
    config.connect_timeout(settings.connect_timeout);
    config.application_name("tally");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let timeouts = Timeouts {
        wait: Some(settings.connect_timeout),
        create: Some(settings.connect_timeout),
        recycle: Some(settings.connect_timeout),
    };
    Ok(Pool::builder(manager)
        .max_size(settings.pool_size)
        .timeouts(timeouts)
        .runtime(Runtime::Tokio1)
        .build()?)
}

/// Held while migrating, so replicas starting together never race each other's migrations.
const MIGRATION_LOCK_KEY: i64 = 0x7a11_3160;

/// Applies pending migrations; returns the versions applied now.
pub async fn migrate(pool: &Pool) -> anyhow::Result<Vec<i32>> {
    migrate_to(pool, refinery::Target::Latest).await
}

/// Applies pending migrations up to `target` (tests of a migration's data conversion start
/// from the version before it).
pub async fn migrate_to(pool: &Pool, target: refinery::Target) -> anyhow::Result<Vec<i32>> {
    let mut client = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut client;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let report = embedded::migrations::runner()
        .set_target(target)
        .run_async(client)
        .await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    Ok(report?
        .applied_migrations()
        .iter()
        .map(|migration| migration.version())
        .collect())
}

/// The newest migration version this binary embeds.
pub fn latest_embedded_version() -> i32 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|migration| migration.version())
        .max()
        .unwrap_or(0)
}

/// Whether the database answers, accepts writes (a primary, not a replica in recovery or a
/// read-only session: after a failover HAProxy or a stale DNS name may still reach the old
/// leader) and has every migration this binary embeds.
pub async fn readiness(pool: &Pool) -> Result<(), String> {
    let client = pool.get().await.map_err(|error| error.to_string())?;
    let read_only: bool = client
        .query_one(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'",
            &[],
        )
        .await
        .map_err(|error| error.to_string())?
        .get(0);
    if read_only {
        return Err("PostgreSQL does not accept writes (a replica, or read-only)".to_owned());
    }
    let applied: Option<i32> = client
        .query_opt("SELECT max(version) FROM refinery_schema_history", &[])
        .await
        .map_err(|error| error.to_string())?
        .and_then(|row| row.get(0));
    let latest = latest_embedded_version();
    match applied {
        Some(version) if version >= latest => Ok(()),
        Some(version) => Err(format!(
            "migrations are behind: {version} applied, {latest} embedded"
        )),
        None => Err("no migrations applied".to_owned()),
    }
}
