//! One test per quirk of the legacy data (`crates/migrator/legacy/SCHEMA.md`): each value ends
//! in the store, normalised, or in the report with its reason.

mod common;

use common::legacy::{FA, JU, Legacy, SC, VE, i, null, t};
use common::{TestDb, customer, options, payloads};
use lae_migrator::{Report, Scope, migrate};
use serde_json::{Value, json};
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

/// A customer registered at customer service only.
fn sc_client(legacy: &Legacy, id: i64, number: &str, mail: &str, phone: &str) {
    legacy.insert(
        SC,
        "clients",
        &[
            ("id", i(id)),
            ("num_client", t(number)),
            ("nom", t("Martin")),
            ("prenom", t("Léa")),
            ("mail", t(mail)),
            ("telephone", t(phone)),
            ("disponibilite", t("")),
        ],
    );
}

fn set_aside<'a>(
    report: &'a Report,
    file: &str,
    table: &str,
    row_id: i64,
) -> Vec<&'a lae_migrator::SetAside> {
    report
        .set_aside
        .iter()
        .filter(|s| s.file == file && s.table == table && s.row_id == row_id)
        .collect()
}

fn quarantined<'a>(
    report: &'a Report,
    file: &str,
    table: &str,
    row_id: i64,
) -> &'a lae_migrator::SetAside {
    set_aside(report, file, table, row_id)
        .into_iter()
        .find(|s| s.scope == Scope::Row)
        .unwrap_or_else(|| {
            panic!(
                "{file} {table} row {row_id} is not quarantined: {:#?}",
                report.set_aside
            )
        })
}

fn registered(payloads: &[Value]) -> &Value {
    payloads
        .iter()
        .find(|p| p["type"] == "CustomerRegistered")
        .expect("registered")
}

#[tokio::test]
async fn phones_in_every_french_format_become_e164() {
    let legacy = Legacy::new();
    let formats = [
        "0612345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "+33612345678",
    ];
    for (n, phone) in formats.iter().enumerate() {
        let n = n as i64 + 1;
        sc_client(
            &legacy,
            n,
            &format!("LAE-{n:06}"),
            &format!("c{n}@exemple.fr"),
            phone,
        );
    }
    // A phone whose leading zero a spreadsheet ate: restoring it would be a guess.
    sc_client(&legacy, 5, "LAE-000005", "c5@exemple.fr", "612345678");
    let (_db, pool, report) = import(&legacy).await;
    for n in 1..=4 {
        let events = payloads(&pool, "Customer", &customer(n)).await;
        assert_eq!(registered(&events)["phone"], "+33612345678", "customer {n}");
    }
    let events = payloads(&pool, "Customer", &customer(5)).await;
    assert_eq!(registered(&events)["phone"], Value::Null);
    let issue = &set_aside(&report, SC, "clients", 5)[0];
    assert_eq!(
        (issue.scope, issue.field.as_deref()),
        (Scope::Field, Some("telephone"))
    );
    assert_eq!(report.tables["service_client.clients"].imported, 5);
}

#[tokio::test]
async fn dates_in_the_three_legacy_formats() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    let dates = [
        "2021-03-04",
        "04/03/2021",
        "2021-03-04 10:15:00",
        "31/02/2021",
        "03/25/2021",
    ];
    for (n, date) in dates.iter().enumerate() {
        legacy.insert(
            VE,
            "offres",
            &[
                ("id", i(n as i64 + 1)),
                ("client_id", i(1)),
                ("produit", t("Vie Sérénité")),
                ("date_proposition", t(date)),
                ("statut", t("proposée")),
                ("prime_mensuelle", t("31,50")),
            ],
        );
    }
    legacy.insert(
        SC,
        "appels",
        &[
            ("id", i(1)),
            ("client_id", i(1)),
            ("date_appel", t("2021-03-04 10:15:00")),
            ("canal", t("téléphone")),
            ("motif", t("Question sur contrat")),
            ("actions", t("Informations données")),
            ("operateur", t("op1")),
        ],
    );
    let (_db, pool, report) = import(&legacy).await;
    for n in 1..=3 {
        let offer = payloads(
            &pool,
            "Offer",
            &lae_migrator::legacy_ids::offer(n).to_string(),
        )
        .await;
        assert_eq!(offer[0]["proposed_on"], "2021-03-04", "offer {n}");
    }
    for n in [4, 5] {
        let refused = quarantined(&report, VE, "offres", n);
        assert_eq!(refused.field.as_deref(), Some("date_proposition"));
    }
    // Legacy times are Paris wall-clock times (UTC+1 in March 2021).
    let ticket = payloads(
        &pool,
        "Ticket",
        &lae_migrator::legacy_ids::ticket(1).to_string(),
    )
    .await;
    assert_eq!(ticket[0]["opened_at"], "2021-03-04T09:15:00Z");
    assert_eq!(ticket.last().expect("events")["type"], "TicketResolved");
}

