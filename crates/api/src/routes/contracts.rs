//! Contract commands (legal): request, sign with the signed document, terminate;
//! and the signed document itself.

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
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
        .route("/legal/contracts/{id}/document", get(contract_document))
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
    // The document is sealed with its customer's key (`lae_store::documents`).
    let customer = documents::contract_customer(&state.pool, &id.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound {
            code: "contract_not_found",
            detail: format!("Aucun contrat n'a l'identifiant {id}."),
        })?;
    // The bytes are stored before the event that references them: a crash in
    // between leaves an unreferenced document, never an event pointing at nothing.
    let digest = documents::put(
        &state.pool,
        state.events.keyring(),
        customer,
        &content,
        &media_type,
    )
    .await
    .map_err(document_error)?;
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

/// The query string of a document read: why (required, written to the access log),
/// and whether to save it rather than show it.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentParams {
    /// Why the document is read (at most 200 characters): written to the access log.
    #[schemars(length(max = 200))]
    pub purpose: Option<String>,
    /// `1`: `Content-Disposition: attachment` (saved), inline otherwise.
    pub download: Option<u8>,
}

/// A signed document, opened for a reader whose read was logged.
#[derive(Debug)]
pub struct OpenedDocument {
    pub media_type: String,
    pub content: Vec<u8>,
    /// A file name without personal data: the contract's reference.
    pub file_name: String,
}

/// Reads the signed document of contract `id` for `purpose` (legal's role, checked by
/// the rules table): the read is written to the access log first, then the document
/// is opened with its customer's key. 404 when the contract has no document; 410 once
/// the customer was erased (their key is destroyed).
pub async fn read_document(
    state: &AppState,
    actor: &Actor,
    request: RequestId,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<OpenedDocument, ApiError> {
    let purpose = super::queries::params::purpose(purpose)?;
    let found = super::queries::legal::contract(state, id).await?;
    let not_found = || ApiError::NotFound {
        code: "document_not_found",
        detail: "Aucun document signé pour ce contrat.".into(),
    };
    let sha256 = found.contract.document_sha256.ok_or_else(not_found)?;
    // The customer as the contract's first event names them: read models forget the
    // identity of an erased customer, the event store keeps the id.
    let customer = documents::contract_customer(&state.pool, &id.to_string())
        .await?
        .ok_or_else(not_found)?;
    lae_audit::log_access(
        &state.pool,
        &lae_audit::AccessEntry {
            user: actor.username.clone(),
            role: actor.role.as_str().into(),
            customer_id: customer.to_string(),
            what: lae_audit::AccessKind::ContractDocument,
            purpose,
            request_id: Some(request.0.to_string()),
        },
    )
    .await
    .map_err(ApiError::internal)?;
    let stored = documents::get(&state.pool, state.events.keyring(), customer, &sha256)
        .await
        .map_err(document_error)?
        .ok_or_else(not_found)?;
    let reference = found.contract.reference.unwrap_or_else(|| id.to_string());
    let extension = if stored.media_type == "application/pdf" {
        ".pdf"
    } else {
        ""
    };
    let file_name: String = format!("contrat-{reference}{extension}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(OpenedDocument {
        media_type: stored.media_type,
        content: stored.content,
        file_name,
    })
}

impl OpenedDocument {
    /// The answer: the bytes, never cached nor sniffed, inline or `attachment`.
    pub fn into_response(self, download: bool) -> Result<Response, ApiError> {
        let disposition = format!(
            "{}; filename=\"{}\"",
            if download { "attachment" } else { "inline" },
            self.file_name
        );
        let media_type = if self.media_type == "application/pdf" {
            HeaderValue::from_static("application/pdf")
        } else {
            HeaderValue::from_static("application/octet-stream")
        };
        Ok((
            [
                (header::CONTENT_TYPE, media_type),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            self.content,
        )
            .into_response())
    }
}

/// Key failures of a document, as the API answers them.
fn document_error(error: lae_store::crypto::KeyError) -> ApiError {
    match error {
        lae_store::crypto::KeyError::Erased(_) => ApiError::Gone {
            code: "customer_erased",
            detail:
                "Les données de ce client ont été effacées : le document signé n'est plus lisible."
                    .into(),
        },
        other => ApiError::internal(other),
    }
}

/// `GET /api/v1/legal/contracts/{id}/document?purpose=…`.
async fn contract_document(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p: DocumentParams = super::queries::params::parse(query.as_deref())?;
    let download = document_download(p.download)?;
    read_document(&state, &actor, request, id, p.purpose.as_deref())
        .await?
        .into_response(download)
}

fn document_download(value: Option<u8>) -> Result<bool, ApiError> {
    match value {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(_) => Err(ApiError::bad_parameter(
            "invalid_parameter",
            "download",
            "Paramètre « download » invalide : 0 ou 1.",
        )),
    }
}

/// `GET /api/v1/contracts/documents/{sha256}?purpose=…`: the same read, the contract
/// found by its document's digest in legal's read model.
async fn document(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    PathId(sha256): PathId<Sha256Digest>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p: DocumentParams = super::queries::params::parse(query.as_deref())?;
    let download = document_download(p.download)?;
    // No purpose, no lookup.
    super::queries::params::purpose(p.purpose.as_deref())?;
    let mut conn = state
        .queries
        .readers
        .acquire(lae_projections::Department::Legal)
        .await?;
    let contract: Option<Uuid> = sqlx::query_scalar(
        "SELECT contract_id FROM legal.contracts WHERE document_sha256 = $1 \
         ORDER BY contract_id LIMIT 1",
    )
    .bind(sha256.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    conn.release();
    let contract = contract.ok_or_else(|| ApiError::NotFound {
        code: "document_not_found",
        detail: "Aucun document ne correspond à cette empreinte.".into(),
    })?;
    read_document(&state, &actor, request, contract, p.purpose.as_deref())
        .await?
        .into_response(download)
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Request, CommandAccepted>(Method::POST, "/api/v1/contracts", 201);
    doc.op::<Sign, CommandAccepted>(Method::POST, "/api/v1/contracts/{id}/signature", 202);
    doc.op::<Terminate, CommandAccepted>(Method::POST, "/api/v1/contracts/{id}/termination", 202);
    doc.read_bytes::<DocumentParams>("/api/v1/contracts/documents/{sha256}");
    doc.read_bytes::<DocumentParams>("/api/v1/legal/contracts/{id}/document");
}
