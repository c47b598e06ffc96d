//! What request handlers share.

use std::sync::Arc;

use lae_domain::contract::Contract;
use lae_domain::customer::Customer;
use lae_domain::invoice::Invoice;
use lae_domain::offer::Offer;
use lae_domain::ticket::Ticket;
use lae_store::crypto::MasterKeys;
use lae_store::{CommandExecutor, EventRepository};
use sqlx::PgPool;

use crate::auth::rules::StandingCache;
use crate::auth::token::TokenKeys;
use crate::cursor::CursorKey;
use crate::readers::Readers;

/// Shared state: cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub pool: PgPool,
    /// Auditors' reads: the read-only `lae_auditor` role, and the seal key.
    pub audit: Option<AuditAccess>,
    /// Departments' reads: each department's reader role, and the cursor key.
    pub queries: QueryAccess,
    pub auth: AuthState,
    pub metrics: Metrics,
    pub events: EventRepository,
    pub customers: CommandExecutor<Customer>,
    pub offers: CommandExecutor<Offer>,
    pub contracts: CommandExecutor<Contract>,
    pub invoices: CommandExecutor<Invoice>,
    pub tickets: CommandExecutor<Ticket>,
    /// The secret Zendesk signs its webhooks with (`None`: the webhook route is 404).
    pub zendesk_webhook_secret: Option<crate::settings::Secret>,
    /// Zendesk's API, to look up the requester of a ticket created there.
    pub zendesk: Option<lae_reactors::zendesk::ZendeskClient>,
    /// The creditor of SEPA collections (`None`: collections are refused).
    pub sepa_creditor: Option<crate::billing_cycle::SepaCreditor>,
    /// The departments this instance serves (the others' routes answer 404).
    pub deployment: crate::deployment::Deployment,
    /// Where an erasure announces the keys it destroyed ([`crate::erasure`]).
    pub key_announcements: lae_store::crypto::KeyAnnouncements,
}

/// What the auditors' routes need.
#[derive(Debug)]
pub struct AuditAccess {
    pub pool: PgPool,
    pub key: lae_audit::AuditKey,
    /// To open sealed fields in timelines and states (`None`: they read as withheld).
    pub master_keys: Option<Arc<MasterKeys>>,
}

/// What the department query routes need.
#[derive(Debug)]
pub struct QueryAccess {
    pub readers: Readers,
    pub cursor_key: CursorKey,
}

/// The background components' metrics (zero when a component does not run here).
#[derive(Debug, Default)]
pub struct Metrics {
    pub relay: Arc<lae_relay::RelayMetrics>,
    pub projections: Arc<lae_projections::ProjectionMetrics>,
    pub reactors: Arc<lae_reactors::ReactorMetrics>,
    /// HTTP answers by status, commands refused by code.
    pub http: crate::http_metrics::HttpMetrics,
    /// Zendesk webhooks accepted (signature good) and refused (signature or time).
    pub zendesk_received: std::sync::atomic::AtomicU64,
    pub zendesk_refused: std::sync::atomic::AtomicU64,
}

impl Metrics {
    pub fn zendesk_received(&self) {
        self.zendesk_received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn zendesk_refused(&self) {
        self.zendesk_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The integration counters in Prometheus' text format.
    #[must_use]
    pub fn render_integrations(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "# HELP lae_zendesk_webhooks_total Zendesk webhooks, by outcome of the signature check.\n\
             # TYPE lae_zendesk_webhooks_total counter\n\
             lae_zendesk_webhooks_total{{outcome=\"accepted\"}} {}\n\
             lae_zendesk_webhooks_total{{outcome=\"refused\"}} {}\n",
            self.zendesk_received.load(Relaxed),
            self.zendesk_refused.load(Relaxed)
        )
    }
}

/// Token keys and the standing cache.
#[derive(Debug)]
pub struct AuthState {
    pub keys: TokenKeys,
    pub standing_cache: StandingCache,
}

impl AppState {
    /// The state of a running application. With `master_keys`, personal fields are
    /// sealed on append and opened on load (`lae_store::crypto`).
    pub fn new(
        pool: PgPool,
        keys: TokenKeys,
        audit: Option<AuditAccess>,
        queries: QueryAccess,
        master_keys: Option<Arc<MasterKeys>>,
    ) -> Self {
        let events = EventRepository::for_commands(pool.clone(), master_keys);
        Self(Arc::new(Inner {
            customers: CommandExecutor::new(events.clone(), ()),
            offers: CommandExecutor::new(events.clone(), ()),
            contracts: CommandExecutor::new(events.clone(), ()),
            invoices: CommandExecutor::new(events.clone(), ()),
            tickets: CommandExecutor::new(events.clone(), ()),
            events,
            pool,
            auth: AuthState {
                keys,
                standing_cache: StandingCache::default(),
            },
            metrics: Metrics::default(),
            audit,
            queries,
            zendesk_webhook_secret: None,
            zendesk: None,
            sepa_creditor: None,
            deployment: crate::deployment::Deployment::everything(),
            key_announcements: lae_store::crypto::KeyAnnouncements::new(
                crate::settings::DEFAULT_NATS_URL,
            ),
        }))
    }

    /// The same state, announcing key destructions there (before it is shared).
    #[must_use]
    pub fn with_key_announcements(
        mut self,
        announcements: lae_store::crypto::KeyAnnouncements,
    ) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.key_announcements = announcements;
        }
        self
    }

    /// The same state, with the secret of Zendesk's webhooks (before it is shared).
    #[must_use]
    pub fn with_zendesk_webhook_secret(mut self, secret: Option<crate::settings::Secret>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.zendesk_webhook_secret = secret;
        }
        self
    }

    /// The same state, with Zendesk's API client (before it is shared).
    #[must_use]
    pub fn with_zendesk(mut self, zendesk: Option<lae_reactors::zendesk::ZendeskClient>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.zendesk = zendesk;
        }
        self
    }

    /// The same state, with the creditor of SEPA collections (before it is shared).
    #[must_use]
    pub fn with_sepa_creditor(
        mut self,
        creditor: Option<crate::billing_cycle::SepaCreditor>,
    ) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.sepa_creditor = creditor;
        }
        self
    }

    /// The same state, serving only `deployment`'s departments (before it is shared).
    #[must_use]
    pub fn with_deployment(mut self, deployment: crate::deployment::Deployment) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.deployment = deployment;
        }
        self
    }

    /// The secret of Zendesk's webhooks, when configured.
    #[must_use]
    pub fn zendesk_webhook_secret(&self) -> Option<&crate::settings::Secret> {
        self.zendesk_webhook_secret.as_ref()
    }
}

impl AppState {
    /// The seal key verification uses (unkeyed when no auditor access is configured).
    pub fn audit_key(&self) -> lae_audit::AuditKey {
        self.audit
            .as_ref()
            .map_or_else(lae_audit::AuditKey::unkeyed, |a| a.key.clone())
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
