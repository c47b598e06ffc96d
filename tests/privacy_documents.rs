//! Signed contract documents at rest: sealed with the customer's health key.
//!
//! A contract is signed with a PDF holding a distinctive marker. The marker (as text,
//! hex or base64) is in no `pg_dump` of the database and in no `lae backup` file;
//! legal reads the document back with a purpose and the access log has the entry
//! first; other roles and reads without a purpose are refused; after the customer's
//! erasure the document does not open (410, in French). `lae documents seal` seals a
//! clear row from before and deletes it; nothing else may delete a document.

mod common;

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TestApp, lae};
use serde_json::{Value, json};

const MARKER: &str = "MARQUEUR-ZORGLUB-7731-CONTRAT";

fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {MARKER} {tag}\n%%EOF\n").into_bytes()
}

/// The marker's spellings a dump or a backup could hold.
fn spellings() -> Vec<String> {
    let hex: String = MARKER.bytes().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![MARKER.to_owned(), hex.clone(), hex.to_uppercase()];
    // Base64 of the marker at each of the three alignments it may start at, without
    // the characters that depend on the bytes around it.
    for pad in ["", "x", "xx"] {
        let encoded = STANDARD.encode(format!("{pad}{MARKER}"));
        // The first group of four characters mixes in the padding byte(s).
        let skip = if pad.is_empty() { 0 } else { 4 };
        out.push(encoded[skip..encoded.len() - 4].to_owned());
    }
    out
}

fn holds_marker(text: &str) -> Option<String> {
    spellings().into_iter().find(|s| text.contains(s.as_str()))
}

