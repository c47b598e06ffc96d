//! Signed access tokens (JWT, HS256 pinned).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;

pub const AUDIENCE: &str = "lae-api";
pub const ISSUER: &str = "lae";
/// How long a token is valid.
pub const TTL: Duration = Duration::from_secs(15 * 60);

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The username at issue time (shown in event metadata).
    pub name: String,
    pub role: Role,
    /// The user's token generation at issue time (see the module docs of `auth`).
    pub generation: i32,
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// The signing key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

/// The secret is too short to sign with.
#[derive(Debug, thiserror::Error)]
#[error("the token secret must be at least 32 bytes")]
pub struct WeakSecret;

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Result<Self, WeakSecret> {
        if secret.len() < 32 {
            return Err(WeakSecret);
        }
        // Only HS256: a token naming any other algorithm (`none` included) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// A random key for this process only (tokens die with it).
    pub fn random() -> Self {
        let secret: [u8; 32] = rand::random();
        Self::new(&secret).unwrap_or_else(|_| unreachable!("32 bytes is long enough"))
    }

    /// Issues a token for a user.
    pub fn issue(
        &self,
        user_id: Uuid,
        username: &str,
        role: Role,
        generation: i32,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            name: username.to_owned(),
            role,
            generation,
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + i64::try_from(TTL.as_secs()).unwrap_or(900),
            jti: Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// The claims of a valid token; `None` for anything expired, tampered, of another
    /// audience or issuer, or signed with another algorithm.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32]).expect("key")
    }

    #[test]
    fn an_issued_token_verifies() {
        let k = keys();
        let (token, claims) = k
            .issue(Uuid::nil(), "alice", Role::Sales, 3)
            .expect("issue");
        assert_eq!(k.verify(&token), Some(claims));
    }

    #[test]
    fn tampered_foreign_and_unsigned_tokens_are_refused() {
        let k = keys();
        let (token, _) = k
            .issue(Uuid::nil(), "alice", Role::Sales, 0)
            .expect("issue");
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = token.split('.').collect();
        // A payload edited to claim another role.
        let payload = String::from_utf8(engine.decode(parts[1]).expect("b64"))
            .expect("utf8")
            .replace("sales", "legal");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            engine.encode(payload.as_bytes()),
            parts[2]
        );
        // `alg: none`, no signature.
        let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        let other_key = TokenKeys::new(&[8u8; 32]).expect("key");
        let (foreign, _) = other_key
            .issue(Uuid::nil(), "alice", Role::Sales, 0)
            .expect("issue");
        for (case, token) in [
            ("tampered", tampered),
            ("alg none", unsigned),
            ("other key", foreign),
            ("garbage", "a.b.c".into()),
        ] {
            assert!(k.verify(&token).is_none(), "{case} was accepted");
        }
    }

    #[test]
    fn an_expired_token_is_refused() {
        let k = keys();
        let claims = Claims {
            sub: Uuid::nil(),
            name: "alice".into(),
            role: Role::Sales,
            generation: 0,
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            iat: 0,
            exp: Utc::now().timestamp() - 60,
            jti: Uuid::nil(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding)
            .expect("encode");
        assert!(k.verify(&token).is_none());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::new(b"short").is_err());
    }
}
