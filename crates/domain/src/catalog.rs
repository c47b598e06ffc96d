//! The event catalog: one entry per event type and version, with its JSON
//! Schema, an example payload and its personal-data classification.
//!
//! The catalog is derived from the event enums themselves (schemas from
//! `schemars`, examples from each aggregate's `example_events`), so it cannot
//! drift from the code; other crates publish it as documentation and use the
//! classification to encrypt personal fields.

use cqrs_es::{Aggregate, DomainEvent};
use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::contract::Contract;
use crate::customer::Customer;
use crate::invoice::Invoice;
use crate::offer::Offer;
use crate::privacy::{Classified, DataCategory};
use crate::ticket::Ticket;
use crate::{contract, customer, invoice, offer, ticket};

/// One event type at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The aggregate emitting the event (`Aggregate::TYPE`).
    pub aggregate_type: &'static str,
    /// The event type, as stored (`DomainEvent::event_type`).
    pub event_type: String,
    /// The event version, as stored (`DomainEvent::event_version`).
    pub event_version: String,
    /// A self-contained JSON Schema (2020-12) of the payload, annotated with
    /// `x-aggregate-type`, `x-event-version` and `x-personal-fields`.
    pub schema: Value,
    /// An example payload, exactly as serialised in the event store.
    pub example: Value,
    /// See [`Classified::subject_field`].
    pub subject_field: Option<&'static str>,
    /// The personal fields of the payload and their category.
    pub personal_fields: Vec<(String, DataCategory)>,
}

/// Every event type of every aggregate, sorted by aggregate type then event type.
#[must_use]
pub fn entries() -> Vec<CatalogEntry> {
    let mut entries = Vec::new();
    entries.extend(entries_for::<Contract>(&contract::example_events()));
    entries.extend(entries_for::<Customer>(&customer::example_events()));
    entries.extend(entries_for::<Invoice>(&invoice::example_events()));
    entries.extend(entries_for::<Offer>(&offer::example_events()));
    entries.extend(entries_for::<Ticket>(&ticket::example_events()));
    entries.sort_by(|a, b| {
        (a.aggregate_type, &a.event_type, &a.event_version).cmp(&(
            b.aggregate_type,
            &b.event_type,
            &b.event_version,
        ))
    });
    entries
}

/// The entries of one aggregate.
///
/// The list of event types comes from the enum's schema, not from the
/// examples, so that a variant without an example still gets an entry (with
/// a `null` example, which the tests reject) instead of silently vanishing.
fn entries_for<A>(examples: &[A::Event]) -> Vec<CatalogEntry>
where
    A: Aggregate,
    A::Event: JsonSchema + Classified,
{
    let root = schemars::schema_for!(A::Event).to_value();
    let empty = Map::new();
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let variants = root
        .get("oneOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    variants
        .iter()
        .filter_map(|variant| {
            let event_type = variant
                .pointer("/properties/type/const")
                .and_then(Value::as_str)?;
            let example = examples.iter().find(|e| e.event_type() == event_type);
            let event_version = example.map(DomainEvent::event_version).unwrap_or_default();
            let example = example
                .and_then(|e| serde_json::to_value(e).ok())
                .unwrap_or(Value::Null);
            let personal_fields: Vec<(String, DataCategory)> =
                <A::Event as Classified>::personal_fields(event_type)
                    .iter()
                    .map(|f| (f.field.to_owned(), f.category))
                    .collect();
            let schema = variant_schema(
                &root,
                variant,
                defs,
                event_type,
                A::TYPE,
                &event_version,
                &personal_fields,
            );
            Some(CatalogEntry {
                aggregate_type: A::TYPE,
                event_type: event_type.to_owned(),
                event_version,
                schema,
                example,
                subject_field: <A::Event as Classified>::subject_field(event_type),
                personal_fields,
            })
        })
        .collect()
}

/// The schema of one variant: the variant's sub-schema, the definitions it
/// references (directly or not) and the catalog annotations.
fn variant_schema(
    root: &Value,
    variant: &Value,
    defs: &Map<String, Value>,
    event_type: &str,
    aggregate_type: &str,
    event_version: &str,
    personal_fields: &[(String, DataCategory)],
) -> Value {
    let mut schema = Map::new();
    if let Some(dialect) = root.get("$schema") {
        schema.insert("$schema".to_owned(), dialect.clone());
    }
    schema.insert("title".to_owned(), Value::from(event_type));
    if let Some(members) = variant.as_object() {
        schema.extend(members.clone());
    }
    let mut needed = Map::new();
    let mut pending = Vec::new();
    collect_refs(variant, &mut pending);
    while let Some(name) = pending.pop() {
        if needed.contains_key(&name) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            collect_refs(def, &mut pending);
            needed.insert(name, def.clone());
        }
    }
    if !needed.is_empty() {
        schema.insert("$defs".to_owned(), Value::Object(needed));
    }
    schema.insert("x-aggregate-type".to_owned(), Value::from(aggregate_type));
    schema.insert("x-event-version".to_owned(), Value::from(event_version));
    let personal: Map<String, Value> = personal_fields
        .iter()
        .map(|(field, category)| (field.clone(), Value::from(category.as_str())))
        .collect();
    schema.insert("x-personal-fields".to_owned(), Value::Object(personal));
    Value::Object(schema)
}

/// Pushes the names of the local definitions (`#/$defs/<name>`) that `value` references.
fn collect_refs(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("$ref", Value::String(reference)) => {
                        if let Some(name) = reference.strip_prefix("#/$defs/") {
                            names.push(name.to_owned());
                        }
                    }
                    _ => collect_refs(member, names),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
