use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tally::auth::PasswordHasher;
use tally::configuration::Settings;
use tally::domain::{NewUser, Role};
use tally::startup::Application;
use tally::{db, store, telemetry};

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
    /// Create load-test users, each with one account funded through the engine, and write their
    /// credentials and access tokens as JSON (development and benchmark databases only).
    Seed(tally::seed::SeedOptions),
    /// Manage users (e.g. create the first banker).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is the first line of stdin, e.g.
    /// `printf '%s\n' "$PASSWORD" | tally user create --username ada --full-name Ada --email ada@example.com --role banker`.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        full_name: String,
        #[arg(long)]
        email: String,
        /// banker or depositor.
        #[arg(long, default_value = "depositor")]
        role: Role,
        /// Succeed without changing anything when the username already exists (for scripts).
        #[arg(long)]
        if_missing: bool,
    },
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
        Command::Seed(options) => {
            let report = tally::seed::run(&settings, options.clone()).await?;
            eprintln!(
                "tally: seeded {} users {}_1..{}_{} with accounts {}..{} ({} {} each, funded in \
                 {:.1} s), {:.1} s in all; access tokens valid until {}; wrote {}",
                report.users,
                report.prefix,
                report.prefix,
                report.users,
                report.first_account_id,
                report.last_account_id,
                options.balance,
                options.currency,
                report.funded_in.as_secs_f64(),
                report.elapsed.as_secs_f64(),
                report
                    .tokens_expire_at
                    .format(&time::format_description::well_known::Rfc3339)?,
                options.out.display()
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    full_name,
                    email,
                    role,
                    if_missing,
                },
        } => {
            let password = read_password_line()?;
            let new_user = NewUser::parse(username, password, full_name, email)?;
            create_user(&settings, new_user, role, if_missing).await
        }
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

/// The first line of stdin, without its line ending.
fn read_password_line() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("Password (8 to 72 bytes; shown as you type): ");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

async fn create_user(
    settings: &Settings,
    new_user: NewUser,
    role: Role,
    if_missing: bool,
) -> anyhow::Result<()> {
    let pool = db::build_pool(&settings.database)?;
    if if_missing
        && store::users::find_user(&pool, &new_user.username)
            .await?
            .is_some()
    {
        eprintln!(
            "tally: user {} already exists; unchanged",
            new_user.username
        );
        return Ok(());
    }
    let passwords = PasswordHasher::new(settings.auth.bcrypt_cost).await?;
    let hashed_password = passwords.hash(new_user.password.clone()).await?;
    let user = store::users::insert_user(&pool, &new_user, &hashed_password, role).await?;
    eprintln!("tally: created {} {}", user.role, user.username);
    Ok(())
}
