//! The cryptography of personal fields, without I/O: master keys wrap data keys, data
//! keys seal field values.
//!
//! Both layers use XChaCha20-Poly1305 with a random 192-bit nonce (random nonces are
//! safe at that size). The associated data binds each ciphertext to where it belongs:
//! a wrapped data key to its subject and category, a sealed field to its subject,
//! category and field name. A ciphertext moved to another customer, category or field
//! does not open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use lae_domain::DataCategory;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::KeyError;

/// Length of every key, in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// First byte of a sealed value and of a wrapped key: the format's version.
const FORMAT_V1: u8 = 1;

/// The JSON member that marks a sealed field: `{"$enc": "<base64>"}`. No domain value
/// is an object with this member, so sealed and clear values never look alike.
pub const SEALED_MEMBER: &str = "$enc";

/// The key that wraps data keys; taken from the environment or a file, never stored
/// beside the data.
pub struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != KEY_LEN {
            return Err(KeyError::MasterKeyFormat);
        }
        let digest = Sha256::new()
            .chain_update(b"lae master key id\0")
            .chain_update(bytes)
            .finalize();
        Ok(Self {
            id: hex::encode(&digest[..8]),
            cipher: XChaCha20Poly1305::new_from_slice(bytes)
                .map_err(|_| KeyError::MasterKeyFormat)?,
        })
    }

    /// A master key written as 64 hexadecimal digits or as base64 (surrounding
    /// whitespace ignored, as in a file ending with a newline).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = Zeroizing::new(if text.len() == 2 * KEY_LEN {
            hex::decode(text).map_err(|_| KeyError::MasterKeyFormat)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| KeyError::MasterKeyFormat)?
        });
        Self::from_bytes(&bytes)
    }

    /// A new random master key, as 64 hexadecimal digits (for `lae keys generate`).
    #[must_use]
    pub fn generate_hex() -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        Zeroizing::new(hex::encode(bytes.as_ref()))
    }

    /// The key's public identifier (a hash prefix), stored beside each wrapped key.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wraps a data key for `subject` and `category`.
    #[must_use]
    pub fn wrap(&self, subject: Uuid, category: DataCategory, key: &DataKey) -> Vec<u8> {
        seal_bytes(
            &self.cipher,
            &wrap_aad(subject, category),
            key.bytes.as_ref(),
        )
    }

    /// Unwraps a data key; fails if it was wrapped by another key or for another
    /// subject or category, or was altered.
    pub fn unwrap(
        &self,
        subject: Uuid,
        category: DataCategory,
        wrapped: &[u8],
    ) -> Result<DataKey, KeyError> {
        let bytes = Zeroizing::new(
            open_bytes(&self.cipher, &wrap_aad(subject, category), wrapped)
                .ok_or(KeyError::Unwrap { subject, category })?,
        );
        DataKey::from_bytes(&bytes).ok_or(KeyError::Unwrap { subject, category })
    }
}

/// One subject's key for one category.
pub struct DataKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A new random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        let cipher = XChaCha20Poly1305::new(bytes.as_ref().into());
        Self { bytes, cipher }
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        let bytes = Zeroizing::new(array);
        let cipher = XChaCha20Poly1305::new(bytes.as_ref().into());
        Some(Self { bytes, cipher })
    }

    /// Seals a field's JSON value: `{"$enc": "<base64>"}`.
    #[must_use]
    pub fn seal(&self, subject: Uuid, category: DataCategory, field: &str, value: &Value) -> Value {
        let clear = Zeroizing::new(value.to_string().into_bytes());
        let sealed = seal_bytes(&self.cipher, &field_aad(subject, category, field), &clear);
        let mut object = serde_json::Map::with_capacity(1);
        object.insert(
            SEALED_MEMBER.to_owned(),
            Value::String(STANDARD_NO_PAD.encode(sealed)),
        );
        Value::Object(object)
    }

    /// Opens a sealed field's text (the member's value) back into its JSON value.
    pub fn open(
        &self,
        subject: Uuid,
        category: DataCategory,
        field: &str,
        sealed: &str,
    ) -> Result<Value, KeyError> {
        let tampered = || KeyError::Tampered {
            field: field.to_owned(),
        };
        let bytes = STANDARD_NO_PAD.decode(sealed).map_err(|_| tampered())?;
        let clear = Zeroizing::new(
            open_bytes(&self.cipher, &field_aad(subject, category, field), &bytes)
                .ok_or_else(tampered)?,
        );
        serde_json::from_slice(&clear).map_err(|_| tampered())
    }
}

/// The sealed text of a value, if it is a sealed field.
#[must_use]
pub fn sealed_text(value: &Value) -> Option<&str> {
    match value {
        Value::Object(object) if object.len() == 1 => object.get(SEALED_MEMBER)?.as_str(),
        _ => None,
    }
}

fn wrap_aad(subject: Uuid, category: DataCategory) -> Vec<u8> {
    let mut aad = b"lae data key\0".to_vec();
    aad.extend_from_slice(subject.as_bytes());
    aad.extend_from_slice(category.as_str().as_bytes());
    aad
}

