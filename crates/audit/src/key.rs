//! The audit key: what makes the seals *keyed* (HMAC-SHA256) rather than plain hashes.
//!
//! Whoever can write the database can also recompute plain SHA-256 chains over edited
//! events; they cannot recompute HMACs without the key, which lives outside the
//! database (an environment variable or a file readable by the sealer and the
//! verifier only). A random per-process key would be useless here: the next process
//! could not verify what this one sealed. So without a configured key the chain is
//! plain SHA-256, and every verification report says that it is unkeyed.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The variable holding the key itself (at least [`MIN_KEY_LEN`] bytes).
pub const KEY_ENV: &str = "LAE_AUDIT_KEY";
/// The variable naming a file that holds the key (a trailing newline is ignored).
pub const KEY_FILE_ENV: &str = "LAE_AUDIT_KEY_FILE";
/// The shortest key accepted: 256 bits, the size of the HMAC-SHA256 output.
pub const MIN_KEY_LEN: usize = 32;
/// The key id of an unkeyed chain.
pub const UNKEYED_ID: &str = "sha256";

type HmacSha256 = Hmac<Sha256>;

/// The key seals are made and checked with. Cheap to clone.
#[derive(Clone)]
pub struct AuditKey {
    mac: Option<HmacSha256>,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    // Never show the key, only its public fingerprint.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).finish()
    }
}

impl AuditKey {
    /// A keyed chain (HMAC-SHA256) with `secret`, which must be at least
    /// [`MIN_KEY_LEN`] bytes long.
    pub fn hmac(secret: &[u8]) -> crate::Result<Self> {
        if secret.len() < MIN_KEY_LEN {
            return Err(crate::AuditError::Key(format!(
                "the key has {} bytes, at least {MIN_KEY_LEN} are required",
                secret.len()
            )));
        }
        let mac = HmacSha256::new_from_slice(secret)
            .map_err(|e| crate::AuditError::Key(e.to_string()))?;
        // The fingerprint is an HMAC of a fixed label: it names the key in the database
        // without revealing anything that helps to recompute a seal.
        let mut fingerprint = mac.clone();
        fingerprint.update(b"lae-audit key id v1");
        let digest = fingerprint.finalize().into_bytes();
        let id = format!("hmac-sha256:{}", hex::encode(&digest[..8]));
        Ok(Self { mac: Some(mac), id })
    }

    /// An unkeyed chain (plain SHA-256): detects accidents and clumsy edits, not an
    /// adversary who can write the database.
    pub fn unkeyed() -> Self {
        Self {
            mac: None,
            id: UNKEYED_ID.to_owned(),
        }
    }

    /// The key from `LAE_AUDIT_KEY`, else from the file named by `LAE_AUDIT_KEY_FILE`,
    /// else unkeyed (with a warning in the log).
    pub fn from_env() -> crate::Result<Self> {
        let value = std::env::var(KEY_ENV).ok().filter(|v| !v.is_empty());
        let file = std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty());
        let key = Self::from_sources(value.as_deref(), file.as_deref().map(Path::new))?;
        if !key.is_keyed() {
            tracing::warn!(
                "neither {KEY_ENV} nor {KEY_FILE_ENV} is set: audit seals are plain SHA-256 (unkeyed)"
            );
        }
        Ok(key)
    }

    /// The key from an explicit value or file (the value wins), or unkeyed when neither
    /// is given.
    pub fn from_sources(value: Option<&str>, file: Option<&Path>) -> crate::Result<Self> {
        if let Some(value) = value {
            return Self::hmac(value.as_bytes());
        }
        if let Some(path) = file {
            let mut secret = std::fs::read(path).map_err(|e| {
                crate::AuditError::Key(format!("cannot read {}: {e}", path.display()))
            })?;
            // Files written by `echo` or an editor end with a newline that is not part
            // of the key.
            while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                secret.pop();
            }
            return Self::hmac(&secret);
        }
        Ok(Self::unkeyed())
    }

    /// Whether seals are HMACs (true) or plain SHA-256 (false).
    pub fn is_keyed(&self) -> bool {
        self.mac.is_some()
    }

    /// The key's public fingerprint (`hmac-sha256:<16 hex>` or `sha256`).
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// A hasher for one hash; feed it, then [`Hasher::finish`].
    pub(crate) fn hasher(&self) -> Hasher {
        match &self.mac {
            Some(mac) => Hasher::Keyed(Box::new(mac.clone())),
            None => Hasher::Plain(Sha256::new()),
        }
    }
}

/// One hash being computed.
pub(crate) enum Hasher {
    Keyed(Box<HmacSha256>),
    Plain(Sha256),
}

impl Hasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Keyed(mac) => mac.update(bytes),
            Self::Plain(sha) => sha.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        match self {
            Self::Keyed(mac) => mac.finalize().into_bytes().into(),
            Self::Plain(sha) => sha.finalize().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        assert!(AuditKey::hmac(b"short").is_err());
        assert!(AuditKey::hmac(&[7u8; MIN_KEY_LEN]).is_ok());
    }

    #[test]
    fn the_fingerprint_is_stable_and_distinguishes_keys() {
        let a = AuditKey::hmac(&[1u8; 32]).expect("key");
        let b = AuditKey::hmac(&[2u8; 32]).expect("key");
        assert_eq!(
            a.key_id(),
            AuditKey::hmac(&[1u8; 32]).expect("key").key_id()
        );
        assert_ne!(a.key_id(), b.key_id());
        assert!(a.key_id().starts_with("hmac-sha256:"));
        assert!(!format!("{a:?}").contains("[1"));
    }

    #[test]
    fn without_a_source_the_chain_is_unkeyed() {
        let key = AuditKey::from_sources(None, None).expect("unkeyed");
        assert!(!key.is_keyed());
        assert_eq!(key.key_id(), UNKEYED_ID);
    }

    #[test]
    fn a_key_file_loses_its_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("lae-audit-key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&dir, b"0123456789abcdef0123456789abcdef\n").expect("write");
        let from_file = AuditKey::from_sources(None, Some(&dir)).expect("key");
        let direct = AuditKey::hmac(b"0123456789abcdef0123456789abcdef").expect("key");
        assert_eq!(from_file.key_id(), direct.key_id());
        let _ = std::fs::remove_file(&dir);
    }
}
