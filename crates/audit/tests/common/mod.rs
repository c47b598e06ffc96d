//! Shared fixtures: a database per test (dropped even when the test panics), the roles'
//! pools, and a small realistic history written through the real command path.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use lae_audit::{AUDITOR_ROLE, AuditKey, SEALER_ROLE, connect_as};
use lae_domain::contract::{Contract, ContractCommand, SignedDocument};
use lae_domain::customer::{Customer, CustomerCommand};
use lae_domain::offer::{Offer, OfferCommand};
use lae_domain::ticket::{Ticket, TicketCommand};
use lae_domain::{
    AlcoholUse, Availability, Cents, Channel, ContractId, CustomerId, OfferId, TicketId, TobaccoUse,
};
use lae_store::crypto::{Keyring, MasterKey, MasterKeys};
use lae_store::db::{APP_ROLE, DbSettings};
use lae_store::{CommandExecutor, EventMetadata, EventRepository, Source};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The key the tests seal with.
pub fn key() -> AuditKey {
    AuditKey::hmac(b"a test key of at least thirty-two bytes").expect("valid key")
}

/// The master key the tests seal personal fields with.
pub fn masters() -> Arc<MasterKeys> {
    Arc::new(MasterKeys::new(
        MasterKey::parse(&"42".repeat(32)).expect("valid master key"),
    ))
}

/// Runs `work` on a runtime of its own on another thread: usable from `Drop`, even
/// while the test's runtime is unwinding from a panic.
fn on_own_runtime<F: Future<Output = ()> + Send + 'static>(work: F) {
    let thread = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(work),
            Err(e) => eprintln!("cleanup runtime: {e}"),
        }
    });
    let _ = thread.join();
}

/// A fresh, migrated database, dropped (with its sessions) when the test ends.
pub struct TestDb {
    pub settings: DbSettings,
    /// As `lae_app`.
    pub app: PgPool,
    /// As the owner (superuser here): tampering, bulk checks.
    pub owner: PgPool,
    pub sealer: PgPool,
    pub auditor: PgPool,
}

pub fn settings_for(name: &str) -> DbSettings {
    DbSettings::from_url(
        &format!("postgres://postgres@127.0.0.1:5432/{name}"),
        APP_ROLE,
        None,
        8,
    )
    .expect("valid database URL")
}

pub fn new_name() -> String {
    format!("lae_test_audit_{}", Uuid::new_v4().simple())
}

/// Drops the database when dropped.
pub struct DropGuard(pub DbSettings);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let settings = self.0.clone();
        on_own_runtime(async move {
            if let Err(e) = lae_store::db::drop_database(&settings).await {
                eprintln!("cannot drop {}: {e}", settings.database());
            }
        });
    }
}

impl TestDb {
    pub async fn new() -> (Self, DropGuard) {
        init_tracing();
        let settings = settings_for(&new_name());
        let guard = DropGuard(settings.clone());
        lae_store::db::prepare(&settings)
            .await
            .expect("create and migrate the test database");
        let db = Self::connect(settings).await;
        (db, guard)
    }

    pub async fn connect(settings: DbSettings) -> Self {
        let app = lae_store::db::connect_app(&settings)
            .await
            .expect("connect as lae_app");
        let owner = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(settings.owner.clone())
            .await
            .expect("connect as owner");
        let sealer = connect_as(&settings, SEALER_ROLE, None, 2)
            .await
            .expect("connect as lae_sealer");
        let auditor = connect_as(&settings, AUDITOR_ROLE, None, 2)
            .await
            .expect("connect as lae_auditor");
        Self {
            settings,
            app,
            owner,
            sealer,
            auditor,
        }
    }

    pub fn repository(&self) -> EventRepository {
        EventRepository::new(self.app.clone())
    }

    /// Seals everything committed so far. Transaction ids are cluster-wide: another
    /// test's open transaction can hold the horizon back for a moment, so this waits.
    pub async fn seal_all(&self) {
        self.seal_all_with(&key(), &lae_audit::SealerConfig::default())
            .await;
    }

