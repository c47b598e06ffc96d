//! Signed contract documents, sealed with their customer's key.
//!
//! A signed life-insurance contract is health-adjacent personal data: each document is
//! sealed (AES-256-GCM, [`crate::crypto::DataKey::seal_document`]) with the key of its
//! customer in [`DOCUMENT_CATEGORY`], bound to the customer, the category and the
//! SHA-256 of the clear bytes. The event keeps that digest as the reference; the row
//! is keyed by [`storage_key`] (a digest of the customer and the document's digest),
//! so that the same bytes signed by two customers are two rows, each under its own
//! key. A dump or a backup of `contract_documents` shows no document content, and
//! destroying the customer's keys (erasure) makes their documents unreadable with
//! everything else.
//!
//! Rows written before documents were sealed hold the clear bytes under their own
//! digest (the table checked `sha256 = digest(content)` then). They are still read
//! (never after the customer's erasure) until `lae documents seal` ([`seal_clear`])
//! seals each under its customer's key and deletes the clear row. Without a master key
//! (a development set-up where nothing is sealed) documents are stored clear, as the
//! personal fields of events are.

use lae_domain::DataCategory;
use sha2::{Digest, Sha256};
use sqlx::{Acquire, PgPool};
use uuid::Uuid;

use crate::crypto::erasure::is_erased;
use crate::crypto::{KeyError, Keyring};

/// The category whose key seals documents: health, the one category only legal's
/// roles may read (`keys.health`, migration 0007; customer service, sales and billing
/// may not), as only legal reads signed contracts, and the category of the health
/// declaration a life-insurance contract rests on.
pub const DOCUMENT_CATEGORY: DataCategory = DataCategory::Health;

/// A document, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// Lowercase hex SHA-256 of `content`.
    pub sha256: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// Lowercase hex SHA-256 of some bytes.
pub fn sha256_hex(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// The key of the sealed row of `subject`'s document whose clear digest is `sha256`.
#[must_use]
pub fn storage_key(subject: Uuid, sha256: &str) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(b"lae sealed document\0")
            .chain_update(subject.as_bytes())
            .chain_update(sha256.as_bytes())
            .finalize(),
    )
}

/// Stores `subject`'s document, sealed when a keyring is given (idempotently: the
/// same bytes are stored once per customer), and returns the digest of its clear
/// bytes. [`KeyError::Erased`] for an erased customer: nothing new is kept about them.
pub async fn put(
    pool: &PgPool,
    keyring: Option<&Keyring>,
    subject: Uuid,
    content: &[u8],
    media_type: &str,
) -> Result<String, KeyError> {
    let digest = sha256_hex(content);
    let mut conn = pool.acquire().await?;
    let (key, stored) = match keyring {
        Some(keyring) => {
            keyring
                .provision(&mut conn, [(subject, DOCUMENT_CATEGORY)])
                .await?;
            let sealed = keyring.seal_document(subject, DOCUMENT_CATEGORY, &digest, content)?;
            (storage_key(subject, &digest), sealed)
        }
        None => (digest.clone(), content.to_vec()),
    };
    sqlx::query(
        "INSERT INTO contract_documents (sha256, content, media_type) VALUES ($1, $2, $3)
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&key)
    .bind(&stored)
    .bind(media_type)
    .execute(&mut *conn)
    .await?;
    Ok(digest)
}

/// `subject`'s document of digest `sha256`, opened; `None` when there is none.
/// [`KeyError::Erased`] once the customer was erased.
pub async fn get(
    pool: &PgPool,
    keyring: Option<&Keyring>,
    subject: Uuid,
    sha256: &str,
) -> Result<Option<StoredDocument>, KeyError> {
    let mut conn = pool.acquire().await?;
    if let Some(keyring) = keyring {
        let sealed: Option<(String, Vec<u8>)> =
            sqlx::query_as("SELECT media_type, content FROM contract_documents WHERE sha256 = $1")
                .bind(storage_key(subject, sha256))
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((media_type, sealed)) = sealed {
            keyring
                .load(&mut conn, [(subject, DOCUMENT_CATEGORY)])
                .await?;
            let clear = keyring.open_document(subject, DOCUMENT_CATEGORY, sha256, &sealed)?;
            if sha256_hex(&clear) != sha256 {
                return Err(KeyError::Tampered {
                    category: DOCUMENT_CATEGORY,
                });
            }
            return Ok(Some(StoredDocument {
                sha256: sha256.to_owned(),
                media_type,
                content: clear.to_vec(),
            }));
        }
    }
    // A row from before sealing (or of a set-up without master key): clear, under
    // its own digest.
    let clear: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT media_type, content FROM contract_documents
          WHERE sha256 = $1 AND sha256 = encode(sha256(content), 'hex')",
    )
    .bind(sha256)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((media_type, content)) = clear else {
        return Ok(None);
    };
    if is_erased(&mut conn, subject).await? {
        return Err(KeyError::Erased(subject));
    }
    Ok(Some(StoredDocument {
        sha256: sha256.to_owned(),
        media_type,
        content,
    }))
}