/// `pg_dump` of the whole database, data only.
fn dump(database: &str) -> String {
    let output = Command::new("pg_dump")
        .args([
            "--data-only",
            "--host=127.0.0.1",
            "--username=postgres",
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
    assert!(
        text.contains("COPY public.contract_documents"),
        "the dump holds the documents"
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

async fn signed_contract(app: &TestApp, customer: &str, tag: &str) -> (String, String) {
    let (status, requested) = app
        .post(
            "/api/v1/contracts",
            "legal",
            json!({"customer_id": customer, "product": "Vie Sérénité",
                   "monthly_premium": 3150, "requested_on": "2026-10-01"}),
        )
        .await;
    assert_eq!(status, 201, "{requested}");
    let contract = requested["id"].as_str().expect("id").to_owned();
    let (status, signed) = app
        .post(
            &format!("/api/v1/contracts/{contract}/signature"),
            "legal",
            json!({"reference": format!("CT-{tag}"), "signed_on": "2026-10-20",
                   "document": {"name": format!("contrat-{tag}.pdf"),
                                "content_base64": STANDARD.encode(pdf(tag))}}),
        )
        .await;
    assert_eq!(status, 202, "{signed}");
    let digest: String = sqlx::query_scalar(
        "SELECT payload->'document'->>'sha256' FROM events
          WHERE aggregate_id = $1 AND event_type = 'ContractSigned'",
    )
    .bind(&contract)
    .fetch_one(&app.pool)
    .await
    .expect("the signature's digest");
    (contract, digest)
}

async fn wait_signed(app: &TestApp, contract: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM legal.contracts
              WHERE contract_id = $1::uuid AND document_sha256 IS NOT NULL",
        )
        .bind(contract)
        .fetch_one(&app.pool)
        .await
        .expect("count");
        if n == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "legal never saw the signature");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn read(app: &TestApp, path: &str, role: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(app.token(role))
        .send()
        .await
        .expect("sent")
}

async fn access_entries(app: &TestApp, customer: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT what, purpose, user_name FROM audit.access_log
          WHERE customer_id = $1 ORDER BY id",
    )
    .bind(customer)
    .fetch_all(&app.pool)
    .await
    .expect("access log")
}

#[test]
fn the_marker_check_finds_every_spelling() {
    let bytes = pdf("x");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        holds_marker(&format!("\\\\x{hex}")).is_some(),
        "bytea as pg_dump writes it"
    );
    for prefix in ["", "a", "ab"] {
        let mut shifted = prefix.as_bytes().to_vec();
        shifted.extend_from_slice(&bytes);
        assert!(
            holds_marker(&STANDARD.encode(&shifted)).is_some(),
            "base64 at offset {}",
            prefix.len()
        );
    }
    assert!(holds_marker("nothing here").is_none());
}

#[tokio::test]
async fn signed_documents_are_sealed_read_for_a_purpose_and_gone_with_the_erasure() {
    let app = TestApp::spawn_with_pipeline("documents").await;
    let database = app.db.settings.database().to_owned();
    let customer = app.register_customer("Documentine").await;
    let (contract, digest) = signed_contract(&app, &customer, "A1").await;

    // At rest: no spelling of the marker in the database or in a backup.
    let dumped = dump(&database);
    assert_eq!(holds_marker(&dumped), None, "pg_dump");
    let in_clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contract_documents
          WHERE position(convert_to($1, 'UTF8') IN content) > 0",
    )
    .bind(MARKER)
    .fetch_one(&app.pool)
    .await
    .expect("scan");
    assert_eq!(in_clear, 0, "a document in clear");
    assert_eq!(holds_marker(&backup(&database)), None, "lae backup");

    // Legal reads it for a purpose; the access log has the entry.
    wait_signed(&app, &contract).await;
    let path = format!("/api/v1/legal/contracts/{contract}/document");
    let refused = read(&app, &path, "legal").await;
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["field"], "purpose", "{problem}");
    assert!(
        access_entries(&app, &customer).await.is_empty(),
        "nothing read, nothing logged"
    );
    for role in ["sales", "billing", "customer_service", "management"] {
        let refused = read(&app, &format!("{path}?purpose=curiosit%C3%A9"), role).await;
        assert_eq!(refused.status(), 403, "{role}");
    }
    let response = read(
        &app,
        &format!("{path}?purpose=V%C3%A9rification%20sinistre&download=1"),
        "legal",
    )
    .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"contrat-CT-A1.pdf\""
    );
    assert!(headers.get("etag").is_none());
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), pdf("A1"));
    assert_eq!(
        access_entries(&app, &customer).await,
        vec![(
            "contract_document".to_owned(),
            "Vérification sinistre".to_owned(),
            "legal".to_owned()
        )]
    );
    // By digest, the same read, logged again.
    let by_digest = read(
        &app,
        &format!("/api/v1/contracts/documents/{digest}?purpose=Contr%C3%B4le"),
        "legal",
    )
    .await;
    assert_eq!(by_digest.status(), 200);
    assert!(
        by_digest.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline;")
    );
    assert_eq!(by_digest.bytes().await.expect("bytes").as_ref(), pdf("A1"));
    assert_eq!(access_entries(&app, &customer).await.len(), 2);

    // A clear row from before sealing: `lae documents seal` seals it and deletes it;
    // the table refuses any other delete.
    let other = app.register_customer("Anciennette").await;
    let (old_contract, old_digest) = signed_contract(&app, &other, "B2").await;
    sqlx::query("INSERT INTO contract_documents (sha256, content, media_type) VALUES ($1, $2, 'application/pdf')")
        .bind(&old_digest)
        .bind(pdf("B2"))
        .execute(&app.pool)
        .await
        .expect("a clear row as before");
    assert!(
        holds_marker(&dump(&database)).is_some(),
        "the clear row shows in a dump"
    );
    let refused = sqlx::query("DELETE FROM contract_documents WHERE sha256 = $1")
        .bind(&old_digest)
        .execute(&app.pool)
        .await;
    assert!(refused.is_err(), "documents are append-only");
    let (code, out, err) = lae(&database, &["documents", "seal"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(report["sealed"], 1, "{report}");
    assert_eq!(
        holds_marker(&dump(&database)),
        None,
        "pg_dump after sealing"
    );
    let (code, out, err) = lae(&database, &["documents", "seal"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["sealed"],
        0,
        "re-run"
    );
    wait_signed(&app, &old_contract).await;
    let old = read(
        &app,
        &format!("/api/v1/legal/contracts/{old_contract}/document?purpose=Audit"),
        "legal",
    )
    .await;
    assert_eq!(old.status(), 200);
    assert_eq!(old.bytes().await.expect("bytes").as_ref(), pdf("B2"));

    // After the erasure the document does not open: 410, in French.
    let (status, erased) = app
        .post(
            &format!("/api/v1/customers/{customer}/erasure"),
            "legal",
            json!({"reason": "RGPD art. 17, demande n° 2026-200"}),
        )
        .await;
    assert_eq!(status, 202, "{erased}");
    let gone = read(
        &app,
        &format!("{path}?purpose=Apr%C3%A8s%20effacement"),
        "legal",
    )
    .await;
    assert_eq!(gone.status(), 410);
    let problem: Value = gone.json().await.expect("problem");
    assert_eq!(problem["code"], "customer_erased", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("effacées"),
        "{problem}"
    );
    // The other customer's document still opens.
    let still = read(
        &app,
        &format!("/api/v1/legal/contracts/{old_contract}/document?purpose=Audit"),
        "legal",
    )
    .await;
    assert_eq!(still.status(), 200);
}
