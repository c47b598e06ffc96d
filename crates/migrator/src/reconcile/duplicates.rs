//! A customer entered twice in one file. The first usable row of a customer is the
//! one imported; a later row is merged when it agrees with it on every column once
//! normalised (case, spacing, phone format...), and set aside otherwise, naming the
//! columns that disagree (not their values: they may be health data).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// What a row is to the rows of the same customer already seen in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The customer's first usable row in the file.
    First,
    /// A duplicate agreeing with row `row_id`.
    Same { row_id: i64 },
    /// A duplicate of row `row_id` disagreeing on these columns.
    Different {
        row_id: i64,
        columns: Vec<&'static str>,
    },
}

/// The first row of each customer in one file, as a fingerprint: one hash per
/// compared column, so no value (health data included) is kept in memory.
#[derive(Debug, Default)]
pub struct Duplicates {
    first: HashMap<u32, (i64, Box<[u64]>)>,
}

impl Duplicates {
    /// Checks a row of customer `number` whose compared columns have these normalised
    /// values; the first row of each customer is remembered.
    pub fn check(
        &mut self,
        number: u32,
        row_id: i64,
        columns: &[&'static str],
        values: &[String],
    ) -> Seen {
        let hashes: Box<[u64]> = values.iter().map(|v| hash(v)).collect();
        match self.first.get(&number) {
            None => {
                self.first.insert(number, (row_id, hashes));
                Seen::First
            }
            Some((first, seen)) if *seen == hashes => Seen::Same { row_id: *first },
            Some((first, seen)) => Seen::Different {
                row_id: *first,
                columns: columns
                    .iter()
                    .zip(seen.iter().zip(hashes.iter()))
                    .filter(|(_, (a, b))| a != b)
                    .map(|(c, _)| *c)
                    .collect(),
            },
        }
    }
}

fn hash(value: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_same_and_different() {
        let mut d = Duplicates::default();
        let cols = ["mail", "tabac"];
        let v = |a: &str, b: &str| vec![a.to_owned(), b.to_owned()];
        assert_eq!(d.check(1, 10, &cols, &v("a@b.fr", "smoker")), Seen::First);
        assert_eq!(
            d.check(1, 11, &cols, &v("a@b.fr", "smoker")),
            Seen::Same { row_id: 10 }
        );
        assert_eq!(
            d.check(1, 12, &cols, &v("a@b.fr", "non_smoker")),
            Seen::Different {
                row_id: 10,
                columns: vec!["tabac"]
            }
        );
        assert_eq!(d.check(2, 13, &cols, &v("a@b.fr", "smoker")), Seen::First);
    }
}
