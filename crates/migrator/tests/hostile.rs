//! Rows that are hostile rather than messy: each ends in the store or in the report
//! with a reason, and the import goes on. And files that are not what they should be,
//! which stop the import before it writes anything, naming the file and table.

mod common;

use common::legacy::{FA, JU, Legacy, SC, VE, blob, i, null, pdf, t};
use common::{TestDb, count_events, customer, options, payloads};
use lae_migrator::{MigrateError, Report, Scope, exit_code, migrate};
use sqlx::PgPool;

async fn import(legacy: &Legacy) -> (TestDb, PgPool, Report) {
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let report = migrate(options(legacy.path()), pool.clone())
        .await
        .expect("import");
    report.check().expect("every row counted once");
    (db, pool, report)
}

fn reason(report: &Report, file: &str, table: &str, row_id: i64) -> (Option<String>, String) {
    let s = report
        .set_aside
        .iter()
        .find(|s| s.file == file && s.table == table && s.row_id == row_id && s.scope == Scope::Row)
        .unwrap_or_else(|| {
            panic!(
                "{file} {table} {row_id} not set aside: {:#?}",
                report.set_aside
            )
        });
    assert!(!s.reason.trim().is_empty());
    (s.field.clone(), s.reason.clone())
}

fn offer(legacy: &Legacy, id: i64, client_id: i64, date: &str, premium: rusqlite::types::Value) {
    legacy.insert(
        VE,
        "offres",
        &[
            ("id", i(id)),
            ("client_id", i(client_id)),
            ("produit", t("Vie Sérénité")),
            ("date_proposition", t(date)),
            ("statut", t("proposée")),
            ("prime_mensuelle", premium),
        ],
    );
}

#[tokio::test]
async fn nulls_everywhere() {
    let legacy = Legacy::new();
    for (file, tables) in [
        (SC, ["clients", "appels"]),
        (JU, ["clients", "contrats"]),
        (VE, ["clients", "offres"]),
        (FA, ["clients", "factures"]),
    ] {
        for table in tables {
            legacy.insert(file, table, &[("id", i(1))]);
        }
    }
    // A customer with nothing but a number and a name is still a customer.
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(2)),
            ("num_client", t("LAE-000002")),
            ("nom", t("Petit")),
            ("prenom", t("Luc")),
        ],
    );
    let (_db, pool, report) = import(&legacy).await;
    assert_eq!(report.quarantined_rows(), 8, "{:#?}", report.set_aside);
    for (key, counts) in &report.tables {
        assert_eq!(
            counts.read,
            counts.imported + counts.merged + counts.quarantined,
            "{key}"
        );
    }
    let events = payloads(&pool, "Customer", &customer(2)).await;
    assert_eq!(events[0]["email"], serde_json::Value::Null);
    assert_eq!(events[0]["availability"], "");
}

#[tokio::test]
async fn ten_megabyte_strings() {
    let legacy = Legacy::new();
    let huge = "A".repeat(10 * 1024 * 1024);
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(1)),
            ("num_client", t("LAE-000001")),
            ("nom", t(&huge)),
            ("prenom", t("Léa")),
        ],
    );
    legacy.customer(
        2,
        "LAE-000002",
        "Petit",
        "Luc",
        "luc@exemple.fr",
        "0622222222",
    );
    legacy.insert(
        SC,
        "appels",
        &[
            ("id", i(1)),
            ("client_id", i(2)),
            ("date_appel", t("2021-03-04 10:00")),
            ("canal", t("mail")),
            ("motif", t(&huge)),
            ("operateur", t("op1")),
        ],
    );
    let (_db, _pool, report) = import(&legacy).await;
    let (field, why) = reason(&report, SC, "clients", 1);
    assert_eq!(field.as_deref(), Some("nom"));
    assert!(why.contains("10485760 bytes"), "{why}");
    let (field, _) = reason(&report, SC, "appels", 1);
    assert_eq!(field.as_deref(), Some("motif"));
    // Nothing quotes the value whole.
    assert!(serde_json::to_string(&report).expect("json").len() < 100_000);
}

