//! Every customer the import knows, and how a department row finds its customer.
//!
//! The book starts as the store's customers (all of them, streamed once), and customer
//! service's rows register or update customers in it as batches are decided. The
//! decisions about a customer are taken on the book's copy, which is exactly what the
//! store holds plus what this run decided (an append the store refuses makes the run
//! reload the customers concerned, see `pipeline`). Only customers numbered in the
//! legacy range (below LAE-1000000) can be found: customers registered on the platform
//! are never the target of a legacy row.

use std::collections::HashMap;

use lae_domain::customer::Customer;
use lae_domain::{CustomerId, Email, PhoneNumber};

use crate::normalise::contact::{FIRST_PLATFORM_NUMBER, number_text};
use crate::store::Slot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    One(CustomerId, u32),
    Many,
}

/// How a row without a customer number was matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Customer(CustomerId, u32),
    /// Not matched, with the reason.
    No(String),
}

#[derive(Debug, Default)]
pub struct CustomerBook {
    slots: HashMap<CustomerId, Slot<Customer>>,
    by_number: HashMap<u32, CustomerId>,
    by_mail: HashMap<Box<str>, Match>,
    by_phone: HashMap<Box<str>, Match>,
}

impl CustomerBook {
    pub fn new(slots: HashMap<CustomerId, Slot<Customer>>) -> Self {
        let mut book = Self {
            slots,
            ..Self::default()
        };
        book.rebuild_index();
        book
    }

    pub fn slot(&self, id: &CustomerId) -> Option<&Slot<Customer>> {
        self.slots.get(id)
    }

    /// The customer's slot, empty (version 0) for a customer not registered yet.
    pub fn slot_mut(&mut self, id: CustomerId) -> &mut Slot<Customer> {
        self.slots.entry(id).or_default()
    }

    /// Replaces what the book holds of a customer with what the store holds.
    pub fn reset(&mut self, id: CustomerId, slot: Option<Slot<Customer>>) {
        match slot {
            Some(slot) => {
                self.slots.insert(id, slot);
            }
            None => {
                self.slots.remove(&id);
            }
        }
    }

    /// Rebuilds the number, mail and phone indexes from the registered customers.
    /// A mail or phone shared by several customers matches none of them.
    pub fn rebuild_index(&mut self) {
        self.by_number.clear();
        self.by_mail.clear();
        self.by_phone.clear();
        let mut entries: Vec<(CustomerId, u32)> = Vec::new();
        for (id, slot) in &self.slots {
            let Some(number) = slot
                .state
                .customer_number()
                .and_then(|n| legacy_number(n.as_str()))
            else {
                continue;
            };
            entries.push((*id, number));
        }
        // Sorted so that the index does not depend on the hash map's order.
        entries.sort_by_key(|(_, n)| *n);
        for (id, number) in entries {
            self.by_number.insert(number, id);
            let Some(contact) = self.slots.get(&id).and_then(|s| s.state.contact()) else {
                continue;
            };
            if let Some(mail) = &contact.email {
                add(&mut self.by_mail, mail.as_str(), id, number);
            }
            if let Some(phone) = &contact.phone {
                add(&mut self.by_phone, phone.as_str(), id, number);
            }
        }
    }

    /// The registered customer with this legacy number.
    pub fn find_number(&self, number: u32) -> Option<CustomerId> {
        self.by_number.get(&number).copied()
    }

    /// Matches a row without customer number on its mail, then its phone. A mail that
    /// points at one customer while the phone points at another is not a match.
    pub fn find_contact(&self, mail: Option<&Email>, phone: Option<&PhoneNumber>) -> Found {
        let by_phone = phone.and_then(|p| self.by_phone.get(p.as_str()));
        match mail.and_then(|m| self.by_mail.get(m.as_str())) {
            Some(Match::One(id, number)) => match by_phone {
                Some(Match::One(other, other_number)) if other != id => Found::No(format!(
                    "no customer number; the mail is {}'s but the phone is {}'s",
                    number_text(*number),
                    number_text(*other_number)
                )),
                _ => Found::Customer(*id, *number),
            },
            Some(Match::Many) => Found::No("no customer number, and the mail is shared by several customers".into()),
            None => match by_phone {
                Some(Match::One(id, number)) => Found::Customer(*id, *number),
                Some(Match::Many) => {
                    Found::No("no customer number, no known mail, and the phone is shared by several customers".into())
                }
                None if mail.is_none() && phone.is_none() => {
                    Found::No("no customer number, and no usable mail or phone to match on".into())
                }
                None => Found::No("no customer number, and no customer has this mail or phone".into()),
            },
        }
    }
}

fn add(index: &mut HashMap<Box<str>, Match>, key: &str, id: CustomerId, number: u32) {
    index
        .entry(key.into())
        .and_modify(|m| {
            if *m != Match::One(id, number) {
                *m = Match::Many;
            }
        })
        .or_insert(Match::One(id, number));
}

/// The legacy number of a stored customer number, if it is in the legacy range.
fn legacy_number(text: &str) -> Option<u32> {
    let n: u32 = text.strip_prefix("LAE-")?.parse().ok()?;
    (n < FIRST_PLATFORM_NUMBER).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::Aggregate;
    use lae_domain::customer::CustomerEvent;

    fn registered(number: &str, mail: Option<&str>, phone: Option<&str>) -> Slot<Customer> {
        let mut state = Customer::default();
        state.apply(CustomerEvent::CustomerRegistered {
            customer_number: number.parse().unwrap(),
            last_name: "Martin".parse().unwrap(),
            first_name: "Léa".parse().unwrap(),
            email: mail.map(|m| m.parse().unwrap()),
            phone: phone.map(|p| p.parse().unwrap()),
            availability: Default::default(),
        });
        Slot { state, version: 1 }
    }

    #[test]
    fn matching_on_number_mail_then_phone() {
        let a = CustomerId::new(uuid::Uuid::from_u128(1));
        let b = CustomerId::new(uuid::Uuid::from_u128(2));
        let c = CustomerId::new(uuid::Uuid::from_u128(3));
        let platform = CustomerId::new(uuid::Uuid::from_u128(4));
        let book = CustomerBook::new(HashMap::from([
            (
                a,
                registered("LAE-000001", Some("a@x.fr"), Some("0611111111")),
            ),
            (
                b,
                registered("LAE-000002", Some("shared@x.fr"), Some("0622222222")),
            ),
            (c, registered("LAE-000003", Some("shared@x.fr"), None)),
            (platform, registered("LAE-1000000", Some("p@x.fr"), None)),
        ]));
        assert_eq!(book.find_number(1), Some(a));
        assert_eq!(
            book.find_number(1_000_000),
            None,
            "platform numbers are out of reach"
        );
        let mail = |m: &str| m.parse::<Email>().unwrap();
        let phone = |p: &str| p.parse::<PhoneNumber>().unwrap();
        assert_eq!(
            book.find_contact(Some(&mail("a@x.fr")), None),
            Found::Customer(a, 1)
        );
        assert_eq!(
            book.find_contact(None, Some(&phone("0622222222"))),
            Found::Customer(b, 2)
        );
        assert!(matches!(
            book.find_contact(Some(&mail("shared@x.fr")), None),
            Found::No(_)
        ));
        assert!(matches!(
            book.find_contact(Some(&mail("a@x.fr")), Some(&phone("0622222222"))),
            Found::No(_)
        ));
        assert!(matches!(
            book.find_contact(Some(&mail("p@x.fr")), None),
            Found::No(_)
        ));
        assert!(matches!(book.find_contact(None, None), Found::No(_)));
    }
}
