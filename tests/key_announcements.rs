//! An erasure or a REVOKE takes effect at once in every process: the real `lae`
//! binary erases a customer while a running application holds that customer's keys in
//! its cache; within a second the application opens their fields as `[erased]`. A
//! REVOKE on a key table makes the running application's keyrings ask again which
//! categories they may read.
//!
//! Without the announcement the cache would keep the keys for five minutes
//! (`DEFAULT_CACHE_TTL`), so both tests fail if nothing is heard.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, lae_with};
use cqrs_es::persist::PersistedEventRepository;
use lae_domain::DataCategory;
use lae_domain::customer::Customer;
use uuid::Uuid;

/// The first name in the customer's registration, as this process's repository opens
/// it; `None` once the registration no longer loads (its fields read `[erased]`, so it
/// makes no domain event and the load leaves it out).
async fn registered_first_name(app: &TestApp, id: &str) -> Option<String> {
    let events = app
        .state
        .events
        .get_events::<Customer>(id)
        .await
        .expect("events load");
    let registered = events
        .iter()
        .find(|e| e.event_type == "CustomerRegistered")?;
    Some(
        registered.payload["first_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn an_erasure_by_another_process_closes_the_cached_keys_within_a_second() {
    let prefix = format!(
        "lae.test.{}.keys",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let announced = prefix.clone();
    let app = TestApp::spawn_configured("keysnews", false, move |s| {
        s.key_announcements.subject_prefix = announced;
    })
    .await;
    let id = app.register_customer("Annonce").await;
    let subject = Uuid::parse_str(&id).expect("uuid");
    let keyring = app.state.events.keyring().expect("keyring").clone();
    // Warm: this process sealed the registration and opens it from its cache.
    assert_eq!(
        registered_first_name(&app, &id).await.as_deref(),
        Some("Hélène")
    );
    assert!(keyring.holds(subject, DataCategory::Contact));
    // The listener subscribes in the background: give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let database = app.db.settings.database().to_owned();
    let (code, out, err) = lae_with(
        &database,
        &[
            "customers",
            "erase",
            &id,
            "--reason",
            "RGPD art. 17, demande n° 7",
        ],
        &[("LAE_KEYS_SUBJECT_PREFIX", prefix.as_str())],
    );
    assert_eq!(code, 0, "{out}{err}");
    let erased = Instant::now();
    loop {
        let first_name = registered_first_name(&app, &id).await;
        let closed = first_name
            .as_deref()
            .is_none_or(|name| name == lae_store::crypto::ERASED);
        if closed && !keyring.holds(subject, DataCategory::Contact) {
            break;
        }
        assert!(
            erased.elapsed() < Duration::from_secs(1),
            "a second after the erasure this process still opens the fields: {first_name:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_revoke_makes_running_keyrings_ask_again_within_a_second() {
    let app = TestApp::spawn("keysgrant").await;
    let id = app.register_customer("Revoque").await;
    assert_eq!(
        registered_first_name(&app, &id).await.as_deref(),
        Some("Hélène")
    );
    let keyring = app.state.events.keyring().expect("keyring").clone();
    assert!(
        keyring
            .known_readable()
            .is_some_and(|r| r.contains(&DataCategory::Health)),
        "the application role reads every category"
    );
    // The listener's LISTEN is set up in the background.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let owner = app.db.owner_pool().await;
    sqlx::query("REVOKE SELECT ON keys.health FROM lae_app")
        .execute(&owner)
        .await
        .expect("revoke");
    let revoked = Instant::now();
    while keyring.known_readable().is_some() {
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "a second after the REVOKE the keyring still trusts its old answer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The next load asks the database: health is withheld now, contact still opens.
    assert_eq!(
        registered_first_name(&app, &id).await.as_deref(),
        Some("Hélène")
    );
    let readable = keyring.known_readable().expect("asked again");
    assert!(!readable.contains(&DataCategory::Health), "{readable:?}");
    assert!(readable.contains(&DataCategory::Contact), "{readable:?}");
}
