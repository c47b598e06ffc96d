//! Argon2id password hashing.
//!
//! Hashing is deliberately slow (tens of milliseconds): it runs on the blocking pool,
//! never on the async workers.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted (Argon2 takes any length; this bounds the work).
pub const MAX_LENGTH: usize = 256;

/// Why a password was refused or could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("le mot de passe doit compter entre {MIN_LENGTH} et {MAX_LENGTH} caractères")]
    Length,
    #[error("le mot de passe doit compter au moins {MIN_DISTINCT} caractères différents")]
    Repetitive,
    #[error("le mot de passe ne doit pas contenir l'identifiant")]
    ContainsUsername,
    #[error("le nouveau mot de passe doit être différent de l'actuel")]
    Unchanged,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Fewest different characters a password a user chooses may have (`aaaaaaaaaaaa`
/// and `abababababab` are long enough, and guessed at once).
pub const MIN_DISTINCT: usize = 5;

/// The strength a password chosen by its user must have: the length of the policy,
/// enough different characters, and not the username inside it. Generated passwords
/// ([`generate`]) have it by construction.
pub fn check_strength(password: &str, username: &str) -> Result<(), PasswordError> {
    check_policy(password)?;
    let distinct: std::collections::BTreeSet<char> = password.chars().collect();
    if distinct.len() < MIN_DISTINCT {
        return Err(PasswordError::Repetitive);
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PasswordError::ContainsUsername);
    }
    Ok(())
}

/// Letters and digits that cannot be mistaken for one another when read aloud or
/// copied by hand (no `0`/`o`, `1`/`l`/`i`).
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A provisional password: four groups of four characters (`k7mq-x3vt-9hpw-r2ne`),
/// about 79 bits from a cryptographic generator seeded by the system, shown once to the
/// administrator who hands it over.
pub fn generate() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect();
    groups.join("-")
}

/// Checks the password policy.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if (MIN_LENGTH..=MAX_LENGTH).contains(&n) {
        Ok(())
    } else {
        Err(PasswordError::Length)
    }
}

/// Hashes with Argon2id and the library's default (OWASP) cost.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    hash_with(password, Params::default())
}

/// Hashes with Argon2id at a given cost (tests use a cheap one; verification reads the
/// cost from the stored hash).
pub fn hash_with(password: &str, params: Params) -> Result<String, PasswordError> {
    check_policy(password)?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string (false for a malformed one).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that an unknown user
/// costs the same time as a wrong password and usernames cannot be probed.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy-password-never-matches").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(1024, 1, 1, None).expect("params")
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash_with("correct horse battery", cheap()).expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_strong_and_different() {
        let a = generate();
        assert_eq!(a.len(), 19, "{a}");
        assert!(check_strength(&a, "camille.d").is_ok(), "{a}");
        assert_ne!(a, generate());
    }

    #[test]
    fn weak_chosen_passwords_are_refused_with_their_reason() {
        for (password, expected) in [
            ("court", "entre 12"),
            ("aaaaaaaaaaaaaaaa", "caractères différents"),
            ("abababababab", "caractères différents"),
            ("Camille.D-2026!", "identifiant"),
        ] {
            let refused = check_strength(password, "camille.d").expect_err(password);
            assert!(
                refused.to_string().contains(expected),
                "{password}: {refused}"
            );
        }
        assert!(check_strength("une phrase assez longue", "camille.d").is_ok());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash_with("short", cheap()),
            Err(PasswordError::Length)
        ));
    }
}