/// The customer of a contract, as its `ContractRequested` names it.
pub async fn contract_customer(
    pool: &PgPool,
    contract_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let customer: Option<String> = sqlx::query_scalar(
        "SELECT payload->>'customer_id' FROM events
          WHERE aggregate_type = 'Contract' AND aggregate_id = $1
            AND event_type = 'ContractRequested'
          ORDER BY sequence LIMIT 1",
    )
    .bind(contract_id)
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(customer.and_then(|c| c.parse().ok()))
}

/// What [`seal_clear`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SealReport {
    /// Clear documents now sealed (one per customer who signed them) and deleted.
    pub sealed: u64,
    /// Clear documents of erased customers only: deleted without a sealed copy.
    pub deleted_erased: u64,
    /// Clear documents no signed contract references: left as they are.
    pub unreferenced: u64,
}

/// Seals every clear document (rows from before sealing) with the key of each
/// customer whose signed contract references it, then deletes the clear row; a
/// document of erased customers only is deleted. `pool` must connect as the owner:
/// the table refuses deletes but of clear rows, and only while
/// `lae.document_sealing` is on (migration 0013). Safe to interrupt and re-run.
pub async fn seal_clear(pool: &PgPool, keyring: &Keyring) -> Result<SealReport, KeyError> {
    let mut report = SealReport::default();
    let clear: Vec<String> = sqlx::query_scalar(
        "SELECT sha256 FROM contract_documents
          WHERE sha256 = encode(sha256(content), 'hex') ORDER BY sha256",
    )
    .fetch_all(pool)
    .await?;
    for digest in clear {
        let subjects: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT r.payload->>'customer_id' FROM events s
               JOIN events r ON r.aggregate_type = s.aggregate_type
                            AND r.aggregate_id = s.aggregate_id
                            AND r.event_type = 'ContractRequested'
              WHERE s.aggregate_type = 'Contract' AND s.event_type = 'ContractSigned'
                AND s.payload->'document'->>'sha256' = $1",
        )
        .bind(&digest)
        .fetch_all(pool)
        .await?;
        let subjects: Vec<Uuid> = subjects.iter().filter_map(|s| s.parse().ok()).collect();
        if subjects.is_empty() {
            report.unreferenced += 1;
            continue;
        }
        let mut conn = pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let (media_type, content): (String, Vec<u8>) = sqlx::query_as(
            "SELECT media_type, content FROM contract_documents WHERE sha256 = $1 FOR UPDATE",
        )
        .bind(&digest)
        .fetch_one(&mut *tx)
        .await?;
        let mut sealed_any = false;
        for subject in subjects {
            match keyring
                .provision(&mut tx, [(subject, DOCUMENT_CATEGORY)])
                .await
            {
                Ok(()) => {}
                Err(KeyError::Erased(_)) => continue,
                Err(other) => return Err(other),
            }
            let sealed = keyring.seal_document(subject, DOCUMENT_CATEGORY, &digest, &content)?;
            sqlx::query(
                "INSERT INTO contract_documents (sha256, content, media_type) VALUES ($1, $2, $3)
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(storage_key(subject, &digest))
            .bind(&sealed)
            .bind(&media_type)
            .execute(&mut *tx)
            .await?;
            sealed_any = true;
        }
        sqlx::query("SET LOCAL lae.document_sealing = 'on'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM contract_documents WHERE sha256 = $1")
            .bind(&digest)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if sealed_any {
            report.sealed += 1;
        } else {
            report.deleted_erased += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn each_customer_has_a_row_of_their_own() {
        let digest = sha256_hex(b"abc");
        let a = storage_key(Uuid::from_u128(1), &digest);
        assert_ne!(a, storage_key(Uuid::from_u128(2), &digest));
        assert_ne!(a, digest);
        assert_eq!(a.len(), 64);
        assert_eq!(a, storage_key(Uuid::from_u128(1), &digest));
    }
}
