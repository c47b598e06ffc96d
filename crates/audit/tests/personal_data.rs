//! Personal fields sealed in the store (issue 8): auditors read them opened, and
//! `[erased]` once the customer's keys are destroyed; the seals, the export and the
//! backup keep the stored, sealed form; a backup carries the wrapped data keys, never
//! a clear value nor the master key, and a restored store opens its events again.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use common::{DropGuard, Platform, TestDb, key, masters, new_name, settings_for};
use lae_audit::diff::MASKED;
use lae_audit::{
    AccessKind, At, ERASED, MasterKeys, ProblemKind, TimelineEntry, TimelinePage, TimelineQuery,
    UNREADABLE, WITHHELD,
};
use lae_domain::TobaccoUse;
use lae_domain::customer::Customer;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

/// What the scenarios plant, and what no backup may show in clear.
const EMAIL: &str = "planted.secret@exemple.fr";
const PHONE: &str = "+33612345678";
const ILLNESS: &str = "Asthme";
const IBAN: &str = "FR7630006000011234567890189";
const IBAN_PRINTED: &str = "FR76 3000 6000 0112 3456 7890 189";

fn find<'a>(entries: &'a [TimelineEntry], event_type: &str) -> &'a TimelineEntry {
    entries
        .iter()
        .find(|e| e.event_type == event_type)
        .unwrap_or_else(|| panic!("no {event_type}"))
}

/// The value an entry's change gives `field`, and the one it had before.
fn change(entry: &TimelineEntry, field: &str) -> (Option<Value>, Value) {
    let found = entry
        .changes
        .iter()
        .find(|c| c.field == field)
        .unwrap_or_else(|| panic!("{} does not change {field}", entry.event_type));
    (found.previous.clone(), found.new.clone())
}

async fn timeline_of(
    pool: &PgPool,
    customer: &str,
    include_health: bool,
    masters: Option<&Arc<MasterKeys>>,
) -> TimelinePage {
    let query = TimelineQuery {
        limit: 100,
        include_health,
        ..TimelineQuery::first_page(customer)
    };
    lae_audit::timeline(pool, &query, masters)
        .await
        .expect("timeline")
}

/// The stored payload text of one customer event.
async fn stored_payload(db: &TestDb, customer: &str, sequence: i64) -> String {
    sqlx::query_scalar(
        "SELECT payload::text FROM events
          WHERE aggregate_type = 'Customer' AND aggregate_id = $1 AND sequence = $2",
    )
    .bind(customer)
    .bind(sequence)
    .fetch_one(&db.owner)
    .await
    .expect("stored payload")
}

/// A customer with contact details, two health declarations and a mandate, written
/// sealed; returns their id.
async fn sealed_customer(platform: &Platform) -> String {
    let customer = platform.register("Martin", EMAIL).await;
    platform
        .change_email(&customer, "Martin", "second.secret@exemple.fr")
        .await;
    platform.declare_health(&customer, TobaccoUse::Smoker).await;
    platform
        .declare_health(&customer, TobaccoUse::NonSmoker)
        .await;
    platform.sign_mandate(&customer).await;
    customer
}

