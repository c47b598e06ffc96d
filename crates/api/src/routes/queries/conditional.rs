//! How query answers are sent: caching headers, entity tags and `304 Not Modified`.
//!
//! Every answer holding personal data says `Cache-Control: no-store`: no browser or
//! proxy keeps a copy on disk. A client that keeps what it shows in memory (a screen
//! that refreshes) can still ask "has it changed?" with `If-None-Match`: answers carry
//! a strong `ETag`, a digest of the body itself, so it changes exactly when the answer
//! does (a new event, a rebuild that changed a row, a ticket opened for the customer) and
//! never for anything else.
//!
//! Reads written to the access log (health declarations, unmasked IBANs) carry no
//! `ETag` and never answer 304: every such read returns the data and is logged, so the
//! log holds one entry per time the data was shown.

use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
/// For answers without personal data (management's figures): may be kept, revalidated
/// before each use.
const REVALIDATE: HeaderValue = HeaderValue::from_static("private, no-cache");

/// Personal data with an `ETag`: 304 when the caller already has this answer.
pub fn personal<T: Serialize>(request: &HeaderMap, body: &T) -> Result<Response, ApiError> {
    tagged(request, body, NO_STORE)
}

/// Figures without personal data, with an `ETag`.
pub fn figures<T: Serialize>(request: &HeaderMap, body: &T) -> Result<Response, ApiError> {
    tagged(request, body, REVALIDATE)
}

/// Personal data read under the access log: no `ETag`, never 304.
pub fn logged<T: Serialize>(body: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, JSON);
    headers.insert(CACHE_CONTROL, NO_STORE);
    Ok(response)
}

fn tagged<T: Serialize>(
    request: &HeaderMap,
    body: &T,
    cache_control: HeaderValue,
) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    let etag = etag_of(&bytes);
    let mut response = if matches(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = (StatusCode::OK, bytes).into_response();
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, JSON);
        response
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, cache_control);
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    Ok(response)
}

/// A strong entity tag: the first 128 bits of the body's SHA-256, quoted.
fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether `If-None-Match` names this tag (or `*`), compared weakly as RFC 9110 says.
fn matches(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, value.parse().expect("header"));
        headers
    }

    #[test]
    fn a_matching_tag_gets_304_with_the_tag_and_no_body() {
        let body = serde_json::json!({"a": 1});
        let first = personal(&HeaderMap::new(), &body).expect("answer");
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[CACHE_CONTROL], "no-store");
        let etag = first.headers()[ETAG].to_str().expect("ascii").to_owned();
        for header in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let again = personal(&with(&header), &body).expect("answer");
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{header}");
            assert_eq!(again.headers()[ETAG], etag.as_str());
        }
        let changed = personal(&with(&etag), &serde_json::json!({"a": 2})).expect("answer");
        assert_eq!(changed.status(), StatusCode::OK);
        assert_ne!(changed.headers()[ETAG], etag.as_str());
    }

    #[test]
    fn logged_reads_have_no_tag() {
        let answer = logged(&serde_json::json!({"a": 1})).expect("answer");
        assert!(answer.headers().get(ETAG).is_none());
        assert_eq!(answer.headers()[CACHE_CONTROL], "no-store");
    }
}
