//! Where sealed fields sit in an event payload, without I/O: sealing and opening a
//! whole payload with keys the caller looks up.
//!
//! The personal fields of one category leave the payload together, as one envelope
//! under the `$sealed` member; the rest of the payload (ids, amounts, dates, statuses)
//! stays in clear:
//!
//! ```json
//! {"type": "ContactDetailsChanged", "customer_id": "…",
//!  "$sealed": {"contact": {"fields": ["last_name", "first_name", "email", "phone", "availability"],
//!                          "data": "<base64: AES-256-GCM of {\"last_name\": …, …}>"}}}
//! ```
//!
//! The field names stay readable (as they were in format 1), so that a reader that may
//! not open an envelope knows which fields to mark [`WITHHELD`] or [`ERASED`]; they are
//! bound to the ciphertext, as are the subject, category and event type.
//!
//! Payloads are opened either as JSON trees ([`open`]: the command side, auditors) or
//! as text ([`SealedText`]: projectors, where decoding is the hot path of a rebuild:
//! the clear payload's text is assembled from the clear members and the opened
//! envelopes, and deserialized once, as a clear payload is).
//!
//! The first format sealed each field where it stood (`"email": {"$enc": "…"}`); such
//! payloads are still opened, field by field, as trees.

use std::collections::BTreeMap;
use std::sync::Arc;

use lae_domain::{Classification, DataCategory};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::KeyError;
use super::cipher::{DataKey, Place, sealed_text};

/// The member holding a payload's sealed envelopes, by category.
pub const SEALED: &str = "$sealed";

/// Texts that the JSON of every sealed payload contains: the member names [`SEALED`]
/// and, in format 1, [`SEALED_MEMBER`](super::cipher::SEALED_MEMBER), quoted. serde_json writes them as they are, so
/// a payload text without either has no sealed field.
pub const MARKS: [&str; 2] = ["\"$sealed\"", "\"$enc\""];

/// What an erased field reads as (its subject's key was destroyed).
pub const ERASED: &str = "[erased]";
/// What a field reads as to a reader whose role may not read its category's keys.
pub const WITHHELD: &str = "[withheld]";
/// What a field reads as when its ciphertext does not open (altered or moved), to a
/// reader that asked to go on ([`OnTampered::Mark`]).
pub const UNREADABLE: &str = "[unreadable]";

/// One category's sealed fields.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<F, D> {
    /// The fields it holds, in the classification's order.
    fields: Vec<F>,
    /// The sealed JSON object of those fields, base64.
    data: D,
}

/// What a reader may do with one category of one subject.
#[derive(Debug)]
pub enum Access {
    /// Open with this key.
    Key(Arc<DataKey>),
    /// The key was destroyed: the fields read [`ERASED`].
    Erased,
    /// The reader may not read this category: the fields read [`WITHHELD`].
    Withheld,
}

/// What to do with a ciphertext that does not open with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTampered {
    /// Fail with [`KeyError::Tampered`] (commands, projections).
    Fail,
    /// Mark its fields [`UNREADABLE`] and go on (auditors: one altered field must not
    /// hide the rest of a history).
    Mark,
}

/// What opening a payload left unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opened {
    /// Some field's key was destroyed: it reads [`ERASED`].
    pub erased: bool,
    /// Some field's category is not readable here: it reads [`WITHHELD`].
    pub withheld: bool,
    /// Some field's ciphertext did not open: it reads [`UNREADABLE`]
    /// ([`OnTampered::Mark`] only).
    pub unreadable: bool,
}

impl Opened {
    /// Whether some personal field could not be opened.
    #[must_use]
    pub fn is_redacted(self) -> bool {
        self.erased || self.withheld || self.unreadable
    }
}

