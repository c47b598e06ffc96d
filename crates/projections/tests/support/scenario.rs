//! Realistic events for every aggregate, appended through the real event repository.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::DomainEvent;
use cqrs_es::persist::SerializedEvent;
use lae_domain::contract::{ContractEvent, SignedDocument};
use lae_domain::customer::CustomerEvent;
use lae_domain::invoice::InvoiceEvent;
use lae_domain::offer::OfferEvent;
use lae_domain::ticket::TicketEvent;
use lae_domain::{
    AgeBand, AlcoholUse, Cents, Channel, ContractId, CustomerId, Department, OfferId, Sex,
    TobaccoUse,
};
use std::sync::Arc;

use lae_store::crypto::{Keyring, MasterKeys};
use lae_store::{EventMetadata, EventRepository, Source};
use uuid::Uuid;

use super::TestDb;

/// Valid IBANs (checksums hold) for the background customers.
pub const IBANS: [&str; 2] = ["FR7630006000011234567890189", "FR1420041010050500013M02606"];

pub fn p<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("valid test value")
}

pub fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Days::new(u64::from(n))
}

pub fn at(n: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0)
        .single()
        .expect("time")
        + chrono::Duration::minutes(i64::from(n))
}

/// Appends events through `EventRepository::append`, one command at a time, and keeps
/// the clear text of every payload it appended.
pub struct Writer {
    repo: EventRepository,
    versions: HashMap<(String, Uuid), usize>,
    clear: HashMap<(String, String, i64), String>,
}

impl Writer {
    /// Payloads stored as given (encryption off).
    pub async fn new(db: &TestDb) -> Self {
        Self {
            repo: EventRepository::new(db.app_pool().await),
            versions: HashMap::new(),
            clear: HashMap::new(),
        }
    }

    /// Personal fields sealed as the platform writes them (encryption on).
    pub async fn sealed(db: &TestDb, masters: Arc<MasterKeys>) -> Self {
        Self {
            repo: EventRepository::new(db.app_pool().await).with_keyring(Keyring::all(masters)),
            versions: HashMap::new(),
            clear: HashMap::new(),
        }
    }

    /// The clear payload text of an appended event.
    pub fn clear_payload(&self, aggregate_type: &str, aggregate_id: &str, sequence: i64) -> &str {
        self.clear
            .get(&(aggregate_type.to_owned(), aggregate_id.to_owned(), sequence))
            .map(String::as_str)
            .expect("an event this writer appended")
    }

    /// Appends the events of one command to an aggregate.
    pub async fn append<E: DomainEvent>(&mut self, aggregate_type: &str, id: Uuid, events: &[E]) {
        let version = self
            .versions
            .entry((aggregate_type.to_owned(), id))
            .or_insert(0);
        let metadata = EventMetadata::new(
            "tester",
            "customer_service",
            Utc::now(),
            Uuid::new_v4(),
            Source::Api,
        )
        .to_map();
        let serialized: Vec<SerializedEvent> = events
            .iter()
            .map(|e| {
                *version += 1;
                SerializedEvent {
                    aggregate_id: id.to_string(),
                    sequence: *version,
                    aggregate_type: aggregate_type.to_owned(),
                    event_type: e.event_type(),
                    event_version: e.event_version(),
                    payload: serde_json::to_value(e).expect("payload"),
                    metadata: serde_json::to_value(&metadata).expect("metadata"),
                }
            })
            .collect();
        self.repo.append(&serialized).await.expect("append");
        for e in &serialized {
            self.clear.insert(
                (
                    e.aggregate_type.clone(),
                    e.aggregate_id.clone(),
                    i64::try_from(e.sequence).expect("sequence"),
                ),
                e.payload.to_string(),
            );
        }
    }

    pub async fn customer(&mut self, id: Uuid, event: CustomerEvent) {
        self.append("Customer", id, &[event]).await;
    }
}

pub fn registered(number: u32, last: &str, first: &str, email: &str, phone: &str) -> CustomerEvent {
    CustomerEvent::CustomerRegistered {
        customer_number: p(&format!("LAE-{number:07}")),
        last_name: p(last),
        first_name: p(first),
        email: Some(p(email)),
        phone: Some(p(phone)),
        availability: p("lundi-vendredi 9h-12h"),
    }
}

/// What `populate` created, for assertions.
#[derive(Debug, Default)]
pub struct Population {
    pub customers: Vec<Uuid>,
    pub events: usize,
}

