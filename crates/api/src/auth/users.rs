//! User accounts in `auth.users`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::Role;
use super::password::{self, PasswordError};

/// Failed logins allowed before the account locks.
pub const FREE_ATTEMPTS: i32 = 5;

/// A user as administrators see it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct User {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub disabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A role as stored (text checked by the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct RoleColumn(pub Role);

impl TryFrom<String> for RoleColumn {
    type Error = super::UnknownRole;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse().map(RoleColumn)
    }
}

/// What a login needs to know about a user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub user_id: Uuid,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub password_hash: String,
    pub token_generation: i32,
    pub disabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Whether tokens of a user are still good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub token_generation: i32,
    pub disabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error(
        "invalid username: 2 to 64 characters among a-z 0-9 . _ - , starting with a letter or digit"
    )]
    InvalidUsername,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// Normalises and checks a username (the database checks it again).
pub fn normalise_username(raw: &str) -> Result<String, UserError> {
    let name = raw.trim().to_lowercase();
    let valid = (2..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if valid {
        Ok(name)
    } else {
        Err(UserError::InvalidUsername)
    }
}

const USER_COLUMNS: &str = "user_id, username, display_name, role, disabled_at IS NOT NULL AS disabled, locked_until, created_at";

/// Creates a user whose password is already hashed; records who did it.
pub async fn create_hashed(
    pool: &PgPool,
    actor: &str,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> Result<User, UserError> {
    let username = normalise_username(username)?;
    let user_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO auth.users (user_id, username, display_name, role, password_hash)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(&username)
    .bind(display_name.trim())
    .bind(role.as_str())
    .bind(password_hash)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(UserError::UsernameTaken);
        }
        other => {
            other?;
        }
    }
    record_change(&mut tx, actor, user_id, "created").await?;
    let user = sqlx::query_as::<_, User>(&format!(
        "SELECT {USER_COLUMNS} FROM auth.users WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Creates a user, hashing the password on the blocking pool.
pub async fn create(
    pool: &PgPool,
    actor: &str,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> Result<User, UserError> {
    let hash = hash_blocking(password.to_owned()).await?;
    create_hashed(pool, actor, username, display_name, role, &hash).await
}

async fn hash_blocking(password: String) -> Result<String, UserError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| UserError::Password(PasswordError::Hash(e.to_string())))?
        .map_err(UserError::from)
}

pub async fn list(pool: &PgPool) -> Result<Vec<User>, UserError> {
    Ok(sqlx::query_as::<_, User>(&format!(
        "SELECT {USER_COLUMNS} FROM auth.users ORDER BY username"
    ))
    .fetch_all(pool)
    .await?)
}

pub async fn find(pool: &PgPool, username: &str) -> Result<Option<Credentials>, UserError> {
    let Ok(username) = normalise_username(username) else {
        return Ok(None);
    };
    Ok(sqlx::query_as::<_, Credentials>(
        "SELECT user_id, username, role, password_hash, token_generation,
                disabled_at IS NOT NULL AS disabled, failed_logins, locked_until
           FROM auth.users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?)
}

pub async fn id_of(pool: &PgPool, username: &str) -> Result<Uuid, UserError> {
    let username = normalise_username(username)?;
    sqlx::query_scalar("SELECT user_id FROM auth.users WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await?
        .ok_or(UserError::NotFound)
}

/// Whether a user's tokens are still good (read on every authenticated request,
/// through a short-lived cache).
pub async fn standing(pool: &PgPool, user_id: Uuid) -> Result<Option<Standing>, sqlx::Error> {
    let row: Option<(i32, bool)> = sqlx::query_as(
        "SELECT token_generation, disabled_at IS NOT NULL FROM auth.users WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(token_generation, disabled)| Standing {
        token_generation,
        disabled,
    }))
}

/// A failed login: counts it and, past the free attempts, locks the account for
/// 30 s, doubling at each further failure, up to an hour.
pub async fn record_failure(pool: &PgPool, user_id: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: Option<bool> = sqlx::query_scalar(
        "UPDATE auth.users SET
             failed_logins = failed_logins + 1,
             locked_until = CASE WHEN failed_logins + 1 >= $2
                 THEN now() + least(interval '1 hour',
                                    interval '30 seconds' * power(2, failed_logins + 1 - $2))
                 ELSE locked_until END,
             updated_at = now()
           WHERE user_id = $1
         RETURNING failed_logins >= $2",
    )
    .bind(user_id)
    .bind(FREE_ATTEMPTS)
    .fetch_optional(&mut *tx)
    .await?;
    if locked == Some(true) {
        record_change(&mut tx, "login", user_id, "locked").await?;
    }
    tx.commit().await
}

pub async fn record_success(pool: &PgPool, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE auth.users SET failed_logins = 0, locked_until = NULL, updated_at = now()
          WHERE user_id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
    )
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Revokes every token of a user (logout everywhere).
pub async fn revoke_tokens(pool: &PgPool, user_id: Uuid) -> Result<(), UserError> {
    let done = sqlx::query(
        "UPDATE auth.users SET token_generation = token_generation + 1, updated_at = now()
          WHERE user_id = $1",
    )
    .bind(user_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(UserError::NotFound);
    }
    Ok(())
}

/// Disables (or re-enables) a user; disabling revokes their tokens.
pub async fn set_disabled(
    pool: &PgPool,
    actor: &str,
    user_id: Uuid,
    disabled: bool,
) -> Result<(), UserError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE auth.users SET
             disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) ELSE NULL END,
             token_generation = token_generation + CASE WHEN $2 THEN 1 ELSE 0 END,
             updated_at = now()
           WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(disabled)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(UserError::NotFound);
    }
    let change = if disabled { "disabled" } else { "enabled" };
    record_change(&mut tx, actor, user_id, change).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password, unlocks the account and revokes the user's tokens.
pub async fn reset_password(
    pool: &PgPool,
    actor: &str,
    user_id: Uuid,
    password: &str,
) -> Result<(), UserError> {
    let hash = hash_blocking(password.to_owned()).await?;
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE auth.users SET password_hash = $2, token_generation = token_generation + 1,
                failed_logins = 0, locked_until = NULL, updated_at = now()
          WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(UserError::NotFound);
    }
    record_change(&mut tx, actor, user_id, "password_reset").await?;
    tx.commit().await?;
    Ok(())
}

/// Whether any enabled administrator exists (the first one is bootstrapped).
pub async fn admin_exists(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM auth.users WHERE role = 'admin' AND disabled_at IS NULL)",
    )
    .fetch_one(pool)
    .await
}

async fn record_change(
    tx: &mut sqlx::PgConnection,
    actor: &str,
    user_id: Uuid,
    change: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO auth.user_changes (actor, user_id, change) VALUES ($1, $2, $3)")
        .bind(actor)
        .bind(user_id)
        .bind(change)
        .execute(tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(
            super::normalise_username(" Camille.D ").ok().as_deref(),
            Some("camille.d")
        );
        for bad in ["a", "", "-x", "a b", "é", &"x".repeat(65)] {
            assert!(super::normalise_username(bad).is_err(), "{bad:?}");
        }
    }
}
