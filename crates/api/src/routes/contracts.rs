//! Contract commands (legal): request, sign with the signed document, terminate;
//! and the signed document itself.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::NaiveDate;
use lae_domain::contract::{Contract, ContractCommand, SignedDocument};
use lae_domain::{
    Cents, ContractId, ContractReference, CustomerId, DocumentName, ProductName, Reason,
    Sha256Digest,
};
use lae_store::{Committed, EventMetadata, documents};
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, CommandAccepted, PathId, created, execute, metadata, require_customer, today};
use crate::auth::Actor;
use crate::extract::{RequestId, ValidJson};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::http::Method;

/// Largest signed document accepted, in bytes (the body carries it in base64).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contracts", post(request_contract))
        .route(
            "/contracts/{id}/signature",
            post(sign).layer(DefaultBodyLimit::max(
                MAX_DOCUMENT_BYTES / 3 * 4 + 64 * 1024,
            )),
        )
        .route("/contracts/{id}/termination", post(terminate))
        .route("/contracts/documents/{sha256}", get(document))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Request {
    id: Option<ContractId>,
    customer_id: CustomerId,
    product: ProductName,
    /// Monthly premium in euro cents.
    monthly_premium: Cents,
    requested_on: Option<NaiveDate>,
}

async fn request_contract(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    ValidJson(body): ValidJson<Request>,
) -> Result<Response, ApiError> {
    require_customer(&state, &body.customer_id, "customer_id").await?;
    let contract_id = body.id.unwrap_or_else(|| ContractId::new(Uuid::new_v4()));
    let command = ContractCommand::RequestContract {
        customer_id: body.customer_id,
        product: body.product,
        monthly_premium: body.monthly_premium,
        offer_id: None,
        requested_on: body.requested_on.unwrap_or_else(today),
    };
    let committed = state
        .contracts
        .execute(
            &contract_id.to_string(),
            command,
            &metadata(&actor, request),
        )
        .await?;
    Ok(created("contracts", CommandAccepted::from(&committed)))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Document {
    name: DocumentName,
    #[serde(default = "pdf")]
    media_type: String,
    /// The signed document, base64 (standard alphabet, padded).
    content_base64: String,
}

fn pdf() -> String {
    "application/pdf".into()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Sign {
    reference: ContractReference,
    signed_on: Option<NaiveDate>,
    document: Document,
}

async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ContractId>,
    ValidJson(body): ValidJson<Sign>,
) -> Result<Response, ApiError> {
    let content = base64::engine::general_purpose::STANDARD
        .decode(body.document.content_base64.as_bytes())
        .map_err(|_| {
            ApiError::invalid(
                "invalid_base64",
                "document.content_base64",
                "Le document doit être encodé en base64.",
            )
        })?;
    let signature = Signature {
        reference: body.reference,
        signed_on: body.signed_on.unwrap_or_else(today),
        name: body.document.name,
        media_type: body.document.media_type,
        content,
    };
    let meta = metadata(&caller.actor, caller.request);
    let committed = sign_contract(&state, id, signature, &meta, caller.if_match.0).await?;
    Ok(super::accepted(CommandAccepted::from(&committed)))
}

/// A signature as legal records it: the contract's reference, the date, and the
/// signed document itself.
#[derive(Debug, Clone)]
pub struct Signature {
    pub reference: ContractReference,
    pub signed_on: NaiveDate,
    pub name: DocumentName,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// Stores the signed document, then signs the contract with its digest (at
/// `expected` version, if given): the JSON route and the legal desk share it.
pub async fn sign_contract(
    state: &AppState,
    id: ContractId,
    signature: Signature,
    meta: &EventMetadata,
    expected: Option<usize>,
) -> Result<Committed<Contract>, ApiError> {
    let content = signature.content;
    if content.is_empty() || content.len() > MAX_DOCUMENT_BYTES {
        return Err(ApiError::invalid(
            "invalid_document_size",
            "document.content_base64",
            format!(
                "Le document doit faire entre 1 octet et {} Mo.",
                MAX_DOCUMENT_BYTES / (1024 * 1024)
            ),
        ));
    }
    let media_type = signature.media_type;
    if media_type.parse::<mime::Mime>().is_err() || media_type.len() > 100 {
        return Err(ApiError::invalid(
            "invalid_media_type",
            "document.media_type",
            "Type de document invalide.",
        ));
    }
    // The bytes are stored before the event that references them: a crash in
    // between leaves an unreferenced document, never an event pointing at nothing.
    let digest = documents::put(&state.pool, &content, &media_type).await?;
    let sha256: Sha256Digest = digest.parse().map_err(ApiError::internal)?;
    let command = ContractCommand::SignContract {
        reference: signature.reference,
        signed_on: signature.signed_on,
        document: SignedDocument {
            sha256,
            name: signature.name,
            size_bytes: content.len() as u64,
        },
    };
    Ok(state
        .contracts
        .execute_expecting(&id.to_string(), command, meta, expected)
        .await?)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Terminate {
    terminated_on: Option<NaiveDate>,
    reason: Reason,
}

async fn terminate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ContractId>,
    ValidJson(body): ValidJson<Terminate>,
) -> Result<Response, ApiError> {
    let command = ContractCommand::TerminateContract {
        terminated_on: body.terminated_on.unwrap_or_else(today),
        reason: body.reason,
    };
    execute(&state.contracts, id, command, caller).await
}

async fn document(
    State(state): State<AppState>,
    _actor: Actor,
    PathId(sha256): PathId<Sha256Digest>,
) -> Result<Response, ApiError> {
    let stored = documents::get(&state.pool, sha256.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound {
            code: "document_not_found",
            detail: "Aucun document ne correspond à cette empreinte.".into(),
        })?;
    let media_type = HeaderValue::from_str(&stored.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (
                header::ETAG,
                HeaderValue::from_str(&format!("\"{}\"", stored.sha256))
                    .map_err(ApiError::internal)?,
            ),
        ],
        stored.content,
    )
        .into_response())
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Request, CommandAccepted>(Method::POST, "/api/v1/contracts", 201);
    doc.op::<Sign, CommandAccepted>(Method::POST, "/api/v1/contracts/{id}/signature", 202);
    doc.op::<Terminate, CommandAccepted>(Method::POST, "/api/v1/contracts/{id}/termination", 202);
    doc.bare(Method::GET, "/api/v1/contracts/documents/{sha256}", 200);
}