/// Creates `n` customers, each with a life across every aggregate (about 20 events).
pub async fn populate(w: &mut Writer, n: u32, offset: u32) -> Population {
    let mut population = Population::default();
    for k in offset..offset + n {
        let id = Uuid::new_v4();
        population.customers.push(id);
        let mut events = 0usize;
        let customer_events = vec![
            registered(
                3_000_000 + k,
                &format!("Martin-{k}"),
                "Léa",
                &format!("lea.{k}@exemple.fr"),
                &format!("+3361{:07}", k),
            ),
            CustomerEvent::ContactDetailsChanged {
                last_name: p(&format!("Martin-{k}")),
                first_name: p("Léa"),
                email: Some(p(&format!("l.martin.{k}@exemple.fr"))),
                phone: if k % 2 == 0 {
                    None
                } else {
                    Some(p(&format!("+3362{:07}", k)))
                },
                availability: p("le soir"),
            },
            CustomerEvent::HealthDeclared {
                tobacco: TobaccoUse::NonSmoker,
                alcohol: AlcoholUse::Occasional,
                illnesses: vec![p("Asthme")],
                declared_on: day(k % 300),
            },
            CustomerEvent::SalesProfileSet {
                age_band: Some(AgeBand::From36To45),
                profession: Some(p("Infirmière")),
                sex: Sex::Female,
            },
            CustomerEvent::MandateSigned {
                iban: p(IBANS[(k % 2) as usize]),
                mandate_reference: p(&format!("LAE-RUM-{k:06}-01")),
                signed_on: day(k % 300),
            },
        ];
        for e in customer_events {
            w.customer(id, e).await;
            events += 1;
        }
        if k % 4 == 0 {
            w.customer(
                id,
                CustomerEvent::MandateAmended {
                    previous_iban: p(IBANS[(k % 2) as usize]),
                    previous_mandate_reference: p(&format!("LAE-RUM-{k:06}-01")),
                    iban: p(IBANS[((k + 1) % 2) as usize]),
                    mandate_reference: p(&format!("LAE-RUM-{k:06}-02")),
                    amended_on: day(k % 300 + 5),
                },
            )
            .await;
            events += 1;
        }
        if k % 8 == 0 {
            w.customer(
                id,
                CustomerEvent::MandateRevoked {
                    revoked_on: day(k % 300 + 9),
                    reason: Some(p("Compte clôturé")),
                },
            )
            .await;
            events += 1;
        }
        let customer_id = CustomerId::new(id);
        let offer = OfferId::new(Uuid::new_v4());
        let product = p::<lae_domain::ProductName>("Prévoyance Sérénité");
        w.append(
            "Offer",
            *offer.as_uuid(),
            &[OfferEvent::OfferProposed {
                customer_id,
                product: product.clone(),
                monthly_premium: Cents(3150),
                proposed_on: day(k % 300),
            }],
        )
        .await;
        events += 1;
        match k % 3 {
            0 => {
                w.append(
                    "Offer",
                    *offer.as_uuid(),
                    &[OfferEvent::OfferAccepted {
                        customer_id,
                        product: product.clone(),
                        monthly_premium: Cents(3150),
                        accepted_on: day(k % 300 + 1),
                    }],
                )
                .await;
                let contract = ContractId::for_offer(offer);
                w.append(
                    "Contract",
                    *contract.as_uuid(),
                    &[ContractEvent::ContractRequested {
                        customer_id,
                        product: product.clone(),
                        monthly_premium: Cents(3150),
                        offer_id: Some(offer),
                        requested_on: day(k % 300 + 1),
                    }],
                )
                .await;
                w.append(
                    "Contract",
                    *contract.as_uuid(),
                    &[ContractEvent::ContractSigned {
                        reference: p(&format!("PS-2025-{k:06}")),
                        signed_on: day(k % 300 + 2),
                        document: SignedDocument {
                            sha256: p(&format!("{:064x}", k)),
                            name: p(&format!("contrat-{k}.pdf")),
                            size_bytes: 1000 + u64::from(k),
                        },
                    }],
                )
                .await;
                events += 3;
                if k % 6 == 0 {
                    w.append(
                        "Contract",
                        *contract.as_uuid(),
                        &[ContractEvent::ContractTerminated {
                            terminated_on: day(k % 300 + 30),
                            reason: p("Résiliation à l'échéance"),
                        }],
                    )
                    .await;
                    events += 1;
                }
            }
            1 => {
                w.append(
                    "Offer",
                    *offer.as_uuid(),
                    &[OfferEvent::OfferDeclined {
                        declined_on: day(k % 300 + 1),
                        reason: Some(p("Tarif trop élevé")),
                    }],
                )
                .await;
                events += 1;
            }
            _ => {}
        }
        let invoice = Uuid::new_v4();
        w.append(
            "Invoice",
            invoice,
            &[InvoiceEvent::InvoiceIssued {
                customer_id,
                contract_id: None,
                number: p(&format!("F-2025-{k:06}")),
                amount: Cents(3150),
                issued_on: day(k % 300),
                due_on: day(k % 300 + 10),
            }],
        )
        .await;
        events += 1;
        if k % 2 == 0 {
            w.append(
                "Invoice",
                invoice,
                &[InvoiceEvent::InvoicePaid {
                    paid_on: day(k % 300 + 3),
                    amount: Cents(3150),
                }],
            )
            .await;
        } else {
            w.append(
                "Invoice",
                invoice,
                &[InvoiceEvent::PaymentRejected {
                    rejected_on: day(k % 300 + 3),
                    reason: p("AM04 : provision insuffisante"),
                    reason_code: Some(p("AM04")),
                }],
            )
            .await;
        }
        events += 1;
        let ticket = Uuid::new_v4();
        let operator = p::<lae_domain::OperatorName>("Karim Benali");
        w.append(
            "Ticket",
            ticket,
            &[TicketEvent::TicketOpened {
                customer_id: Some(customer_id),
                channel: Channel::Phone,
                reason: p("Demande de changement de RIB"),
                opened_at: at(k),
                operator: operator.clone(),
                category: None,
            }],
        )
        .await;
        w.append(
            "Ticket",
            ticket,
            &[
                TicketEvent::ActionRecorded {
                    customer_id: Some(customer_id),
                    action: p("Formulaire envoyé"),
                    at: at(k + 1),
                    operator,
                },
                TicketEvent::TicketRouted {
                    customer_id: Some(customer_id),
                    previous_department: Department::CustomerService,
                    department: Department::Billing,
                    at: at(k + 2),
                    note: Some(p("À enregistrer")),
                    // As routed before version 1.1 of the event: nothing handed over.
                    reason: None,
                    channel: None,
                    opened_at: None,
                },
            ],
        )
        .await;
        events += 3;
        if k % 2 == 1 {
            w.append(
                "Ticket",
                ticket,
                &[TicketEvent::TicketResolved {
                    customer_id: Some(customer_id),
                    resolution: p("RIB modifié"),
                    at: at(k + 3),
                }],
            )
            .await;
            events += 1;
        }
        population.events += events;
    }
    population
}

