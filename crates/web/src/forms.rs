//! Form bodies and what a refused form shows: a French message beside each field at
//! fault, and every value as the user typed it.
//!
//! Values are parsed into the domain's value types (`PersonName`, `Email`, …), whose
//! errors are the French messages shown: the rule and its wording live in the domain,
//! once, for the API and the desks alike.

use std::collections::BTreeMap;
use std::fmt::Display;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use lae_api::problem::ApiError;

/// The largest form body accepted (a contact card or a call is well under 4 KiB).
pub const MAX_BODY: usize = 32 * 1024;
/// The longest value any field may hold before it is even parsed.
pub const MAX_FIELD: usize = 4 * 1024;

/// A decoded `application/x-www-form-urlencoded` body: the first value of each name.
#[derive(Debug, Clone, Default)]
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    /// The value of `name`, or the empty string.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The value of `name`, `None` when blank.
    pub fn optional(&self, name: &str) -> Option<&str> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty())
    }

    /// Sets `name` (a value read from another kind of body, a multipart form's).
    pub fn insert(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    /// Parses the form body (limits checked).
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.len() > MAX_BODY {
            return Err(ApiError::PayloadTooLarge);
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| ApiError::Malformed {
                detail: "Formulaire illisible : rechargez la page et recommencez.".into(),
                field: None,
            })?;
        let mut fields = BTreeMap::new();
        for (name, value) in pairs {
            if value.len() > MAX_FIELD {
                return Err(ApiError::invalid(
                    "field_too_long",
                    name,
                    "Ce champ est beaucoup trop long.",
                ));
            }
            fields.entry(name).or_insert(value);
        }
        Ok(Self(fields))
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        crate::session::same_origin(req.headers())?;
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        Self::parse(&body)
    }
}

/// The French messages of a refused form, by field name.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// Keeps the value, or the message of its error under `field`.
    pub fn check<T, E: Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.add(field, capitalised(&e.to_string()));
                None
            }
        }
    }

    /// An optional field: blank is `None`, anything else must parse.
    pub fn check_optional<T, E: Display>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match raw {
            None => Some(None),
            Some(raw) => self.check(field, parse(raw)).map(Some),
        }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message of `field`, if it was refused.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// How many fields were refused.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// A refusal of the platform (a command's 4xx), under the field it names or under
    /// `fallback`. `None` for failures that are not the user's input (5xx), which
    /// the caller answers as such.
    pub fn from_refusal(error: &ApiError, fallback: &str) -> Option<Self> {
        let mut errors = Self::default();
        match error {
            ApiError::Invalid { field, detail, .. } => {
                errors.add(field, capitalised(detail));
            }
            ApiError::Conflict { field, detail, .. } => {
                errors.add(field.unwrap_or(fallback), capitalised(detail));
            }
            ApiError::VersionConflict { .. } | ApiError::ConcurrentModification => {
                errors.add(
                    fallback,
                    "Cette fiche a été modifiée par quelqu'un d'autre entre-temps : \
                     rechargez la page pour voir la version actuelle avant de recommencer.",
                );
            }
            ApiError::Malformed { detail, field } => {
                errors.add(field.as_deref().unwrap_or(fallback), capitalised(detail));
            }
            ApiError::BadParameter { field, detail, .. } => {
                errors.add(field, capitalised(detail));
            }
            _ => return None,
        }
        Some(errors)
    }
}

/// The domain's messages start in lower case (they follow a colon in the API's
/// details); beside a field they are sentences.
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => {
            let mut s: String = first.to_uppercase().collect();
            s.push_str(chars.as_str());
            if !s.ends_with(['.', '!', '?', ')']) {
                s.push('.');
            }
            s
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_keeps_the_first_value_of_each_field() {
        let f = Fields::parse(b"a=1&b=%C3%A9t%C3%A9&a=2").expect("parsed");
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.get("b"), "été");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.optional("a"), Some("1"));
    }

    #[test]
    fn oversized_bodies_and_fields_are_refused() {
        assert!(matches!(
            Fields::parse(&vec![b'a'; MAX_BODY + 1]),
            Err(ApiError::PayloadTooLarge)
        ));
        let long = format!("name={}", "x".repeat(MAX_FIELD + 1));
        match Fields::parse(long.as_bytes()) {
            Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "name"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_read_as_sentences() {
        let mut e = FieldErrors::default();
        let parsed: Result<(), &str> = Err("le nom ne peut pas être vide");
        assert!(e.check("last_name", parsed).is_none());
        assert_eq!(e.of("last_name"), Some("Le nom ne peut pas être vide."));
        assert_eq!(e.len(), 1);
    }
}