/// What became of one envelope (or format-1 field).
enum Opening {
    /// Its clear text.
    Clear(Zeroizing<Vec<u8>>),
    /// Its fields read this text instead.
    Mark(&'static str),
}

/// Opens one envelope, or a format-1 field (`field`), and notes in `opened` what could
/// not be read.
fn open_one<S: AsRef<str>>(
    place: Place<'_>,
    sealed: Sealed<'_, S>,
    on_tampered: OnTampered,
    opened: &mut Opened,
    access: &mut impl FnMut(DataCategory) -> Result<Access, KeyError>,
) -> Result<Opening, KeyError> {
    let mark = match access(place.category)? {
        Access::Key(key) => {
            let clear = match sealed {
                Sealed::Envelope { fields, data } => key.open(place, fields, data),
                Sealed::Field { field, text } => key
                    .open_field(place.subject, place.category, field, text)
                    .map(|value| Zeroizing::new(value.to_string().into_bytes())),
            };
            match (clear, on_tampered) {
                (Some(clear), _) => return Ok(Opening::Clear(clear)),
                (None, OnTampered::Fail) => {
                    return Err(KeyError::Tampered {
                        category: place.category,
                    });
                }
                (None, OnTampered::Mark) => {
                    opened.unreadable = true;
                    UNREADABLE
                }
            }
        }
        Access::Erased => {
            opened.erased = true;
            ERASED
        }
        Access::Withheld => {
            opened.withheld = true;
            WITHHELD
        }
    };
    Ok(Opening::Mark(mark))
}

/// A ciphertext as stored.
enum Sealed<'a, S> {
    /// Format 2: several fields.
    Envelope { fields: &'a [S], data: &'a str },
    /// Format 1: one field.
    Field { field: &'a str, text: &'a str },
}

/// Whether some personal field of the payload is sealed (either format).
#[must_use]
pub fn is_sealed(payload: &Value) -> bool {
    payload.as_object().is_some_and(|fields| {
        fields.contains_key(SEALED) || fields.values().any(|v| sealed_text(v).is_some())
    })
}

/// The categories of the personal data a payload holds, sealed or clear, each once.
#[must_use]
pub fn categories(classification: &Classification, payload: &Value) -> Vec<DataCategory> {
    let Value::Object(fields) = payload else {
        return Vec::new();
    };
    let mut categories: Vec<DataCategory> = classification
        .personal_fields
        .iter()
        .filter(|f| fields.contains_key(f.field))
        .map(|f| f.category)
        .collect();
    if let Some(Value::Object(sealed)) = fields.get(SEALED) {
        categories.extend(sealed.keys().filter_map(|name| category_named(name)));
    }
    categories.sort_unstable();
    categories.dedup();
    categories
}

/// Whose data an event's personal fields are: the customer its subject field names,
/// else (no such field, or `null` for an unidentified caller) the aggregate itself.
pub fn subject(
    classification: &Classification,
    aggregate_id: &str,
    event_type: &str,
    payload: &Value,
) -> Result<Uuid, KeyError> {
    let named = classification
        .subject_field
        .and_then(|field| payload.get(field))
        .and_then(Value::as_str);
    subject_named(named, aggregate_id, event_type)
}

fn subject_named(
    named: Option<&str>,
    aggregate_id: &str,
    event_type: &str,
) -> Result<Uuid, KeyError> {
    Uuid::parse_str(named.unwrap_or(aggregate_id)).map_err(|_| KeyError::NoSubject {
        event_type: event_type.to_owned(),
    })
}