#[tokio::test]
async fn the_timeline_opens_sealed_fields_and_shows_erased_ones_after_an_erasure() {
    let (db, _guard) = TestDb::new().await;
    let masters = masters();
    let platform = Platform::sealed(&db, Arc::clone(&masters));
    let alice = sealed_customer(&platform).await;
    let offer = platform.propose_offer(&alice).await;
    platform.open_ticket(&alice).await;
    db.seal_all().await;

    // Stored sealed: no clear value in the store.
    let registered = stored_payload(&db, &alice, 1).await;
    assert!(registered.contains("$sealed"), "{registered}");
    assert!(!registered.contains(EMAIL) && !registered.contains(PHONE));

    // Opened with the master key: the same timeline as for clear events.
    let page = timeline_of(&db.auditor, &alice, false, Some(&masters)).await;
    assert!(page.entries.iter().all(|e| !e.redacted));
    let changed = find(&page.entries, "ContactDetailsChanged");
    assert_eq!(changed.changes.len(), 1, "{:?}", changed.changes);
    assert_eq!(
        change(changed, "email"),
        (Some(json!(EMAIL)), json!("second.secret@exemple.fr"))
    );
    assert_eq!(
        change(find(&page.entries, "CustomerRegistered"), "phone").1,
        json!(PHONE)
    );
    // Health masked unless revealed; the IBAN shown and said to be.
    let health = find(&page.entries, "HealthDeclared");
    assert_eq!(
        change(health, "tobacco"),
        (Some(json!(MASKED)), json!(MASKED))
    );
    assert_eq!(
        change(find(&page.entries, "MandateSigned"), "iban").1,
        json!(IBAN)
    );
    assert_eq!(page.revealed, vec![AccessKind::Iban]);
    assert!(
        page.entries
            .iter()
            .any(|e| e.aggregate_id == offer && e.event_type == "OfferProposed")
    );
    let ticket = find(&page.entries, "TicketOpened");
    assert_eq!(
        change(ticket, "reason").1,
        json!("Question sur le prélèvement")
    );

    let page = timeline_of(&db.auditor, &alice, true, Some(&masters)).await;
    let health = find(&page.entries, "HealthDeclared");
    assert_eq!(
        change(health, "tobacco"),
        (Some(json!("smoker")), json!("non_smoker"))
    );
    let first_declaration = page
        .entries
        .iter()
        .rfind(|e| e.event_type == "HealthDeclared")
        .expect("first declaration");
    assert_eq!(change(first_declaration, "illnesses").1, json!([ILLNESS]));
    assert_eq!(page.revealed, vec![AccessKind::Health, AccessKind::Iban]);

    // Without the master key, sealed fields are withheld, and nothing is revealed.
    let page = timeline_of(&db.auditor, &alice, true, None).await;
    let registered = find(&page.entries, "CustomerRegistered");
    assert!(registered.redacted);
    assert_eq!(change(registered, "email").1, json!(WITHHELD));
    assert!(page.revealed.is_empty(), "{:?}", page.revealed);

    // Erased: the keys are gone, the events stay; every personal field reads
    // `[erased]`, health included, and an erased value reveals nothing.
    platform.erase(&db, &alice).await;
    let page = timeline_of(&db.auditor, &alice, false, Some(&masters)).await;
    assert_eq!(page.entries.len(), 8, "every event is still there");
    let erased = &page.entries[0];
    assert_eq!(erased.event_type, "CustomerErased");
    assert!(
        !erased.redacted,
        "the erasure itself carries nothing personal"
    );
    let registered = find(&page.entries, "CustomerRegistered");
    assert!(registered.redacted);
    assert_eq!(change(registered, "email"), (None, json!(ERASED)));
    assert_eq!(change(registered, "phone"), (None, json!(ERASED)));
    // The change of e-mail is still listed where it was written, values unknown.
    let changed = find(&page.entries, "ContactDetailsChanged");
    assert_eq!(
        change(changed, "email"),
        (Some(json!(ERASED)), json!(ERASED))
    );
    let health = find(&page.entries, "HealthDeclared");
    assert_eq!(
        change(health, "tobacco"),
        (Some(json!(ERASED)), json!(ERASED))
    );
    assert_eq!(
        change(find(&page.entries, "MandateSigned"), "iban").1,
        json!(ERASED)
    );
    assert_eq!(
        change(find(&page.entries, "TicketOpened"), "reason").1,
        json!(ERASED)
    );
    let page = timeline_of(&db.auditor, &alice, true, Some(&masters)).await;
    assert!(page.revealed.is_empty(), "{:?}", page.revealed);
    let text = serde_json::to_string(&page).expect("json");
    for planted in [EMAIL, PHONE, ILLNESS, IBAN] {
        assert!(!text.contains(planted), "{planted} after the erasure");
    }
}

/// Runs `statement` (with `payload` as `$1`) as the owner with every trigger off: what an administrator with
/// full rights could do.
async fn tamper(db: &TestDb, statement: &str, payload: &str) {
    let mut conn = db.owner.acquire().await.expect("owner connection");
    let conn: &mut PgConnection = &mut conn;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("bypass triggers");
    sqlx::query(statement)
        .bind(payload)
        .execute(&mut *conn)
        .await
        .expect("tamper");
    sqlx::query("RESET session_replication_role")
        .execute(&mut *conn)
        .await
        .expect("reset");
}

