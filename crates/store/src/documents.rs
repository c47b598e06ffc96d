//! Signed contract documents, stored once by content digest.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// A document as the store keeps it.
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

/// Stores a document (idempotently: the same bytes are stored once) and returns its digest.
pub async fn put(pool: &PgPool, content: &[u8], media_type: &str) -> Result<String, sqlx::Error> {
    let digest = sha256_hex(content);
    sqlx::query(
        "INSERT INTO contract_documents (sha256, content, media_type) VALUES ($1, $2, $3)
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&digest)
    .bind(content)
    .bind(media_type)
    .execute(pool)
    .await?;
    Ok(digest)
}

/// Fetches a document by digest.
pub async fn get(pool: &PgPool, sha256: &str) -> Result<Option<StoredDocument>, sqlx::Error> {
    let row: Option<(String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT sha256, media_type, content FROM contract_documents WHERE sha256 = $1",
    )
    .bind(sha256)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(sha256, media_type, content)| StoredDocument {
        sha256,
        media_type,
        content,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_is_lowercase_hex_sha256() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
