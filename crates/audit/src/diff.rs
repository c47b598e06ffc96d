//! The fields an event changed, for the timeline.
//!
//! The rule, kept simple so that an auditor can check it by hand: every aggregate is
//! replayed in sequence order, remembering the last value seen for each top-level
//! payload field name (whatever event type carried it). An event *changes* a field
//! when its payload has that field and the value differs from the last one seen
//! (`previous` is absent when the field was never seen). Fields an event does not
//! carry are left as they were: events that replace a whole group (contact details,
//! sales profile) carry every field of it, `null` included, so an erased e-mail shows
//! as a change to `null`. The event's `type` tag is not a field.
//!
//! Personal fields are compared opened (see `crate::personal`). A field that could not
//! be read (`[erased]`, `[withheld]`, `[unreadable]`) cannot be compared: it is listed
//! on every event that carries it, so that the history still shows where a value was
//! written, only not which.

use std::collections::HashMap;

use lae_domain::DataCategory;
use serde::Serialize;
use serde_json::Value;

use crate::classification::category_of;
use crate::personal::is_redacted_value;

/// What health values are replaced with for callers without the right to see them.
pub const MASKED: &str = "[masqué]";

/// One field changed by an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    /// The last value seen before this event, if any.
    pub previous: Option<Value>,
    pub new: Value,
    /// The personal-data category of the field, if it is personal.
    pub category: Option<DataCategory>,
}

impl FieldChange {
    /// Replaces both values with [`MASKED`] when the field is health data. A value
    /// that could not be read (`[erased]`, …) stays as it is: it reveals nothing.
    pub fn mask_health(&mut self) {
        if self.category == Some(DataCategory::Health) {
            if let Some(previous) = &mut self.previous {
                mask(previous);
            }
            mask(&mut self.new);
        }
    }

    /// Whether the change shows a value (rather than only `[erased]`, `[withheld]`
    /// or `[unreadable]`): what the access log must record when it is sensitive.
    pub fn shows_a_value(&self) -> bool {
        !is_redacted_value(&self.new)
            || self
                .previous
                .as_ref()
                .is_some_and(|previous| !is_redacted_value(previous))
    }
}

fn mask(value: &mut Value) {
    if !is_redacted_value(value) {
        *value = Value::from(MASKED);
    }
}

/// The last known value of every top-level field of one aggregate.
#[derive(Debug, Default)]
pub struct KnownValues {
    values: HashMap<String, (Value, Option<DataCategory>)>,
}

impl KnownValues {
    /// The changes `payload` makes, remembered for the next event.
    pub fn apply(
        &mut self,
        aggregate_type: &str,
        event_type: &str,
        payload: Value,
    ) -> Vec<FieldChange> {
        let Value::Object(fields) = payload else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        for (field, new) in fields {
            if field == "type" {
                continue;
            }
            let category = category_of(aggregate_type, event_type, &field);
            let previous = self.values.get(&field);
            if previous.map(|(value, _)| value) != Some(&new) || is_redacted_value(&new) {
                // A field that was health data under an earlier event type stays
                // masked, whatever the current one says.
                let category = match (category, previous.and_then(|(_, c)| *c)) {
                    (_, Some(DataCategory::Health)) => Some(DataCategory::Health),
                    (current, earlier) => current.or(earlier),
                };
                changes.push(FieldChange {
                    field: field.clone(),
                    previous: previous.map(|(value, _)| value.clone()),
                    new: new.clone(),
                    category,
                });
            }
            self.values.insert(field, (new, category));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_fields_that_differ_are_changes() {
        let mut known = KnownValues::default();
        let first = known.apply(
            "Customer",
            "CustomerRegistered",
            json!({"type": "CustomerRegistered", "last_name": "Martin", "email": "a@b.fr"}),
        );
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|c| c.previous.is_none()));
        let second = known.apply(
            "Customer",
            "ContactDetailsChanged",
            json!({"type": "ContactDetailsChanged", "last_name": "Martin", "email": null}),
        );
        assert_eq!(
            second,
            vec![FieldChange {
                field: "email".into(),
                previous: Some(json!("a@b.fr")),
                new: Value::Null,
                category: Some(DataCategory::Contact),
            }]
        );
    }

    #[test]
    fn health_values_are_masked_both_ways() {
        let mut known = KnownValues::default();
        known.apply("Customer", "HealthDeclared", json!({"tobacco": "smoker"}));
        let mut changes = known.apply(
            "Customer",
            "HealthDeclared",
            json!({"tobacco": "non_smoker"}),
        );
        changes.iter_mut().for_each(FieldChange::mask_health);
        assert_eq!(changes[0].previous, Some(json!(MASKED)));
        assert_eq!(changes[0].new, json!(MASKED));
        assert!(changes[0].shows_a_value());
    }

    #[test]
    fn unreadable_values_are_listed_each_time_and_never_masked() {
        let mut known = KnownValues::default();
        known.apply("Customer", "HealthDeclared", json!({"tobacco": "[erased]"}));
        let mut changes = known.apply("Customer", "HealthDeclared", json!({"tobacco": "[erased]"}));
        assert_eq!(changes.len(), 1, "an erased value cannot be compared");
        changes.iter_mut().for_each(FieldChange::mask_health);
        assert_eq!(changes[0].previous, Some(json!("[erased]")));
        assert_eq!(changes[0].new, json!("[erased]"));
        assert!(!changes[0].shows_a_value());
    }
}
