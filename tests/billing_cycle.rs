//! The billing cycle of a known month, with the real `lae` binary against the real
//! application (relay and projectors feed billing's read model): 10 signed contracts,
//! 8 customers with a mandate → 10 invoices and a pain.008 file of 8 debits that
//! validates against the ISO 20022 schema (vendored from PyPI's `sepaxml`, see
//! `tests/fixtures/sepa/README.md`), amounts and sums matching; a second run issues
//! nothing and writes the same bytes; the next month's debits are recurring; a
//! pain.002 report with 2 rejections records 2 payment rejections with their reason
//! codes, once; a report naming an unknown transaction records nothing and says which.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{TestApp, lae_with};
use serde_json::{Value, json};

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sepa/pain.008.001.02.xsd"
);

const CREDITOR: [(&str, &str); 4] = [
    ("LAE_SEPA_CREDITOR_NAME", "LAE Assurances & Prévoyance"),
    (
        "LAE_SEPA_CREDITOR_IBAN",
        "FR14 2004 1010 0505 0001 3M02 606",
    ),
    ("LAE_SEPA_CREDITOR_BIC", "PSSTFRPPXXX"),
    ("LAE_SEPA_CREDITOR_ID", "FR12ZZZ123456"),
];

const NAMES: [&str; 10] = [
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent",
];

/// Waits (30 s at most) until `sql` answers `expected` on the owner's pool.
async fn until_count(app: &TestApp, sql: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&app.pool)
            .await
            .expect(sql);
        if n == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {n}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the reactors have put `n` notices in the sales inbox (each signature
/// and each rejected payment is one): the events they append must not land between
/// two counts of the store.
async fn notices(app: &TestApp, n: i64) {
    until_count(
        app,
        "SELECT count(*) FROM events WHERE event_type = 'TicketRouted' AND metadata->>'source' = 'policy'",
        n,
    )
    .await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.pool)
        .await
        .expect(sql)
}

fn billing(database: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["billing"];
    all.extend_from_slice(args);
    lae_with(database, &all, &CREDITOR)
}