#[tokio::test]
async fn control_characters() {
    let legacy = Legacy::new();
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(1)),
            ("num_client", t("LAE-000001")),
            ("nom", t("Le\tGoff")),
            ("prenom", t("Léa")),
        ],
    );
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(2)),
            ("num_client", t("LAE-000002")),
            ("nom", t("Petit")),
            ("prenom", t("L\u{0}uc")),
        ],
    );
    legacy.customer(
        3,
        "LAE-000003",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    let call = |id: i64, motif: &str, actions: &str| {
        legacy.insert(
            SC,
            "appels",
            &[
                ("id", i(id)),
                ("client_id", i(3)),
                ("date_appel", t("2021-03-04 10:00")),
                ("canal", t("téléphone")),
                ("motif", t(motif)),
                ("actions", t(actions)),
                ("operateur", t("op1")),
            ],
        );
    };
    // Typed over two lines in the legacy tool: kept, on one line.
    call(1, "Sinistre", "Appel du client\r\nDossier transmis");
    call(2, "Sinistre\u{1b}[31m", "ok");
    let (_db, pool, report) = import(&legacy).await;
    assert_eq!(reason(&report, SC, "clients", 1).0.as_deref(), Some("nom"));
    assert_eq!(
        reason(&report, SC, "clients", 2).0.as_deref(),
        Some("prenom")
    );
    let ticket = payloads(
        &pool,
        "Ticket",
        &lae_migrator::legacy_ids::ticket(1).to_string(),
    )
    .await;
    assert_eq!(ticket[1]["action"], "Appel du client Dossier transmis");
    assert_eq!(reason(&report, SC, "appels", 2).0.as_deref(), Some("motif"));
}

#[tokio::test]
async fn sql_looking_text_is_just_text() {
    let legacy = Legacy::new();
    let name = "Robert'); DROP TABLE events;--";
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(1)),
            ("num_client", t("LAE-000001")),
            ("nom", t(name)),
            ("prenom", t("Léa")),
        ],
    );
    legacy.insert(
        SC,
        "appels",
        &[
            ("id", i(1)),
            ("client_id", i(1)),
            ("date_appel", t("2021-03-04")),
            ("canal", t("mail")),
            ("motif", t("'; DELETE FROM events WHERE '1'='1")),
            ("operateur", t("op1\" OR 1=1 --")),
        ],
    );
    let (_db, pool, report) = import(&legacy).await;
    assert_eq!(report.quarantined_rows(), 0, "{:#?}", report.set_aside);
    let events = payloads(&pool, "Customer", &customer(1)).await;
    assert_eq!(events[0]["last_name"], name);
    let ticket = payloads(
        &pool,
        "Ticket",
        &lae_migrator::legacy_ids::ticket(1).to_string(),
    )
    .await;
    assert_eq!(ticket[0]["reason"], "'; DELETE FROM events WHERE '1'='1");
    // Registered; the call opened and resolved (it has no actions).
    assert_eq!(count_events(&pool).await, 3);
}

#[tokio::test]
async fn invalid_utf8_in_text_columns() {
    let legacy = Legacy::new();
    legacy.exec(SC, "INSERT INTO clients (id, num_client, nom, prenom) VALUES (1, 'LAE-000001', CAST(X'48E96CE86E65' AS TEXT), 'Léa')");
    legacy.exec(
        SC,
        "INSERT INTO clients (id, num_client, nom, prenom, telephone) VALUES (2, 'LAE-000002', 'Petit', 'Luc', CAST(X'3036FF' AS TEXT))",
    );
    legacy.customer(
        3,
        "LAE-000003",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    legacy.exec(
        FA,
        "INSERT INTO factures (id, client_id, numero, date_emission, montant, statut) VALUES (1, 3, 'F-1', '2021-03-04', '12,00', CAST(X'E96D697365' AS TEXT))",
    );
    let (_db, pool, report) = import(&legacy).await;
    let (field, why) = reason(&report, SC, "clients", 1);
    assert_eq!(
        (field.as_deref(), why.as_str()),
        (Some("nom"), "not valid UTF-8 text")
    );
    // An unreadable phone drops the phone, not the customer.
    let events = payloads(&pool, "Customer", &customer(2)).await;
    assert_eq!(events[0]["phone"], serde_json::Value::Null);
    assert_eq!(
        reason(&report, FA, "factures", 1).0.as_deref(),
        Some("statut")
    );
}

#[tokio::test]
async fn a_blob_where_text_is_expected() {
    let legacy = Legacy::new();
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(1)),
            ("num_client", t("LAE-000001")),
            ("nom", t("Martin")),
            ("prenom", blob(&[0, 159, 146, 150])),
        ],
    );
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(2)),
            ("num_client", blob(b"LAE-000002")),
            ("nom", t("Petit")),
            ("prenom", t("Luc")),
        ],
    );
    let (_db, _pool, report) = import(&legacy).await;
    let (field, why) = reason(&report, SC, "clients", 1);
    assert_eq!(field.as_deref(), Some("prenom"));
    assert!(why.contains("BLOB"), "{why}");
    assert_eq!(
        reason(&report, SC, "clients", 2).0.as_deref(),
        Some("num_client")
    );
}