#[tokio::test]
async fn an_erasure_verifies_clean_and_an_edited_sealed_payload_does_not() {
    let (db, _guard) = TestDb::new().await;
    let masters = masters();
    let platform = Platform::sealed(&db, Arc::clone(&masters));
    let alice = sealed_customer(&platform).await;
    let bob = platform.register("Durand", "bob@exemple.fr").await;
    platform
        .change_email(&bob, "Durand", "b.durand@exemple.fr")
        .await;
    db.seal_all().await;

    // Erased after sealing: keys are destroyed, events untouched, seals still hold.
    platform.erase(&db, &alice).await;
    db.seal_all().await;
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.events, 8);

    // Bob's sealed contact details of his registration copied into his later change:
    // valid ciphertext, same customer, same key, but another event type.
    let registration: Value =
        serde_json::from_str(&stored_payload(&db, &bob, 1).await).expect("json");
    let stored = stored_payload(&db, &bob, 2).await;
    let mut payload: Value = serde_json::from_str(&stored).expect("json");
    assert_eq!(
        payload["$sealed"]["contact"]["fields"],
        registration["$sealed"]["contact"]["fields"]
    );
    payload["$sealed"]["contact"] = registration["$sealed"]["contact"].clone();
    tamper(
        &db,
        &format!(
            "UPDATE events SET payload = $1::json
              WHERE aggregate_type = 'Customer' AND aggregate_id = '{bob}' AND sequence = 2"
        ),
        &payload.to_string(),
    )
    .await;
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(
        report
            .of_kind(ProblemKind::EventAltered)
            .any(|p| { p.aggregate_id.as_deref() == Some(bob.as_str()) && p.sequence == Some(2) }),
        "{:#?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.aggregate_id.as_deref() == Some(bob.as_str())),
        "nothing is blamed on the erased customer: {:#?}",
        report.problems
    );

    // The timeline still reads: the moved fields say so, the other events open.
    let page = timeline_of(&db.auditor, &bob, false, Some(&masters)).await;
    let changed = find(&page.entries, "ContactDetailsChanged");
    assert!(changed.redacted);
    assert_eq!(change(changed, "email").1, json!(UNREADABLE));
    let registered = find(&page.entries, "CustomerRegistered");
    assert_eq!(change(registered, "email").1, json!("bob@exemple.fr"));
}

/// The backup file's content, uncompressed.
fn content_of(file: &Path) -> String {
    let mut content = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(file).expect("open"))
        .read_to_string(&mut content)
        .expect("gunzip");
    content
}

/// The data key lines of a backup.
fn key_lines(content: &str) -> Vec<Value> {
    content
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("wrapped").is_some())
        .collect()
}

