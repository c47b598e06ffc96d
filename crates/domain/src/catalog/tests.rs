//! Catalog tests: completeness, examples against schemas, classification.

use std::collections::BTreeSet;
use std::fmt::Debug;

use cqrs_es::DomainEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;

/// Payload fields known to hold no personal data. A new field must be added
/// here or classified, so that nobody adds personal data by accident.
const CLEAR_FIELDS: &[&str] = &[
    "type",
    "customer_id",
    "customer_number",
    "offer_id",
    "contract_id",
    "product",
    "monthly_premium",
    "amount",
    "number",
    "reference",
    "document",
    "channel",
    // A reason's code from the list and a satisfaction score say nothing about the
    // customer's situation (unlike the reason's text): management counts by them.
    "category",
    "score",
    "department",
    "previous_department",
    "operator",
    "declared_on",
    "signed_on",
    "amended_on",
    "revoked_on",
    "proposed_on",
    "accepted_on",
    "declined_on",
    "withdrawn_on",
    "requested_on",
    "terminated_on",
    "issued_on",
    "due_on",
    "paid_on",
    "rejected_on",
    "cancelled_on",
    "refused_on",
    // A one-off charge's wording, written by sales for billing ("Frais de duplicata").
    "label",
    // A bank's rejection code (`AM04`): the bank's, not the customer's.
    "reason_code",
    "opened_at",
    "at",
];

/// Events whose `reason` is a business text (commercial, legal or banking
/// motive) rather than something the customer confided; ticket and mandate
/// revocation reasons, by contrast, are personal.
const CLEAR_REASON_EVENTS: &[&str] = &[
    // The legal basis of an erasure: kept in clear, it must outlive the person's keys.
    "CustomerErased",
    "OfferDeclined",
    "OfferWithdrawn",
    "ContractTerminated",
    "PaymentRejected",
    "InvoiceCancelled",
    "InvoiceRequestRefused",
];

#[test]
fn every_example_builder_succeeds() {
    customer::build_examples().unwrap();
    offer::build_examples().unwrap();
    contract::build_examples().unwrap();
    invoice::build_examples().unwrap();
    ticket::build_examples().unwrap();
}

#[test]
fn entries_are_sorted_unique_and_cover_every_aggregate() {
    let entries = entries();
    let keys: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.aggregate_type,
                e.event_type.clone(),
                e.event_version.clone(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "sorted and without duplicates");
    let aggregates: BTreeSet<_> = entries.iter().map(|e| e.aggregate_type).collect();
    assert_eq!(
        aggregates,
        BTreeSet::from(["Contract", "Customer", "Invoice", "Offer", "Ticket"])
    );
    assert_eq!(entries.len(), 8 + 4 + 3 + 6 + 6);
}

#[test]
fn every_variant_has_an_example() {
    for entry in entries() {
        assert!(
            entry.example.is_object(),
            "{} has no example: add one to example_events()",
            entry.event_type
        );
        // TicketRouted 1.1 hands the contact over to the receiving department,
        // TicketOpened 1.1 carries the reason's code, PaymentRejected 1.1 the bank's
        // code in a field of its own; every other event is at its first version.
        let expected = if matches!(
            entry.event_type.as_str(),
            "TicketRouted" | "TicketOpened" | "PaymentRejected"
        ) {
            "1.1"
        } else {
            "1.0"
        };
        assert_eq!(entry.event_version, expected, "{}", entry.event_type);
        assert_eq!(entry.example["type"], entry.event_type.as_str());
    }
}

/// Round-trips every example of one aggregate and checks each has exactly
/// one catalog entry whose example is its serialisation.
fn check_examples<E>(aggregate_type: &str, examples: Vec<E>)
where
    E: DomainEvent + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let entries: Vec<CatalogEntry> = entries()
        .into_iter()
        .filter(|e| e.aggregate_type == aggregate_type)
        .collect();
    assert_eq!(
        examples.len(),
        entries.len(),
        "{aggregate_type}: one example per event type"
    );
    for event in examples {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["type"],
            event.event_type().as_str(),
            "event_type() matches the serde tag"
        );
        let back: E = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, event);
        let entry = entries
            .iter()
            .find(|e| e.event_type == event.event_type())
            .unwrap();
        assert_eq!(entry.example, json);
    }
}

#[test]
fn examples_round_trip_through_json() {
    check_examples("Customer", customer::example_events());
    check_examples("Offer", offer::example_events());
    check_examples("Contract", contract::example_events());
    check_examples("Invoice", invoice::example_events());
    check_examples("Ticket", ticket::example_events());
}