#[tokio::test]
async fn negative_and_huge_amounts() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    let amounts = [
        t("-31,50"),
        t("0"),
        t("99999999999999999999"),
        t("1e308"),
        rusqlite::types::Value::Real(-5.0),
        rusqlite::types::Value::Integer(i64::MAX),
        t("2000000,00"),
        t("31,505"),
    ];
    for (n, amount) in amounts.into_iter().enumerate() {
        offer(&legacy, n as i64 + 1, 1, "2021-03-04", amount);
    }
    offer(&legacy, 100, 1, "2021-03-04", t("31,50"));
    let (_db, _pool, report) = import(&legacy).await;
    for id in 1..=8 {
        assert_eq!(
            reason(&report, VE, "offres", id).0.as_deref(),
            Some("prime_mensuelle"),
            "offer {id}"
        );
    }
    assert_eq!(report.tables["vente.offres"].imported, 1);
}

#[tokio::test]
async fn dates_in_year_0_or_9999() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    for (n, date) in [
        "0000-01-01",
        "9999-12-31",
        "0001-01-01",
        "00/00/0000",
        "31/12/9999 23:59:59",
    ]
    .iter()
    .enumerate()
    {
        offer(&legacy, n as i64 + 1, 1, date, t("31,50"));
    }
    let (_db, _pool, report) = import(&legacy).await;
    for id in 1..=5 {
        assert_eq!(
            reason(&report, VE, "offres", id).0.as_deref(),
            Some("date_proposition"),
            "offer {id}"
        );
    }
}

#[tokio::test]
async fn contract_documents_empty_missing_or_not_a_pdf() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    legacy.contract(1, 1, "CT-1", "actif");
    let broken = |id: i64, document: rusqlite::types::Value| {
        legacy.insert(
            JU,
            "contrats",
            &[
                ("id", i(id)),
                ("client_id", i(1)),
                ("reference", t(&format!("CT-{id}"))),
                ("produit", t("Vie Sérénité")),
                ("date_signature", t("2020-01-15")),
                ("statut", t("actif")),
                ("nom_fichier", t("contrat.pdf")),
                ("fichier", document),
            ],
        );
    };
    broken(2, blob(b""));
    broken(3, null());
    broken(4, blob(b"MZ\x90\x00 not a pdf"));
    let (db, pool, report) = import(&legacy).await;
    for (id, words) in [(2, "empty"), (3, "no signed document"), (4, "not a PDF")] {
        let (field, why) = reason(&report, JU, "contrats", id);
        assert_eq!(field.as_deref(), Some("fichier"));
        assert!(why.contains(words), "{why}");
    }
    let contract = payloads(
        &pool,
        "Contract",
        &lae_migrator::legacy_ids::contract(1).to_string(),
    )
    .await;
    let signed = &contract[1];
    assert_eq!(signed["type"], "ContractSigned");
    let pdf_bytes = match pdf("CT-1") {
        rusqlite::types::Value::Blob(b) => b,
        _ => unreachable!("pdf() is a blob"),
    };
    assert_eq!(signed["document"]["size_bytes"], pdf_bytes.len());
    assert_eq!(signed["document"]["name"], "CT-1.pdf");
    let sha = signed["document"]["sha256"].as_str().expect("sha");
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT content FROM contract_documents WHERE sha256 = $1")
            .bind(sha)
            .fetch_one(&db.owner_pool().await)
            .await
            .expect("document stored");
    assert_eq!(stored, pdf_bytes);
    assert_eq!(report.documents_stored, 1);
}

#[tokio::test]
async fn a_missing_file_stops_the_import_before_anything_is_written() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    std::fs::remove_file(legacy.path().join(VE)).expect("remove");
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let result = migrate(options(legacy.path()), pool.clone()).await;
    assert_eq!(exit_code(&result), 3);
    let error = result.expect_err("missing file");
    assert!(
        matches!(
            error,
            MigrateError::MissingFile {
                file: "vente.db",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(count_events(&pool).await, 0);
}

#[tokio::test]
async fn a_foreign_schema_or_a_file_that_is_not_sqlite_stops_the_import() {
    let legacy = Legacy::new();
    legacy.exec(
        VE,
        "ALTER TABLE offres RENAME COLUMN prime_mensuelle TO prime",
    );
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let error = migrate(options(legacy.path()), pool.clone())
        .await
        .expect_err("schema");
    assert_eq!(
        error.to_string(),
        "vente.db, table offres: missing column(s) prime_mensuelle"
    );
    assert_eq!(error.exit_code(), 3);

    let legacy = Legacy::new();
    std::fs::write(legacy.path().join(FA), b"this is not a database, just text").expect("write");
    let error = migrate(options(legacy.path()), pool.clone())
        .await
        .expect_err("not sqlite");
    assert!(error.to_string().starts_with("facturation.db"), "{error}");
    assert_eq!(error.exit_code(), 3);
    assert_eq!(count_events(&pool).await, 0);
}
