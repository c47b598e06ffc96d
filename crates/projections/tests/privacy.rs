//! Each department's read model holds what it may see and nothing else; contact details
//! changed once reach every department.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use lae_domain::customer::CustomerEvent;
use lae_projections::Department;
use lae_store::crypto::MasterKeys;
use support::scenario::{
    WITNESS_PERSONAL, WITNESS_PERSONAL_EXACT, Writer, p, plant_witness, populate, registered,
};
use support::{Match, TestDb, TestNats, project, test_masters, where_is};
use uuid::Uuid;

const CS: Department = Department::CustomerService;
const LEGAL: Department = Department::Legal;
const SALES: Department = Department::Sales;
const BILLING: Department = Department::Billing;

/// Plants a witness among background customers, projects everything, and checks that
/// each of its values is exactly where its department may see it. With `masters`, the
/// events are written sealed and projected with keys.
async fn every_value_lands_where_it_may(masters: Option<Arc<MasterKeys>>) {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let mut w = match &masters {
        Some(m) => Writer::sealed(&db, m.clone()).await,
        None => Writer::new(&db).await,
    };
    // Background customers, so that every table has rows besides the planted ones.
    populate(&mut w, 6, 0).await;
    let witness = plant_witness(&mut w).await;
    let id = witness.id;

    let metrics = project(&db, &nats, "priv", masters.clone()).await;
    for d in Department::ALL {
        let m = metrics.department(d);
        assert_eq!(
            (m.undecodable(), m.redacted(), m.batch_failures()),
            (0, 0, 0),
            "{d}"
        );
    }

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
        // Offers and contract status: sales (and legal's contracts name the product,
        // as billing's do: billing invoices them).
        (
            "zz-produit-témoin",
            Match::Contains,
            [LEGAL, SALES, BILLING].into(),
        ),
        // Tickets: customer service; a department only while it holds one (the
        // witness ticket was resolved by legal, which then keeps none of its words).
        ("zz-ticket-témoin", Match::Contains, [CS].into()),
        ("zz-action-témoin", Match::Contains, [CS].into()),
        ("zz-résolution-témoin", Match::Contains, [CS].into()),
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
    // What management can read holds no uuid column at all, only counts and sums; the
    // uuid columns are the projector's working state (`work_*`), which its reader
    // cannot select from.
    let uuid_columns: Vec<(String, bool)> = sqlx::query_as(
        "SELECT table_name::text, \
                has_table_privilege('lae_management_reader', 'management.' || quote_ident(table_name), 'SELECT') \
           FROM information_schema.columns WHERE table_schema = 'management' AND data_type = 'uuid'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    assert!(
        !uuid_columns.is_empty(),
        "the working state pairs events by id"
    );
    for (table, readable) in &uuid_columns {
        assert!(
            table.starts_with("work_") && !readable,
            "{table}: {uuid_columns:?}"
        );
    }
    let registered: i64 = sqlx::query_scalar(
        "SELECT count FROM management.counters WHERE aggregate_type = 'Customer' AND event_type = 'CustomerRegistered'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("counter");
    assert_eq!(registered, 7);

    // With encryption on, the event store itself holds none of the personal values in
    // clear: not in any payload, not in any metadata.
    if masters.is_some() {
        for value in WITNESS_PERSONAL {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM events WHERE strpos(payload::text, $1) > 0 OR strpos(metadata::text, $1) > 0",
            )
            .bind(value)
            .fetch_one(&mut conn)
            .await
            .expect("scan");
            assert_eq!(n, 0, "{value:?} is in clear in the event store");
        }
        for value in WITNESS_PERSONAL_EXACT {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM events e, json_each_text(e.payload) f \
                  WHERE e.aggregate_type = 'Customer' AND e.aggregate_id = $2 AND f.value = $1",
            )
            .bind(value)
            .bind(&id_text)
            .fetch_one(&mut conn)
            .await
            .expect("scan");
            assert_eq!(n, 0, "{value:?} is in clear in the witness's events");
        }
        let sealed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_id = $1 AND strpos(payload::text, '\"$sealed\"') > 0",
        )
        .bind(&id_text)
        .fetch_one(&mut conn)
        .await
        .expect("count");
        assert_eq!(sealed, 6, "every personal event of the witness is sealed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_value_appears_only_where_its_department_may_see_it() {
    every_value_lands_where_it_may(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sealed_events_every_planted_value_still_lands_only_where_it_may() {
    every_value_lands_where_it_may(Some(test_masters())).await;
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
    project(&db, &nats, "contact1", None).await;

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
    project(&db, &nats, "contact1", None).await;

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
