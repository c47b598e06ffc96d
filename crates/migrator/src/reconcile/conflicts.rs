//! A department's copy of the contact details against customer service's. Customer
//! service is the source of truth: the platform keeps its values, and every field on
//! which another file disagrees is reported (a stale phone, a lost mail).

use lae_domain::customer::ContactDetails;

use super::contact::{FIELDS, ParsedContact, reference};
use crate::legacy::Table;
use crate::normalise::contact::number_text;
use crate::report::Conflict;

/// The conflicts of one department row with the customer's current contact details.
pub fn contact_conflicts(
    number: u32,
    current: &ContactDetails,
    other: &ParsedContact,
    table: Table,
    row_id: i64,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for (i, (_, column)) in FIELDS.iter().enumerate() {
        let (key, shown) = reference(current, i);
        if other.key(i) != key {
            out.push(Conflict {
                num_client: number_text(number),
                field: (*column).to_owned(),
                source_value: shown,
                other_file: table.file().file_name().to_owned(),
                other_row_id: row_id,
                other_value: other.display(i),
            });
        }
    }
    out
}

/// The columns on which two copies of a customer's contact details disagree.
pub fn differing_columns(current: &ContactDetails, other: &ParsedContact) -> Vec<&'static str> {
    FIELDS
        .iter()
        .enumerate()
        .filter(|(i, _)| other.key(*i) != reference(current, *i).0)
        .map(|(_, (_, column))| *column)
        .collect()
}
