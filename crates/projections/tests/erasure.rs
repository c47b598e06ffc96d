//! Erasure (GDPR article 17): after `CustomerErased` and the destruction of the
//! customer's keys, no read model holds any of the customer's personal data, the facts
//! the insurer must keep (contracts, invoices, offers, tickets) are still there, and a
//! rebuild from the store gives the same rows as the incremental path.

mod support;

use lae_domain::customer::CustomerEvent;
use lae_projections::{Department, RebuildOptions, rebuild};
use lae_store::crypto::erasure::shred;
use support::scenario::{
    WITNESS_PERSONAL, WITNESS_PERSONAL_EXACT, Writer, p, plant_witness, populate,
};
use support::{
    Match, TestDb, TestNats, assert_same, project, snapshot_all, test_masters, where_is,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_leaves_no_personal_value_and_a_rebuild_agrees() {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let masters = test_masters();
    let mut w = Writer::sealed(&db, masters.clone()).await;
    populate(&mut w, 4, 0).await;
    let witness = plant_witness(&mut w).await;
    let id = witness.id;

    // Before: the witness is in every department that may see it.
    project(&db, &nats, "erase", Some(masters.clone())).await;
    assert_eq!(
        where_is(&db, "Zz-Nom-Témoin", Match::Contains).await.len(),
        4
    );
    assert_eq!(
        where_is(&db, "zz-maladie-témoin", Match::Contains).await,
        [Department::Legal].into()
    );

    // The erasure, as the platform does it: the event, then the keys destroyed.
    w.customer(
        id,
        CustomerEvent::CustomerErased {
            reason: p("RGPD art. 17, demande DPO-2025-0042"),
        },
    )
    .await;
    let app = db.app_pool().await;
    let mut conn = app.acquire().await.expect("connection");
    let shredded = shred(&mut conn, id, "RGPD art. 17", "tester")
        .await
        .expect("shred");
    assert_eq!(shredded.categories.len(), 4, "{shredded:?}");
    drop(conn);

    let metrics = project(&db, &nats, "erase", Some(masters.clone())).await;
    for d in Department::ALL {
        let m = metrics.department(d);
        assert_eq!((m.undecodable(), m.batch_failures()), (0, 0), "{d}");
        assert_eq!(m.applied(), 1, "{d}: the erasure");
    }

    // No personal value of the witness anywhere, in any column of any table.
    for value in WITNESS_PERSONAL {
        let found = where_is(&db, value, Match::Contains).await;
        assert!(found.is_empty(), "{value:?} is still in {found:?}");
    }
    for value in WITNESS_PERSONAL_EXACT {
        let found = where_is(&db, value, Match::Exact).await;
        assert!(found.is_empty(), "{value:?} is still in {found:?}");
    }
    // Other customers are untouched.
    assert_eq!(
        where_is(&db, "Martin-1", Match::Exact).await.len(),
        4,
        "a background customer is still everywhere"
    );
    let mut owner = db.owner().await;
    for (table, column) in [
        ("customer_service.customers", "customer_id"),
        ("legal.customers", "customer_id"),
        ("legal.health_declarations", "customer_id"),
        ("sales.customers", "customer_id"),
        ("sales.profiles", "customer_id"),
        ("billing.customers", "customer_id"),
        ("billing.mandates", "customer_id"),
        ("billing.mandate_history", "customer_id"),
    ] {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {column} = $1"))
                .bind(id)
                .fetch_one(&mut owner)
                .await
                .expect("count");
        assert_eq!(n, 0, "{table} still holds the erased customer");
    }

    // The facts stay: contract, invoice, offer, unpaid flag, ticket.
    let contract: (String, String, i64) = sqlx::query_as(
        "SELECT reference, status, monthly_premium_cents FROM legal.contracts WHERE contract_id = $1",
    )
    .bind(witness.contract)
    .fetch_one(&mut owner)
    .await
    .expect("the contract stays");
    assert_eq!(
        contract,
        ("ZZ-CONTRAT-TEMOIN".into(), "signed".into(), 4321)
    );
    let invoice: (String, i64, String) = sqlx::query_as(
        "SELECT number, amount_cents, status FROM billing.invoices WHERE invoice_id = $1",
    )
    .bind(witness.invoice)
    .fetch_one(&mut owner)
    .await
    .expect("the invoice stays");
    assert_eq!(
        invoice,
        ("ZZ-FACT-TEMOIN-0042".into(), 987_654, "issued".into())
    );
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM billing.invoice_history WHERE invoice_id = $1")
            .bind(witness.invoice)
            .fetch_one(&mut owner)
            .await
            .expect("history");
    assert_eq!(history, 1);
    let sales: (String, String, bool) = sqlx::query_as(
        "SELECT o.status, c.status, f.unpaid FROM sales.offers o, sales.contracts c, sales.invoice_flags f \
          WHERE o.offer_id = $1 AND c.contract_id = $2 AND f.invoice_id = $3",
    )
    .bind(witness.offer)
    .bind(witness.contract)
    .bind(witness.invoice)
    .fetch_one(&mut owner)
    .await
    .expect("sales facts stay");
    assert_eq!(sales, ("accepted".into(), "signed".into(), true));
    let ticket: (Option<String>, Option<String>, Option<String>, Option<String>, i32) =
        sqlx::query_as(
            "SELECT reason, resolution, status, department, actions FROM customer_service.tickets WHERE ticket_id = $1",
        )
        .bind(witness.ticket)
        .fetch_one(&mut owner)
        .await
        .expect("the ticket stays");
    assert_eq!(
        ticket,
        (
            Some("[erased]".into()),
            Some("[erased]".into()),
            Some("resolved".into()),
            Some("legal".into()),
            1
        )
    );
    let texts: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT kind, text FROM customer_service.ticket_history WHERE ticket_id = $1 ORDER BY sequence",
    )
    .bind(witness.ticket)
    .fetch_all(&mut owner)
    .await
    .expect("ticket history");
    assert_eq!(
        texts,
        ["opened", "action", "routed", "resolved"]
            .map(|k| (k.to_owned(), Some("[erased]".to_owned())))
    );
    let counted: i64 = sqlx::query_scalar(
        "SELECT count FROM management.counters WHERE aggregate_type = 'Customer' AND event_type = 'CustomerErased'",
    )
    .fetch_one(&mut owner)
    .await
    .expect("management counts the erasure");
    assert_eq!(counted, 1);

    // A rebuild from the store, where the witness's earlier events now read erased,
    // gives the same rows.
    let incremental = snapshot_all(&db).await;
    let owner_pool = db.owner_pool(4).await;
    let options = RebuildOptions {
        master_keys: Some(masters),
        batch_size: 25,
        ..RebuildOptions::default()
    };
    for d in Department::ALL {
        let writer = db.writer_pool(d);
        let report = rebuild(d, &owner_pool, &writer, &options, None)
            .await
            .expect("rebuild");
        if d != Department::Management {
            assert!(report.events_redacted > 0, "{report:?}");
        }
        writer.close().await;
    }
    assert_same(&incremental, &snapshot_all(&db).await);
}
