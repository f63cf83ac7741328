//! `tally serve [--no-migrate]`: the HTTP API until SIGINT/SIGTERM.

use crate::cli::migrate;
use crate::configuration::Settings;
use crate::startup::Application;

/// Open files (each connection is one) the server asks for: its soft limit is raised to this,
/// as far as the hard limit allows. A Kubernetes pod cannot set rlimits in its spec, and many
/// runtimes start processes at a soft limit of 1,024, which a few thousand idle clients exhaust.
const OPEN_FILES_WANTED: u64 = 65_536;

/// Applies pending migrations (unless told not to), then serves until stopped.
pub async fn run(settings: Settings, apply_migrations: bool) -> anyhow::Result<()> {
    match rlimit::increase_nofile_limit(OPEN_FILES_WANTED) {
        Ok(open_files_max) => tracing::info!(open_files_max, "open-file limit"),
        Err(error) => tracing::warn!(%error, "the open-file limit could not be raised"),
    }
    if apply_migrations {
        migrate::run(&settings).await?;
    }
    let application = Application::build(settings.clone()).await?;
    let url = format!("http://{}:{}", settings.http.addr.ip(), application.port());
    tracing::info!(%url, "tally is serving");
    eprintln!("tally: serving on {url} (Ctrl-C to stop)");
    application.run_until_stopped().await?;
    Ok(())
}
