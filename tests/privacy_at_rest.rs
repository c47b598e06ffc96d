//! Personal data at rest and in transit (issue 8), through the whole platform: HTTP →
//! store → relay → NATS → projectors, then erasure.
//!
//! Distinctive values are planted in each category. A dump of the event store's
//! tables, every message of the NATS stream and a backup file must hold none of them
//! in clear; after the customer's erasure no table of any schema may hold them, the
//! history still verifies, and the invoice's facts are still there.

mod common;

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestApp, lae};
use serde_json::json;

const LAST_NAME: &str = "Zorglubovitch";
const EMAIL: &str = "zorglub.planted@exemple.fr";
const PHONE: &str = "+33611223344";
const ILLNESS: &str = "Zorglubose chronique";
const IBAN: &str = "FR1420041010050500013M02606";
const PROFESSION: &str = "Astronome zorglubien";
const TICKET_REASON: &str = "Plainte zorglubienne";

/// Every planted value, with a name for the failure message.
const PLANTED: &[(&str, &str)] = &[
    ("last name", LAST_NAME),
    ("email", EMAIL),
    ("phone", PHONE),
    ("illness", ILLNESS),
    ("IBAN", IBAN),
    ("IBAN tail", "0500013M026"),
    ("profession", PROFESSION),
    ("ticket reason", TICKET_REASON),
];

const INVOICE_NUMBER: &str = "F2026-424242-01";

/// The planted values found in `text`.
fn found_in(text: &str) -> Vec<&'static str> {
    PLANTED
        .iter()
        .filter(|(_, value)| text.contains(value))
        .map(|(name, _)| *name)
        .collect()
}

async fn wait_for(app: &TestApp, what: &str, sql: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&app.pool)
            .await
            .expect("count");
        if n == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {n}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every row of every table of every schema, as text, with the planted values found.
async fn scan_database(app: &TestApp) -> Vec<(String, Vec<&'static str>)> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema, table_name FROM information_schema.tables
          WHERE table_type = 'BASE TABLE'
            AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&app.pool)
    .await
    .expect("tables");
    assert!(tables.len() > 20, "every schema is scanned: {tables:?}");
    let mut hits = Vec::new();
    for (schema, table) in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM \"{schema}\".\"{table}\" t"))
                .fetch_all(&app.pool)
                .await
                .expect("rows");
        let found = found_in(&rows.join("\n"));
        if !found.is_empty() {
            hits.push((format!("{schema}.{table}"), found));
        }
    }
    hits
}

