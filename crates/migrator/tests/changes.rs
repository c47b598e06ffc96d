//! Re-runs: a change made in a legacy file since the last run becomes only the events
//! that express it; a change the domain cannot express is set aside; departments can
//! be imported on their own; a dry run writes nothing.

mod common;

use std::collections::BTreeMap;

use common::legacy::{FA, JU, Legacy, SC, VE, i, t};
use common::{TestDb, count_events, customer, options, payloads};
use lae_domain::Department;
use lae_migrator::{Report, Scope, migrate};
use sqlx::PgPool;

fn estate() -> Legacy {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    legacy.customer(
        2,
        "LAE-000002",
        "D'Artagnan",
        "Hélène",
        "helene@exemple.fr",
        "0622222222",
    );
    legacy.contract(1, 1, "CT-000001-1", "actif");
    legacy.contract(2, 2, "CT-000002-1", "résilié");
    legacy.insert(
        VE,
        "offres",
        &[
            ("id", i(1)),
            ("client_id", i(1)),
            ("produit", t("Vie Sérénité")),
            ("date_proposition", t("04/03/2021")),
            ("statut", t("proposée")),
            ("prime_mensuelle", t("31,50")),
        ],
    );
    legacy.insert(
        FA,
        "factures",
        &[
            ("id", i(1)),
            ("client_id", i(1)),
            ("numero", t("F2021-000001-01")),
            ("date_emission", t("2021-03-04")),
            ("montant", t("31,50")),
            ("statut", t("émise")),
        ],
    );
    legacy.insert(
        SC,
        "appels",
        &[
            ("id", i(1)),
            ("client_id", i(1)),
            ("date_appel", t("2021-03-04 10:15:00")),
            ("canal", t("téléphone")),
            ("motif", t("Question sur contrat")),
            (
                "actions",
                t("Informations données au client; fiche mise à jour"),
            ),
            ("operateur", t("op1")),
        ],
    );
    legacy
}

async fn run(legacy: &Legacy, pool: &PgPool) -> Report {
    let report = migrate(options(legacy.path()), pool.clone())
        .await
        .expect("import");
    report.check().expect("counts add up");
    report
}

