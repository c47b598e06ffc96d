//! The API's one error type, rendered as RFC 9457 `application/problem+json`.
//!
//! Titles and details are in French: department users read them. `code` and
//! `field` are stable English identifiers for programs. Internal failures are
//! logged with their cause and shown as an opaque 500 carrying the request id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lae_domain::{Rejection, RejectionKind};
use lae_store::CommandError;
use serde::Serialize;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON of the expected shape.
    #[error("malformed request: {detail}")]
    Malformed {
        detail: String,
        field: Option<String>,
    },
    /// 400: a query parameter is unknown, missing or invalid, naming it.
    #[error("bad parameter {field}: {detail}")]
    BadParameter {
        code: &'static str,
        field: String,
        detail: String,
    },
    /// 415: the body is not declared as JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 413: the body is larger than the route accepts.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 401: no usable identity on the request.
    #[error("unauthenticated")]
    Unauthenticated { detail: &'static str },
    /// 403: authenticated, but the role may not do this.
    #[error("forbidden")]
    Forbidden,
    /// 429: too many failed logins; the account is locked for a while.
    #[error("locked for {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    /// 401: the username or password is wrong (never says which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 404: the addressed resource does not exist.
    #[error("not found: {detail}")]
    NotFound { code: &'static str, detail: String },
    /// 410: the resource existed but its data was erased.
    #[error("gone: {detail}")]
    Gone { code: &'static str, detail: String },
    /// 422: well-formed input that breaks a rule, naming the field.
    #[error("invalid {field}: {detail}")]
    Invalid {
        code: &'static str,
        field: String,
        detail: String,
    },
    /// 409: the state of the aggregate does not allow the command.
    #[error("conflict: {detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    /// 409: another command changed the aggregate first; retrying may succeed.
    #[error("concurrent modification")]
    ConcurrentModification,
    /// 409: the `If-Match` version is not the aggregate's current version.
    #[error("version conflict: expected {expected}, current {actual}")]
    VersionConflict { expected: usize, actual: usize },
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// A 400 naming the query parameter at fault.
    pub fn bad_parameter(
        code: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::BadParameter {
            code,
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            code,
            field: field.into(),
            detail: detail.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Malformed { .. } | Self::BadParameter { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated { .. } | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Gone { .. } => StatusCode::GONE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } | Self::ConcurrentModification | Self::VersionConflict { .. } => {
                StatusCode::CONFLICT
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn parts(&self) -> (&'static str, &'static str, String, Option<&str>) {
        match self {
            Self::Malformed { detail, field } => (
                "malformed_request",
                "Requête mal formée",
                detail.clone(),
                field.as_deref(),
            ),
            Self::BadParameter {
                code,
                field,
                detail,
            } => (
                code,
                "Paramètre invalide",
                detail.clone(),
                Some(field.as_str()),
            ),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "Type de contenu non pris en charge",
                "Le corps de la requête doit être du JSON (Content-Type: application/json)."
                    .into(),
                None,
            ),
            Self::PayloadTooLarge => (
                "payload_too_large",
                "Requête trop volumineuse",
                "Le corps de la requête dépasse la taille autorisée.".into(),
                None,
            ),
            Self::Unauthenticated { detail } => (
                "unauthenticated",
                "Authentification requise",
                (*detail).into(),
                None,
            ),
            Self::Forbidden => (
                "forbidden",
                "Accès refusé",
                "Votre rôle ne permet pas cette opération.".into(),
                None,
            ),
            Self::Locked { retry_after_secs } => (
                "account_locked",
                "Compte verrouillé",
                format!(
                    "Trop d'échecs de connexion : réessayez dans {retry_after_secs} secondes ou demandez une réinitialisation."
                ),
                None,
            ),
            Self::InvalidCredentials => (
                "invalid_credentials",
                "Identifiants incorrects",
                "Nom d'utilisateur ou mot de passe incorrect.".into(),
                None,
            ),
            Self::NotFound { code, detail } => (code, "Introuvable", detail.clone(), None),
            Self::Gone { code, detail } => (code, "Données effacées", detail.clone(), None),
            Self::Invalid {
                code,
                field,
                detail,
            } => (code, "Donnée invalide", detail.clone(), Some(field.as_str())),
            Self::Conflict {
                code,
                detail,
                field,
            } => (code, "Opération impossible", detail.clone(), *field),
            Self::ConcurrentModification => (
                "concurrent_modification",
                "Modification concurrente",
                "Le dossier a été modifié par quelqu'un d'autre entre-temps : rechargez-le puis réessayez."
                    .into(),
                None,
            ),
            Self::VersionConflict { expected, actual } => (
                "version_conflict",
                "Modification concurrente",
                format!(
                    "Le dossier est à la version {actual}, pas {expected} : quelqu'un l'a modifié depuis votre lecture. Rechargez-le puis réessayez."
                ),
                Some("If-Match"),
            ),
            Self::Internal(_) => (
                "internal_error",
                "Erreur interne",
                "Une erreur interne est survenue. Elle a été enregistrée ; réessayez plus tard."
                    .into(),
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let (code, title, detail, field) = self.parts();
        let body = Problem {
            type_: format!("https://lae.fr/problemes/{code}"),
            title,
            status: status.as_u16(),
            detail,
            code,
            field,
        };
        let retry_after = match &self {
            Self::Locked { retry_after_secs } => Some(retry_after_secs.to_string()),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::http_metrics::ProblemCode(code));
        if let Some(secs) = retry_after.and_then(|s| HeaderValue::from_str(&s).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, secs);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lae\""),
            );
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl<E: Rejection> From<CommandError<E>> for ApiError {
    fn from(err: CommandError<E>) -> Self {
        match err {
            CommandError::Rejected(rejection) => rejection.into_api_error(),
            CommandError::Conflict => Self::ConcurrentModification,
            CommandError::VersionMismatch { expected, actual } => {
                Self::VersionConflict { expected, actual }
            }
            CommandError::Store(cause) => match lae_store::repository::erased_subject(&*cause) {
                // A command that would write about a person whose data was erased.
                Some(_) => Self::Gone {
                    code: "customer_erased",
                    detail: "Les données personnelles de ce client ont été effacées : rien ne peut plus être enregistré à son sujet.".into(),
                },
                None => Self::Internal(cause),
            },
        }
    }
}

/// Turns a domain rejection into its HTTP problem.
pub trait IntoApiError {
    fn into_api_error(self) -> ApiError;
}

impl<E: Rejection> IntoApiError for E {
    fn into_api_error(self) -> ApiError {
        let detail = self.to_string();
        match self.kind() {
            RejectionKind::NotFound => ApiError::NotFound {
                code: self.code(),
                detail,
            },
            RejectionKind::Gone => ApiError::Gone {
                code: self.code(),
                detail,
            },
            RejectionKind::Conflict => ApiError::Conflict {
                code: self.code(),
                detail,
                field: self.field(),
            },
            RejectionKind::Invalid => ApiError::Invalid {
                code: self.code(),
                field: self.field().unwrap_or("body").to_owned(),
                detail,
            },
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::internal(err)
    }
}
