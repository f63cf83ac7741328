//! `tally migrate`: applies the embedded refinery migrations that the database lacks, and exits.

use crate::configuration::Settings;
use crate::db;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let pool = db::build_pool(&settings.database)?;
    let applied = db::migrate(&pool).await?;
    tracing::info!(
        ?applied,
        latest = db::latest_embedded_version(),
        "migrations are current"
    );
    Ok(())
}