#[tokio::test]
async fn booleans_oui_non_o_n_1_0_true() {
    let legacy = Legacy::new();
    let values = ["oui", "O", "1", "true", "non", "N", "0", "peut-être"];
    for (n, value) in values.iter().enumerate() {
        let id = n as i64 + 1;
        let number = format!("LAE-{id:06}");
        sc_client(
            &legacy,
            id,
            &number,
            &format!("c{id}@exemple.fr"),
            "0611111111",
        );
        legacy.insert(
            FA,
            "clients",
            &[
                ("id", i(id)),
                ("num_client", t(&number)),
                ("nom", t("Martin")),
                ("prenom", t("Léa")),
                ("mail", t(&format!("c{id}@exemple.fr"))),
                ("telephone", t("0611111111")),
                ("disponibilite", t("")),
                ("iban", t("FR7630006000011234567890189")),
                ("autorisation_prelevement", t(value)),
                ("date_mandat", t("01/02/2020")),
                ("rum", t(&format!("RUM-{id}"))),
            ],
        );
    }
    let (_db, pool, report) = import(&legacy).await;
    for id in 1..=8u32 {
        let events = payloads(&pool, "Customer", &customer(id)).await;
        let signed = events.iter().any(|p| p["type"] == "MandateSigned");
        assert_eq!(
            signed,
            id <= 4,
            "customer {id} ({})",
            values[id as usize - 1]
        );
    }
    let unknown = set_aside(&report, FA, "clients", 8);
    assert_eq!(
        unknown[0].field.as_deref(),
        Some("autorisation_prelevement")
    );
    assert_eq!(report.tables["facturation.clients"].imported, 8);
}

#[tokio::test]
async fn amounts_with_a_decimal_comma_or_point() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    for (id, amount) in [
        (1, t("31,50")),
        (2, t("31.50")),
        (3, t("31,5")),
        (4, rusqlite::types::Value::Real(31.5)),
        (5, i(31)),
    ] {
        legacy.insert(
            FA,
            "factures",
            &[
                ("id", i(id)),
                ("client_id", i(1)),
                ("numero", t(&format!("F-{id}"))),
                ("date_emission", t("2021-03-04")),
                ("montant", amount),
                ("statut", t("émise")),
            ],
        );
    }
    let (_db, pool, _report) = import(&legacy).await;
    for (id, cents) in [(1, 3150), (2, 3150), (3, 3150), (4, 3150), (5, 3100)] {
        let invoice = payloads(
            &pool,
            "Invoice",
            &lae_migrator::legacy_ids::invoice(id).to_string(),
        )
        .await;
        assert_eq!(invoice[0]["amount"], cents, "invoice {id}");
        assert_eq!(invoice[0]["due_on"], "2021-03-04");
    }
}

