//! `tally user create`: a user made from the command line (the first banker of a deployment).
//! The password is read from stdin's first line, never from an argument (which `ps` would show).

use std::io::IsTerminal;

use clap::Subcommand;

use crate::auth::PasswordHasher;
use crate::configuration::Settings;
use crate::db;
use crate::domain::{NewUser, Role};
use crate::store;

#[derive(Subcommand)]
pub enum UserCommand {
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

pub async fn run(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            username,
            full_name,
            email,
            role,
            if_missing,
        } => {
            let password = read_password_line()?;
            let new_user = NewUser::parse(username, password, full_name, email)?;
            create(settings, new_user, role, if_missing).await
        }
    }
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

async fn create(
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
