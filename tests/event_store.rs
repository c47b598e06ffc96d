//! The event store's guarantees, checked against the real PostgreSQL: optimistic
//! concurrency with nothing half-written, and append-only for the application role.

mod common;

use std::collections::HashMap;

use common::{TestApp, TestDb};
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, EventStore};
use lae_domain::customer::{Customer, CustomerEvent};
use lae_domain::{Availability, PersonName};
use lae_store::EventRepository;
use lae_store::db;
use serde_json::json;

fn contact_change(first_name: &str) -> CustomerEvent {
    CustomerEvent::ContactDetailsChanged {
        last_name: "Martin".parse::<PersonName>().expect("name"),
        first_name: first_name.parse::<PersonName>().expect("name"),
        email: None,
        phone: None,
        availability: Availability::default(),
    }
}

#[tokio::test]
async fn of_two_commits_from_the_same_version_one_wins_and_the_other_writes_nothing() {
    let app = TestApp::spawn("occ").await;
    let id = app.register_customer("Martin").await;
    let store: PersistedEventStore<EventRepository, Customer> =
        PersistedEventStore::new_event_store(
            EventRepository::new(app.db.app_pool().await)
                .with_keyring(lae_store::crypto::Keyring::all(common::test_master_keys())),
        );

    let first = store.load_aggregate(&id).await.expect("load");
    let second = store.load_aggregate(&id).await.expect("load");
    store
        .commit(vec![contact_change("Jean")], first, HashMap::new())
        .await
        .expect("the first commit wins");
    // The loser carries two events: neither may land.
    let lost = store
        .commit(
            vec![contact_change("Luc"), contact_change("Théo")],
            second,
            HashMap::new(),
        )
        .await;
    assert!(
        matches!(lost, Err(AggregateError::AggregateConflict)),
        "{lost:?}"
    );

    let sequences: Vec<i64> =
        sqlx::query_scalar("SELECT sequence FROM events WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(&id)
            .fetch_all(&app.pool)
            .await
            .expect("sequences");
    assert_eq!(sequences, [1, 2]);
}

#[tokio::test]
async fn concurrent_http_commands_on_one_customer_never_lose_an_update() {
    let app = TestApp::spawn("occhttp").await;
    let id = app.register_customer("Martin").await;
    let path = format!("/api/v1/customers/{id}/contact-details");
    let requests = (0..24).map(|i| {
        let body = json!({"last_name": "Martin", "first_name": format!("Prénom{i}")});
        let app = &app;
        let path = path.clone();
        async move { app.put(&path, "customer_service", body).await }
    });
    let answers = futures::future::join_all(requests).await;
    let mut versions = Vec::new();
    for (status, body) in &answers {
        match status {
            202 => versions.push(body["version"].as_i64().expect("version")),
            409 => assert_eq!(body["code"], "concurrent_modification", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    versions.sort_unstable();
    // Every accepted command got its own version, and the store holds exactly the
    // accepted ones, with no gap.
    let expected: Vec<i64> = (2..2 + versions.len() as i64).collect();
    assert_eq!(versions, expected);
    assert_eq!(app.event_count().await, 1 + versions.len() as i64);
}

#[tokio::test]
async fn two_concurrent_commands_on_the_same_version_one_succeeds_the_other_gets_409() {
    let app = TestApp::spawn("ifmatch").await;
    for round in 0..10 {
        let id = app.register_customer("Martin").await;
        let path = app.url(&format!("/api/v1/customers/{id}/contact-details"));
        let send = |first_name: &'static str| {
            app.client
                .put(&path)
                .bearer_auth(app.token("customer_service"))
                .header("if-match", "\"1\"")
                .json(&json!({"last_name": "Martin", "first_name": first_name}))
                .send()
        };
        let (a, b) = tokio::join!(send("Jean"), send("Luc"));
        let mut statuses = [
            a.expect("sent").status().as_u16(),
            b.expect("sent").status().as_u16(),
        ];
        statuses.sort_unstable();
        assert_eq!(statuses, [202, 409], "round {round}");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .expect("count");
        assert_eq!(
            count, 2,
            "round {round}: exactly the registration and the winner"
        );
    }
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_the_current_version() {
    let app = TestApp::spawn("stale").await;
    let id = app.register_customer("Martin").await;
    let path = format!("/api/v1/customers/{id}/contact-details");
    let (status, _) = app
        .put(
            &path,
            "customer_service",
            json!({"last_name": "Martin", "first_name": "Luc"}),
        )
        .await;
    assert_eq!(status, 202);
    let response = app
        .client
        .put(app.url(&path))
        .bearer_auth(app.token("customer_service"))
        .header("if-match", "\"1\"")
        .json(&json!({"last_name": "Martin", "first_name": "Théo"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 409);
    let problem: serde_json::Value = response.json().await.expect("problem");
    assert_eq!(problem["code"], "version_conflict");
    assert_eq!(problem["field"], "If-Match");
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn an_offer_accepted_twice_at_once_is_accepted_once() {
    let app = TestApp::spawn("accept2").await;
    let customer = app.register_customer("Martin").await;
    let (_, offer) = app
        .post(
            "/api/v1/offers",
            "sales",
            json!({"customer_id": customer, "product": "Vie", "monthly_premium": 1000}),
        )
        .await;
    let path = format!(
        "/api/v1/offers/{}/acceptance",
        offer["id"].as_str().expect("id")
    );
    let ((a, x), (b, y)) = tokio::join!(
        app.post(&path, "sales", json!({})),
        app.post(&path, "sales", json!({}))
    );
    let mut outcomes = [(a, x["code"].clone()), (b, y["code"].clone())];
    outcomes.sort_by_key(|o| o.0);
    assert_eq!(outcomes[0].0, 202);
    assert_eq!(outcomes[1].0, 409);
    assert!(
        ["offer_already_accepted", "concurrent_modification"]
            .contains(&outcomes[1].1.as_str().unwrap_or("")),
        "{:?}",
        outcomes[1]
    );
    // One acceptance in the store (the contract request it causes is the reactor's,
    // tested in tests/reactors.rs).
    let accepted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'OfferAccepted'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn the_application_role_cannot_update_delete_or_truncate_events() {
    let app = TestApp::spawn("appendonly").await;
    app.register_customer("Martin").await;
    let app_pool = app.db.app_pool().await;
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE contract_documents SET media_type = 'x'",
        "DELETE FROM contract_documents",
    ] {
        let err = sqlx::query(statement)
            .execute(&app_pool)
            .await
            .expect_err(statement);
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {err}");
    }
    // Even the owner is stopped by the trigger.
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn migrations_are_idempotent_and_the_database_is_created_when_missing() {
    let test_db = TestDb::new("prepare");
    db::prepare(&test_db.settings)
        .await
        .expect("first run creates and migrates");
    db::prepare(&test_db.settings)
        .await
        .expect("second run changes nothing");
    let pool = test_db.owner_pool().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .expect("migrations table");
    assert_eq!(applied, db::MIGRATOR.iter().count() as i64);
}

mod aggregate_cache {
    //! Two executors on one database stand for two API instances: each one's cached
    //! copy goes stale when the other appends, and no outcome may rest on it.

    use super::*;
    use chrono::{NaiveDate, Utc};
    use lae_domain::customer::CustomerCommand;
    use lae_domain::{CustomerId, Iban, MandateReference};
    use lae_store::{CommandExecutor, EventMetadata, Source};
    use uuid::Uuid;

    fn meta() -> EventMetadata {
        EventMetadata::new("test", "billing", Utc::now(), Uuid::new_v4(), Source::Cli)
    }

    fn change(first_name: &str) -> CustomerCommand {
        CustomerCommand::ChangeContactDetails {
            last_name: "Martin".parse().expect("name"),
            first_name: first_name.parse().expect("name"),
            email: None,
            phone: None,
            availability: Availability::default(),
        }
    }

    fn sign(iban: &str) -> CustomerCommand {
        CustomerCommand::SignMandate {
            iban: iban.parse::<Iban>().expect("iban"),
            mandate_reference: "RUM-1".parse::<MandateReference>().expect("rum"),
            signed_on: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
        }
    }

    async fn two_instances(
        app: &TestApp,
    ) -> (CommandExecutor<Customer>, CommandExecutor<Customer>, String) {
        let pool = app.db.app_pool().await;
        let a = CommandExecutor::<Customer>::new(EventRepository::new(pool.clone()), ());
        let b = CommandExecutor::<Customer>::new(EventRepository::new(pool), ());
        let id = CustomerId::new(Uuid::new_v4());
        let register = CustomerCommand::RegisterCustomer {
            customer_id: id,
            customer_number: "LAE-000042".parse().expect("number"),
            last_name: "Martin".parse().expect("name"),
            first_name: "Jean".parse().expect("name"),
            email: None,
            phone: None,
            availability: Availability::default(),
        };
        a.execute(&id.to_string(), register, &meta())
            .await
            .expect("registered");
        (a, b, id.to_string())
    }

    #[tokio::test]
    async fn a_stale_copy_that_loses_the_race_is_reloaded_not_refused() {
        let app = TestApp::spawn("cacherace").await;
        let (a, b, id) = two_instances(&app).await;
        b.execute(&id, change("Luc"), &meta())
            .await
            .expect("b appends version 2");
        // A still holds version 1: its append of version 2 hits the key, it reloads
        // and decides again on version 2.
        let committed = a
            .execute(&id, change("Théo"), &meta())
            .await
            .expect("a succeeds");
        assert_eq!(committed.version, 3);
        let (state, version) = a.load(&id).await.expect("load");
        assert_eq!(version, 3);
        assert_eq!(
            state.contact().expect("contact").first_name.as_str(),
            "Théo"
        );
    }

    #[tokio::test]
    async fn a_stale_copy_cannot_answer_nothing_to_do() {
        let app = TestApp::spawn("cachenoop").await;
        let (a, b, id) = two_instances(&app).await;
        // A's copy says the first name is Jean; B changes it to Luc.
        b.execute(&id, change("Luc"), &meta())
            .await
            .expect("b changes");
        // Setting Jean again is a no-op for A's copy, but not for the store.
        let committed = a
            .execute(&id, change("Jean"), &meta())
            .await
            .expect("a decides");
        assert_eq!(
            committed.events.len(),
            1,
            "the change back to Jean must be recorded"
        );
        assert_eq!(committed.version, 3);
    }

    #[tokio::test]
    async fn a_stale_copy_cannot_reject() {
        let app = TestApp::spawn("cachereject").await;
        let (a, b, id) = two_instances(&app).await;
        a.execute(&id, sign("FR7630006000011234567890189"), &meta())
            .await
            .expect("a signs");
        let revoke = CustomerCommand::RevokeMandate {
            revoked_on: NaiveDate::from_ymd_opt(2025, 2, 1).expect("date"),
            reason: None,
        };
        b.execute(&id, revoke, &meta()).await.expect("b revokes");
        // A's copy still has an active mandate and would refuse a new one.
        let committed = a
            .execute(&id, sign("FR1420041010050500013M02606"), &meta())
            .await
            .expect("the store has no active mandate: signing is allowed");
        assert_eq!(committed.version, 4);
    }
}

#[tokio::test]
async fn an_append_wakes_listeners_without_a_trigger() {
    let app = TestApp::spawn("notify").await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool)
        .await
        .expect("listener");
    listener
        .listen(lae_store::notify::EVENTS_CHANNEL)
        .await
        .expect("listen");
    app.register_customer("Martin").await;
    let notification = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification within 5 s")
        .expect("notification");
    assert_eq!(notification.channel(), lae_store::notify::EVENTS_CHANNEL);
}

/// The store's side of issue 8: what lands in `events`, what an aggregate load sees, and
/// what an erasure leaves.
mod sealed_fields {
    use super::*;
    use lae_domain::customer::CustomerCommand;
    use lae_store::crypto::erasure::shred;
    use lae_store::crypto::{KeyError, Keyring};
    use lae_store::{CommandError, CommandExecutor, EventMetadata, Source};

    fn meta() -> EventMetadata {
        EventMetadata::new(
            "test",
            "legal",
            chrono::Utc::now(),
            uuid::Uuid::new_v4(),
            Source::Cli,
        )
    }

    fn sealed(pool: sqlx::PgPool) -> EventRepository {
        EventRepository::new(pool).with_keyring(Keyring::all(common::test_master_keys()))
    }

    #[tokio::test]
    async fn payloads_are_sealed_loads_open_them_and_an_erasure_leaves_a_final_state() {
        let db = TestDb::new("sealed");
        db::prepare(&db.settings).await.expect("migrated");
        let app_pool = db.app_pool().await;
        let owner = db.owner_pool().await;
        let repository = sealed(app_pool.clone());
        let executor = CommandExecutor::<Customer>::new(repository.clone(), ());
        let id = uuid::Uuid::new_v4();
        let command = CustomerCommand::RegisterCustomer {
            customer_id: id.to_string().parse().expect("id"),
            customer_number: "LAE-000777".parse().expect("number"),
            last_name: "Scellé".parse().expect("name"),
            first_name: "Hortense".parse().expect("name"),
            email: Some("hortense.scellee@exemple.fr".parse().expect("email")),
            phone: None,
            availability: Availability::default(),
        };
        executor
            .execute(&id.to_string(), command, &meta())
            .await
            .expect("registered");

        let stored: String = sqlx::query_scalar("SELECT payload::text FROM events")
            .fetch_one(&owner)
            .await
            .expect("payload");
        assert!(!stored.contains("hortense"), "{stored}");
        assert!(!stored.contains("Scellé"), "{stored}");
        assert!(stored.contains("LAE-000777"), "ids stay in clear: {stored}");
        assert!(stored.contains("\"$sealed\""), "{stored}");

        // A fresh executor (no aggregate cache) opens the history, whether its keyring
        // holds the key already (it sealed the event) or starts empty.
        for repository in [repository.clone(), sealed(app_pool.clone())] {
            let fresh = CommandExecutor::<Customer>::new(repository, ());
            let (customer, version) = fresh.load(&id.to_string()).await.expect("loads");
            assert_eq!(version, 1);
            assert_eq!(
                customer.contact().expect("contact").last_name.to_string(),
                "Scellé"
            );
        }
        // A reader without the master key cannot: the payload is not a domain event.
        let blind = CommandExecutor::<Customer>::new(EventRepository::new(app_pool.clone()), ());
        assert!(blind.load(&id.to_string()).await.is_err());

        // Erase: the event, then the keys.
        executor
            .execute(
                &id.to_string(),
                CustomerCommand::EraseCustomer {
                    reason: "RGPD art. 17".parse().expect("reason"),
                },
                &meta(),
            )
            .await
            .expect("erased");
        let mut conn = app_pool.acquire().await.expect("conn");
        let shredded = shred(&mut conn, id, "RGPD art. 17", "test")
            .await
            .expect("shred");
        assert_eq!(shredded.categories, [lae_domain::DataCategory::Contact]);

        // The registration no longer opens: it is left out, the erasure stands alone.
        let after = CommandExecutor::<Customer>::new(sealed(app_pool.clone()), ());
        let (customer, version) = after.load(&id.to_string()).await.expect("loads");
        assert!(customer.is_erased());
        assert!(customer.contact().is_none());
        assert_eq!(version, 2);
        let refused = after
            .execute(
                &id.to_string(),
                CustomerCommand::ChangeContactDetails {
                    last_name: "Autre".parse().expect("name"),
                    first_name: "Nom".parse().expect("name"),
                    email: None,
                    phone: None,
                    availability: Availability::default(),
                },
                &meta(),
            )
            .await;
        assert!(
            matches!(
                refused,
                Err(CommandError::Rejected(
                    lae_domain::customer::CustomerError::Erased
                ))
            ),
            "{refused:?}"
        );
        // No key is ever created again for the subject.
        let keyring = Keyring::all(common::test_master_keys());
        let again = keyring
            .provision(&mut conn, [(id, lae_domain::DataCategory::Health)])
            .await;
        assert!(
            matches!(again, Err(KeyError::Erased(s)) if s == id),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_sealed_field_moved_to_another_customer_does_not_open() {
        let db = TestDb::new("moved");
        db::prepare(&db.settings).await.expect("migrated");
        let app_pool = db.app_pool().await;
        let owner = db.owner_pool().await;
        let executor = CommandExecutor::<Customer>::new(sealed(app_pool.clone()), ());
        let mut ids = Vec::new();
        for (n, name) in [(1, "Alpha"), (2, "Beta")] {
            let id = uuid::Uuid::new_v4();
            executor
                .execute(
                    &id.to_string(),
                    CustomerCommand::RegisterCustomer {
                        customer_id: id.to_string().parse().expect("id"),
                        customer_number: format!("LAE-00000{n}").parse().expect("number"),
                        last_name: name.parse().expect("name"),
                        first_name: "Test".parse().expect("name"),
                        email: None,
                        phone: None,
                        availability: Availability::default(),
                    },
                    &meta(),
                )
                .await
                .expect("registered");
            ids.push(id);
        }
        // A superuser copies A's sealed payload over B's, behind the trigger's back.
        sqlx::query("ALTER TABLE events DISABLE TRIGGER events_append_only")
            .execute(&owner)
            .await
            .expect("disable trigger");
        sqlx::query(
            "UPDATE events SET payload = (SELECT payload FROM events WHERE aggregate_id = $1)
              WHERE aggregate_id = $2",
        )
        .bind(ids[0].to_string())
        .bind(ids[1].to_string())
        .execute(&owner)
        .await
        .expect("swap");
        let fresh = CommandExecutor::<Customer>::new(sealed(app_pool), ());
        let loaded = fresh.load(&ids[1].to_string()).await;
        assert!(
            matches!(&loaded, Err(CommandError::Store(e)) if e.to_string().contains("altered or misplaced")),
            "{loaded:?}"
        );
    }
}