    /// [`seal_all`](Self::seal_all) with another key or settings.
    pub async fn seal_all_with(&self, key: &AuditKey, config: &lae_audit::SealerConfig) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            while lae_audit::seal_pending_with(&self.sealer, key, config)
                .await
                .expect("seal")
                > 0
            {}
            let unsealed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM events e WHERE NOT EXISTS
                   (SELECT 1 FROM audit.event_seals s WHERE s.global_position = e.global_position)",
            )
            .fetch_one(&self.owner)
            .await
            .expect("count unsealed");
            if unsealed == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{unsealed} events could not be sealed in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn meta(user: &str, department: &str) -> EventMetadata {
    EventMetadata::new(user, department, Utc::now(), Uuid::new_v4(), Source::Api)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The executors of the aggregates used by the scenarios (no cache: every command
/// reads the store).
pub struct Platform {
    pub customers: CommandExecutor<Customer>,
    pub offers: CommandExecutor<Offer>,
    pub contracts: CommandExecutor<Contract>,
    pub tickets: CommandExecutor<Ticket>,
    /// The keyring personal fields are sealed with, if they are.
    pub keyring: Option<Keyring>,
}

impl Platform {
    /// Events written in clear, as before encryption.
    pub fn new(db: &TestDb) -> Self {
        Self::with_repository(db.repository())
    }

    /// Personal fields sealed as the platform seals them.
    pub fn sealed(db: &TestDb, masters: Arc<MasterKeys>) -> Self {
        Self::with_repository(db.repository().with_keyring(Keyring::all(masters)))
    }

    fn with_repository(repository: EventRepository) -> Self {
        Self {
            customers: CommandExecutor::with_cache_capacity(repository.clone(), (), 0),
            offers: CommandExecutor::with_cache_capacity(repository.clone(), (), 0),
            contracts: CommandExecutor::with_cache_capacity(repository.clone(), (), 0),
            tickets: CommandExecutor::with_cache_capacity(repository.clone(), (), 0),
            keyring: repository.keyring().cloned(),
        }
    }

    /// Erases a customer as the platform does: `CustomerErased`, then their keys
    /// destroyed (`shred`).
    pub async fn erase(&self, db: &TestDb, customer: &str) {
        self.customers
            .execute(
                customer,
                CustomerCommand::EraseCustomer {
                    reason: "RGPD art. 17, demande n° 2026-114".parse().expect("reason"),
                },
                &meta("dpo", "legal"),
            )
            .await
            .expect("customer erased");
        let subject: Uuid = customer.parse().expect("customer id");
        let mut conn = db.app.acquire().await.expect("connection");
        lae_store::crypto::erasure::shred(&mut conn, subject, "RGPD art. 17", "dpo")
            .await
            .expect("keys destroyed");
        if let Some(keyring) = &self.keyring {
            keyring.forget(subject);
        }
    }

    pub async fn register(&self, last_name: &str, email: &str) -> String {
        let id = CustomerId::new(Uuid::new_v4());
        let number = format!("LAE-{:06}", rand_number());
        self.customers
            .execute(
                &id.to_string(),
                CustomerCommand::RegisterCustomer {
                    customer_id: id,
                    customer_number: number.parse().expect("number"),
                    last_name: last_name.parse().expect("name"),
                    first_name: "Hélène".parse().expect("name"),
                    email: Some(email.parse().expect("email")),
                    phone: Some("+33612345678".parse().expect("phone")),
                    availability: Availability::default(),
                },
                &meta("camille", "customer_service"),
            )
            .await
            .expect("registered");
        id.to_string()
    }

    pub async fn change_email(&self, customer: &str, last_name: &str, email: &str) {
        self.customers
            .execute(
                customer,
                CustomerCommand::ChangeContactDetails {
                    last_name: last_name.parse().expect("name"),
                    first_name: "Hélène".parse().expect("name"),
                    email: Some(email.parse().expect("email")),
                    phone: Some("+33612345678".parse().expect("phone")),
                    availability: Availability::default(),
                },
                &meta("camille", "customer_service"),
            )
            .await
            .expect("contact details changed");
    }

    pub async fn declare_health(&self, customer: &str, tobacco: TobaccoUse) {
        self.customers
            .execute(
                customer,
                CustomerCommand::DeclareHealth {
                    tobacco,
                    alcohol: AlcoholUse::Occasional,
                    illnesses: vec!["Asthme".parse().expect("illness")],
                    declared_on: date(2025, 3, 4),
                },
                &meta("louis", "legal"),
            )
            .await
            .expect("health declared");
    }

    pub async fn sign_mandate(&self, customer: &str) {
        self.customers
            .execute(
                customer,
                CustomerCommand::SignMandate {
                    iban: "FR76 3000 6000 0112 3456 7890 189".parse().expect("iban"),
                    mandate_reference: "LAE-RUM-000123-01".parse().expect("rum"),
                    signed_on: date(2025, 3, 11),
                },
                &meta("bea", "billing"),
            )
            .await
            .expect("mandate signed");
    }

    pub async fn propose_offer(&self, customer: &str) -> String {
        let id = OfferId::new(Uuid::new_v4());
        self.offers
            .execute(
                &id.to_string(),
                OfferCommand::ProposeOffer {
                    offer_id: id,
                    customer_id: customer.parse().expect("customer id"),
                    product: "Assurance vie Sérénité".parse().expect("product"),
                    monthly_premium: Cents::new(4_500),
                    proposed_on: date(2025, 4, 1),
                },
                &meta("sam", "sales"),
            )
            .await
            .expect("offer proposed");
        id.to_string()
    }

    pub async fn accept_offer(&self, offer: &str) {
        self.offers
            .execute(
                offer,
                OfferCommand::AcceptOffer {
                    accepted_on: date(2025, 4, 8),
                },
                &meta("sam", "sales"),
            )
            .await
            .expect("offer accepted");
    }

    pub async fn request_and_sign_contract(&self, db: &TestDb, customer: &str) -> String {
        let id = ContractId::new(Uuid::new_v4());
        let legal = meta("louis", "legal");
        self.contracts
            .execute(
                &id.to_string(),
                ContractCommand::RequestContract {
                    customer_id: customer.parse().expect("customer id"),
                    product: "Assurance vie Sérénité".parse().expect("product"),
                    monthly_premium: Cents::new(4_500),
                    offer_id: None,
                    requested_on: date(2025, 4, 9),
                },
                &legal,
            )
            .await
            .expect("contract requested");
        let content = format!("%PDF-1.7 contrat {id}").into_bytes();
        let sha256 = lae_store::documents::put(
            &db.app,
            None,
            customer.parse().expect("customer id"),
            &content,
            "application/pdf",
        )
        .await
        .expect("document stored");
        self.contracts
            .execute(
                &id.to_string(),
                ContractCommand::SignContract {
                    reference: "LAE-CTR-2025-0001".parse().expect("reference"),
                    signed_on: date(2025, 4, 10),
                    document: SignedDocument {
                        sha256: sha256.parse().expect("digest"),
                        name: "contrat.pdf".parse().expect("name"),
                        size_bytes: content.len() as u64,
                    },
                },
                &legal,
            )
            .await
            .expect("contract signed");
        id.to_string()
    }

    pub async fn open_ticket(&self, customer: &str) -> String {
        let id = TicketId::new(Uuid::new_v4());
        self.tickets
            .execute(
                &id.to_string(),
                TicketCommand::OpenTicket {
                    channel: Channel::Phone,
                    reason: "Question sur le prélèvement".parse().expect("reason"),
                    opened_at: Utc::now(),
                    operator: "Camille".parse().expect("operator"),
                    customer_id: Some(customer.parse().expect("customer id")),
                    category: None,
                },
                &meta("camille", "customer_service"),
            )
            .await
            .expect("ticket opened");
        id.to_string()
    }
}

fn rand_number() -> u32 {
    (Uuid::new_v4().as_u128() % 900_000) as u32 + 100_000
}

/// Three customers with a little history each: what the tamper tests start from.
pub struct History {
    pub alice: String,
    pub bob: String,
    pub carol: String,
    pub offer: String,
}

pub async fn small_history(db: &TestDb) -> History {
    let platform = Platform::new(db);
    let alice = platform.register("Martin", "alice@exemple.fr").await;
    let bob = platform.register("Durand", "bob@exemple.fr").await;
    let carol = platform.register("Petit", "carol@exemple.fr").await;
    platform
        .change_email(&alice, "Martin", "alice.martin@exemple.fr")
        .await;
    platform
        .change_email(&alice, "Martin-Durand", "alice.md@exemple.fr")
        .await;
    platform
        .change_email(&bob, "Durand", "b.durand@exemple.fr")
        .await;
    platform.declare_health(&carol, TobaccoUse::NonSmoker).await;
    let offer = platform.propose_offer(&alice).await;
    platform.accept_offer(&offer).await;
    platform
        .change_email(&carol, "Petit", "c.petit@exemple.fr")
        .await;
    History {
        alice,
        bob,
        carol,
        offer,
    }
}

/// Runs `statements` as the owner with every trigger off (`session_replication_role =
/// replica`): what an administrator with full rights could do.
pub async fn tamper(db: &TestDb, statements: &[String]) {
    let mut conn = db.owner.acquire().await.expect("owner connection");
    let conn: &mut PgConnection = &mut conn;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("bypass triggers");
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query("RESET session_replication_role")
        .execute(&mut *conn)
        .await
        .expect("reset");
}
