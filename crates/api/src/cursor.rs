//! Opaque, sealed keyset cursors for paginated lists.
//!
//! A cursor is the sort key of the last row of a page (a customer's folded name, a
//! contract's date...) as JSON, encrypted and authenticated with AES-256-GCM under the
//! cursor key, the *scope* of the list (the department and the normalised search
//! criteria) as associated data: `base64url(version ‖ nonce ‖ ciphertext ‖ tag)`. Nothing
//! of the position can be read from the cursor (a name in a cursor would reach proxy and
//! access logs with the URL), and a cursor that was edited, forged, or taken from another
//! search is refused instead of silently paging somewhere else. The key is derived from
//! the token signing key, so that every instance sharing `LAE_JWT_SECRET` accepts the
//! others' cursors; it is a process-random key otherwise, like the tokens.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The first byte of every cursor: its format (1 was a signed, readable position).
const FORMAT: u8 = 2;
/// Bytes of the random nonce of each cursor (96 bits: a key seals one cursor per page
/// served; for 2³² pages the chance of a repeated nonce stays below 2⁻³²).
const NONCE_LEN: usize = 12;

/// The key cursors are sealed with.
#[derive(Clone)]
pub struct CursorKey(Aes256Gcm);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A key derived from a secret (the token signing secret): the secret itself never
    /// signs anything but tokens.
    #[must_use]
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = mac_with(secret);
        mac.update(b"lae-api keyset cursor v2 (aes-256-gcm)");
        let bytes: [u8; 32] = mac.finalize().into_bytes().into();
        Self::from_bytes(&bytes)
    }

    /// A key of this process only (cursors die with it).
    #[must_use]
    pub fn random() -> Self {
        Self::from_bytes(&rand::random::<[u8; 32]>())
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(bytes.into()))
    }

    /// The cursor of `position` within `scope`.
    pub fn seal<P: Serialize>(&self, scope: &[u8], position: &P) -> Result<String, CursorError> {
        let position = serde_json::to_vec(position).map_err(|_| CursorError)?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ciphertext = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &position,
                    aad: &aad(scope),
                },
            )
            .map_err(|_| CursorError)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The position of a cursor sealed by [`CursorKey::seal`] within the same `scope`.
    pub fn open<P: DeserializeOwned>(&self, scope: &[u8], cursor: &str) -> Result<P, CursorError> {
        let sealed = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError)?;
        let (&format, rest) = sealed.split_first().ok_or(CursorError)?;
        if format != FORMAT || rest.len() < NONCE_LEN {
            return Err(CursorError);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let position = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad(scope),
                },
            )
            .map_err(|_| CursorError)?;
        serde_json::from_slice(&position).map_err(|_| CursorError)
    }
}

/// The associated data of a cursor: its list, length-prefixed.
fn aad(scope: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(24 + scope.len());
    aad.extend_from_slice(b"lae cursor\0");
    aad.extend_from_slice(&(scope.len() as u64).to_be_bytes());
    aad.extend_from_slice(scope);
    aad
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this never fails.
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

/// The cursor was not issued by this API for this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct CursorError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_unchanged_and_in_its_scope() {
        let key = CursorKey::derive(b"0123456789abcdef0123456789abcdef");
        let position = ("martin".to_owned(), "hélène".to_owned(), 7_u32);
        let cursor = key.seal(b"sales|martin", &position).expect("sealed");
        let opened: (String, String, u32) = key.open(b"sales|martin", &cursor).expect("opens");
        assert_eq!(opened, position);
        // Nothing of the position shows, in any base64 alphabet or in clear.
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64url");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !cursor.contains("martin") && !text.contains("martin"),
            "{cursor}"
        );
        assert_ne!(
            cursor,
            key.seal(b"sales|martin", &position).expect("sealed"),
            "a fresh nonce per cursor"
        );

        assert!(
            key.open::<(String, String, u32)>(b"legal|martin", &cursor)
                .is_err(),
            "another list's cursor"
        );
        let other_key = CursorKey::derive(b"another secret of at least 32 bytes!");
        assert!(
            other_key
                .open::<(String, String, u32)>(b"sales|martin", &cursor)
                .is_err()
        );
        // Flip one character of the position, then of the tag.
        for at in [1, cursor.len() - 2] {
            let mut bytes = cursor.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            assert!(
                key.open::<(String, String, u32)>(b"sales|martin", &tampered)
                    .is_err(),
                "{tampered}"
            );
        }
        for garbage in ["", ".", "abc", "abc.def", "%%%.%%%", "AgAAAAAAAAAAAAAAAA"] {
            assert!(key.open::<(String, String, u32)>(b"s", garbage).is_err());
        }
    }

    #[test]
    fn derived_keys_are_stable() {
        let a = CursorKey::derive(b"0123456789abcdef0123456789abcdef");
        let b = CursorKey::derive(b"0123456789abcdef0123456789abcdef");
        let cursor = a.seal(b"x", &1).expect("sealed");
        assert_eq!(b.open::<i32>(b"x", &cursor), Ok(1));
        assert!(!format!("{a:?}").contains('0'));
    }
}