fn types(report: &Report) -> BTreeMap<&str, u64> {
    report
        .events_by_type
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

#[tokio::test]
async fn changes_in_the_legacy_files_become_only_new_events() {
    let legacy = estate();
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let first = run(&legacy, &pool).await;
    assert!(first.events_appended > 10);
    assert_eq!(run(&legacy, &pool).await.events_appended, 0);

    // Customer service changes a phone: one ContactDetailsChanged, nothing else.
    legacy.exec(
        SC,
        "UPDATE clients SET telephone = '07 00 00 00 01' WHERE id = 1",
    );
    let report = run(&legacy, &pool).await;
    assert_eq!(
        types(&report),
        BTreeMap::from([("Customer.ContactDetailsChanged", 1)])
    );
    let events = payloads(&pool, "Customer", &customer(1)).await;
    let changed = events.last().expect("events");
    assert_eq!(changed["type"], "ContactDetailsChanged");
    assert_eq!(changed["phone"], "+33700000001");
    assert_eq!(changed["email"], "lea@exemple.fr");
    // The other files still have the old phone: reported, not imported.
    assert!(
        report
            .conflicts
            .iter()
            .any(|c| c.field == "telephone" && c.source_value == "+33700000001")
    );

    // Each department moves on.
    legacy.exec(FA, "UPDATE factures SET statut = 'payée' WHERE id = 1");
    legacy.exec(JU, "UPDATE contrats SET statut = 'résilié' WHERE id = 1");
    legacy.exec(VE, "UPDATE offres SET statut = 'acceptée' WHERE id = 1");
    legacy.exec(VE, "UPDATE clients SET sexe = 'M' WHERE id = 2");
    legacy.exec(
        VE,
        "INSERT INTO offres (id, client_id, produit, date_proposition, statut, prime_mensuelle)
         VALUES (2, 2, 'Épargne Avenir', '2022-01-10', 'proposée', '45.00')",
    );
    legacy.exec(FA, "UPDATE clients SET iban = 'DE44500105175407324931', rum = 'RUM-LAE-2', date_mandat = '2022-06-01' WHERE id = 2");
    let report = run(&legacy, &pool).await;
    assert_eq!(
        types(&report),
        BTreeMap::from([
            ("Contract.ContractTerminated", 1),
            ("Customer.MandateAmended", 1),
            ("Customer.SalesProfileSet", 1),
            ("Invoice.InvoicePaid", 1),
            ("Offer.OfferAccepted", 1),
            ("Offer.OfferProposed", 1),
        ])
    );
    let amended = payloads(&pool, "Customer", &customer(2)).await;
    let amendment = amended
        .iter()
        .find(|p| p["type"] == "MandateAmended")
        .expect("amended");
    assert_eq!(amendment["previous_iban"], "FR7630006000011234567890189");
    assert_eq!(amendment["amended_on"], "2022-06-01");
    assert_eq!(run(&legacy, &pool).await.events_appended, 0);

    // A decision cannot be undone: the change is set aside, the store keeps its history.
    legacy.exec(VE, "UPDATE offres SET statut = 'refusée' WHERE id = 1");
    let before = count_events(&pool).await;
    let report = run(&legacy, &pool).await;
    assert_eq!(report.events_appended, 0);
    assert_eq!(count_events(&pool).await, before);
    let refused = report
        .set_aside
        .iter()
        .find(|s| s.table == "offres" && s.row_id == 1 && s.scope == Scope::Row)
        .expect("set aside");
    assert!(refused.reason.contains("cannot undo"), "{}", refused.reason);
}

#[tokio::test]
async fn departments_without_customer_service_match_only_customers_in_the_store() {
    let legacy = estate();
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let only = |departments: &[Department]| {
        let mut o = options(legacy.path());
        o.departments = departments.to_vec();
        o
    };

    // Legal alone, on an empty store: nobody to attach anything to.
    let report = migrate(only(&[Department::Legal]), pool.clone())
        .await
        .expect("legal");
    report.check().expect("counts");
    assert_eq!(report.events_appended, 0);
    assert_eq!(report.tables.len(), 2);
    assert_eq!(report.tables["juridique.clients"].quarantined, 2);
    assert!(
        report.set_aside[0].reason.contains("not registered"),
        "{}",
        report.set_aside[0].reason
    );
    assert_eq!(report.tables["juridique.contrats"].quarantined, 2);

    // Customer service registers them; legal then finds them in the store.
    let report = migrate(only(&[Department::CustomerService]), pool.clone())
        .await
        .expect("cs");
    assert_eq!(report.events_by_type["Customer.CustomerRegistered"], 2);
    let report = migrate(only(&[Department::Legal]), pool.clone())
        .await
        .expect("legal again");
    assert_eq!(report.quarantined_rows(), 0, "{:#?}", report.set_aside);
    assert_eq!(report.events_by_type["Customer.HealthDeclared"], 2);
    assert_eq!(report.events_by_type["Contract.ContractSigned"], 2);

    // Everything: only sales and billing are left to import.
    let report = migrate(options(legacy.path()), pool.clone())
        .await
        .expect("all");
    let kinds: Vec<&str> = report
        .events_by_type
        .keys()
        .map(|k| k.split('.').next().unwrap_or(""))
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| ["Customer", "Offer", "Invoice"].contains(k)),
        "{kinds:?}"
    );
    assert!(
        report
            .events_by_type
            .contains_key("Customer.SalesProfileSet")
    );
    assert!(
        !report
            .events_by_type
            .contains_key("Customer.CustomerRegistered")
    );
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_what_it_would_append() {
    let legacy = estate();
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let mut dry = options(legacy.path());
    dry.dry_run = true;
    let planned = migrate(dry, pool.clone()).await.expect("dry run");
    planned.check().expect("counts");
    assert!(planned.dry_run);
    assert_eq!(count_events(&pool).await, 0);
    let documents: i64 = sqlx::query_scalar("SELECT count(*) FROM contract_documents")
        .fetch_one(&pool)
        .await
        .expect("documents");
    assert_eq!(documents, 0);
    let real = run(&legacy, &pool).await;
    assert_eq!(real.events_appended, planned.events_appended);
    assert_eq!(real.events_by_type, planned.events_by_type);
    assert_eq!(real.documents_stored, planned.documents_stored);
    assert_eq!(real.tables, planned.tables);

    // The report file is the returned report.
    let file = legacy.path().join("report.json");
    let mut with_file = options(legacy.path());
    with_file.report_path = Some(file.clone());
    with_file.dry_run = true;
    let returned = migrate(with_file, pool.clone())
        .await
        .expect("dry run with a report");
    let written: Report = serde_json::from_slice(&std::fs::read(&file).expect("report written"))
        .expect("report json");
    assert_eq!(written, returned);
    assert_eq!(written.events_appended, 0);
}