#[tokio::test]
async fn ibans_with_spaces_or_a_wrong_checksum() {
    let legacy = Legacy::new();
    let ibans = [
        "FR76 3000 6000 0112 3456 7890 189",
        "FR76 3000 6000 0112 3456 7890 188",
    ];
    for (n, iban) in ibans.iter().enumerate() {
        let id = n as i64 + 1;
        let number = format!("LAE-{id:06}");
        sc_client(
            &legacy,
            id,
            &number,
            &format!("c{id}@exemple.fr"),
            "0611111111",
        );
        legacy.insert(
            FA,
            "clients",
            &[
                ("id", i(id)),
                ("num_client", t(&number)),
                ("nom", t("Martin")),
                ("prenom", t("Léa")),
                ("iban", t(iban)),
                ("autorisation_prelevement", t("oui")),
                ("date_mandat", t("2020-02-01")),
                ("rum", t(&format!("RUM-{id}"))),
            ],
        );
        legacy.insert(
            FA,
            "factures",
            &[
                ("id", i(id)),
                ("client_id", i(id)),
                ("numero", t(&format!("F-{id}"))),
                ("date_emission", t("2021-03-04")),
                ("montant", t("12,00")),
                ("statut", t("payée")),
            ],
        );
    }
    let (_db, pool, report) = import(&legacy).await;
    let good = payloads(&pool, "Customer", &customer(1)).await;
    let mandate = good
        .iter()
        .find(|p| p["type"] == "MandateSigned")
        .expect("mandate");
    assert_eq!(mandate["iban"], "FR7630006000011234567890189");
    let bad = payloads(&pool, "Customer", &customer(2)).await;
    assert!(
        bad.iter().all(|p| p["type"] != "MandateSigned"),
        "no mandate on a bad IBAN"
    );
    let issue = &set_aside(&report, FA, "clients", 2)[0];
    assert_eq!(
        (issue.scope, issue.field.as_deref()),
        (Scope::Field, Some("iban"))
    );
    assert!(issue.reason.contains("check digits"));
    // The customer's invoices are imported all the same.
    let invoice = payloads(
        &pool,
        "Invoice",
        &lae_migrator::legacy_ids::invoice(2).to_string(),
    )
    .await;
    assert_eq!(invoice.len(), 2);
    // No IBAN, valid or not, appears anywhere in the report.
    let json = serde_json::to_string(&report).expect("json");
    assert!(!json.contains("30006000011234567890"), "{json}");
    assert!(!json.contains("3000 6000"), "{json}");
}

#[tokio::test]
async fn rows_without_num_client_are_matched_on_mail_then_phone() {
    let legacy = Legacy::new();
    sc_client(&legacy, 1, "LAE-000001", "a@exemple.fr", "0611111111");
    sc_client(&legacy, 2, "LAE-000002", "b@exemple.fr", "0622222222");
    let vente = |id: i64, mail: &str, phone: &str, sex: &str| {
        legacy.insert(
            VE,
            "clients",
            &[
                ("id", i(id)),
                ("num_client", null()),
                ("nom", t("Martin")),
                ("prenom", t("Léa")),
                ("mail", t(mail)),
                ("telephone", t(phone)),
                ("sexe", t(sex)),
            ],
        );
        legacy.insert(
            VE,
            "offres",
            &[
                ("id", i(id)),
                ("client_id", i(id)),
                ("produit", t("Vie Sérénité")),
                ("date_proposition", t("2021-03-04")),
                ("statut", t("proposée")),
                ("prime_mensuelle", t("31,50")),
            ],
        );
    };
    vente(10, " A@EXEMPLE.FR ", "", "F");
    vente(11, "", "06 22 22 22 22", "M");
    vente(12, "inconnu@exemple.fr", "0633333333", "F");
    let (_db, pool, report) = import(&legacy).await;
    let first = payloads(&pool, "Customer", &customer(1)).await;
    assert!(
        first
            .iter()
            .any(|p| p["type"] == "SalesProfileSet" && p["sex"] == "female")
    );
    let second = payloads(&pool, "Customer", &customer(2)).await;
    assert!(
        second
            .iter()
            .any(|p| p["type"] == "SalesProfileSet" && p["sex"] == "male")
    );
    let offer = payloads(
        &pool,
        "Offer",
        &lae_migrator::legacy_ids::offer(10).to_string(),
    )
    .await;
    assert_eq!(offer[0]["customer_id"], customer(1));
    let unmatched = quarantined(&report, VE, "clients", 12);
    assert!(
        unmatched.reason.contains("mail or phone"),
        "{}",
        unmatched.reason
    );
    let orphan = quarantined(&report, VE, "offres", 12);
    assert!(orphan.reason.contains("set aside"), "{}", orphan.reason);
}