async fn wrapped_keys(pool: &PgPool) -> Vec<(String, String, String, Vec<u8>)> {
    sqlx::query_as(
        "SELECT 'contact', subject_id::text, master_key_id, wrapped FROM keys.contact
         UNION ALL SELECT 'health', subject_id::text, master_key_id, wrapped FROM keys.health
         UNION ALL SELECT 'bank', subject_id::text, master_key_id, wrapped FROM keys.bank
         UNION ALL SELECT 'profile', subject_id::text, master_key_id, wrapped FROM keys.profile
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .expect("keys")
}

#[tokio::test]
async fn a_backup_holds_wrapped_keys_and_no_clear_value_and_restores_readable() {
    use base64::Engine;

    let (source, _source_guard) = TestDb::new().await;
    let masters = masters();
    let platform = Platform::sealed(&source, Arc::clone(&masters));
    let alice = sealed_customer(&platform).await;
    let bob = platform.register("Durand", "bob@exemple.fr").await;
    platform.open_ticket(&alice).await;
    source.seal_all().await;
    let dir = std::env::temp_dir().join(new_name());
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Before any erasure: every key, wrapped, and no planted value in clear.
    let before = dir.join("before.backup.gz");
    let backup = lae_audit::backup(&source.settings, &before)
        .await
        .expect("backup");
    let content = content_of(&before);
    for planted in [EMAIL, PHONE, ILLNESS, IBAN, IBAN_PRINTED] {
        assert!(
            !content.contains(planted),
            "{planted} in clear in the backup"
        );
    }
    let keys = wrapped_keys(&source.owner).await;
    assert_eq!(
        keys.len(),
        4,
        "contact, health, bank of alice; contact of bob"
    );
    assert_eq!(backup.counts.data_keys, 4);
    for (category, subject, master_key_id, wrapped) in &keys {
        assert_eq!(master_key_id, masters.current().id());
        let encoded = base64::engine::general_purpose::STANDARD.encode(wrapped);
        assert!(
            key_lines(&content)
                .iter()
                .any(|line| line["category"] == *category
                    && line["subject_id"] == *subject
                    && line["wrapped"] == encoded),
            "the {category} key of {subject} is not in the backup"
        );
    }
    let header: Value =
        serde_json::from_str(content.lines().next().expect("header")).expect("header json");
    assert_eq!(header["version"], json!(2));
    assert_eq!(header["master_key_ids"], json!([masters.current().id()]));
    assert!(
        !content.contains(&"42".repeat(32)),
        "the master key is never in the file"
    );

    // Restored into a fresh database, the same master key opens the history again.
    let target_settings = settings_for(&new_name());
    let _target_guard = DropGuard(target_settings.clone());
    let restored = lae_audit::restore(&target_settings, &before, &key())
        .await
        .expect("restore");
    assert!(restored.ok(), "{:#?}", restored.verify.problems);
    assert_eq!(restored.restored, backup.counts);
    let target = TestDb::connect(target_settings).await;
    assert_eq!(wrapped_keys(&target.owner).await, keys);
    let page = timeline_of(&target.auditor, &alice, true, Some(&masters)).await;
    assert!(page.entries.iter().all(|e| !e.redacted));
    assert_eq!(
        change(find(&page.entries, "CustomerRegistered"), "email").1,
        json!(EMAIL)
    );
    assert_eq!(
        change(find(&page.entries, "MandateSigned"), "iban").1,
        json!(IBAN)
    );
    let first_declaration = page
        .entries
        .iter()
        .rfind(|e| e.event_type == "HealthDeclared")
        .expect("declaration");
    assert_eq!(change(first_declaration, "illnesses").1, json!([ILLNESS]));

    // After an erasure, a new backup has no key of the erased customer, and records
    // the erasure: restored, the customer reads erased.
    platform.erase(&source, &alice).await;
    let after = dir.join("after.backup.gz");
    let backup = lae_audit::backup(&source.settings, &after)
        .await
        .expect("backup");
    let content = content_of(&after);
    assert_eq!(backup.counts.data_keys, 1);
    assert_eq!(backup.counts.erased_subjects, 1);
    let lines = key_lines(&content);
    assert!(lines.iter().all(|line| line["subject_id"] != json!(alice)));
    assert!(lines.iter().any(|line| line["subject_id"] == json!(bob)));
    assert!(
        content
            .lines()
            .any(|line| line.contains(&alice) && line.contains("erased_at_us"))
    );
    let erased_settings = settings_for(&new_name());
    let _erased_guard = DropGuard(erased_settings.clone());
    let restored = lae_audit::restore(&erased_settings, &after, &key())
        .await
        .expect("restore");
    assert!(restored.ok(), "{:#?}", restored.verify.problems);
    let erased_target = TestDb::connect(erased_settings).await;
    let page = timeline_of(&erased_target.auditor, &alice, true, Some(&masters)).await;
    assert_eq!(
        change(find(&page.entries, "CustomerRegistered"), "email").1,
        json!(ERASED)
    );
    let page = timeline_of(&erased_target.auditor, &bob, false, Some(&masters)).await;
    assert_eq!(
        change(find(&page.entries, "CustomerRegistered"), "email").1,
        json!("bob@exemple.fr")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_state_of_an_erased_customer_is_redacted_not_an_error() {
    let (db, _guard) = TestDb::new().await;
    let masters = masters();
    let platform = Platform::sealed(&db, Arc::clone(&masters));
    let alice = sealed_customer(&platform).await;

    // Before the erasure, opened: the state the platform itself loads.
    let (loaded, version) = platform.customers.load(&alice).await.expect("load");
    let state = lae_audit::state_at::<Customer>(
        &db.auditor,
        &alice,
        At::Version(usize::MAX),
        Some(&masters),
    )
    .await
    .expect("state at")
    .expect("exists");
    assert_eq!((&state.state, state.version), (&loaded, version));
    assert!(!state.redaction.redacted, "{:?}", state.redaction);

    // Without the master key: what cannot be read is skipped and said to be.
    let withheld =
        lae_audit::state_at::<Customer>(&db.auditor, &alice, At::Version(usize::MAX), None)
            .await
            .expect("state at")
            .expect("exists");
    assert!(withheld.redaction.redacted && withheld.redaction.withheld);
    assert!(!withheld.redaction.skipped.is_empty());
    assert_eq!(withheld.version, version);

    platform.erase(&db, &alice).await;
    let (loaded, version) = platform.customers.load(&alice).await.expect("load");
    let state = lae_audit::state_at::<Customer>(
        &db.auditor,
        &alice,
        At::Version(usize::MAX),
        Some(&masters),
    )
    .await
    .expect("an erased customer's state is not an error")
    .expect("exists");
    assert_eq!((&state.state, state.version), (&loaded, version));
    assert!(state.redaction.redacted && state.redaction.erased);
    assert_eq!(state.redaction.skipped, vec![1, 2, 3, 4, 5]);

    // Before the erasure's event, but read after it: redacted too.
    let earlier = lae_audit::state_at_json(
        &db.auditor,
        "Customer",
        &alice,
        At::Version(2),
        Some(&masters),
    )
    .await
    .expect("state at")
    .expect("existed");
    assert_eq!(earlier.version, 2);
    let json = serde_json::to_value(&earlier).expect("json");
    assert_eq!(json["redacted"], json!(true));
    assert_eq!(json["erased"], json!(true));
    assert_eq!(json["skipped"], json!([1, 2]));
    assert!(!json.to_string().contains(EMAIL));
}
