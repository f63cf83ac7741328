//! `tally serve [--no-migrate]`: the HTTP API until SIGINT/SIGTERM.

use crate::cli::migrate;
use crate::configuration::Settings;
use crate::startup::Application;

/// Applies pending migrations (unless told not to), then serves until stopped.
pub async fn run(settings: Settings, apply_migrations: bool) -> anyhow::Result<()> {
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
