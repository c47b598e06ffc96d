//! Request extractors: JSON bodies that name the field at fault, and the caller.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::problem::ApiError;

/// A JSON body parsed into `T`; on failure, a problem naming the JSON path at fault.
///
/// Value types of the domain validate while they deserialize (an IBAN with a bad
/// checksum never becomes an `Iban`), so a body that parses is a valid command.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge
                    } else {
                        ApiError::Malformed {
                            detail: "Le corps de la requête n'a pas pu être lu.".into(),
                            field: None,
                        }
                    }
                })?;
        parse_json(&bytes).map(ValidJson)
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

/// Parses JSON, turning serde's error into a problem that names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let inner = err.inner();
        let path = err.path().to_string();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                let field = missing_field(&message)
                    .map(|missing| join_path(&path, missing))
                    .unwrap_or(path);
                ApiError::Invalid {
                    code: "invalid_field",
                    detail: format!("Champ « {field} » invalide : {message}"),
                    field,
                }
            }
            _ => malformed(inner),
        }
    })?;
    // Trailing garbage after the JSON value is malformed input too.
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(err: &serde_json::Error) -> ApiError {
    ApiError::Malformed {
        detail: format!(
            "Le corps n'est pas un JSON valide : {}",
            strip_position(&err.to_string())
        ),
        field: None,
    }
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

fn join_path(parent: &str, field: &str) -> String {
    if parent == "." || parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// The version named by `If-Match` (`"3"`, `W/"3"` or `3`), if any: the command
/// applies only to that version of the aggregate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfMatch(pub Option<usize>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(axum::http::header::IF_MATCH) else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|v| v.parse::<usize>().ok())
            .map(|v| Self(Some(v)))
            .ok_or_else(|| ApiError::Malformed {
                detail: "If-Match doit contenir la version attendue, par exemple \"3\".".into(),
                field: Some("If-Match".into()),
            })
    }
}

/// The request id set by the request-id layer (a fresh one when it is missing).
#[derive(Debug, Clone, Copy)]
pub struct RequestId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v).ok())
            .unwrap_or_else(Uuid::new_v4);
        Ok(Self(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        amount: i64,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Invalid { field, .. }) => Some(field),
            Err(ApiError::Malformed { .. }) => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"name":"a","inner":{"amount":"x"}}"#,
                Some("inner.amount"),
                "wrong type nested",
            ),
            (r#"{"name":"a"}"#, Some("inner"), "missing top-level field"),
            (
                r#"{"name":"a","inner":{}}"#,
                Some("inner.amount"),
                "missing nested field",
            ),
            (
                r#"{"name":1,"inner":{"amount":1}}"#,
                Some("name"),
                "wrong type",
            ),
            (
                r#"{"name":"a","inner":{"amount":1},"x":1}"#,
                Some("x"),
                "unknown field",
            ),
            (r#"{"name":"a""#, None, "truncated JSON is malformed"),
            (
                r#"{"name":"a","inner":{"amount":1}} trailing"#,
                None,
                "trailing garbage",
            ),
        ];
        for (json, expected, case) in cases {
            assert_eq!(field_of(json).as_deref(), expected, "{case}");
        }
    }
}