/// The witness customer of the privacy and erasure tests: one value of every kind of
/// personal data, each distinctive enough to be found anywhere.
#[derive(Debug, Clone, Copy)]
pub struct Witness {
    pub id: Uuid,
    pub offer: Uuid,
    pub contract: Uuid,
    pub invoice: Uuid,
    pub ticket: Uuid,
}

/// Registers the witness with health, profile, mandate (signed, amended, revoked), an
/// accepted offer, a signed contract, an unpaid invoice and a resolved ticket.
pub async fn plant_witness(w: &mut Writer) -> Witness {
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
    let operator = p::<lae_domain::OperatorName>("Karim Benali");
    w.append(
        "Ticket",
        ticket,
        &[TicketEvent::TicketOpened {
            customer_id: Some(customer_id),
            channel: Channel::Mail,
            reason: p("zz-ticket-témoin"),
            opened_at: at(1),
            operator: operator.clone(),
            category: None,
        }],
    )
    .await;
    w.append(
        "Ticket",
        ticket,
        &[
            TicketEvent::ActionRecorded {
                customer_id: Some(customer_id),
                action: p("zz-action-témoin"),
                at: at(2),
                operator,
            },
            // No note: an absent free text is sealed too.
            TicketEvent::TicketRouted {
                customer_id: Some(customer_id),
                previous_department: Department::CustomerService,
                department: Department::Legal,
                at: at(3),
                note: None,
                reason: None,
                channel: None,
                opened_at: None,
            },
            TicketEvent::TicketResolved {
                customer_id: Some(customer_id),
                resolution: p("zz-résolution-témoin"),
                at: at(4),
            },
        ],
    )
    .await;
    Witness {
        id,
        offer: *offer.as_uuid(),
        contract: *contract.as_uuid(),
        invoice,
        ticket,
    }
}

/// The witness's personal values that are distinctive as substrings: none may be read in
/// clear in `events` when encryption is on, nor anywhere after the witness's erasure.
pub const WITNESS_PERSONAL: &[&str] = &[
    "Zz-Nom-Témoin",
    "Zz-Prénom-Témoin",
    "zz.temoin@exemple.fr",
    "+33699887766",
    "zz-maladie-témoin",
    "zz-profession-témoin",
    "DE89370400440532013000",
    "GB29NWBK60161331926819",
    "ZZ-RUM-TEMOIN-01",
    "ZZ-RUM-TEMOIN-02",
    "zz-motif-bancaire-témoin",
    "zz-ticket-témoin",
    "zz-action-témoin",
    "zz-résolution-témoin",
];

/// The witness's personal values that are whole cell values ("smoker" is also a part of
/// "non_smoker"): looked for as exact cells.
pub const WITNESS_PERSONAL_EXACT: &[&str] = &["smoker", "regular", "65+", "male"];