/// Seals the clear personal fields of a payload in place: one envelope per category.
/// Fields sealed already are left alone. `key` gives the subject's key of a category.
pub fn seal(
    payload: &mut Value,
    classification: &Classification,
    subject: Uuid,
    event_type: &str,
    mut key: impl FnMut(DataCategory) -> Result<Arc<DataKey>, KeyError>,
) -> Result<(), KeyError> {
    let Value::Object(members) = payload else {
        return Ok(());
    };
    let mut groups: BTreeMap<DataCategory, (Vec<&'static str>, Map<String, Value>)> =
        BTreeMap::new();
    for personal in classification.personal_fields {
        let clear = members
            .get(personal.field)
            .is_some_and(|v| sealed_text(v).is_none());
        if !clear {
            continue;
        }
        if let Some(value) = members.remove(personal.field) {
            let (names, group) = groups.entry(personal.category).or_default();
            names.push(personal.field);
            group.insert(personal.field.to_owned(), value);
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    let sealed = members
        .entry(SEALED)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(sealed) = sealed else {
        return Err(not_an_object(event_type));
    };
    for (category, (names, group)) in groups {
        if sealed.contains_key(category.as_str()) {
            return Err(KeyError::Malformed(format!(
                "a {event_type} event has both clear and sealed {} fields",
                category.as_str()
            )));
        }
        let key = key(category)?;
        let clear = Zeroizing::new(serde_json::to_vec(&group).unwrap_or_default());
        let place = Place {
            subject,
            category,
            event_type,
        };
        let envelope = Envelope {
            data: key.seal(place, &names, &clear),
            fields: names,
        };
        sealed.insert(
            category.as_str().to_owned(),
            serde_json::to_value(envelope).unwrap_or_default(),
        );
    }
    Ok(())
}

/// Opens the sealed fields of a payload in place (either format). `access` says what
/// the reader may do with each category; fields it may not open read [`WITHHELD`] or
/// [`ERASED`]. Clear fields (events written before encryption) stay as they are.
pub fn open(
    payload: &mut Value,
    classification: &Classification,
    subject: Uuid,
    event_type: &str,
    on_tampered: OnTampered,
    mut access: impl FnMut(DataCategory) -> Result<Access, KeyError>,
) -> Result<Opened, KeyError> {
    let mut opened = Opened::default();
    let Value::Object(members) = payload else {
        return Ok(opened);
    };
    if let Some(sealed) = members.remove(SEALED) {
        let Value::Object(sealed) = sealed else {
            return Err(not_an_object(event_type));
        };
        for (name, envelope) in sealed {
            let category = category_of(&name, event_type)?;
            let envelope: Envelope<String, String> = serde_json::from_value(envelope)
                .map_err(|_| malformed_envelope(&name, event_type))?;
            let place = Place {
                subject,
                category,
                event_type,
            };
            let sealed = Sealed::Envelope {
                fields: &envelope.fields,
                data: &envelope.data,
            };
            match open_one(place, sealed, on_tampered, &mut opened, &mut access)? {
                Opening::Clear(clear) => {
                    let fields = serde_json::from_slice::<Map<String, Value>>(&clear)
                        .map_err(|_| KeyError::Tampered { category })?;
                    members.extend(fields);
                }
                Opening::Mark(mark) => {
                    for field in envelope.fields {
                        members.insert(field, Value::from(mark));
                    }
                }
            }
        }
    }
    // Format 1: each field sealed where it stands.
    for personal in classification.personal_fields {
        let Some(value) = members.get_mut(personal.field) else {
            continue;
        };
        let Some(text) = sealed_text(value) else {
            continue;
        };
        let place = Place {
            subject,
            category: personal.category,
            event_type,
        };
        let sealed: Sealed<'_, &str> = Sealed::Field {
            field: personal.field,
            text,
        };
        *value = match open_one(place, sealed, on_tampered, &mut opened, &mut access)? {
            Opening::Clear(clear) => serde_json::from_slice(&clear).unwrap_or(Value::Null),
            Opening::Mark(mark) => Value::from(mark),
        };
    }
    Ok(opened)
}

/// What a reader without keys makes of a payload: every sealed field reads
/// [`WITHHELD`].
pub fn withhold(payload: &mut Value, classification: &Classification, event_type: &str) -> Opened {
    // The subject only binds ciphertexts, which are not opened here.
    open(
        payload,
        classification,
        Uuid::nil(),
        event_type,
        OnTampered::Mark,
        |_| Ok(Access::Withheld),
    )
    .unwrap_or(Opened {
        withheld: true,
        ..Opened::default()
    })
}

/// A sealed payload read as text, without building a JSON tree: its clear members as
/// raw JSON and its envelopes, all borrowed from the text. Opening it assembles the
/// clear payload's text.
#[derive(Debug)]
pub struct SealedText<'a> {
    clear: Vec<(&'a str, &'a RawValue)>,
    envelopes: Vec<(DataCategory, Envelope<&'a str, &'a str>)>,
}

impl<'a> SealedText<'a> {
    /// Reads a payload in the current format. `None` when it is not one this reader
    /// takes: no envelope, a field sealed in format 1, a member name written with
    /// escapes, or not JSON at all (the caller falls back to [`open`], which says
    /// what is wrong).
    #[must_use]
    pub fn parse(text: &'a str) -> Option<Self> {
        if text.contains(MARKS[1]) {
            return None;
        }
        let read: ReadText<'a> = serde_json::from_str(text).ok()?;
        Some(Self {
            clear: read.clear,
            envelopes: read.envelopes?,
        })
    }

    /// The categories of its envelopes.
    pub fn categories(&self) -> impl Iterator<Item = DataCategory> + '_ {
        self.envelopes.iter().map(|(category, _)| *category)
    }

    /// Whose data it holds (see [`subject`]).
    pub fn subject(
        &self,
        classification: &Classification,
        aggregate_id: &str,
        event_type: &str,
    ) -> Result<Uuid, KeyError> {
        let named = classification.subject_field.and_then(|field| {
            self.clear
                .iter()
                .find(|(name, _)| *name == field)
                .and_then(|(_, raw)| serde_json::from_str::<Option<&str>>(raw.get()).ok())
                .flatten()
        });
        subject_named(named, aggregate_id, event_type)
    }

    /// The clear payload's text, with the fields that could not be opened reading
    /// [`WITHHELD`], [`ERASED`] or [`UNREADABLE`] (see [`open`]).
    pub fn open(
        &self,
        subject: Uuid,
        event_type: &str,
        on_tampered: OnTampered,
        mut access: impl FnMut(DataCategory) -> Result<Access, KeyError>,
    ) -> Result<(Zeroizing<String>, Opened), KeyError> {
        let mut opened = Opened::default();
        let mut text = Zeroizing::new(String::with_capacity(
            self.clear
                .iter()
                .map(|(name, raw)| name.len() + raw.get().len() + 4)
                .sum::<usize>()
                + self
                    .envelopes
                    .iter()
                    .map(|(_, e)| e.data.len())
                    .sum::<usize>(),
        ));
        text.push('{');
        for (name, raw) in &self.clear {
            push_member(&mut text, name, raw.get());
        }
        for (category, envelope) in &self.envelopes {
            let place = Place {
                subject,
                category: *category,
                event_type,
            };
            let sealed = Sealed::Envelope {
                fields: &envelope.fields,
                data: envelope.data,
            };
            match open_one(place, sealed, on_tampered, &mut opened, &mut access)? {
                Opening::Clear(clear) => {
                    // A JSON object: its members go in as they are.
                    let members = std::str::from_utf8(&clear)
                        .ok()
                        .and_then(|object| object.strip_prefix('{')?.strip_suffix('}'))
                        .ok_or(KeyError::Tampered {
                            category: *category,
                        })?;
                    if !members.trim().is_empty() {
                        if text.len() > 1 {
                            text.push(',');
                        }
                        text.push_str(members);
                    }
                }
                Opening::Mark(mark) => {
                    let quoted = format!("\"{mark}\"");
                    for field in &envelope.fields {
                        push_member(&mut text, field, &quoted);
                    }
                }
            }
        }
        text.push('}');
        Ok((text, opened))
    }
}

