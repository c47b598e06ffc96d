//! `apply` on its own: sequences decide what is new, what is a duplicate and what must
//! wait; management counts each global position once.

mod support;

use chrono::Utc;
use lae_domain::customer::CustomerEvent;
use lae_projections::{Decoder, Department, Envelope, Verdict, apply};
use support::TestDb;
use support::scenario::{p, registered};
use uuid::Uuid;

fn envelope(id: Uuid, sequence: i64, position: i64, event: &CustomerEvent) -> Envelope {
    let payload = serde_json::to_value(event).expect("payload");
    Envelope {
        event_id: Uuid::new_v4(),
        aggregate_type: "Customer".into(),
        aggregate_id: id.to_string(),
        sequence,
        event_type: payload["type"].as_str().expect("tag").to_owned(),
        event_version: "1.0".into(),
        global_position: position,
        recorded_at: Utc::now(),
        payload: payload.to_string(),
        actor: None,
    }
}

async fn apply_as_writer(
    db: &TestDb,
    department: Department,
    envelopes: &[Envelope],
) -> Vec<Verdict> {
    let pool = db.writer_pool(department);
    let mut tx = pool.begin().await.expect("begin");
    let verdicts = apply(
        &mut tx,
        &Decoder::new(department),
        department.schema(),
        envelopes,
    )
    .await
    .expect("apply");
    tx.commit().await.expect("commit");
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_decide_new_duplicate_and_held_back() {
    let db = TestDb::new().await;
    let id = Uuid::new_v4();
    let first = envelope(
        id,
        1,
        1,
        &registered(9_000_001, "Durand", "Paul", "paul@exemple.fr", "0611223344"),
    );
    let second = envelope(
        id,
        2,
        2,
        &CustomerEvent::ContactDetailsChanged {
            last_name: p("Durand"),
            first_name: p("Paul"),
            email: None,
            phone: None,
            availability: p("matin"),
        },
    );
    let third = envelope(
        id,
        3,
        3,
        &CustomerEvent::SalesProfileSet {
            age_band: None,
            profession: None,
            sex: lae_domain::Sex::Male,
        },
    );

    // The second event before the first: held back, nothing written.
    assert_eq!(
        apply_as_writer(&db, Department::Sales, std::slice::from_ref(&second)).await,
        [Verdict::Gap]
    );
    let mut owner = db.owner().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sales.customers")
        .fetch_one(&mut owner)
        .await
        .expect("count");
    assert_eq!(rows, 0);

    // Delivered in order, with a redelivery of the first in the same batch.
    assert_eq!(
        apply_as_writer(
            &db,
            Department::Sales,
            &[first.clone(), first.clone(), second.clone()]
        )
        .await,
        [Verdict::Applied, Verdict::Duplicate, Verdict::Applied]
    );
    assert_eq!(
        apply_as_writer(&db, Department::Sales, &[second.clone(), third.clone()]).await,
        [Verdict::Duplicate, Verdict::Applied]
    );
    let (email, version): (Option<String>, i64) =
        sqlx::query_as("SELECT email, version FROM sales.customers WHERE customer_id = $1")
            .bind(id)
            .fetch_one(&mut owner)
            .await
            .expect("row");
    assert_eq!(email, None);
    assert_eq!(
        version, 2,
        "the contact card's version is its last contact event"
    );

    // Customer service follows the same aggregate without reading the profile payload,
    // and still needs every sequence.
    assert_eq!(
        apply_as_writer(
            &db,
            Department::CustomerService,
            &[first.clone(), third.clone()]
        )
        .await,
        [Verdict::Applied, Verdict::Gap]
    );
    let last: i64 = sqlx::query_scalar(
        "SELECT last_sequence FROM customer_service.applied WHERE aggregate_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&mut owner)
    .await
    .expect("bookkeeping");
    assert_eq!(last, 1);

    // An undecodable payload is held back and does not advance the sequence.
    let mut broken = second.clone();
    broken.payload = r#"{"type":"ContactDetailsChanged","last_name":""}"#.into();
    assert_eq!(
        apply_as_writer(&db, Department::CustomerService, &[broken]).await,
        [Verdict::Undecodable]
    );
    assert_eq!(
        apply_as_writer(&db, Department::CustomerService, &[second, third]).await,
        [Verdict::Applied, Verdict::Applied]
    );

    // Management counts each position once, in any order.
    assert_eq!(
        apply_as_writer(&db, Department::Management, &[first.clone(), first.clone()]).await,
        [Verdict::Applied, Verdict::Duplicate]
    );
    assert_eq!(
        apply_as_writer(&db, Department::Management, &[first]).await,
        [Verdict::Duplicate]
    );
    let counted: i64 = sqlx::query_scalar(
        "SELECT count FROM management.counters WHERE event_type = 'CustomerRegistered'",
    )
    .fetch_one(&mut owner)
    .await
    .expect("counter");
    assert_eq!(counted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_bookkeeping_gives_the_same_verdicts_and_rows_as_live() {
    let db = TestDb::new().await;
    let mut owner = db.owner().await;
    sqlx::query("SELECT lae_read_model_clone('legal', 'legal__rebuild'), lae_read_model_grant('legal', 'legal__rebuild')")
        .execute(&mut owner)
        .await
        .expect("copy");
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let mut envelopes = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let n = u32::try_from(i).expect("small");
        envelopes.push(envelope(
            *id,
            1,
            i64::from(n) * 2 + 1,
            &registered(9_100_000 + n, "Roux", "Eva", "eva@exemple.fr", "0611223344"),
        ));
        envelopes.push(envelope(
            *id,
            2,
            i64::from(n) * 2 + 2,
            &CustomerEvent::HealthDeclared {
                tobacco: lae_domain::TobaccoUse::NonSmoker,
                alcohol: lae_domain::AlcoholUse::None,
                illnesses: vec![],
                declared_on: support::scenario::day(n),
            },
        ));
    }
    let pool = db.writer_pool(Department::Legal);
    let decoder = Decoder::new(Department::Legal);
    // Flushed after every aggregate: later batches must read sequences back.
    let mut replay = lae_projections::Replay::new(1);
    let mut verdicts = Vec::new();
    for pair in envelopes.chunks(2) {
        let mut tx = pool.begin().await.expect("begin");
        verdicts.extend(
            lae_projections::apply_replay(&mut tx, &decoder, "legal__rebuild", pair, &mut replay)
                .await
                .expect("replay"),
        );
        tx.commit().await.expect("commit");
    }
    // A redelivery after the flushes is recognised from the table.
    let mut tx = pool.begin().await.expect("begin");
    verdicts.extend(
        lae_projections::apply_replay(
            &mut tx,
            &decoder,
            "legal__rebuild",
            &envelopes[..1],
            &mut replay,
        )
        .await
        .expect("replay"),
    );
    replay
        .flush(&mut tx, "legal__rebuild")
        .await
        .expect("flush");
    tx.commit().await.expect("commit");
    assert_eq!(
        verdicts.iter().filter(|v| **v == Verdict::Applied).count(),
        6
    );
    assert_eq!(verdicts.last(), Some(&Verdict::Duplicate));

    // The same events through the live path.
    assert!(
        apply_as_writer(&db, Department::Legal, &envelopes)
            .await
            .iter()
            .all(|v| *v == Verdict::Applied)
    );
    let live = support::snapshot(&mut owner, "legal").await;
    let replayed = support::snapshot(&mut owner, "legal__rebuild").await;
    assert_eq!(live, replayed);
}
