//! Each department's read model holds what it may see and nothing else; contact details
//! changed once reach every department.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lae_domain::contract::{ContractEvent, SignedDocument};
use lae_domain::customer::CustomerEvent;
use lae_domain::invoice::InvoiceEvent;
use lae_domain::offer::OfferEvent;
use lae_domain::ticket::TicketEvent;
use lae_domain::{
    AgeBand, AlcoholUse, Cents, Channel, ContractId, CustomerId, OfferId, Sex, TobaccoUse,
};
use lae_projections::{Department, ProjectionMetrics, run_all};
use lae_store::db::quote_ident;
use support::scenario::{Writer, day, p, populate, registered};
use support::{TestDb, TestNats, shutdown_signal};
use uuid::Uuid;

const CS: Department = Department::CustomerService;
const LEGAL: Department = Department::Legal;
const SALES: Department = Department::Sales;
const BILLING: Department = Department::Billing;

/// How a planted value is looked for in a cell's text.
#[derive(Debug, Clone, Copy)]
enum Match {
    Exact,
    Contains,
}

/// Runs every projector until they have consumed what the relay published.
async fn project(db: &TestDb, nats: &TestNats, prefix: &str) {
    nats.relay(db).await;
    let (stop, signal) = shutdown_signal();
    let metrics = Arc::new(ProjectionMetrics::new());
    let config = nats.projector_config(prefix);
    let settings = db.settings.clone();
    let task = tokio::spawn(async move { run_all(&settings, config, metrics, signal()).await });
    nats.wait_caught_up(prefix, Duration::from_secs(60)).await;
    let _ = stop.send(true);
    task.await.expect("joins").expect("projectors stop cleanly");
}