/// Appends `"name":value` to an object's text being written. `name` was borrowed
/// from JSON text, so it holds no character that needs escaping.
fn push_member(text: &mut String, name: &str, value: &str) {
    if text.len() > 1 {
        text.push(',');
    }
    text.push('"');
    text.push_str(name);
    text.push_str("\":");
    text.push_str(value);
}

/// A payload's text read in one pass: the clear members as raw JSON, the envelopes
/// as borrowed strings (each byte of the text is scanned once).
struct ReadText<'a> {
    clear: Vec<(&'a str, &'a RawValue)>,
    envelopes: Option<Vec<(DataCategory, Envelope<&'a str, &'a str>)>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ReadText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = ReadText<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut read = ReadText {
                    clear: Vec::with_capacity(8),
                    envelopes: None,
                };
                while let Some(name) = map.next_key::<&'de str>()? {
                    if name == SEALED {
                        let envelopes: BTreeMap<DataCategory, Envelope<&'de str, &'de str>> =
                            map.next_value()?;
                        read.envelopes = Some(envelopes.into_iter().collect());
                    } else {
                        read.clear.push((name, map.next_value()?));
                    }
                }
                Ok(read)
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

fn category_named(name: &str) -> Option<DataCategory> {
    DataCategory::ALL.into_iter().find(|c| c.as_str() == name)
}

