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
    /// When the account last changed (creation, role, state, password), from
    /// `auth.user_changes`.
    pub last_change_at: Option<DateTime<Utc>>,
}

/// One change of an account, as its history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct UserChange {
    pub at: DateTime<Utc>,
    /// Who did it: a username, `cli:…`, `bootstrap`, or `login` (an automatic lock).
    pub actor: String,
    /// `created`, `role_changed`, `disabled`, `enabled`, `password_reset`,
    /// `password_changed` (by the user), `locked`.
    pub change: String,
    /// For a role change, the role before and after.
    pub old_role: Option<String>,
    pub new_role: Option<String>,
}

/// An account and its history, newest change first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Account {
    #[serde(flatten)]
    pub user: User,
    pub history: Vec<UserChange>,
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
    #[error("the display name must have 1 to 200 characters")]
    InvalidDisplayName,
    #[error("no such user")]
    NotFound,
    /// Disabling or demoting this account would leave no active administrator.
    #[error("the last active administrator cannot be disabled or demoted")]
    LastAdmin,
    /// The current password given to change one's own is wrong.
    #[error("wrong current password")]
    WrongPassword,
    /// Too many failed attempts: the account is locked until then.
    #[error("locked until {0}")]
    Locked(DateTime<Utc>),
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

const USER_COLUMNS: &str = "user_id, username, display_name, role, \
     disabled_at IS NOT NULL AS disabled, locked_until, created_at, \
     (SELECT max(c.at) FROM auth.user_changes c WHERE c.user_id = u.user_id) AS last_change_at";

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
    let display_name = display_name.trim();
    if !(1..=200).contains(&display_name.chars().count()) {
        return Err(UserError::InvalidDisplayName);
    }
    let user_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO auth.users (user_id, username, display_name, role, password_hash)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(&username)
    .bind(display_name)
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
        "SELECT {USER_COLUMNS} FROM auth.users u WHERE user_id = $1"
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
        "SELECT {USER_COLUMNS} FROM auth.users u ORDER BY username"
    ))
    .fetch_all(pool)
    .await?)
}

