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
        PersistedEventStore::new_event_store(EventRepository::new(app.db.app_pool().await));

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
