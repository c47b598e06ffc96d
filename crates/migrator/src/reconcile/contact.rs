//! The contact columns of a `clients` row, parsed once for every use: registration,
//! matching, duplicate detection and conflicts.

use lae_domain::customer::ContactDetails;
use lae_domain::{Availability, Email, PersonName, PhoneNumber};

use crate::legacy::cell::Row;
use crate::legacy::col;
use crate::normalise::contact::{self, NumberParse, name_key};
use crate::normalise::text::excerpt;

/// The five contact fields compared between files, with their column names.
pub const FIELDS: [(usize, &str); 5] = [
    (col::NOM, "nom"),
    (col::PRENOM, "prenom"),
    (col::MAIL, "mail"),
    (col::TELEPHONE, "telephone"),
    (col::DISPONIBILITE, "disponibilite"),
];

/// A column and why its value was not taken.
pub type Issue = (&'static str, String);

/// The contact columns of one row, each parsed or refused with its reason.
#[derive(Debug, Clone)]
pub struct ParsedContact {
    pub number: NumberParse,
    pub last_name: Result<PersonName, String>,
    pub first_name: Result<PersonName, String>,
    pub email: Result<Option<Email>, String>,
    pub phone: Result<Option<PhoneNumber>, String>,
    pub availability: Result<Availability, String>,
    /// The raw values (quoted) of the five fields, for what could not be parsed.
    raw: [String; 5],
}

impl ParsedContact {
    pub fn parse(row: &Row) -> Self {
        let text = |i: usize| row.text(i).map_err(|e| e.to_string());
        let number = match text(col::NUM_CLIENT) {
            Ok(raw) => contact::customer_number(raw.as_deref()),
            Err(e) => NumberParse::Invalid(e),
        };
        let raw = FIELDS.map(|(i, _)| match row.text(i) {
            Ok(Some(s)) => excerpt(s.trim()),
            Ok(None) => String::new(),
            Err(e) => format!("<{e}>"),
        });
        Self {
            number,
            last_name: text(col::NOM).and_then(|s| contact::person_name(s.as_deref())),
            first_name: text(col::PRENOM).and_then(|s| contact::person_name(s.as_deref())),
            email: text(col::MAIL).and_then(|s| contact::email(s.as_deref())),
            phone: text(col::TELEPHONE).and_then(|s| contact::phone(s.as_deref())),
            availability: text(col::DISPONIBILITE)
                .and_then(|s| contact::availability(s.as_deref())),
            raw,
        }
    }

    /// The usable mail, if any.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref().ok().and_then(Option::as_ref)
    }

    /// The usable phone, if any.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref().ok().and_then(Option::as_ref)
    }

    /// The contact details a customer can be registered with: names are required; a
    /// mail, phone or availability that cannot be trusted is left out, and listed in
    /// the returned issues as `(column, reason)`.
    pub fn details(&self) -> Result<(ContactDetails, Vec<Issue>), Issue> {
        let last_name = self.last_name.clone().map_err(|e| ("nom", e))?;
        let first_name = self.first_name.clone().map_err(|e| ("prenom", e))?;
        let mut issues = Vec::new();
        let email = self.email.clone().unwrap_or_else(|e| {
            issues.push(("mail", e));
            None
        });
        let phone = self.phone.clone().unwrap_or_else(|e| {
            issues.push(("telephone", e));
            None
        });
        let availability = self.availability.clone().unwrap_or_else(|e| {
            issues.push(("disponibilite", e));
            Availability::default()
        });
        Ok((
            ContactDetails {
                last_name,
                first_name,
                email,
                phone,
                availability,
            },
            issues,
        ))
    }

    /// The value of field `i` of [`FIELDS`] as it is compared: normalised where it
    /// could be parsed, quoted as it stands otherwise.
    pub fn key(&self, i: usize) -> String {
        let parsed = match i {
            0 => self.last_name.as_ref().ok().map(|n| name_key(n.as_str())),
            1 => self.first_name.as_ref().ok().map(|n| name_key(n.as_str())),
            2 => self.email.as_ref().ok().map(|m| {
                m.as_ref()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default()
            }),
            3 => self.phone.as_ref().ok().map(|p| {
                p.as_ref()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default()
            }),
            _ => self
                .availability
                .as_ref()
                .ok()
                .map(|a| a.as_str().to_owned()),
        };
        parsed.unwrap_or_else(|| {
            format!(
                "raw:{}",
                self.raw.get(i).map(String::as_str).unwrap_or_default()
            )
        })
    }

    /// The value of field `i` as the report shows it.
    pub fn display(&self, i: usize) -> String {
        let parsed = match i {
            0 => self.last_name.as_ref().ok().map(|n| n.as_str().to_owned()),
            1 => self.first_name.as_ref().ok().map(|n| n.as_str().to_owned()),
            2 => self.email.as_ref().ok().map(|m| {
                m.as_ref()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default()
            }),
            3 => self.phone.as_ref().ok().map(|p| {
                p.as_ref()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default()
            }),
            _ => self
                .availability
                .as_ref()
                .ok()
                .map(|a| a.as_str().to_owned()),
        };
        parsed.unwrap_or_else(|| self.raw.get(i).cloned().unwrap_or_default())
    }
}

/// The comparison key and display of field `i` of [`FIELDS`] in stored contact details.
pub fn reference(details: &ContactDetails, i: usize) -> (String, String) {
    match i {
        0 => (
            name_key(details.last_name.as_str()),
            details.last_name.as_str().to_owned(),
        ),
        1 => (
            name_key(details.first_name.as_str()),
            details.first_name.as_str().to_owned(),
        ),
        2 => {
            let v = details
                .email
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            (v.clone(), v)
        }
        3 => {
            let v = details
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            (v.clone(), v)
        }
        _ => {
            let v = details.availability.as_str().to_owned();
            (v.clone(), v)
        }
    }
}