/// `pg_dump` of the event store's tables and of the key tables.
fn dump(database: &str) -> String {
    let output = Command::new("pg_dump")
        .args([
            "--data-only",
            "--host=127.0.0.1",
            "--username=postgres",
            "--table=public.events",
            "--table=keys.*",
            "--table=audit.*",
            database,
        ])
        .output()
        .expect("pg_dump runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.contains("COPY public.events"), "the dump holds events");
    assert!(
        text.contains("COPY keys.health"),
        "the dump holds the key tables"
    );
    text
}

/// Every message of the test's NATS stream, headers and payload, as text.
async fn capture_stream(app: &TestApp, expected: u64) -> String {
    let stream_name = app.stream.clone().expect("a pipeline app has a stream");
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let client = async_nats::connect(url).await.expect("nats");
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream(&stream_name).await.expect("stream");
    let deadline = Instant::now() + Duration::from_secs(60);
    let last = loop {
        let info = stream.info().await.expect("stream info");
        if info.state.messages >= expected {
            break info.state.last_sequence;
        }
        assert!(
            Instant::now() < deadline,
            "the relay published {} of {expected} events",
            info.state.messages
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut text = String::new();
    for sequence in 1..=last {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("stream message");
        text.push_str(&format!("{:?}\n", message.headers));
        text.push_str(&String::from_utf8_lossy(&message.payload));
        text.push('\n');
    }
    assert!(
        text.contains("CustomerRegistered"),
        "the capture holds the events"
    );
    text
}

/// A backup file, decompressed.
fn backup(database: &str) -> String {
    let file = std::env::temp_dir().join(format!("{database}-{}.backup", uuid::Uuid::new_v4()));
    let (code, _, err) = lae(database, &["backup", "--out", file.to_str().expect("path")]);
    assert_eq!(code, 0, "{err}");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&file).expect("backup file"))
        .read_to_end(&mut bytes)
        .expect("a gzip file");
    let _ = std::fs::remove_file(&file);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn personal_values_are_nowhere_in_clear_and_erasure_removes_them_everywhere() {
    let app = TestApp::spawn_with_pipeline("atrest").await;
    let database = app.db.settings.database().to_owned();

    // A customer with a value in every category, a ticket, an invoice.
    let (status, body) = app
        .post(
            "/api/v1/customers",
            "customer_service",
            json!({"last_name": LAST_NAME, "first_name": "Anaïs", "email": EMAIL, "phone": PHONE}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let customer = body["id"].as_str().expect("id").to_owned();
    let other = app.register_customer("Témoin").await;
    let path = |tail: &str| format!("/api/v1/customers/{customer}/{tail}");
    for (method, tail, role, body) in [
        (
            "PUT",
            "health-declaration",
            "legal",
            json!({"tobacco": "smoker", "alcohol": "regular", "illnesses": [ILLNESS]}),
        ),
        (
            "POST",
            "mandate",
            "billing",
            json!({"iban": IBAN, "mandate_reference": "RUM-ZORG-1"}),
        ),
        (
            "PUT",
            "sales-profile",
            "sales",
            json!({"age_band": "36-45", "profession": PROFESSION, "sex": "female"}),
        ),
    ] {
        let (status, response) = if method == "PUT" {
            app.put(&path(tail), role, body).await
        } else {
            app.post(&path(tail), role, body).await
        };
        assert_eq!(status, 202, "{tail}: {response}");
    }
    let (status, ticket) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "phone", "reason": TICKET_REASON, "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    let (status, invoice) = app
        .post(
            "/api/v1/invoices",
            "billing",
            json!({"customer_id": customer, "number": INVOICE_NUMBER,
                   "amount": 12345, "issued_on": "2026-01-05", "due_on": "2026-02-05"}),
        )
        .await;
    assert_eq!(status, 201, "{invoice}");

    wait_for(
        &app,
        "health declarations",
        "SELECT count(*) FROM legal.health_declarations",
        1,
    )
    .await;
    wait_for(&app, "mandates", "SELECT count(*) FROM billing.mandates", 1).await;
    wait_for(&app, "profiles", "SELECT count(*) FROM sales.profiles", 1).await;
    wait_for(
        &app,
        "tickets",
        "SELECT count(*) FROM customer_service.tickets",
        1,
    )
    .await;
    wait_for(&app, "invoices", "SELECT count(*) FROM billing.invoices", 1).await;

    // The read models hold the clear values where they may (the department scans of
    // crates/projections/tests/privacy.rs check where exactly); the store does not.
    let hits = scan_database(&app).await;
    assert!(
        hits.iter()
            .any(|(t, f)| t == "legal.health_declarations" && f.contains(&"illness")),
        "the legal read model sees the health declaration: {hits:?}"
    );
    for (table, found) in &hits {
        assert!(
            ["customer_service.", "legal.", "sales.", "billing."]
                .iter()
                .any(|schema| table.starts_with(schema)),
            "{table} holds {found:?} in clear"
        );
    }
    let dumped = dump(&database);
    assert_eq!(
        found_in(&dumped),
        Vec::<&str>::new(),
        "pg_dump of events and keys"
    );
    let events = app.event_count().await;
    let captured = capture_stream(&app, u64::try_from(events).expect("count")).await;
    assert_eq!(
        found_in(&captured),
        Vec::<&str>::new(),
        "NATS stream capture"
    );
    let backed_up = backup(&database);
    assert!(
        backed_up.contains("CustomerRegistered"),
        "the backup holds events"
    );
    assert_eq!(found_in(&backed_up), Vec::<&str>::new(), "backup file");

    // Erasure: only legal may ask for it.
    let erasure = format!("/api/v1/customers/{customer}/erasure");
    let reason = json!({"reason": "RGPD art. 17, demande n° 2026-114"});
    let (status, _) = app.post(&erasure, "customer_service", reason.clone()).await;
    assert_eq!(status, 403);
    let (status, erased) = app.post(&erasure, "legal", reason.clone()).await;
    assert_eq!(status, 202, "{erased}");
    assert_eq!(erased["already_erased"], false);
    assert_eq!(
        erased["keys_destroyed"],
        json!(["contact", "health", "bank", "profile"])
    );
    // A second run completes nothing more, and says so.
    let (status, again) = app.post(&erasure, "legal", reason).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["already_erased"], true);
    assert_eq!(again["keys_destroyed"], json!([]));
    // Nothing more may be recorded about the person.
    let (status, refused) = app
        .put(
            &path("contact-details"),
            "customer_service",
            json!({"last_name": "Autre", "first_name": "Nom"}),
        )
        .await;
    assert_eq!(status, 410, "{refused}");
    assert_eq!(refused["code"], "customer_erased");
    let (status, refused) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "mail", "reason": "Nouvelle demande", "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 410, "a ticket about an erased customer: {refused}");

    for schema in ["customer_service", "legal", "sales", "billing"] {
        wait_for(
            &app,
            &format!("{schema}.customers purged"),
            &format!("SELECT count(*) FROM {schema}.customers"),
            1,
        )
        .await;
    }
    wait_for(
        &app,
        "health purged",
        "SELECT count(*) FROM legal.health_declarations",
        0,
    )
    .await;
    wait_for(
        &app,
        "mandate purged",
        "SELECT count(*) FROM billing.mandates",
        0,
    )
    .await;
    let hits = scan_database(&app).await;
    assert!(hits.is_empty(), "after erasure: {hits:?}");

    // The facts kept by law: the invoice, its number and amount; the ticket's existence.
    let kept: (String, i64) = sqlx::query_as(
        "SELECT number, amount_cents FROM billing.invoices WHERE customer_id = $1::uuid",
    )
    .bind(&customer)
    .fetch_one(&app.pool)
    .await
    .expect("the invoice is kept");
    assert_eq!(kept, (INVOICE_NUMBER.to_owned(), 12345));
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM customer_service.tickets")
        .fetch_one(&app.pool)
        .await
        .expect("tickets");
    assert_eq!(tickets, 1, "the ticket is kept, without its text");
    // The other customer is untouched.
    let still: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM customer_service.customers WHERE customer_id = $1::uuid",
    )
    .bind(&other)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(still, 1);

    // The history is whole and verifies; a new backup holds nothing of the person,
    // not even a key to their fields.
    let (code, _, err) = lae(&database, &["audit", "seal"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = lae(&database, &["audit", "verify"]);
    assert_eq!(code, 0, "verify after erasure: {out}{err}");
    let keys: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM keys.contact WHERE subject_id = $1::uuid)
              + (SELECT count(*) FROM keys.health WHERE subject_id = $1::uuid)
              + (SELECT count(*) FROM keys.bank WHERE subject_id = $1::uuid)
              + (SELECT count(*) FROM keys.profile WHERE subject_id = $1::uuid)",
    )
    .bind(&customer)
    .fetch_one(&app.pool)
    .await
    .expect("keys");
    assert_eq!(keys, 0);
    let backed_up = backup(&database);
    assert_eq!(
        found_in(&backed_up),
        Vec::<&str>::new(),
        "backup after erasure"
    );
    let captured = capture_stream(&app, u64::try_from(app.event_count().await).expect("n")).await;
    assert_eq!(
        found_in(&captured),
        Vec::<&str>::new(),
        "NATS after erasure"
    );
}

#[tokio::test]
async fn the_cli_erases_and_rotates_the_master_key_without_touching_events() {
    let app = TestApp::spawn("keyscli").await;
    let database = app.db.settings.database().to_owned();
    let customer = app.register_customer("Rotation").await;
    let (status, _) = app
        .put(
            &format!("/api/v1/customers/{customer}/health-declaration"),
            "legal",
            json!({"tobacco": "non_smoker", "alcohol": "none", "illnesses": [ILLNESS]}),
        )
        .await;
    assert_eq!(status, 202);
    let events_before: Vec<String> =
        sqlx::query_scalar("SELECT payload::text FROM events ORDER BY global_position")
            .fetch_all(&app.pool)
            .await
            .expect("events");

    // Rotate: the new key becomes current, the old one is kept for unwrapping.
    let new_key = "6b".repeat(32);
    let rotate = |args: &[&str], current: &str, previous: Option<&str>| {
        let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_lae"));
        command
            .args(args)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .env("LAE_MASTER_KEY", current);
        match previous {
            Some(previous) => command.env("LAE_MASTER_KEY_PREVIOUS", previous),
            None => command.env_remove("LAE_MASTER_KEY_PREVIOUS"),
        };
        let output = command.output().expect("lae runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, err) = rotate(&["keys", "rotate"], &new_key, None);
    assert_ne!(
        code, 0,
        "without the previous key nothing can be re-wrapped: {out}"
    );
    assert!(
        err.contains("not configured") || out.contains("wrapped_by_other_keys"),
        "{err}"
    );
    let old_key = "5a".repeat(32);
    let (code, out, err) = rotate(&["keys", "rotate"], &new_key, Some(&old_key));
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert!(
        report["rewrapped"].as_u64().expect("count") >= 2,
        "{report}"
    );
    assert_eq!(report["wrapped_by_other_keys"], 0);
    let (code, out, err) = rotate(&["keys", "status"], &new_key, None);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(status["categories"]["health"]["keys"], 1, "{status}");
    assert_eq!(status["categories"]["health"]["wrapped_by_other_keys"], 0);

    let events_after: Vec<String> =
        sqlx::query_scalar("SELECT payload::text FROM events ORDER BY global_position")
            .fetch_all(&app.pool)
            .await
            .expect("events");
    assert_eq!(
        events_before, events_after,
        "rotation does not touch events"
    );

    // With the new key alone, the history opens: the aggregate loads and decides.
    let masters = std::sync::Arc::new(lae_store::crypto::MasterKeys::new(
        lae_store::crypto::MasterKey::parse(&new_key).expect("key"),
    ));
    let repository = lae_store::EventRepository::new(app.db.app_pool().await)
        .with_keyring(lae_store::crypto::Keyring::all(masters));
    let executor =
        lae_store::CommandExecutor::<lae_domain::customer::Customer>::new(repository, ());
    let (customer_state, version) = executor.load(&customer).await.expect("loads");
    assert_eq!(version, 2);
    let health = customer_state.health().expect("health declaration opened");
    assert_eq!(
        serde_json::to_value(&health.illnesses).expect("json"),
        json!([ILLNESS])
    );

    // Erase from the command line, with the new key.
    let (code, out, err) = rotate(
        &[
            "customers",
            "erase",
            &customer,
            "--reason",
            "RGPD art. 17, demande CLI",
        ],
        &new_key,
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let erasure: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(erasure["keys_destroyed"], json!(["contact", "health"]));
    let (code, _, err) = rotate(
        &["customers", "erase", "not-a-uuid", "--reason", "x"],
        &new_key,
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("id"), "{err}");
}
