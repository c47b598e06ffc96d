//! The reactors against the real PostgreSQL, NATS and `lae` binary: an accepted offer
//! leaves no contract request while the reactors are off and exactly one once `lae
//! reactors` runs; two instances killed with SIGKILL in a loop request each of 500
//! contracts once; signed and terminated contracts and rejected payments reach the
//! sales inbox as notices.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::consumer::pull::Config as PullConfig;
use base64::Engine as _;
use common::TestApp;
use common::web::eventually;
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const NATS: &str = "nats://127.0.0.1:4222";

/// A `lae reactors` process on the test's database and stream.
fn lae_reactors(app: &TestApp, consumer_prefix: &str) -> Child {
    respawn(
        app.db.settings.database(),
        app.stream.as_deref(),
        app.subjects.as_deref(),
        consumer_prefix,
    )
}

async fn count(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// Waits until every event of the store is on the test's stream.
async fn relayed(app: &TestApp) {
    let js = jetstream::new(async_nats::connect(NATS).await.expect("nats"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // The relay creates the stream when it starts: until then nothing is relayed.
        if let Ok(mut stream) = js
            .get_stream(app.stream.as_deref().expect("pipeline"))
            .await
        {
            let on_stream = stream.info().await.expect("stream info").state.messages;
            if i64::try_from(on_stream).expect("count") >= app.event_count().await {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the relay did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the reactor's consumer has nothing left to deliver or to be acked.
async fn drained(app: &TestApp, consumer: &str) {
    let js = jetstream::new(async_nats::connect(NATS).await.expect("nats"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stream = js
            .get_stream(app.stream.as_deref().expect("pipeline"))
            .await
            .expect("stream");
        if let Ok(mut found) = stream.get_consumer::<PullConfig>(consumer).await {
            let info = found.info().await.expect("consumer info").clone();
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                eprintln!(
                    "{consumer:?}: delivered {}, redelivered {}",
                    info.delivered.stream_sequence, info.num_redelivered
                );
                return;
            }
        }
        assert!(Instant::now() < deadline, "{consumer} never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_reactors_off_no_contract_is_requested_until_lae_reactors_runs() {
    let app = TestApp::spawn_configured("reactoff", true, |s| s.reactors = None).await;
    let customer = app.register_customer("Lefèvre").await;
    let (offer, _) = app.accepted_offer(&customer, "Vie Sérénité", 3150).await;
    relayed(&app).await;
    // The acceptance is on the stream, and nobody turned it into a request.
    assert_eq!(count(&app, "OfferAccepted").await, 1);
    assert_eq!(count(&app, "ContractRequested").await, 0);

    let prefix = format!("{}_late", app.db.settings.database());
    let mut reactors = lae_reactors(&app, &prefix);
    let contract = lae_domain::ContractId::for_offer(offer.parse().expect("offer id")).to_string();
    app.wait_for_event(&contract, "ContractRequested").await;
    drained(&app, &format!("{prefix}_contract_requests")).await;
    assert_eq!(count(&app, "ContractRequested").await, 1);
    let (source, causation): (String, String) = sqlx::query_as(
        "SELECT metadata->>'source', metadata->>'causation_id' FROM events WHERE event_type = 'ContractRequested'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("request");
    assert_eq!(source, "policy");
    assert_eq!(
        causation,
        lae_store::event_id("Offer", &offer, 2).to_string(),
        "the request names the acceptance as its cause"
    );
    reactors.kill().await.expect("stop the reactors");
}

#[tokio::test]
async fn two_reactors_killed_in_a_loop_request_each_of_500_contracts_once() {
    const OFFERS: usize = 500;
    let app = TestApp::spawn_configured("reactkill", true, |s| s.reactors = None).await;
    let mut customers = Vec::new();
    for name in ["Arnaud", "Bénard", "Carré", "Dupré", "Émery"] {
        customers.push(app.register_customer(name).await);
    }
    let prefix = format!("{}_pair", app.db.settings.database());
    let mut instances = [lae_reactors(&app, &prefix), lae_reactors(&app, &prefix)];

    // The kill loop: every 150 ms one instance is killed with SIGKILL and restarted.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let killer = {
        let app_db = app.db.settings.database().to_owned();
        let stream = app.stream.clone();
        let subjects = app.subjects.clone();
        let prefix = prefix.clone();
        tokio::spawn(async move {
            let mut kills = 0usize;
            let mut turn = 0usize;
            loop {
                tokio::select! {
                    _ = stopped.wait_for(|s| *s) => break,
                    () = tokio::time::sleep(Duration::from_millis(150)) => {}
                }
                let victim = &mut instances[turn % 2];
                victim.start_kill().expect("SIGKILL");
                let _ = victim.wait().await;
                kills += 1;
                *victim = respawn(&app_db, stream.as_deref(), subjects.as_deref(), &prefix);
                turn += 1;
            }
            (kills, instances)
        })
    };
    // 500 offers accepted, paced over a few seconds so that the kills land mid-work.
    let mut offers = Vec::with_capacity(OFFERS);
    for chunk in 0..(OFFERS / 50) {
        let batch: Vec<(String, String)> = futures::stream::iter(0..50)
            .map(|i| {
                app.accepted_offer(
                    &customers[(chunk * 50 + i) % customers.len()],
                    "Vie Sérénité",
                    3150,
                )
            })
            .buffer_unordered(8)
            .collect()
            .await;
        offers.extend(batch);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count(&app, "OfferAccepted").await, OFFERS as i64);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&app, "ContractRequested").await < OFFERS as i64 {
        assert!(
            Instant::now() < deadline,
            "only {} contracts requested",
            count(&app, "ContractRequested").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    let (kills, mut instances) = killer.await.expect("kill loop");
    assert!(kills >= 10, "only {kills} kills");
    drained(&app, &format!("{prefix}_contract_requests")).await;

    // Exactly one request per accepted offer, each on the contract derived from it.
    assert_eq!(count(&app, "ContractRequested").await, OFFERS as i64);
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT aggregate_id) FROM events WHERE event_type = 'ContractRequested'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("distinct");
    assert_eq!(distinct, OFFERS as i64);
    for (offer, answered) in offers.iter().take(20) {
        let contract =
            lae_domain::ContractId::for_offer(offer.parse().expect("offer id")).to_string();
        assert_eq!(
            *answered, contract,
            "the acceptance answers the derived contract"
        );
        app.wait_for_event(&contract, "ContractRequested").await;
    }
    eprintln!("{kills} instances killed with SIGKILL during the run");
    for instance in &mut instances {
        instance.kill().await.expect("stop");
    }
}

/// A `lae reactors` process from the parts the kill loop holds.
fn respawn(database: &str, stream: Option<&str>, subjects: Option<&str>, prefix: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lae"))
        .arg("reactors")
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .env("NATS_URL", NATS)
        .env("LAE_NATS_STREAM", stream.expect("pipeline"))
        .env("LAE_NATS_SUBJECT_PREFIX", subjects.expect("pipeline"))
        .env("LAE_REACTOR_CONSUMER_PREFIX", prefix)
        // Short, so that the messages of a killed instance come back within the test.
        .env("LAE_REACTOR_ACK_WAIT_MS", "1000")
        .env("LAE_MASTER_KEY", "5a".repeat(32))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("lae reactors starts")
}

#[tokio::test]
async fn signatures_terminations_and_rejected_payments_reach_the_sales_inbox() {
    let app = TestApp::spawn_with_pipeline("reactsales").await;
    let customer = app.register_customer("Garnier").await;
    let (offer, _) = app.accepted_offer(&customer, "Vie Sérénité", 3150).await;
    let contract = lae_domain::ContractId::for_offer(offer.parse().expect("offer id")).to_string();
    app.wait_for_event(&contract, "ContractRequested").await;
    let pdf = b"%PDF-1.4\n% contrat CT-R-1\n%%EOF\n";
    let (status, body) = app
        .post(
            &format!("/api/v1/contracts/{contract}/signature"),
            "legal",
            json!({"reference": "CT-R-1", "signed_on": "2026-10-20",
                   "document": {"name": "CT-R-1.pdf",
                                "content_base64": base64::engine::general_purpose::STANDARD.encode(pdf)}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, invoice) = app
        .post(
            "/api/v1/invoices",
            "billing",
            json!({"customer_id": customer, "contract_id": contract, "number": "F-R-1",
                   "amount": 3150, "issued_on": "2026-11-01", "due_on": "2026-11-10"}),
        )
        .await;
    assert_eq!(status, 201, "{invoice}");
    let invoice = invoice["id"].as_str().expect("invoice id").to_owned();
    let (status, body) = app
        .post(
            &format!("/api/v1/invoices/{invoice}/payment-rejection"),
            "billing",
            json!({"on": "2026-11-12", "reason": "AM04 provision insuffisante"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/contracts/{contract}/termination"),
            "legal",
            json!({"terminated_on": "2026-12-31", "reason": "Demande du client"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");

    let inbox = eventually(&app, "/api/v1/sales/tickets", "sales", |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 3)
    })
    .await;
    let items = inbox["items"].as_array().expect("items");
    let reasons: Vec<&str> = items
        .iter()
        .map(|i| i["reason"].as_str().unwrap_or_default())
        .collect();
    for expected in [
        "Contrat CT-R-1 signé le 20/10/2026",
        "Contrat CT-R-1 résilié au 31/12/2026",
        "Prélèvement rejeté : facture F-R-1 du 01/11/2026",
    ] {
        assert!(
            reasons.contains(&expected),
            "{expected:?} not in {reasons:?}"
        );
    }
    for item in items {
        assert_eq!(item["channel"], "internal", "{item}");
        assert_eq!(item["customer_id"], customer.as_str(), "{item}");
        assert!(
            item["routing_note"]
                .as_str()
                .is_some_and(|n| n.starts_with("Informer le département Vente")),
            "{item}"
        );
    }
    let rejection = items
        .iter()
        .find(|i| {
            i["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("Prélèvement"))
        })
        .expect("the rejection notice");
    assert!(
        rejection["routing_note"]
            .as_str()
            .is_some_and(|n| n.contains("31,50 €") && n.contains("AM04")),
        "{rejection}"
    );
    // Each notice names its cause.
    let causes: Vec<(String, String)> = sqlx::query_as(
        "SELECT aggregate_id, metadata->>'causation_id' FROM events
          WHERE event_type = 'TicketOpened' AND metadata->>'source' = 'policy'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("notices");
    assert_eq!(causes.len(), 3);
    let signature = lae_store::event_id("Contract", &contract, 2).to_string();
    assert!(
        causes.iter().any(|(_, cause)| *cause == signature),
        "{causes:?}"
    );
    // Nothing else: the contract's request caused no notice.
    let notices: Value = app.get("/api/v1/sales/tickets", "sales").await.1;
    assert_eq!(notices["items"].as_array().map(Vec::len), Some(3));
}

async fn invoice_state(app: &TestApp, invoice: &str) -> (Option<String>, i64) {
    let (invoice_state, version) = app
        .state
        .invoices
        .load(invoice)
        .await
        .expect("load the invoice");
    (
        invoice_state
            .status()
            .map(|s| format!("{s:?}").to_lowercase()),
        i64::try_from(version).expect("version"),
    )
}

#[tokio::test]
async fn a_termination_cancels_the_unpaid_invoices_of_later_months_once() {
    let app = TestApp::spawn_configured("reactclose", true, |settings| {
        settings.sepa_creditor = Some(
            lae_api::billing_cycle::SepaCreditor::new(
                "LAE Assurances".to_owned(),
                "FR14 2004 1010 0505 0001 3M02 606",
                "PSSTFRPPXXX".to_owned(),
                "FR12ZZZ123456".to_owned(),
            )
            .expect("creditor"),
        );
    })
    .await;
    let customer = app.register_customer("Lemoine").await;
    let contract = app.signed_contract(&customer, "Vie Sérénité", 3150).await;
    let contract_id: lae_domain::ContractId = contract.parse().expect("contract id");
    let period = |year, month| {
        lae_domain::InvoiceId::for_contract_period(contract_id, year, month).to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM billing.contracts WHERE status = 'signed'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("billing contracts")
        < 1
    {
        assert!(Instant::now() < deadline, "billing never saw the signature");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // November (the month of the termination) and three months ahead are invoiced.
    for date in ["2026-11-05", "2026-12-05", "2027-01-05", "2027-02-05"] {
        let (status, summary) = app
            .post(
                "/api/v1/billing/collections",
                "billing",
                json!({"date": date}),
            )
            .await;
        assert_eq!(status, 200, "{summary}");
        assert_eq!(summary["invoices_issued"], 1, "{date}: {summary}");
    }
    // December is paid in advance.
    let (status, body) = app
        .post(
            &format!("/api/v1/invoices/{}/payment", period(2026, 12)),
            "billing",
            json!({"paid_on": "2026-12-05", "amount": 3150}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/contracts/{contract}/termination"),
            "legal",
            json!({"terminated_on": "2026-11-20", "reason": "Demande du client"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");

    // January and February are cancelled, by the termination, with its date.
    for (year, month) in [(2027, 1), (2027, 2)] {
        app.wait_for_event(&period(year, month), "InvoiceCancelled")
            .await;
    }
    let termination = lae_store::event_id("Contract", &contract, 3).to_string();
    let cancellations: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT aggregate_id, payload->>'reason', metadata->>'causation_id', metadata->>'source'
           FROM events WHERE event_type = 'InvoiceCancelled' ORDER BY aggregate_id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("cancellations");
    assert_eq!(cancellations.len(), 2, "{cancellations:?}");
    for (invoice, reason, cause, source) in &cancellations {
        assert!(
            *invoice == period(2027, 1) || *invoice == period(2027, 2),
            "{invoice}"
        );
        assert_eq!(reason, "Contrat résilié le 20/11/2026");
        assert_eq!(*cause, termination, "the termination is the cause");
        assert_eq!(source, "policy");
    }
    // The paid month and the month of the termination are untouched.
    assert_eq!(
        invoice_state(&app, &period(2026, 12)).await.0.as_deref(),
        Some("paid")
    );
    assert_eq!(
        invoice_state(&app, &period(2026, 11)).await,
        (Some("issued".into()), 1)
    );

    // Sales heard of the signature and of the termination; then nothing moves.
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&app, "TicketRouted").await < 2 {
        assert!(Instant::now() < deadline, "sales was not told");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    relayed(&app).await;
    let before = app.event_count().await;

    // Replayed from the stream's first message by a second set of consumers (every
    // event redelivered to every reactor), nothing changes.
    let prefix = format!("{}_replay", app.db.settings.database());
    let mut replay = lae_reactors(&app, &prefix);
    // The Zendesk reactor runs only with Zendesk configured, which this test is not.
    for reactor in lae_reactors::Reactor::ALL
        .into_iter()
        .filter(|r| *r != lae_reactors::Reactor::Zendesk)
    {
        drained(&app, &format!("{prefix}_{}", reactor.name())).await;
    }
    replay.kill().await.expect("stop the replay");
    assert_eq!(
        app.event_count().await,
        before,
        "the replay appended nothing"
    );
    assert_eq!(count(&app, "InvoiceCancelled").await, 2);

    // The cycle no longer invoices the months after the termination.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM billing.contracts WHERE status = 'terminated'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("billing contracts")
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "billing never saw the termination"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, summary) = app
        .post(
            "/api/v1/billing/collections",
            "billing",
            json!({"date": "2027-03-05"}),
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["invoices_issued"], 0, "{summary}");
    assert_eq!(summary["contracts_in_force"], 0, "{summary}");
    assert_eq!(invoice_state(&app, &period(2027, 3)).await, (None, 0));
    // November, the month the contract ended in, is still a month it owes.
    let (status, summary) = app
        .post(
            "/api/v1/billing/collections",
            "billing",
            json!({"date": "2026-11-05"}),
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["contracts_in_force"], 1, "{summary}");
    assert_eq!(summary["invoices_already_issued"], 1, "{summary}");
}
