//! `lae users ...`: account management from the command line.
//!
//! Passwords are read from standard input (first line), never from arguments, where
//! they would show in the process list and the shell history.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use lae_api::Settings;
use lae_api::auth::{Role, users};
use lae_store::db;

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Create a user; the password is read from standard input.
    Add {
        username: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Disable a user and revoke their tokens.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Set a new password (read from standard input) and revoke the user's tokens.
    Reset { username: String },
    /// List users.
    List,
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input (e.g. `read -rs P; echo \"$P\" | lae users add ...`)");
    }
    Ok(password)
}

pub async fn run(action: Action) -> anyhow::Result<()> {
    let settings = Settings::from_env().context("reading configuration")?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let pool = db::connect_app(&settings.db).await.context("connecting")?;
    let actor = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    match action {
        Action::Add {
            username,
            role,
            display_name,
        } => {
            let password = read_password()?;
            let display = display_name.unwrap_or_else(|| username.clone());
            let user = users::create(&pool, &actor, &username, &display, role, &password).await?;
            println!(
                "created {} ({}) with role {}",
                user.username, user.user_id, role
            );
        }
        Action::Disable { username } => {
            let id = users::id_of(&pool, &username).await?;
            users::set_disabled(&pool, &actor, id, true).await?;
            println!("disabled {username}; their tokens are revoked");
        }
        Action::Enable { username } => {
            let id = users::id_of(&pool, &username).await?;
            users::set_disabled(&pool, &actor, id, false).await?;
            println!("enabled {username}");
        }
        Action::Reset { username } => {
            let id = users::id_of(&pool, &username).await?;
            let password = read_password()?;
            users::reset_password(&pool, &actor, id, &password).await?;
            println!("password of {username} reset; their tokens are revoked");
        }
        Action::List => {
            for u in users::list(&pool).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.role.0,
                    if u.disabled { "disabled" } else { "enabled" },
                    u.user_id
                );
            }
        }
    }
    Ok(())
}