#[test]
fn examples_validate_against_their_schema() {
    for entry in entries() {
        let mut errors = Vec::new();
        validate(
            &entry.schema,
            &entry.schema,
            &entry.example,
            "",
            &mut errors,
        );
        assert!(errors.is_empty(), "{}: {errors:#?}", entry.event_type);
    }
}

#[test]
fn the_validator_rejects_broken_payloads() {
    let entry = entries()
        .into_iter()
        .find(|e| e.event_type == "SalesProfileSet")
        .unwrap();
    let cases = [
        (
            json!({"type": "SalesProfileSet", "age_band": null, "profession": null}),
            "missing required sex",
        ),
        (
            json!({"type": "Other", "age_band": null, "profession": null, "sex": "male"}),
            "wrong type tag",
        ),
        (
            json!({"type": "SalesProfileSet", "age_band": "17-18", "profession": null, "sex": "male"}),
            "unknown enum value",
        ),
        (
            json!({"type": "SalesProfileSet", "age_band": null, "profession": "", "sex": "male"}),
            "too short",
        ),
        (
            json!({"type": "SalesProfileSet", "age_band": null, "profession": 3, "sex": "male"}),
            "wrong type",
        ),
        (
            json!({"type": "SalesProfileSet", "age_band": null, "profession": null, "sex": "male", "extra": 1}),
            "unknown field",
        ),
    ];
    for (payload, why) in cases {
        let mut errors = Vec::new();
        validate(&entry.schema, &entry.schema, &payload, "", &mut errors);
        assert!(!errors.is_empty(), "{why} should be rejected");
    }
}

#[test]
fn schemas_are_self_contained_and_annotated() {
    for entry in entries() {
        let schema = &entry.schema;
        assert_eq!(schema["title"], entry.event_type.as_str());
        assert_eq!(schema["x-aggregate-type"], entry.aggregate_type);
        assert_eq!(schema["x-event-version"], entry.event_version.as_str());
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["type"]["const"],
            entry.event_type.as_str()
        );
        let mut refs = Vec::new();
        collect_refs(schema, &mut refs);
        for name in refs {
            assert!(
                schema.pointer(&format!("/$defs/{name}")).is_some(),
                "{}: dangling reference to {name}",
                entry.event_type
            );
        }
        let personal: Vec<(String, Value)> = entry
            .personal_fields
            .iter()
            .map(|(field, category)| (field.clone(), json!(category)))
            .collect();
        let annotated: Vec<(String, Value)> = schema["x-personal-fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut personal_sorted = personal;
        personal_sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(annotated, personal_sorted, "{}", entry.event_type);
    }
    let signed = entries()
        .into_iter()
        .find(|e| e.event_type == "ContractSigned")
        .unwrap();
    assert!(signed.schema.pointer("/$defs/SignedDocument").is_some());
    let registered = entries()
        .into_iter()
        .find(|e| e.event_type == "CustomerRegistered")
        .unwrap();
    assert!(
        registered.schema.get("$defs").is_none(),
        "no unused definitions"
    );
}

#[test]
fn personal_fields_exist_in_the_payloads() {
    for entry in entries() {
        let payload = entry.example.as_object().unwrap();
        for (field, _) in &entry.personal_fields {
            assert!(
                payload.contains_key(field),
                "{}: no field {field}",
                entry.event_type
            );
            assert!(
                entry.schema["properties"].get(field).is_some(),
                "{}: {field} missing from the schema",
                entry.event_type
            );
        }
        if let Some(subject) = entry.subject_field {
            assert!(
                payload.contains_key(subject),
                "{}: no subject field {subject}",
                entry.event_type
            );
        }
        if entry.aggregate_type != "Customer" && !entry.personal_fields.is_empty() {
            assert!(
                entry.subject_field.is_some(),
                "{}: personal data needs a subject field outside the Customer aggregate",
                entry.event_type
            );
        }
    }
}

#[test]
fn every_payload_field_is_classified_or_known_clear() {
    for entry in entries() {
        for field in entry.example.as_object().unwrap().keys() {
            let personal = entry.personal_fields.iter().any(|(f, _)| f == field);
            let clear = CLEAR_FIELDS.contains(&field.as_str())
                || (field == "reason" && CLEAR_REASON_EVENTS.contains(&entry.event_type.as_str()));
            assert!(
                personal != clear,
                "{}: {field} must be either classified or listed as clear, not both",
                entry.event_type
            );
        }
    }
}

