//! A customer's timeline: newest first, across aggregates, with actors and changed
//! fields; health values masked unless the caller may see them.

mod common;

use common::{Platform, TestDb};
use lae_audit::diff::MASKED;
use lae_audit::{AccessKind, TimelineEntry, TimelineQuery};
use lae_domain::TobaccoUse;
use serde_json::json;

fn find<'a>(entries: &'a [TimelineEntry], event_type: &str) -> &'a TimelineEntry {
    entries
        .iter()
        .find(|e| e.event_type == event_type)
        .unwrap_or_else(|| panic!("no {event_type}"))
}

#[tokio::test]
async fn the_timeline_shows_who_changed_what_newest_first() {
    let (db, _guard) = TestDb::new().await;
    let platform = Platform::new(&db);
    let alice = platform.register("Martin", "alice@exemple.fr").await;
    let bob = platform.register("Durand", "bob@exemple.fr").await;
    platform
        .change_email(&alice, "Martin", "alice.martin@exemple.fr")
        .await;
    platform.declare_health(&alice, TobaccoUse::Smoker).await;
    let offer = platform.propose_offer(&alice).await;
    platform.propose_offer(&bob).await;
    // Sealed so far: these links come from the subject index; the rest from the part
    // of the store the sealer has not reached.
    db.seal_all().await;
    platform.accept_offer(&offer).await;
    platform.declare_health(&alice, TobaccoUse::NonSmoker).await;
    platform.sign_mandate(&alice).await;
    let ticket = platform.open_ticket(&alice).await;

    let mut query = TimelineQuery::first_page(alice.clone());
    query.limit = 100;
    let page = lae_audit::timeline(&db.auditor, &query, None)
        .await
        .expect("timeline");
    let types: Vec<&str> = page.entries.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "TicketOpened",
            "MandateSigned",
            "HealthDeclared",
            "OfferAccepted",
            "OfferProposed",
            "HealthDeclared",
            "ContactDetailsChanged",
            "CustomerRegistered"
        ]
    );
    assert!(page.entries.windows(2).all(
        |w| (w[0].recorded_at, w[0].global_position) > (w[1].recorded_at, w[1].global_position)
    ));
    assert!(
        page.entries.iter().all(|e| e.aggregate_id == alice
            || e.aggregate_id == offer
            || e.aggregate_id == ticket)
    );
    assert!(page.next.is_none());

    // Who, from where, why.
    let health = find(&page.entries, "HealthDeclared");
    assert_eq!(health.actor.user.as_deref(), Some("louis"));
    assert_eq!(health.actor.department.as_deref(), Some("legal"));
    assert_eq!(health.source.as_deref(), Some("api"));
    assert!(health.correlation_id.is_some() && health.occurred_at.is_some());

    // Only what changed, previous → new.
    let changed = find(&page.entries, "ContactDetailsChanged");
    assert_eq!(changed.changes.len(), 1, "{:?}", changed.changes);
    assert_eq!(changed.changes[0].field, "email");
    assert_eq!(changed.changes[0].previous, Some(json!("alice@exemple.fr")));
    assert_eq!(changed.changes[0].new, json!("alice.martin@exemple.fr"));
    let accepted = find(&page.entries, "OfferAccepted");
    assert!(
        accepted
            .changes
            .iter()
            .any(|c| c.field == "accepted_on" && c.previous.is_none())
    );
    assert!(
        !accepted.changes.iter().any(|c| c.field == "customer_id"),
        "unchanged fields are not changes"
    );

    // Health masked by default, both ways; the IBAN is shown and said to be.
    let tobacco = health
        .changes
        .iter()
        .find(|c| c.field == "tobacco")
        .expect("tobacco changed");
    assert_eq!(tobacco.previous, Some(json!(MASKED)));
    assert_eq!(tobacco.new, json!(MASKED));
    assert_eq!(page.revealed, vec![AccessKind::Iban]);
    let mandate = find(&page.entries, "MandateSigned");
    assert!(
        mandate
            .changes
            .iter()
            .any(|c| c.field == "iban" && c.new != json!(MASKED))
    );

    query.include_health = true;
    let page = lae_audit::timeline(&db.auditor, &query, None)
        .await
        .expect("timeline");
    let health = find(&page.entries, "HealthDeclared");
    let tobacco = health
        .changes
        .iter()
        .find(|c| c.field == "tobacco")
        .expect("tobacco changed");
    assert_eq!(tobacco.previous, Some(json!("smoker")));
    assert_eq!(tobacco.new, json!("non_smoker"));
    assert_eq!(page.revealed, vec![AccessKind::Health, AccessKind::Iban]);

    // Pages of three, following the cursor (also as text, as in a URL), cover the same
    // entries without overlap.
    let mut paged = Vec::new();
    let mut next = None;
    loop {
        let query = TimelineQuery {
            before: next,
            limit: 3,
            ..TimelineQuery::first_page(alice.clone())
        };
        let page = lae_audit::timeline(&db.auditor, &query, None)
            .await
            .expect("timeline");
        assert!(page.entries.len() <= 3);
        paged.extend(page.entries.iter().map(|e| e.event_id));
        match page.next {
            Some(cursor) => next = Some(cursor.to_string().parse().expect("cursor round trip")),
            None => break,
        }
    }
    let all: Vec<_> = lae_audit::timeline(
        &db.auditor,
        &TimelineQuery {
            limit: 100,
            ..TimelineQuery::first_page(alice.clone())
        },
        None,
    )
    .await
    .expect("timeline")
    .entries
    .iter()
    .map(|e| e.event_id)
    .collect();
    assert_eq!(paged, all);
}
