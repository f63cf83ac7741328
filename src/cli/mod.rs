//! The `tally` command line: one module per command (`serve`, `migrate`, `user`, `seed`, `publish`).
//! `main.rs` parses [`Cli`] and calls [`run`]; everything a command does lives in its module.

pub mod migrate;
pub mod publish;
pub mod seed;
pub mod serve;
pub mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::configuration::Settings;

/// Tally: a money-transfer engine with an HTTP front.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    /// A TOML file of settings (environment variables TALLY_* still win over it).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API (applies pending migrations first unless --no-migrate).
    Serve {
        /// Do not apply migrations at start (e.g. when a separate job runs `tally migrate`).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Create load-test users, each with one account funded through the engine, and write their
    /// credentials and access tokens as JSON (development and benchmark databases only).
    Seed(seed::SeedOptions),
    /// Publish the change stream to RabbitMQ (long-running; publisher confirms, in order).
    Publish(publish::PublishOptions),
    /// Manage users (e.g. create the first banker).
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
}

/// Runs one command to its end; must run inside the actix system (the engine and the server
/// are actors).
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_migrate } => serve::run(settings, !no_migrate).await,
        Command::Migrate => migrate::run(&settings).await,
        Command::Seed(options) => {
            let report = seed::run(&settings, options.clone()).await?;
            eprintln!("tally: {}", seed::output::summary(&report, &options)?);
            Ok(())
        }
        Command::User { command } => user::run(&settings, command).await,
        Command::Publish(options) => publish::run(&settings, options).await,
    }
}
