//! Erasing a customer's personal data (GDPR article 17): the sequence the erasure
//! route and `lae customers erase` share.
//!
//! 1. `EraseCustomer` on the customer: appends `CustomerErased` (the reason, in clear,
//!    and who asked, in the metadata). From then on the aggregate refuses every command.
//! 2. The customer's data keys are destroyed and the erasure recorded in `keys.erased`
//!    (`lae_store::crypto::erasure::shred`): every personal field of their history,
//!    tickets included, now reads `[erased]`, in the store, on NATS and in backups taken
//!    from now on. Events are not touched, so the audit chains still verify.
//! 3. The projectors purge the customer from each read model when `CustomerErased`
//!    reaches them; contracts and invoices keep their facts (references, dates,
//!    amounts) without the person's identity.
//!
//! 4. The destruction is announced on NATS (`<prefix>.destroyed`,
//!    [`lae_store::crypto::announce`]): every other process drops the customer's keys
//!    from its caches at once. NATS down does not fail the erasure (the keys are gone
//!    from the database, the source of truth); it is logged, and the caches' lifetime
//!    bounds how long another process may still open the fields.
//!
//! A crash between 1 and 2 leaves an erased aggregate whose keys still exist: running
//! the erasure again finds the aggregate erased and completes step 2.

use lae_domain::customer::{Customer, CustomerCommand, CustomerError};
use lae_domain::{CustomerId, DataCategory, Reason};
use lae_store::crypto::KeyAnnouncements;
use lae_store::crypto::erasure::shred;
use lae_store::{CommandError, CommandExecutor, EventMetadata, EventRepository};
use serde::Serialize;
use sqlx::PgPool;

use crate::problem::ApiError;

/// What an erasure did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Erasure {
    /// The customer.
    pub id: String,
    /// The customer's version after `CustomerErased`; `null` when a previous run had
    /// already appended it.
    pub version: Option<usize>,
    /// Whether the customer had already been erased (this run only completed it).
    pub already_erased: bool,
    /// The categories whose key this run destroyed.
    pub keys_destroyed: Vec<DataCategory>,
}

/// Erases a customer (see the module docs). `pool` must be allowed to delete keys
/// (`lae_app` or the owner); the destruction is announced through `announcements`.
pub async fn erase_customer(
    customers: &CommandExecutor<Customer>,
    events: &EventRepository,
    pool: &PgPool,
    announcements: &KeyAnnouncements,
    customer_id: CustomerId,
    reason: Reason,
    metadata: &EventMetadata,
) -> Result<Erasure, ApiError> {
    let id = customer_id.to_string();
    let command = CustomerCommand::EraseCustomer {
        reason: reason.clone(),
    };
    let (version, already_erased) = match customers.execute(&id, command, metadata).await {
        Ok(committed) => (Some(committed.version), false),
        Err(CommandError::Rejected(CustomerError::Erased)) => (None, true),
        Err(other) => return Err(other.into()),
    };
    let mut conn = pool.acquire().await?;
    let shredded = shred(
        &mut conn,
        *customer_id.as_uuid(),
        reason.as_str(),
        &metadata.user,
    )
    .await
    .map_err(ApiError::internal)?;
    if let Some(keyring) = events.keyring() {
        keyring.forget(*customer_id.as_uuid());
    }
    // Every other keyring of this process at once, then the other processes.
    lae_store::crypto::keyring::forget_everywhere(*customer_id.as_uuid());
    announcements
        .announce_destroyed(*customer_id.as_uuid())
        .await;
    tracing::info!(
        customer_id = %id,
        keys_destroyed = ?shredded.categories,
        already_erased,
        "customer erased"
    );
    Ok(Erasure {
        id,
        version,
        already_erased,
        keys_destroyed: shredded.categories,
    })
}