fn json_out(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Validates with xmllint against the vendored schema; a missing xmllint fails the
/// test (install `libxml2-utils`, as `scripts/services` does).
fn validate(file: &Path) {
    let output = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", SCHEMA])
        .arg(file)
        .output()
        .expect("xmllint must be installed (Debian package libxml2-utils, see scripts/services)");
    assert!(
        output.status.success(),
        "{} does not validate: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The texts of every `<name>` element, in order (the test's own view of the file).
fn texts(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open)
        .skip(1)
        .map(|rest| rest.split(&close).next().expect("closed").to_owned())
        .collect()
}

fn amounts(xml: &str) -> Vec<String> {
    xml.split("<InstdAmt Ccy=\"EUR\">")
        .skip(1)
        .map(|rest| rest.split("</InstdAmt>").next().expect("closed").to_owned())
        .collect()
}

fn temp(database: &str, name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{database}-{name}"))
}

fn pain002(message: &str, rejections: &[(&str, &str)], accepted: &[&str]) -> String {
    let mut txs = String::new();
    for (id, code) in rejections {
        txs.push_str(&format!(
            "<TxInfAndSts><StsId>S-{id}</StsId><OrgnlEndToEndId>{id}</OrgnlEndToEndId><TxSts>RJCT</TxSts>\
             <StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf></TxInfAndSts>\n"
        ));
    }
    for id in accepted {
        txs.push_str(&format!(
            "<TxInfAndSts><OrgnlEndToEndId>{id}</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>\n"
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
 <CstmrPmtStsRpt>
  <GrpHdr><MsgId>{message}</MsgId><CreDtTm>2026-11-09T08:30:00</CreDtTm></GrpHdr>
  <OrgnlGrpInfAndSts><OrgnlMsgId>LAE-SDD-20261105</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId></OrgnlGrpInfAndSts>
  <OrgnlPmtInfAndSts><OrgnlPmtInfId>LAE-SDD-20261105-FRST</OrgnlPmtInfId>
{txs}  </OrgnlPmtInfAndSts>
 </CstmrPmtStsRpt>
</Document>
"#
    )
}

#[tokio::test]
async fn a_known_month_is_invoiced_collected_and_its_rejections_recorded_once() {
    let app = TestApp::spawn_with_pipeline("billcycle").await;
    let database = app.db.settings.database().to_owned();
    let mut premiums = Vec::new();
    let mut mandated_sum = 0;
    for (i, name) in NAMES.iter().enumerate() {
        let customer = app.register_customer(name).await;
        let premium = 2_000 + 137 * i64::try_from(i).expect("small");
        app.signed_contract(&customer, "Prévoyance Famille", premium)
            .await;
        premiums.push(premium);
        if i < 8 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/customers/{customer}/mandate"),
                    "billing",
                    json!({"iban": "FR76 3000 6000 0112 3456 7890 189",
                           "mandate_reference": format!("RUM-LAE-{i:08}"),
                           "date": "2026-10-01"}),
                )
                .await;
            assert_eq!(status, 202, "{body}");
            mandated_sum += premium;
        }
    }
    notices(&app, 10).await;
    until_count(
        &app,
        "SELECT count(*) FROM billing.contracts WHERE status = 'signed'",
        10,
    )
    .await;
    until_count(
        &app,
        "SELECT count(*) FROM billing.mandates WHERE status = 'active'",
        8,
    )
    .await;

    // --- First run: 10 invoices, 8 first debits.
    let first = temp(&database, "sdd-1.xml");
    let (code, out, err) = billing(
        &database,
        &[
            "collect",
            "--date",
            "2026-11-05",
            "--out",
            first.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let summary = json_out(&out);
    assert_eq!(summary["contracts_in_force"], 10, "{summary}");
    assert_eq!(summary["invoices_issued"], 10, "{summary}");
    assert_eq!(summary["invoices_already_issued"], 0, "{summary}");
    assert_eq!(summary["transactions"], 8, "{summary}");
    assert_eq!(summary["first_collections"], 8, "{summary}");
    assert_eq!(
        summary["without_mandate"].as_array().expect("list").len(),
        2
    );
    assert_eq!(summary["control_sum_cents"], mandated_sum, "{summary}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM events WHERE event_type = 'InvoiceIssued'"
        )
        .await,
        10
    );
    validate(&first);
    let xml = std::fs::read_to_string(&first).expect("file");
    let expected_sum = format!("{}.{:02}", mandated_sum / 100, mandated_sum % 100);
    assert_eq!(texts(&xml, "NbOfTxs"), ["8", "8"], "group and FRST block");
    assert_eq!(texts(&xml, "CtrlSum"), [expected_sum.clone(), expected_sum]);
    assert_eq!(texts(&xml, "SeqTp"), ["FRST"]);
    assert_eq!(texts(&xml, "MsgId"), ["LAE-SDD-20261105"]);
    assert!(
        texts(&xml, "Id").iter().any(|id| id == "FR12ZZZ123456"),
        "creditor identifier"
    );
    assert!(
        xml.contains("<Nm>LAE Assurances &amp; Prévoyance</Nm>"),
        "escaped"
    );
    let mut expected_amounts: Vec<String> = premiums[..8]
        .iter()
        .map(|p| format!("{}.{:02}", p / 100, p % 100))
        .collect();
    let mut written = amounts(&xml);
    expected_amounts.sort();
    written.sort();
    assert_eq!(written, expected_amounts);
    let ids = texts(&xml, "EndToEndId");
    assert_eq!(ids.len(), 8);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "transactions sorted");
    assert_eq!(texts(&xml, "DtOfSgntr"), vec!["2026-10-01"; 8]);
    // Each debtor's IBAN read for the file is in the access log.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit.access_log WHERE what = 'iban' \
              AND purpose = 'prélèvement SEPA LAE-SDD-20261105'"
        )
        .await,
        8
    );

    // --- Second run: nothing issued, the same bytes.
    let events = app.event_count().await;
    let second = temp(&database, "sdd-2.xml");
    let (code, out, err) = billing(
        &database,
        &[
            "collect",
            "--date",
            "2026-11-05",
            "--out",
            second.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let summary = json_out(&out);
    assert_eq!(summary["invoices_issued"], 0, "{summary}");
    assert_eq!(summary["invoices_already_issued"], 10, "{summary}");
    assert_eq!(
        app.event_count().await,
        events,
        "a second run appends nothing"
    );
    assert_eq!(
        std::fs::read(&first).expect("first"),
        std::fs::read(&second).expect("second"),
        "identical file"
    );

    // --- The bank rejects two debits and accepts one.
    let report = temp(&database, "pain002.xml");
    std::fs::write(
        &report,
        pain002(
            "BANK-1",
            &[(&ids[0], "AM04"), (&ids[1], "MD01")],
            &[&ids[2]],
        ),
    )
    .expect("report");
    let (code, out, err) = billing(
        &database,
        &["import-status", report.to_str().expect("path")],
    );
    assert_eq!(code, 0, "{out}{err}");
    let imported = json_out(&out);
    assert_eq!(
        imported["recorded"].as_array().expect("list").len(),
        2,
        "{imported}"
    );
    assert_eq!(imported["not_rejected"], 1, "{imported}");
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'reason' FROM events WHERE event_type = 'PaymentRejected' \
          ORDER BY payload->>'reason'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("rejections");
    assert_eq!(
        reasons,
        ["AM04 : provision insuffisante", "MD01 : absence de mandat"]
    );
    // PaymentRejected 1.1: the bank's code in a field of its own.
    let codes: Vec<(String, String)> = sqlx::query_as(
        "SELECT payload->>'reason_code', event_version FROM events \
          WHERE event_type = 'PaymentRejected' ORDER BY payload->>'reason_code'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("rejection codes");
    assert_eq!(
        codes,
        [
            ("AM04".to_owned(), "1.1".to_owned()),
            ("MD01".to_owned(), "1.1".to_owned())
        ]
    );
    // Sales is told of both rejections, in its inbox.
    notices(&app, 12).await;
    let inbox = common::web::eventually(&app, "/api/v1/sales/tickets", "sales", |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 12)
    })
    .await;
    let rejections = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| {
            i["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("Prélèvement rejeté"))
        })
        .count();
    assert_eq!(rejections, 2, "{inbox}");
    // Re-importing records nothing again.
    let events = app.event_count().await;
    let (code, out, err) = billing(
        &database,
        &["import-status", report.to_str().expect("path")],
    );
    assert_eq!(code, 0, "{out}{err}");
    let imported = json_out(&out);
    assert_eq!(
        imported["recorded"].as_array().expect("list").len(),
        0,
        "{imported}"
    );
    assert_eq!(
        imported["already_recorded"].as_array().expect("list").len(),
        2
    );
    assert_eq!(app.event_count().await, events);

    // --- An unknown transaction: nothing recorded, the transaction named.
    let unknown = "0000000000000000000000000000dead";
    let bad = temp(&database, "pain002-unknown.xml");
    std::fs::write(
        &bad,
        pain002("BANK-2", &[(&ids[3], "AC04"), (unknown, "AC01")], &[]),
    )
    .expect("report");
    let (code, out, err) = billing(&database, &["import-status", bad.to_str().expect("path")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("transaction 2") && err.contains(unknown),
        "{err}"
    );
    assert_eq!(app.event_count().await, events, "nothing half-recorded");

    // --- The next month: the mandates were used, the debits are recurring; the
    // rejected November invoices are not collected again in December's file.
    until_count(
        &app,
        "SELECT count(*) FROM billing.invoices WHERE issued_on = '2026-11-05'",
        10,
    )
    .await;
    let december = temp(&database, "sdd-12.xml");
    let (code, out, err) = billing(
        &database,
        &[
            "collect",
            "--date",
            "2026-12-04",
            "--out",
            december.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let summary = json_out(&out);
    assert_eq!(summary["invoices_issued"], 10, "{summary}");
    assert_eq!(summary["recurring_collections"], 8, "{summary}");
    validate(&december);
    let xml = std::fs::read_to_string(&december).expect("file");
    assert_eq!(texts(&xml, "SeqTp"), ["RCUR"]);

    for file in [first, second, report, bad, december] {
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn an_invalid_date_is_refused_naming_the_option() {
    let (code, _, err) = lae_with(
        "billcycle_nodb",
        &["billing", "collect", "--date", "2026-13-01"],
        &CREDITOR,
    );
    assert_ne!(code, 0);
    assert!(err.contains("--date"), "{err}");
}

/// `GET` as billing: status, content type, body bytes.
async fn download(app: &TestApp, path: &str, role: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(app.token(role))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

async fn upload(app: &TestApp, xml: String, content_type: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/billing/payment-status"))
        .bearer_auth(app.token("billing"))
        .header("content-type", content_type)
        .body(xml)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn billing_collects_downloads_the_file_and_uploads_the_status_over_the_api() {
    let app = TestApp::spawn_configured("billcycleapi", true, |settings| {
        settings.sepa_creditor = Some(
            lae_api::billing_cycle::SepaCreditor::new(
                CREDITOR[0].1.to_owned(),
                CREDITOR[1].1,
                CREDITOR[2].1.to_owned(),
                CREDITOR[3].1.to_owned(),
            )
            .expect("creditor"),
        );
    })
    .await;
    for (i, name) in ["Lefebvre", "Garnier"].iter().enumerate() {
        let customer = app.register_customer(name).await;
        app.signed_contract(&customer, "Prévoyance Famille", 4_250)
            .await;
        if i == 0 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/customers/{customer}/mandate"),
                    "billing",
                    json!({"iban": "FR76 3000 6000 0112 3456 7890 189",
                           "mandate_reference": "RUM-API-1", "date": "2026-10-02"}),
                )
                .await;
            assert_eq!(status, 202, "{body}");
        }
    }
    until_count(
        &app,
        "SELECT count(*) FROM billing.contracts WHERE status = 'signed'",
        2,
    )
    .await;
    until_count(&app, "SELECT count(*) FROM billing.mandates", 1).await;

    // Only billing may run a collection; a bad date is named.
    let (status, _) = app
        .post(
            "/api/v1/billing/collections",
            "sales",
            json!({"date": "2026-11-05"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, problem) = app
        .post(
            "/api/v1/billing/collections",
            "billing",
            json!({"date": "2026-11-31"}),
        )
        .await;
    assert!(matches!(status, 400 | 422), "{status} {problem}");
    assert!(problem.to_string().contains("date"), "{problem}");

    let (status, summary) = app
        .post(
            "/api/v1/billing/collections",
            "billing",
            json!({"date": "2026-11-05"}),
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["invoices_issued"], 2, "{summary}");
    assert_eq!(summary["transactions"], 1, "{summary}");
    assert_eq!(summary["control_sum"], "42.50", "{summary}");
    let path = summary["file"].as_str().expect("file link").to_owned();
    let (status, kind, first) = download(&app, &path, "billing").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/xml"), "{kind}");
    let file = temp(app.db.settings.database(), "api-sdd.xml");
    std::fs::write(&file, &first).expect("file");
    validate(&file);
    let _ = std::fs::remove_file(&file);
    let (status, _, _) = download(&app, &path, "sales").await;
    assert_eq!(status, 403);

    let (status, summary) = app
        .post(
            "/api/v1/billing/collections",
            "billing",
            json!({"date": "2026-11-05"}),
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["invoices_issued"], 0, "{summary}");
    let (_, _, again) = download(&app, &path, "billing").await;
    assert_eq!(first, again, "identical file");

    // The status report: refused as another media type, an unknown transaction is
    // named and records nothing, a known one is recorded once.
    let xml = String::from_utf8(first).expect("utf-8");
    let id = texts(&xml, "EndToEndId")[0].clone();
    let report = pain002("BANK-API", &[(&id, "AM04")], &[]);
    let (status, _) = upload(&app, report.clone(), "text/plain").await;
    assert_eq!(status, 415);
    notices(&app, 2).await;
    let events = app.event_count().await;
    let (status, problem) = upload(
        &app,
        pain002("BANK-API-2", &[(&id, "AM04"), ("feedbeef", "MD01")], &[]),
        "application/xml",
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "file", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("feedbeef"),
        "{problem}"
    );
    assert_eq!(app.event_count().await, events, "nothing recorded");
    let (status, outcome) = upload(&app, report.clone(), "application/xml").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["recorded"][0]["reason_code"], "AM04", "{outcome}");
    let (status, outcome) = upload(&app, report, "application/xml").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        outcome["already_recorded"].as_array().expect("list").len(),
        1
    );
}

#[tokio::test]
async fn without_a_creditor_a_collection_is_refused_and_issues_nothing() {
    let app = TestApp::spawn("billcyclenocred").await;
    let events = app.event_count().await;
    let (status, problem) = app
        .post(
            "/api/v1/billing/collections",
            "billing",
            json!({"date": "2026-11-05"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "sepa_creditor_not_configured", "{problem}");
    assert_eq!(app.event_count().await, events);
}

#[tokio::test]
async fn the_billing_desk_runs_a_collection_from_its_form() {
    let app = TestApp::spawn_configured("billcycleweb", false, |settings| {
        settings.sepa_creditor = Some(
            lae_api::billing_cycle::SepaCreditor::new(
                CREDITOR[0].1.to_owned(),
                CREDITOR[1].1,
                CREDITOR[2].1.to_owned(),
                CREDITOR[3].1.to_owned(),
            )
            .expect("creditor"),
        );
    })
    .await;
    let (client, cookie) = common::web::cookie_session(&app, "billing").await;
    let page = client
        .get(app.url("/desk/billing/collections"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Lancer la collecte"), "{html}");
    let token = common::web::form_token(&html);
    let origin = app.url("");
    let origin = origin.trim_end_matches('/');
    let done = client
        .post(app.url("/desk/billing/collections"))
        .header("cookie", &cookie)
        .header("origin", origin)
        .form(&[("_csrf", token.as_str()), ("date", "2026-11-05")])
        .send()
        .await
        .expect("sent");
    let status = done.status().as_u16();
    let html = done.text().await.expect("html");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Contrats en vigueur : 0"), "{html}");
    assert!(html.contains("pas de fichier"), "{html}");
}