#[test]
fn classification_follows_the_rules() {
    let find = |event_type: &str| -> Vec<(String, DataCategory)> {
        entries()
            .into_iter()
            .find(|e| e.event_type == event_type)
            .unwrap()
            .personal_fields
    };
    let fields = |pairs: &[(&str, DataCategory)]| -> Vec<(String, DataCategory)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    };
    use DataCategory::{Bank, Contact, Health, Profile};
    let cases: Vec<(&str, Vec<(String, DataCategory)>)> = vec![
        (
            "CustomerRegistered",
            fields(&[
                ("last_name", Contact),
                ("first_name", Contact),
                ("email", Contact),
                ("phone", Contact),
                ("availability", Contact),
            ]),
        ),
        (
            "HealthDeclared",
            fields(&[
                ("tobacco", Health),
                ("alcohol", Health),
                ("illnesses", Health),
            ]),
        ),
        (
            "SalesProfileSet",
            fields(&[
                ("age_band", Profile),
                ("profession", Profile),
                ("sex", Profile),
            ]),
        ),
        (
            "MandateAmended",
            fields(&[
                ("previous_iban", Bank),
                ("previous_mandate_reference", Bank),
                ("iban", Bank),
                ("mandate_reference", Bank),
            ]),
        ),
        ("TicketOpened", fields(&[("reason", Contact)])),
        ("ActionRecorded", fields(&[("action", Contact)])),
        (
            "TicketRouted",
            fields(&[("note", Contact), ("reason", Contact)]),
        ),
        ("CallerIdentified", vec![]),
        ("TicketResolved", fields(&[("resolution", Contact)])),
        ("OfferAccepted", vec![]),
        ("ContractSigned", vec![]),
        ("InvoicePaid", vec![]),
    ];
    for (event_type, expected) in cases {
        assert_eq!(find(event_type), expected, "{event_type}");
    }
}

#[test]
fn unknown_event_types_have_no_personal_fields() {
    assert!(crate::customer::CustomerEvent::personal_fields("Nope").is_empty());
    assert!(crate::ticket::TicketEvent::personal_fields("Nope").is_empty());
    assert_eq!(crate::ticket::TicketEvent::subject_field("Nope"), None);
}

/// A deliberately small JSON Schema validator covering what `schemars`
/// generates for the events: `$ref`, `type`, `const`, `enum`, `oneOf`,
/// `anyOf`, `properties`, `required`, `items`, string lengths and `minimum`.
/// Unknown payload fields are reported too, since every field must be
/// documented.
fn validate(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.trim_start_matches('#');
        match root.pointer(pointer) {
            Some(target) => validate(root, target, value, path, errors),
            None => errors.push(format!("{path}: dangling {reference}")),
        }
    }
    if let Some(expected) = schema.get("type") {
        let types: Vec<&str> = match expected {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual_ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !actual_ok {
            errors.push(format!("{path}: expected {types:?}, got {value}"));
            return;
        }
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        errors.push(format!("{path}: expected {constant}, got {value}"));
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        errors.push(format!("{path}: {value} not in {allowed:?}"));
    }
    if let Some(Value::Array(options)) = schema.get("oneOf") {
        let matching = options
            .iter()
            .filter(|option| {
                let mut sub = Vec::new();
                validate(root, option, value, path, &mut sub);
                sub.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!("{path}: {matching} oneOf branches match {value}"));
        }
    }
    if let Some(Value::Array(options)) = schema.get("anyOf") {
        let any = options.iter().any(|option| {
            let mut sub = Vec::new();
            validate(root, option, value, path, &mut sub);
            sub.is_empty()
        });
        if !any {
            errors.push(format!("{path}: no anyOf branch matches {value}"));
        }
    }
    if let Value::String(s) = value {
        let len = s.chars().count();
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && (len as u64) < min
        {
            errors.push(format!("{path}: shorter than {min}"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && (len as u64) > max
        {
            errors.push(format!("{path}: longer than {max}"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        errors.push(format!("{path}: below {min}"));
    }
    if let Value::Object(members) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !members.contains_key(name) {
                    errors.push(format!("{path}: missing {name}"));
                }
            }
        }
        if let Some(properties) = properties {
            for (name, member) in members {
                match properties.get(name) {
                    Some(sub) => validate(root, sub, member, &format!("{path}/{name}"), errors),
                    None => errors.push(format!("{path}: undocumented field {name}")),
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(root, item_schema, item, &format!("{path}/{i}"), errors);
        }
    }
}