fn field_aad(subject: Uuid, category: DataCategory, field: &str) -> Vec<u8> {
    let mut aad = b"lae field\0".to_vec();
    aad.extend_from_slice(subject.as_bytes());
    aad.extend_from_slice(category.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.as_bytes());
    aad
}

/// `version ‖ nonce ‖ ciphertext ‖ tag`.
fn seal_bytes(cipher: &XChaCha20Poly1305, aad: &[u8], clear: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(1 + NONCE_LEN + clear.len() + 16);
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    // Encryption into a Vec cannot fail for messages this small (the AEAD's only
    // failure is a message longer than its counter allows).
    if let Ok(ciphertext) = cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: clear, aad })
    {
        out.extend_from_slice(&ciphertext);
    }
    out
}

fn open_bytes(cipher: &XChaCha20Poly1305, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (&version, rest) = sealed.split_first()?;
    if version != FORMAT_V1 || rest.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUBJECT: Uuid = Uuid::from_u128(7);

    fn master() -> MasterKey {
        MasterKey::parse(&"11".repeat(32)).expect("hex key")
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_belongs() {
        let key = DataKey::generate();
        let value = json!(["Asthme", "Diabète"]);
        let sealed = key.seal(SUBJECT, DataCategory::Health, "illnesses", &value);
        assert!(!sealed.to_string().contains("Asthme"));
        let text = sealed_text(&sealed).expect("sealed");
        assert_eq!(
            key.open(SUBJECT, DataCategory::Health, "illnesses", text)
                .expect("opens"),
            value
        );
        for (subject, category, field) in [
            (Uuid::from_u128(8), DataCategory::Health, "illnesses"),
            (SUBJECT, DataCategory::Contact, "illnesses"),
            (SUBJECT, DataCategory::Health, "tobacco"),
        ] {
            assert!(key.open(subject, category, field, text).is_err());
        }
        let other = DataKey::generate();
        assert!(
            other
                .open(SUBJECT, DataCategory::Health, "illnesses", text)
                .is_err()
        );
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let key = DataKey::generate();
        let a = key.seal(SUBJECT, DataCategory::Contact, "email", &json!("a@b.fr"));
        let b = key.seal(SUBJECT, DataCategory::Contact, "email", &json!("a@b.fr"));
        assert_ne!(a, b, "random nonces: equal values must not be linkable");
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let key = DataKey::generate();
        let sealed = key.seal(SUBJECT, DataCategory::Bank, "iban", &json!("FR76..."));
        let text = sealed_text(&sealed).expect("sealed");
        let mut bytes = STANDARD_NO_PAD.decode(text).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = STANDARD_NO_PAD.encode(bytes);
        assert!(matches!(
            key.open(SUBJECT, DataCategory::Bank, "iban", &altered),
            Err(KeyError::Tampered { .. })
        ));
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_subject_category_and_master() {
        let master = master();
        let key = DataKey::generate();
        let wrapped = master.wrap(SUBJECT, DataCategory::Health, &key);
        let unwrapped = master
            .unwrap(SUBJECT, DataCategory::Health, &wrapped)
            .expect("unwraps");
        let sealed = key.seal(SUBJECT, DataCategory::Health, "tobacco", &json!("smoker"));
        let text = sealed_text(&sealed).expect("sealed");
        assert!(
            unwrapped
                .open(SUBJECT, DataCategory::Health, "tobacco", text)
                .is_ok()
        );
        assert!(
            master
                .unwrap(SUBJECT, DataCategory::Bank, &wrapped)
                .is_err()
        );
        assert!(
            master
                .unwrap(Uuid::from_u128(9), DataCategory::Health, &wrapped)
                .is_err()
        );
        let other = MasterKey::parse(&"22".repeat(32)).expect("key");
        assert_ne!(other.id(), master.id());
        assert!(
            other
                .unwrap(SUBJECT, DataCategory::Health, &wrapped)
                .is_err()
        );
    }

    #[test]
    fn master_keys_parse_from_hex_or_base64_and_nothing_else() {
        let hex_key = master();
        let b64 = base64::engine::general_purpose::STANDARD.encode([0x11u8; 32]);
        assert_eq!(MasterKey::parse(&b64).expect("base64").id(), hex_key.id());
        assert!(MasterKey::parse(" \n").is_err());
        assert!(MasterKey::parse(&"11".repeat(16)).is_err());
        assert!(MasterKey::parse("not a key at all, not even base64!").is_err());
        assert_eq!(MasterKey::generate_hex().len(), 64);
        assert!(!format!("{hex_key:?}").contains("1111"));
    }

    #[test]
    fn only_single_member_objects_are_sealed_values() {
        assert!(sealed_text(&json!({"$enc": "x"})).is_some());
        assert!(sealed_text(&json!({"$enc": "x", "y": 1})).is_none());
        assert!(sealed_text(&json!("$enc")).is_none());
        assert!(sealed_text(&json!(null)).is_none());
    }
}
