use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tally::configuration::Settings;
use tally::startup::Application;
use tally::{db, telemetry};

/// Tally: a money-transfer engine with an HTTP front.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML file of settings (environment variables TALLY_* still win over it).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (applies pending migrations first unless --no-migrate).
    Serve {
        /// Do not apply migrations at start (e.g. when a separate job runs `tally migrate`).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tally: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let outcome = actix_web::rt::System::new().block_on(run(cli.command, settings));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tally: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_migrate } => serve(settings, !no_migrate).await,
        Command::Migrate => migrate(&settings).await,
    }
}

async fn serve(settings: Settings, apply_migrations: bool) -> anyhow::Result<()> {
    if apply_migrations {
        migrate(&settings).await?;
    }
    let application = Application::build(settings.clone()).await?;
    let url = format!("http://{}:{}", settings.http.addr.ip(), application.port());
    tracing::info!(%url, "tally is serving");
    eprintln!("tally: serving on {url} (Ctrl-C to stop)");
    application.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let pool = db::build_pool(&settings.database)?;
    let applied = db::migrate(&pool).await?;
    tracing::info!(
        ?applied,
        latest = db::latest_embedded_version(),
        "migrations are current"
    );
    Ok(())
}