#[tokio::test]
async fn a_customer_entered_twice_in_one_file() {
    let legacy = Legacy::new();
    sc_client(&legacy, 1, "LAE-000001", "a@exemple.fr", "0611111111");
    // The same, typed differently: merged.
    sc_client(&legacy, 2, "lae-000001", " A@EXEMPLE.FR ", "06 11 11 11 11");
    // The same number with another phone: which one is right? Set aside.
    sc_client(&legacy, 3, "LAE-000001", "a@exemple.fr", "0699999999");
    legacy.insert(
        SC,
        "appels",
        &[
            ("id", i(1)),
            ("client_id", i(3)),
            ("date_appel", t("2021-03-04 10:00:00")),
            ("canal", t("mail")),
            ("motif", t("Réclamation facture")),
            ("operateur", t("op2")),
        ],
    );
    let (_db, pool, report) = import(&legacy).await;
    let clients = &report.tables["service_client.clients"];
    assert_eq!(
        (clients.imported, clients.merged, clients.quarantined),
        (1, 1, 1)
    );
    let duplicate = quarantined(&report, SC, "clients", 3);
    assert!(
        duplicate.reason.contains("row 1") && duplicate.reason.contains("telephone"),
        "{}",
        duplicate.reason
    );
    let events = payloads(&pool, "Customer", &customer(1)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(registered(&events)["phone"], "+33611111111");
    // The set-aside copy still says who the call was from.
    let ticket = payloads(
        &pool,
        "Ticket",
        &lae_migrator::legacy_ids::ticket(1).to_string(),
    )
    .await;
    assert_eq!(ticket[0]["customer_id"], customer(1));
}

#[tokio::test]
async fn rows_pointing_at_a_customer_that_does_not_exist() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    legacy.insert(
        VE,
        "offres",
        &[
            ("id", i(1)),
            ("client_id", i(999)),
            ("produit", t("Vie Sérénité")),
            ("date_proposition", t("01/02/2020")),
            ("statut", t("proposée")),
            ("prime_mensuelle", t("31,00")),
        ],
    );
    legacy.insert(
        FA,
        "factures",
        &[("id", i(1)), ("client_id", null()), ("numero", t("F-1"))],
    );
    let (_db, _pool, report) = import(&legacy).await;
    let offer = quarantined(&report, VE, "offres", 1);
    assert!(
        offer.reason.contains("999") && offer.reason.contains("does not exist"),
        "{}",
        offer.reason
    );
    assert!(
        quarantined(&report, FA, "factures", 1)
            .reason
            .contains("no client_id")
    );
}

#[tokio::test]
async fn names_with_accents_apostrophes_spaces_and_foreign_letters() {
    let legacy = Legacy::new();
    let names = [
        ("D'Artagnan", "Hélène"),
        ("Le  Goff", "Zoë"),
        ("Øster", "Noël"),
        ("Saint-Exupéry", "Ève"),
    ];
    for (n, (last, first)) in names.iter().enumerate() {
        let id = n as i64 + 1;
        legacy.insert(
            SC,
            "clients",
            &[
                ("id", i(id)),
                ("num_client", t(&format!("LAE-{id:06}"))),
                ("nom", t(last)),
                ("prenom", t(first)),
            ],
        );
    }
    let (_db, pool, _report) = import(&legacy).await;
    for (n, (last, first)) in names.iter().enumerate() {
        let events = payloads(&pool, "Customer", &customer(n as u32 + 1)).await;
        let expected_last = last.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(registered(&events)["last_name"], expected_last);
        assert_eq!(registered(&events)["first_name"], *first);
    }
}

#[tokio::test]
async fn stale_contact_details_are_reported_as_conflicts() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        "lea@exemple.fr",
        "0611111111",
    );
    // Billing never heard of the new phone.
    legacy.exec(
        FA,
        "UPDATE clients SET telephone = '06 99 99 99 99' WHERE id = 1",
    );
    let (_db, pool, report) = import(&legacy).await;
    assert_eq!(report.conflicts.len(), 1, "{:#?}", report.conflicts);
    let conflict = &report.conflicts[0];
    assert_eq!(
        serde_json::to_value(conflict).expect("json"),
        json!({
            "num_client": "LAE-000001",
            "field": "telephone",
            "source_value": "+33611111111",
            "other_file": "facturation.db",
            "other_row_id": 1,
            "other_value": "+33699999999",
        })
    );
    let events = payloads(&pool, "Customer", &customer(1)).await;
    assert_eq!(events.iter().filter(|p| p["phone"].is_string()).count(), 1);
    assert_eq!(registered(&events)["phone"], "+33611111111");
}

