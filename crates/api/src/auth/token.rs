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
/// The longest a session lives through renewals: a working day. Past it the user
/// logs in again, however active they were.
pub const SESSION_MAX: Duration = Duration::from_secs(10 * 3600);

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
    /// When the user logged in (Unix seconds): renewed tokens keep it, so that a
    /// session never outlives [`SESSION_MAX`]. Tokens issued before this claim existed
    /// count from their `iat`.
    #[serde(default)]
    pub auth_time: i64,
}

impl Claims {
    /// When the session began.
    pub fn session_start(&self) -> i64 {
        if self.auth_time > 0 {
            self.auth_time
        } else {
            self.iat
        }
    }
}

/// The signing key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Keys the desks' anti-forgery tokens (derived from the secret, never the secret).
    form_key: [u8; 32],
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
        let form_key = {
            use hmac::Mac;
            let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(b"lae form token key v1");
            mac.finalize().into_bytes().into()
        };
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            form_key,
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
        self.issue_in_session(user_id, username, role, generation, Utc::now().timestamp())
    }

    /// A fresh token for the session of `claims` (sliding renewal), or `None` once
    /// the session is older than [`SESSION_MAX`]: the user logs in again.
    pub fn renew(&self, claims: &Claims) -> Option<(String, Claims)> {
        let start = claims.session_start();
        let age = Utc::now().timestamp() - start;
        if age >= i64::try_from(SESSION_MAX.as_secs()).unwrap_or(36_000) {
            return None;
        }
        self.issue_in_session(
            claims.sub,
            &claims.name,
            claims.role,
            claims.generation,
            start,
        )
        .ok()
    }

    fn issue_in_session(
        &self,
        user_id: Uuid,
        username: &str,
        role: Role,
        generation: i32,
        auth_time: i64,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        // A renewed token never outlives its session.
        let session_end = auth_time + i64::try_from(SESSION_MAX.as_secs()).unwrap_or(36_000);
        let claims = Claims {
            sub: user_id,
            name: username.to_owned(),
            role,
            generation,
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            iat: now,
            exp: (now + i64::try_from(TTL.as_secs()).unwrap_or(900)).min(session_end),
            jti: Uuid::new_v4(),
            auth_time,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// The anti-forgery token of a session's forms: a MAC of the user, their token
    /// generation and the session start, so it survives renewals and dies with the
    /// session (logout bumps the generation).
    pub fn form_token(&self, claims: &Claims) -> String {
        use base64::Engine;
        use hmac::Mac;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.form_mac(claims).finalize().into_bytes())
    }

    /// Whether `sent` is the form token of this session (compared in constant time).
    pub fn form_token_matches(&self, claims: &Claims, sent: &str) -> bool {
        use base64::Engine;
        use hmac::Mac;
        let Ok(sent) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sent) else {
            return false;
        };
        self.form_mac(claims).verify_slice(&sent).is_ok()
    }

    /// The MAC of a session's form token, before it is finalised.
    fn form_mac(&self, claims: &Claims) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.form_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(claims.sub.as_bytes());
        mac.update(&claims.generation.to_be_bytes());
        mac.update(&claims.session_start().to_be_bytes());
        mac
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
            auth_time: 0,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding)
            .expect("encode");
        assert!(k.verify(&token).is_none());
    }

    #[test]
    fn a_renewed_token_keeps_its_session_start_and_a_session_ends_after_a_working_day() {
        let k = keys();
        let (_, claims) = k
            .issue(Uuid::nil(), "alice", Role::Sales, 3)
            .expect("issue");
        let (token, renewed) = k.renew(&claims).expect("renewed");
        assert_eq!(renewed.auth_time, claims.auth_time);
        assert_eq!(renewed.generation, 3);
        assert!(k.verify(&token).is_some());
        let old = Claims {
            auth_time: Utc::now().timestamp()
                - i64::try_from(SESSION_MAX.as_secs()).expect("fits")
                - 1,
            ..claims.clone()
        };
        assert!(
            k.renew(&old).is_none(),
            "a session older than a working day is renewed"
        );
        let near_end = Claims {
            auth_time: Utc::now().timestamp() - i64::try_from(SESSION_MAX.as_secs()).expect("fits")
                + 60,
            ..claims
        };
        let (_, last) = k.renew(&near_end).expect("renewed near the end");
        assert!(
            last.exp <= near_end.auth_time + i64::try_from(SESSION_MAX.as_secs()).expect("fits")
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::new(b"short").is_err());
    }
}