/// One account, with its history (newest change first).
pub async fn account(pool: &PgPool, user_id: Uuid) -> Result<Account, UserError> {
    let user = sqlx::query_as::<_, User>(&format!(
        "SELECT {USER_COLUMNS} FROM auth.users u WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or(UserError::NotFound)?;
    let history = sqlx::query_as::<_, UserChange>(
        "SELECT at, actor, change, old_role, new_role FROM auth.user_changes
          WHERE user_id = $1 ORDER BY change_id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(Account { user, history })
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

/// Serialises the changes that can take an administrator away (disable, role
/// change) across the whole table for the rest of the transaction: with two
/// administrators left, two admins disabling each other at the same instant must not
/// both see "another one remains". Such changes are rare; waiting is cheap.
const ADMIN_CHANGES_LOCK: i64 = 0x4c41_4541_444d_494e; // "LAEADMIN"

/// What a disable or role change needs to know of the account, read under the lock.
#[derive(sqlx::FromRow)]
struct Target {
    #[sqlx(try_from = "String")]
    role: RoleColumn,
    disabled: bool,
}

async fn lock_target(tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<Target, UserError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADMIN_CHANGES_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query_as::<_, Target>(
        "SELECT role, disabled_at IS NOT NULL AS disabled FROM auth.users
          WHERE user_id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(UserError::NotFound)
}

/// Refuses to take away the last active administrator (the one who could undo it).
async fn keep_an_admin(tx: &mut sqlx::PgConnection, target: &Target) -> Result<(), UserError> {
    if target.role.0 != Role::Admin || target.disabled {
        return Ok(());
    }
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth.users WHERE role = 'admin' AND disabled_at IS NULL",
    )
    .fetch_one(&mut *tx)
    .await?;
    if active <= 1 {
        return Err(UserError::LastAdmin);
    }
    Ok(())
}

/// Disables (or re-enables) a user; disabling revokes their tokens. The last active
/// administrator cannot be disabled. Returns whether anything changed (disabling a
/// disabled account records nothing).
pub async fn set_disabled(
    pool: &PgPool,
    actor: &str,
    user_id: Uuid,
    disabled: bool,
) -> Result<bool, UserError> {
    let mut tx = pool.begin().await?;
    let target = lock_target(&mut tx, user_id).await?;
    if target.disabled == disabled {
        return Ok(false);
    }
    if disabled {
        keep_an_admin(&mut tx, &target).await?;
    }
    sqlx::query(
        "UPDATE auth.users SET
             disabled_at = CASE WHEN $2 THEN now() ELSE NULL END,
             token_generation = token_generation + CASE WHEN $2 THEN 1 ELSE 0 END,
             updated_at = now()
           WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(disabled)
    .execute(&mut *tx)
    .await?;
    let change = if disabled { "disabled" } else { "enabled" };
    record_change(&mut tx, actor, user_id, change).await?;
    tx.commit().await?;
    Ok(true)
}

/// Gives a user another role. Their tokens carry the role, so they are revoked: the
/// user logs in again under the new one. The last active administrator cannot be
/// demoted. Returns whether anything changed (the same role records nothing).
pub async fn change_role(
    pool: &PgPool,
    actor: &str,
    user_id: Uuid,
    role: Role,
) -> Result<bool, UserError> {
    let mut tx = pool.begin().await?;
    let target = lock_target(&mut tx, user_id).await?;
    if target.role.0 == role {
        return Ok(false);
    }
    keep_an_admin(&mut tx, &target).await?;
    sqlx::query(
        "UPDATE auth.users SET role = $2, token_generation = token_generation + 1,
                updated_at = now()
          WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO auth.user_changes (actor, user_id, change, old_role, new_role)
         VALUES ($1, $2, 'role_changed', $3, $4)",
    )
    .bind(actor)
    .bind(user_id)
    .bind(target.role.0.as_str())
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A user changes their own password: the current one must match (a wrong one counts
/// as a failed login, and a locked account is refused), the new one must be strong
/// ([`password::check_strength`]) and different. Every token of the user is revoked;
/// returns the new token generation, under which the caller issues the session that
/// continues.
pub async fn change_own_password(
    pool: &PgPool,
    user_id: Uuid,
    current: String,
    new: String,
) -> Result<i32, UserError> {
    let row: Option<(String, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT username, password_hash, locked_until FROM auth.users
          WHERE user_id = $1 AND disabled_at IS NULL",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    let (username, stored, locked_until) = row.ok_or(UserError::NotFound)?;
    if let Some(until) = locked_until.filter(|t| *t > Utc::now()) {
        return Err(UserError::Locked(until));
    }
    if current.len() > password::MAX_LENGTH * 4 {
        return Err(UserError::WrongPassword);
    }
    let hash_checked = stored.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify(&current, &hash_checked))
        .await
        .map_err(|e| UserError::Password(PasswordError::Hash(e.to_string())))?;
    if !matches {
        record_failure(pool, user_id).await?;
        return Err(UserError::WrongPassword);
    }
    password::check_strength(&new, &username)?;
    let unchanged = {
        let (new, stored) = (new.clone(), stored.clone());
        tokio::task::spawn_blocking(move || password::verify(&new, &stored))
            .await
            .map_err(|e| UserError::Password(PasswordError::Hash(e.to_string())))?
    };
    if unchanged {
        return Err(PasswordError::Unchanged.into());
    }
    let hash = hash_blocking(new).await?;
    let mut tx = pool.begin().await?;
    // The hash it was checked against: a concurrent change (or reset) wins, and this
    // one is refused as if the password were wrong.
    let generation: Option<i32> = sqlx::query_scalar(
        "UPDATE auth.users SET password_hash = $3, token_generation = token_generation + 1,
                failed_logins = 0, locked_until = NULL, updated_at = now()
          WHERE user_id = $1 AND password_hash = $2
         RETURNING token_generation",
    )
    .bind(user_id)
    .bind(&stored)
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(generation) = generation else {
        return Err(UserError::WrongPassword);
    };
    record_change(&mut tx, &username, user_id, "password_changed").await?;
    tx.commit().await?;
    Ok(generation)
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