fn category_of(name: &str, event_type: &str) -> Result<DataCategory, KeyError> {
    category_named(name).ok_or_else(|| {
        KeyError::Malformed(format!("unknown data category {name:?} in {event_type}"))
    })
}

fn not_an_object(event_type: &str) -> KeyError {
    KeyError::Malformed(format!(
        "the {SEALED} member of a {event_type} event is not an object"
    ))
}

fn malformed_envelope(category: &str, event_type: &str) -> KeyError {
    KeyError::Malformed(format!("a sealed {category} envelope of {event_type}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::cipher::SEALED_MEMBER;
    use serde_json::json;

    const SUBJECT: Uuid = Uuid::from_u128(42);

    fn registered() -> (Value, Classification) {
        let payload = json!({
            "type": "CustomerRegistered",
            "customer_number": "LAE-000042",
            "last_name": "Martin",
            "first_name": "Léa",
            "email": "lea@exemple.fr",
            "phone": null,
            "availability": "le soir",
        });
        (
            payload,
            lae_domain::classify("Customer", "CustomerRegistered"),
        )
    }

    fn sealed(key: &Arc<DataKey>) -> (Value, Classification) {
        let (mut payload, classification) = registered();
        seal(
            &mut payload,
            &classification,
            SUBJECT,
            "CustomerRegistered",
            |_| Ok(key.clone()),
        )
        .expect("seals");
        (payload, classification)
    }

    /// Opens a sealed registration of `SUBJECT`.
    fn open_registered(
        payload: &mut Value,
        on_tampered: OnTampered,
        access: impl FnMut(DataCategory) -> Result<Access, KeyError>,
    ) -> Result<Opened, KeyError> {
        let classification = lae_domain::classify("Customer", "CustomerRegistered");
        open(
            payload,
            &classification,
            SUBJECT,
            "CustomerRegistered",
            on_tampered,
            access,
        )
    }

    #[test]
    fn one_envelope_per_category_and_ids_stay_in_clear() {
        let key = Arc::new(DataKey::generate());
        let (payload, classification) = sealed(&key);
        let text = payload.to_string();
        for value in ["Martin", "Léa", "lea@exemple.fr", "le soir"] {
            assert!(!text.contains(value), "{text}");
        }
        assert_eq!(payload["customer_number"], json!("LAE-000042"));
        assert_eq!(
            payload[SEALED]["contact"]["fields"],
            json!(["last_name", "first_name", "email", "phone", "availability"])
        );
        assert!(is_sealed(&payload));
        assert_eq!(
            categories(&classification, &payload),
            [DataCategory::Contact]
        );
        assert!(!is_sealed(&registered().0));
        assert_eq!(
            categories(&classification, &registered().0),
            [DataCategory::Contact]
        );
    }

    #[test]
    fn opening_gives_back_the_clear_payload() {
        let key = Arc::new(DataKey::generate());
        let (mut payload, classification) = sealed(&key);
        let opened = open_registered(&mut payload, OnTampered::Fail, |_| {
            Ok(Access::Key(key.clone()))
        })
        .expect("opens");
        assert_eq!(opened, Opened::default());
        assert_eq!(payload, registered().0);
        // Sealing is idempotent on sealed payloads.
        let (mut twice, _) = sealed(&key);
        let before = twice.clone();
        seal(
            &mut twice,
            &classification,
            SUBJECT,
            "CustomerRegistered",
            |_| Ok(key.clone()),
        )
        .expect("nothing to seal");
        assert_eq!(twice, before);
    }

    #[test]
    fn unreadable_categories_name_their_fields() {
        let key = Arc::new(DataKey::generate());
        for (access, text, flag) in [
            (
                Access::Withheld,
                WITHHELD,
                Opened {
                    withheld: true,
                    ..Opened::default()
                },
            ),
            (
                Access::Erased,
                ERASED,
                Opened {
                    erased: true,
                    ..Opened::default()
                },
            ),
        ] {
            let (mut payload, classification) = sealed(&key);
            let mut access = Some(access);
            let opened = open(
                &mut payload,
                &classification,
                SUBJECT,
                "CustomerRegistered",
                OnTampered::Fail,
                |_| {
                    access
                        .take()
                        .ok_or(KeyError::Malformed("asked twice".into()))
                },
            )
            .expect("opens");
            assert_eq!(opened, flag);
            assert_eq!(payload["email"], json!(text));
            assert_eq!(payload["phone"], json!(text), "even a null field is named");
            assert_eq!(payload["customer_number"], json!("LAE-000042"));
            assert!(payload.get(SEALED).is_none());
        }
        let (mut payload, classification) = sealed(&key);
        assert_eq!(
            withhold(&mut payload, &classification, "CustomerRegistered"),
            Opened {
                withheld: true,
                ..Opened::default()
            }
        );
        assert_eq!(payload["last_name"], json!(WITHHELD));
    }

    #[test]
    fn a_moved_envelope_fails_or_is_marked() {
        let key = Arc::new(DataKey::generate());
        let (registration, classification) = sealed(&key);
        // The same envelope under another event type: it does not open there.
        let mut moved =
            json!({"type": "ContactDetailsChanged", SEALED: registration[SEALED].clone()});
        let changed = lae_domain::classify("Customer", "ContactDetailsChanged");
        let strict = open(
            &mut moved.clone(),
            &changed,
            SUBJECT,
            "ContactDetailsChanged",
            OnTampered::Fail,
            |_| Ok(Access::Key(key.clone())),
        );
        assert!(
            matches!(
                strict,
                Err(KeyError::Tampered {
                    category: DataCategory::Contact
                })
            ),
            "{strict:?}"
        );
        let marked = open(
            &mut moved,
            &changed,
            SUBJECT,
            "ContactDetailsChanged",
            OnTampered::Mark,
            |_| Ok(Access::Key(key.clone())),
        )
        .expect("marks");
        assert!(marked.unreadable);
        assert_eq!(moved["email"], json!(UNREADABLE));
        // Another subject: same.
        let mut other = registration.clone();
        assert!(
            open(
                &mut other,
                &classification,
                Uuid::from_u128(43),
                "CustomerRegistered",
                OnTampered::Fail,
                |_| Ok(Access::Key(key.clone())),
            )
            .is_err()
        );
        // An edited field list: same.
        let mut edited = registration;
        edited[SEALED]["contact"]["fields"] = json!(["last_name"]);
        assert!(
            open_registered(&mut edited, OnTampered::Fail, |_| Ok(Access::Key(
                key.clone()
            )))
            .is_err()
        );
    }

    #[test]
    fn format_1_payloads_still_open_field_by_field() {
        let key = Arc::new(DataKey::generate());
        let (clear, classification) = registered();
        let mut payload = clear.clone();
        for personal in classification.personal_fields {
            if let Some(value) = payload.get_mut(personal.field) {
                *value = key.seal_field_v1(SUBJECT, personal.category, personal.field, value);
            }
        }
        assert!(is_sealed(&payload));
        assert_eq!(
            categories(&classification, &payload),
            [DataCategory::Contact]
        );
        let mut opened_payload = payload.clone();
        open_registered(&mut opened_payload, OnTampered::Fail, |_| {
            Ok(Access::Key(key.clone()))
        })
        .expect("opens");
        assert_eq!(opened_payload, clear);
        let opened =
            open_registered(&mut payload, OnTampered::Fail, |_| Ok(Access::Erased)).expect("opens");
        assert!(opened.erased);
        assert_eq!(payload["email"], json!(ERASED));
    }

    #[test]
    fn the_marks_are_the_sealed_members_as_json() {
        assert_eq!(
            MARKS,
            [format!("\"{SEALED}\""), format!("\"{SEALED_MEMBER}\"")]
        );
    }

    /// Opens a sealed payload's text with `access` for every category.
    fn open_text(text: &str, access: impl Fn() -> Access) -> (Value, Opened) {
        let sealed = SealedText::parse(text).expect("a sealed payload");
        let (clear, opened) = sealed
            .open(SUBJECT, "CustomerRegistered", OnTampered::Fail, |_| {
                Ok(access())
            })
            .expect("opens");
        (serde_json::from_str(&clear).expect("JSON"), opened)
    }

    #[test]
    fn as_text_a_payload_opens_to_the_same_clear_payload() {
        let key = Arc::new(DataKey::generate());
        let (payload, classification) = sealed(&key);
        let text = payload.to_string();
        let sealed_text = SealedText::parse(&text).expect("parsed");
        assert_eq!(
            sealed_text.categories().collect::<Vec<_>>(),
            [DataCategory::Contact]
        );
        assert_eq!(
            sealed_text
                .subject(&classification, &SUBJECT.to_string(), "CustomerRegistered")
                .expect("subject"),
            SUBJECT
        );
        let (clear, opened) = open_text(&text, || Access::Key(key.clone()));
        assert_eq!(clear, registered().0);
        assert_eq!(opened, Opened::default());
        let (withheld, opened) = open_text(&text, || Access::Withheld);
        assert!(opened.withheld);
        assert_eq!(withheld["email"], json!(WITHHELD));
        assert_eq!(withheld["phone"], json!(WITHHELD));
        assert_eq!(withheld["customer_number"], json!("LAE-000042"));
        let (erased, opened) = open_text(&text, || Access::Erased);
        assert!(opened.erased);
        assert_eq!(erased["last_name"], json!(ERASED));
        // Tampered: fails, or marks.
        let other = Arc::new(DataKey::generate());
        let parsed = SealedText::parse(&text).expect("parsed");
        assert!(matches!(
            parsed.open(SUBJECT, "CustomerRegistered", OnTampered::Fail, |_| Ok(
                Access::Key(other.clone())
            )),
            Err(KeyError::Tampered { .. })
        ));
        let (marked, opened) = parsed
            .open(SUBJECT, "CustomerRegistered", OnTampered::Mark, |_| {
                Ok(Access::Key(other.clone()))
            })
            .expect("marks");
        assert!(opened.unreadable);
        assert!(marked.contains(UNREADABLE));
    }

    #[test]
    fn as_text_a_ticket_names_its_subject_and_others_fall_back_to_trees() {
        let key = Arc::new(DataKey::generate());
        let classification = lae_domain::classify("Ticket", "TicketOpened");
        let customer = Uuid::from_u128(77);
        let mut ticket = json!({"type": "TicketOpened", "customer_id": customer.to_string(), "reason": "Décès de l'assuré"});
        seal(
            &mut ticket,
            &classification,
            customer,
            "TicketOpened",
            |_| Ok(key.clone()),
        )
        .expect("seals");
        let text = ticket.to_string();
        let parsed = SealedText::parse(&text).expect("parsed");
        assert_eq!(
            parsed
                .subject(
                    &classification,
                    &Uuid::from_u128(1).to_string(),
                    "TicketOpened"
                )
                .expect("subject"),
            customer
        );
        // Not taken as text: clear payloads, format-1 fields, escaped member names,
        // text that is not JSON.
        let v1 = json!({"type": "X", "email": key.seal_field_v1(SUBJECT, DataCategory::Contact, "email", &json!("a@b.fr"))});
        for text in [
            registered().0.to_string(),
            v1.to_string(),
            r#"{"\u0074ype": "X", "$sealed": {}}"#.to_owned(),
            "not json".to_owned(),
        ] {
            assert!(SealedText::parse(&text).is_none(), "{text}");
        }
    }

    #[test]
    fn malformed_sealed_members_are_errors_not_panics() {
        for bad in [
            json!({SEALED: "text"}),
            json!({SEALED: {"secrets": {"fields": [], "data": ""}}}),
            json!({SEALED: {"contact": {"data": 3}}}),
        ] {
            let mut payload = bad.clone();
            let result = open_registered(&mut payload, OnTampered::Mark, |_| Ok(Access::Withheld));
            assert!(matches!(result, Err(KeyError::Malformed(_))), "{bad}");
        }
    }
}
