//! An aggregate's state at a past time or version is the state it had then.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{Platform, TestDb};
use lae_audit::{At, AuditError, Redaction};
use lae_domain::TobaccoUse;
use lae_domain::customer::Customer;

#[tokio::test]
async fn the_state_at_a_time_is_what_was_read_at_that_time() {
    let (db, _guard) = TestDb::new().await;
    let platform = Platform::new(&db);
    let before_anything = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let customer = platform.register("Martin", "alice@exemple.fr").await;
    let (registered, _) = platform.customers.load(&customer).await.expect("load");
    platform
        .change_email(&customer, "Martin", "alice.martin@exemple.fr")
        .await;

    // What anyone reading the customer right now sees, and when.
    let (captured, captured_version) = platform.customers.load(&customer).await.expect("load");
    let at = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;

    platform
        .change_email(&customer, "Martin-Durand", "alice.md@exemple.fr")
        .await;
    platform.declare_health(&customer, TobaccoUse::Smoker).await;
    platform.sign_mandate(&customer).await;
    let (now, now_version) = platform.customers.load(&customer).await.expect("load");
    assert_ne!(now, captured);

    let then = lae_audit::state_at::<Customer>(&db.auditor, &customer, At::Time(at), None)
        .await
        .expect("state at")
        .expect("existed then");
    assert_eq!(then.state, captured);
    assert_eq!(then.version, captured_version);
    // Events written in clear (before encryption) pass through: nothing is redacted.
    assert_eq!(then.redaction, Redaction::default());

    let first = lae_audit::state_at::<Customer>(&db.auditor, &customer, At::Version(1), None)
        .await
        .expect("state at")
        .expect("existed");
    assert_eq!((first.state, first.version), (registered, 1));

    let latest =
        lae_audit::state_at::<Customer>(&db.auditor, &customer, At::Version(usize::MAX), None)
            .await
            .expect("state at")
            .expect("exists");
    assert_eq!((latest.state, latest.version), (now, now_version));

    let nothing_yet =
        lae_audit::state_at::<Customer>(&db.auditor, &customer, At::Time(before_anything), None)
            .await
            .expect("state at");
    assert_eq!(nothing_yet, None);

    // The type-erased form the API serves.
    let erased = lae_audit::state_at_json(&db.auditor, "Customer", &customer, At::Time(at), None)
        .await
        .expect("state at")
        .expect("existed then");
    assert_eq!(erased.version, captured_version);
    assert_eq!(erased.state, serde_json::to_value(&captured).expect("json"));
    let unknown =
        lae_audit::state_at_json(&db.auditor, "Spaceship", &customer, At::Version(1), None).await;
    assert!(matches!(unknown, Err(AuditError::UnknownAggregateType(_))));
}