/// The departments whose schema holds `value` in some column.
async fn where_is(db: &TestDb, value: &str, how: Match) -> BTreeSet<Department> {
    let mut conn = db.owner().await;
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = ANY($1) ORDER BY 1, 2, 3",
    )
    .bind(Department::ALL.map(|d| d.schema()).to_vec())
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    assert!(columns.len() > 50, "only {} columns found", columns.len());
    let mut found = BTreeSet::new();
    for (schema, table, column) in columns {
        let condition = match how {
            Match::Exact => format!("{}::text = $1", quote_ident(&column)),
            Match::Contains => format!("strpos({}::text, $1) > 0", quote_ident(&column)),
        };
        let sql = format!(
            "SELECT count(*) FROM {}.{} WHERE {condition}",
            quote_ident(&schema),
            quote_ident(&table)
        );
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(value)
            .fetch_one(&mut conn)
            .await
            .expect("scan");
        if n > 0 {
            found.insert(schema.parse::<Department>().expect("department schema"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_value_appears_only_where_its_department_may_see_it() {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let mut w = Writer::new(&db).await;
    // Background customers, so that every table has rows besides the planted ones.
    populate(&mut w, 6, 0).await;

    let id = Uuid::new_v4();
    w.customer(
        id,
        registered(
            9_999_001,
            "Zz-Nom-Témoin",
            "Zz-Prénom-Témoin",
            "zz.temoin@exemple.fr",
            "+33699887766",
        ),
    )
    .await;
    w.customer(
        id,
        CustomerEvent::HealthDeclared {
            tobacco: TobaccoUse::Smoker,
            alcohol: AlcoholUse::Regular,
            illnesses: vec![p("zz-maladie-témoin")],
            declared_on: day(3),
        },
    )
    .await;
    w.customer(
        id,
        CustomerEvent::SalesProfileSet {
            age_band: Some(AgeBand::Over65),
            profession: Some(p("zz-profession-témoin")),
            sex: Sex::Male,
        },
    )
    .await;
    w.customer(
        id,
        CustomerEvent::MandateSigned {
            iban: p("DE89370400440532013000"),
            mandate_reference: p("ZZ-RUM-TEMOIN-01"),
            signed_on: day(4),
        },
    )
    .await;
    w.customer(
        id,
        CustomerEvent::MandateAmended {
            previous_iban: p("DE89370400440532013000"),
            previous_mandate_reference: p("ZZ-RUM-TEMOIN-01"),
            iban: p("GB29NWBK60161331926819"),
            mandate_reference: p("ZZ-RUM-TEMOIN-02"),
            amended_on: day(5),
        },
    )
    .await;
    w.customer(
        id,
        CustomerEvent::MandateRevoked {
            revoked_on: day(6),
            reason: Some(p("zz-motif-bancaire-témoin")),
        },
    )
    .await;
    let customer_id = CustomerId::new(id);
    let offer = OfferId::new(Uuid::new_v4());
    w.append(
        "Offer",
        *offer.as_uuid(),
        &[
            OfferEvent::OfferProposed {
                customer_id,
                product: p("zz-produit-témoin"),
                monthly_premium: Cents(4321),
                proposed_on: day(7),
            },
            OfferEvent::OfferAccepted {
                customer_id,
                product: p("zz-produit-témoin"),
                monthly_premium: Cents(4321),
                accepted_on: day(8),
            },
        ],
    )
    .await;
    let contract = ContractId::for_offer(offer);
    w.append(
        "Contract",
        *contract.as_uuid(),
        &[
            ContractEvent::ContractRequested {
                customer_id,
                product: p("zz-produit-témoin"),
                monthly_premium: Cents(4321),
                offer_id: Some(offer),
                requested_on: day(8),
            },
            ContractEvent::ContractSigned {
                reference: p("ZZ-CONTRAT-TEMOIN"),
                signed_on: day(9),
                document: SignedDocument {
                    sha256: p(&"ab".repeat(32)),
                    name: p("zz-document-témoin.pdf"),
                    size_bytes: 1234,
                },
            },
        ],
    )
    .await;
    let invoice = Uuid::new_v4();
    w.append(
        "Invoice",
        invoice,
        &[InvoiceEvent::InvoiceIssued {
            customer_id,
            contract_id: Some(contract),
            number: p("ZZ-FACT-TEMOIN-0042"),
            amount: Cents(987_654),
            issued_on: day(10),
            due_on: day(20),
        }],
    )
    .await;
    let ticket = Uuid::new_v4();
    w.append(
        "Ticket",
        ticket,
        &[TicketEvent::TicketOpened {
            customer_id: Some(customer_id),
            channel: Channel::Mail,
            reason: p("zz-ticket-témoin"),
            opened_at: support::scenario::at(1),
            operator: p("Karim Benali"),
        }],
    )
    .await;

    project(&db, &nats, "priv").await;

    let contact: BTreeSet<_> = [CS, LEGAL, SALES, BILLING].into();
    let id_text = id.to_string();
    let cases: Vec<(&str, Match, BTreeSet<Department>)> = vec![
        // Contact details: every department but management.
        ("Zz-Nom-Témoin", Match::Contains, contact.clone()),
        ("Zz-Prénom-Témoin", Match::Contains, contact.clone()),
        ("zz.temoin@exemple.fr", Match::Contains, contact.clone()),
        ("+33699887766", Match::Contains, contact.clone()),
        ("LAE-9999001", Match::Contains, contact.clone()),
        // The customer id: every department that holds customer data, never management.
        (&id_text, Match::Exact, contact.clone()),
        // Health: legal only.
        ("smoker", Match::Exact, [LEGAL].into()),
        ("regular", Match::Exact, [LEGAL].into()),
        ("zz-maladie-témoin", Match::Contains, [LEGAL].into()),
        // Sales profile: sales only.
        ("zz-profession-témoin", Match::Contains, [SALES].into()),
        ("65+", Match::Exact, [SALES].into()),
        // Bank: billing only.
        ("DE89370400440532013000", Match::Contains, [BILLING].into()),
        ("GB29NWBK60161331926819", Match::Contains, [BILLING].into()),
        ("ZZ-RUM-TEMOIN-01", Match::Contains, [BILLING].into()),
        (
            "zz-motif-bancaire-témoin",
            Match::Contains,
            [BILLING].into(),
        ),
        // Invoice lines: billing only (sales has a flag, not the number or amount).
        ("ZZ-FACT-TEMOIN-0042", Match::Contains, [BILLING].into()),
        ("987654", Match::Exact, [BILLING].into()),
        // Signed contracts: legal.
        ("ZZ-CONTRAT-TEMOIN", Match::Contains, [LEGAL].into()),
        ("zz-document-témoin.pdf", Match::Contains, [LEGAL].into()),
        // Offers and contract status: sales (and legal's contracts name the product).
        ("zz-produit-témoin", Match::Contains, [LEGAL, SALES].into()),
        // Tickets: customer service only.
        ("zz-ticket-témoin", Match::Contains, [CS].into()),
    ];
    for (value, how, allowed) in cases {
        let found = where_is(&db, value, how).await;
        assert_eq!(
            found, allowed,
            "{value:?} is in {found:?}, may only be in {allowed:?}"
        );
    }

    // Sales sees that the customer has an unpaid invoice, without its number or amount.
    let mut conn = db.owner().await;
    let unpaid: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sales.invoice_flags WHERE customer_id = $1 AND unpaid)",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .expect("flag");
    assert!(unpaid);
    // Management holds no uuid column at all, only counts.
    let uuid_columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'management' AND data_type = 'uuid'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("columns");
    assert_eq!(uuid_columns, 0);
    let registered: i64 = sqlx::query_scalar(
        "SELECT count FROM management.counters WHERE aggregate_type = 'Customer' AND event_type = 'CustomerRegistered'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("counter");
    assert_eq!(registered, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_details_changed_once_reach_every_department() {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let mut w = Writer::new(&db).await;
    let id = Uuid::new_v4();
    w.customer(
        id,
        registered(
            9_999_002,
            "Dupont",
            "Anne",
            "anne.dupont@exemple.fr",
            "0612345678",
        ),
    )
    .await;
    project(&db, &nats, "contact1").await;

    w.customer(
        id,
        CustomerEvent::ContactDetailsChanged {
            last_name: p("Dupont-Moreau"),
            first_name: p("Anne"),
            email: Some(p("anne.moreau@exemple.fr")),
            phone: None,
            availability: p("après 18h"),
        },
    )
    .await;
    // The same durable consumers pick up where they left off.
    project(&db, &nats, "contact1").await;

    let mut conn = db.owner().await;
    for d in [CS, LEGAL, SALES, BILLING] {
        let row: (String, String, Option<String>, Option<String>, String, i64) = sqlx::query_as(&format!(
            "SELECT last_name, email, phone, customer_number, availability, version FROM {}.customers WHERE customer_id = $1",
            d.schema()
        ))
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("the customer is in every department");
        assert_eq!(row.0, "Dupont-Moreau", "{d}");
        assert_eq!(row.1, "anne.moreau@exemple.fr", "{d}");
        assert_eq!(row.2, None, "{d}: the phone was removed");
        assert_eq!(
            row.3.as_deref(),
            Some("LAE-9999002"),
            "{d}: the number stays"
        );
        assert_eq!(row.4, "après 18h", "{d}");
        assert_eq!(row.5, 2, "{d}");
    }
}
