//! Opaque, signed keyset cursors for paginated lists.
//!
//! A cursor is the sort key of the last row of a page, as JSON, followed by an
//! HMAC-SHA256 tag (truncated to 128 bits) over that position and the *scope* of the
//! list (the department and the normalised search criteria), both base64url:
//! `<position>.<tag>`. A cursor that was edited, forged, or taken from another search is
//! refused instead of silently paging somewhere else. The key is derived from the token
//! signing key, so that every instance sharing `LAE_JWT_SECRET` accepts the others'
//! cursors; it is a process-random key otherwise, like the tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the tag kept in a cursor.
const TAG_BYTES: usize = 16;

/// The key cursors are signed with.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

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
        mac.update(b"lae-api keyset cursor v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// A key of this process only (cursors die with it).
    #[must_use]
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The cursor of `position` within `scope`.
    pub fn seal<P: Serialize>(&self, scope: &[u8], position: &P) -> Result<String, CursorError> {
        let position = serde_json::to_vec(position).map_err(|_| CursorError)?;
        let tag = self.tag(scope, &position).finalize().into_bytes();
        let engine = URL_SAFE_NO_PAD;
        Ok(format!(
            "{}.{}",
            engine.encode(&position),
            engine.encode(&tag[..TAG_BYTES])
        ))
    }

    /// The position of a cursor sealed by [`CursorKey::seal`] within the same `scope`.
    pub fn open<P: DeserializeOwned>(&self, scope: &[u8], cursor: &str) -> Result<P, CursorError> {
        let (position, tag) = cursor.split_once('.').ok_or(CursorError)?;
        let engine = URL_SAFE_NO_PAD;
        let position = engine.decode(position).map_err(|_| CursorError)?;
        let tag = engine.decode(tag).map_err(|_| CursorError)?;
        if tag.len() != TAG_BYTES {
            return Err(CursorError);
        }
        // Constant-time comparison of the truncated tag.
        self.tag(scope, &position)
            .verify_truncated_left(&tag)
            .map_err(|_| CursorError)?;
        serde_json::from_slice(&position).map_err(|_| CursorError)
    }

    fn tag(&self, scope: &[u8], position: &[u8]) -> HmacSha256 {
        let mut mac = mac_with(&self.0);
        // Length-prefixed, so that no (scope, position) pair reads as another.
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope);
        mac.update(position);
        mac
    }
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
        for garbage in ["", ".", "abc", "abc.def", "%%%.%%%"] {
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