#[tokio::test]
async fn mails_in_upper_case_with_spaces_or_empty() {
    let legacy = Legacy::new();
    legacy.customer(
        1,
        "LAE-000001",
        "Martin",
        "Léa",
        " Lea.Martin@Exemple.FR ",
        "0611111111",
    );
    legacy.exec(
        VE,
        "UPDATE clients SET mail = 'LEA.MARTIN@EXEMPLE.FR' WHERE id = 1",
    );
    legacy.exec(JU, "UPDATE clients SET mail = '' WHERE id = 1");
    sc_client(&legacy, 2, "LAE-000002", "", "0622222222");
    sc_client(&legacy, 3, "LAE-000003", "pas une adresse", "0633333333");
    let (_db, pool, report) = import(&legacy).await;
    let events = payloads(&pool, "Customer", &customer(1)).await;
    assert_eq!(registered(&events)["email"], "lea.martin@exemple.fr");
    // Upper case is no disagreement; a lost mail is.
    assert_eq!(report.conflicts.len(), 1, "{:#?}", report.conflicts);
    assert_eq!(report.conflicts[0].field, "mail");
    assert_eq!(report.conflicts[0].other_file, "juridique.db");
    assert_eq!(report.conflicts[0].other_value, "");
    assert_eq!(
        registered(&payloads(&pool, "Customer", &customer(2)).await)["email"],
        Value::Null
    );
    assert!(
        set_aside(&report, SC, "clients", 2).is_empty(),
        "an empty mail is no error"
    );
    assert_eq!(
        set_aside(&report, SC, "clients", 3)[0].field.as_deref(),
        Some("mail")
    );
}

#[tokio::test]
async fn health_values_and_ibans_never_reach_the_report() {
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
        "Petit",
        "Luc",
        "luc@exemple.fr",
        "0622222222",
    );
    legacy.exec(JU, "UPDATE clients SET tabac = 'ancien gros fumeur', maladies = 'cancer du poumon;' || char(7) WHERE id = 1");
    legacy.exec(
        FA,
        "UPDATE clients SET iban = 'FR76 3000 6000 0112 3456 7890 100' WHERE id = 2",
    );
    legacy.contract(1, 1, "CT-1", "actif");
    legacy.contract(2, 2, "CT-2", "actif");
    let (_db, pool, report) = import(&legacy).await;
    let json = serde_json::to_string(&report).expect("json");
    for secret in ["ancien gros fumeur", "cancer", "3000 6000", "30006000"] {
        assert!(!json.contains(secret), "{secret:?} leaked: {json}");
    }
    let health = set_aside(&report, JU, "clients", 1);
    assert!(health.iter().any(|s| s.field.as_deref() == Some("tabac")));
    assert!(
        health
            .iter()
            .any(|s| s.field.as_deref() == Some("maladies"))
    );
    // Customer 2's declaration is dated with their contract's signature.
    let events = payloads(&pool, "Customer", &customer(2)).await;
    let declared = events
        .iter()
        .find(|p| p["type"] == "HealthDeclared")
        .expect("declared");
    assert_eq!(declared["declared_on"], "2020-01-15");
    assert_eq!(declared["tobacco"], "non_smoker");
}

#[tokio::test]
async fn customers_registered_on_the_platform_are_out_of_the_import_s_reach() {
    use lae_domain::customer::{Customer, CustomerCommand};
    use lae_store::{CommandExecutor, EventMetadata, EventRepository, Source};

    let legacy = Legacy::new();
    // A legacy number in the platform's range, and a department row whose mail is
    // a platform customer's.
    sc_client(&legacy, 1, "LAE-1000000", "x@exemple.fr", "0611111111");
    legacy.insert(
        VE,
        "clients",
        &[
            ("id", i(1)),
            ("nom", t("Durand")),
            ("prenom", t("Hugo")),
            ("mail", t("platform@exemple.fr")),
        ],
    );
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let executor = CommandExecutor::<Customer>::new(EventRepository::new(pool.clone()), ());
    let id = uuid::Uuid::new_v4().to_string();
    let metadata = EventMetadata::new(
        "agent",
        "customer_service",
        chrono::Utc::now(),
        uuid::Uuid::new_v4(),
        Source::Api,
    );
    executor
        .execute(
            &id,
            CustomerCommand::RegisterCustomer {
                customer_id: id.parse().expect("id"),
                customer_number: "LAE-1000000".parse().expect("number"),
                last_name: "Durand".parse().expect("name"),
                first_name: "Hugo".parse().expect("name"),
                email: Some("platform@exemple.fr".parse().expect("mail")),
                phone: None,
                availability: Default::default(),
            },
            &metadata,
        )
        .await
        .expect("registered on the platform");
    let report = migrate(options(legacy.path()), pool.clone())
        .await
        .expect("import");
    report.check().expect("counts");
    assert!(
        quarantined(&report, SC, "clients", 1)
            .reason
            .contains("legacy range")
    );
    assert!(
        quarantined(&report, VE, "clients", 1)
            .reason
            .contains("no customer has this mail")
    );
    assert_eq!(report.events_appended, 0);
    assert_eq!(payloads(&pool, "Customer", &id).await.len(), 1);
}
