//! Anchors: each checkpoint of the chain, published outside the database.
//!
//! A superuser who removes the last events *together with* their seals and checkpoints
//! leaves a chain that is consistent in itself: nothing inside the database remembers
//! how far it reached. An anchor does. After a checkpoint commits, the sealer publishes
//! its place (how many seals it covers, up to which global position) and its chain hash
//! to a JetStream key-value bucket (`lae_audit_anchors` unless configured), which the
//! database roles cannot reach, and optionally appends it as a JSON line to a file for
//! IT (`LAE_AUDIT_ANCHOR_FILE`). [`verify_against`](crate::verify::verify_against)
//! compares the chain with the latest anchor: a chain that ends before it, or that
//! holds another hash there, was truncated or rewritten.
//!
//! In the bucket, each checkpoint has its own key (`checkpoint.<count, 20 digits>`),
//! so the bucket is the history of anchors, and `latest` names the furthest one.
//! Publishing happens after the checkpoint's transaction commits, never inside it: a
//! failed publish is logged and retried at the next round, and sealing goes on.
//!
//! What an anchor cannot show: events removed after the latest checkpoint (the sealer
//! writes one every `checkpoint_every` seals, and `lae audit seal` one at the tail).

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, ErrorCode, context::GetStreamErrorKind, kv};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::error::{AuditError, Result};

/// The bucket anchors go to unless `LAE_AUDIT_ANCHOR_BUCKET` says otherwise.
pub const DEFAULT_ANCHOR_BUCKET: &str = "lae_audit_anchors";
/// Where NATS is unless `NATS_URL` says otherwise.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The key of the furthest anchor in the bucket.
const LATEST: &str = "latest";
/// A publish (or a read) that takes longer than this fails, so that an unreachable
/// NATS never holds the sealer back for long.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Checkpoints published per round at most.
const PUBLISH_BATCH: i64 = 1_000;

/// One checkpoint, as published outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// How many seals the checkpoint covers: the chain index of its last seal.
    pub events_count: i64,
    /// The global position of the event of that seal.
    pub upto_global_position: i64,
    /// The chain hash at that seal, in hex.
    pub chain_hash: String,
    /// The fingerprint of the key the chain was sealed with.
    pub key_id: String,
    /// When the checkpoint was written.
    pub checkpointed_at: DateTime<Utc>,
}

impl Anchor {
    /// The key of this anchor in the bucket: zero-padded, so keys sort like counts.
    pub fn bucket_key(&self) -> String {
        format!("checkpoint.{:020}", self.events_count)
    }
}

/// Where anchors are published and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorConfig {
    /// NATS, or `None` to publish to the file only.
    pub nats_url: Option<String>,
    pub bucket: String,
    /// An append-only JSON-lines file, besides NATS.
    pub file: Option<PathBuf>,
}

impl AnchorConfig {
    /// `NATS_URL` (default [`DEFAULT_NATS_URL`]), `LAE_AUDIT_ANCHOR_BUCKET` (default
    /// [`DEFAULT_ANCHOR_BUCKET`]), `LAE_AUDIT_ANCHOR_FILE` (none by default).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            nats_url: Some(var("NATS_URL").unwrap_or_else(|| DEFAULT_NATS_URL.to_owned())),
            bucket: var("LAE_AUDIT_ANCHOR_BUCKET")
                .unwrap_or_else(|| DEFAULT_ANCHOR_BUCKET.to_owned()),
            file: var("LAE_AUDIT_ANCHOR_FILE").map(PathBuf::from),
        }
    }
}

fn anchor_error(what: &str, e: impl std::fmt::Display) -> AuditError {
    AuditError::Anchor(format!("{what}: {e}"))
}

async fn with_timeout<T>(
    what: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| AuditError::Anchor(format!("{what}: no answer within {TIMEOUT:?}")))?
}

async fn context(url: &str) -> Result<jetstream::Context> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| anchor_error(&format!("connecting to NATS at {url}"), e))?;
    Ok(jetstream::new(client))
}

/// The bucket, or `None` when it does not exist (nothing was ever anchored there).
async fn existing_bucket(js: &jetstream::Context, bucket: &str) -> Result<Option<kv::Store>> {
    match js.get_stream(format!("KV_{bucket}")).await {
        Ok(_) => {}
        Err(e) => {
            if let GetStreamErrorKind::JetStream(inner) = e.kind()
                && inner.error_code() == ErrorCode::STREAM_NOT_FOUND
            {
                return Ok(None);
            }
            return Err(anchor_error(&format!("reading the bucket {bucket}"), e));
        }
    }
    js.get_key_value(bucket)
        .await
        .map(Some)
        .map_err(|e| anchor_error(&format!("opening the bucket {bucket}"), e))
}

/// Creates the bucket: the stream a key-value bucket is, made directly, because the
/// client's `create_key_value` first queries account limits in a form JetStream 2.9
/// does not answer. One value per key: each checkpoint has its own key.
async fn create_bucket(js: &jetstream::Context, bucket: &str) -> Result<kv::Store> {
    js.create_stream(jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("LAE audit anchors: the chain's checkpoints".to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        storage: jetstream::stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| anchor_error(&format!("creating the bucket {bucket}"), e))?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| anchor_error(&format!("opening the bucket {bucket}"), e))
}

/// Publishes the checkpoints the anchors do not hold yet. It keeps, per destination,
/// how far it published, read back from the destination itself on first use, so a
/// restarted sealer resumes where the anchors end and a failed round is simply
/// repeated.
#[derive(Debug)]
pub struct AnchorPublisher {
    config: AnchorConfig,
    store: Option<kv::Store>,
    /// The furthest checkpoint in the bucket, once known.
    nats_upto: Option<i64>,
    /// The furthest checkpoint in the file, once known.
    file_upto: Option<i64>,
}

impl AnchorPublisher {
    pub fn new(config: AnchorConfig) -> Self {
        Self {
            config,
            store: None,
            nats_upto: None,
            file_upto: None,
        }
    }

    pub fn config(&self) -> &AnchorConfig {
        &self.config
    }

    /// Publishes every checkpoint committed and not anchored yet, in order; returns how
    /// many anchors were written (to NATS, else to the file). `pool` needs SELECT on
    /// `audit.seal_checkpoints` (`lae_sealer` has it). An error leaves what was
    /// published published; the next call goes on from there.
    pub async fn publish_pending(&mut self, pool: &PgPool) -> Result<usize> {
        // Each destination on its own: NATS down does not hold the file back.
        let nats = if self.config.nats_url.is_some() {
            Some(with_timeout("publishing anchors to NATS", self.publish_nats(pool)).await)
        } else {
            None
        };
        let file = match self.config.file.clone() {
            Some(file) => Some(self.publish_file(pool, &file).await),
            None => None,
        };
        match (nats, file) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e),
            (Some(Ok(n)), _) | (None, Some(Ok(n))) => Ok(n),
            (None, None) => Ok(0),
        }
    }

    async fn publish_nats(&mut self, pool: &PgPool) -> Result<usize> {
        let Some(url) = self.config.nats_url.clone() else {
            return Ok(0);
        };
        let bucket = self.config.bucket.clone();
        if self.store.is_none() {
            // Nothing to anchor yet (the first checkpoint comes after
            // `checkpoint_every` seals): no connection, no bucket.
            if checkpoints_after(pool, 0, 1).await?.is_empty() {
                return Ok(0);
            }
            let js = context(&url).await?;
            let store = match existing_bucket(&js, &bucket).await? {
                Some(store) => store,
                None => create_bucket(&js, &bucket).await?,
            };
            self.nats_upto = Some(latest_in(&store).await?.map_or(0, |a| a.events_count));
            self.store = Some(store);
        }
        let (Some(store), Some(upto)) = (self.store.as_ref(), self.nats_upto) else {
            return Ok(0);
        };
        let pending = checkpoints_after(pool, upto, PUBLISH_BATCH).await?;
        let mut published = 0;
        for anchor in &pending {
            let value = serde_json::to_vec(anchor)?;
            store
                .put(anchor.bucket_key(), value.clone().into())
                .await
                .map_err(|e| anchor_error(&format!("publishing to the bucket {bucket}"), e))?;
            store
                .put(LATEST, value.into())
                .await
                .map_err(|e| anchor_error(&format!("publishing to the bucket {bucket}"), e))?;
            self.nats_upto = Some(anchor.events_count);
            published += 1;
        }
        if published > 0 {
            tracing::info!(
                anchors = published,
                upto = self.nats_upto,
                bucket = %bucket,
                "audit anchors published"
            );
        }
        Ok(published)
    }

    async fn publish_file(&mut self, pool: &PgPool, file: &Path) -> Result<usize> {
        let upto = match self.file_upto {
            Some(upto) => upto,
            None => match latest_from_file(file) {
                Ok(latest) => latest.map_or(0, |a| a.events_count),
                Err(AuditError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(e),
            },
        };
        self.file_upto = Some(upto);
        let pending = checkpoints_after(pool, upto, PUBLISH_BATCH).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut lines = Vec::new();
        for anchor in &pending {
            serde_json::to_writer(&mut lines, anchor)?;
            lines.push(b'\n');
        }
        let path = file.to_owned();
        // A few hundred bytes per checkpoint: written and synced off the runtime.
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            out.write_all(&lines)?;
            out.sync_data()
        })
        .await
        .map_err(|e| AuditError::Task(e.to_string()))?
        .map_err(|e| anchor_error(&format!("appending to {}", file.display()), e))?;
        self.file_upto = pending.last().map(|a| a.events_count);
        Ok(pending.len())
    }
}

/// A row of `audit.seal_checkpoints`: count, position, hash, key, time.
type CheckpointRow = (i64, i64, Vec<u8>, String, DateTime<Utc>);

/// Checkpoints covering more than `after` seals, in chain order.
async fn checkpoints_after(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<Anchor>> {
    let rows: Vec<CheckpointRow> = sqlx::query_as(
        "SELECT events_count, upto_global_position, chain_hash, key_id, created_at
           FROM audit.seal_checkpoints
          WHERE events_count > $1
          ORDER BY events_count
          LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(count, position, hash, key_id, at)| Anchor {
            events_count: count,
            upto_global_position: position,
            chain_hash: hex::encode(hash),
            key_id,
            checkpointed_at: at,
        })
        .collect())
}

async fn latest_in(store: &kv::Store) -> Result<Option<Anchor>> {
    let value = store
        .get(LATEST)
        .await
        .map_err(|e| anchor_error("reading the latest anchor", e))?;
    value
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| anchor_error("the latest anchor", e))
        })
        .transpose()
}

/// The latest anchor in the bucket; `None` when nothing was anchored there yet.
pub async fn latest_from_nats(url: &str, bucket: &str) -> Result<Option<Anchor>> {
    with_timeout("reading anchors from NATS", async {
        let js = context(url).await?;
        match existing_bucket(&js, bucket).await? {
            Some(store) => latest_in(&store).await,
            None => Ok(None),
        }
    })
    .await
}

/// The furthest anchor of a JSON-lines file (the one covering the most seals); `None`
/// when the file holds none. A line that is not an anchor is an error naming it.
pub fn latest_from_file(path: &Path) -> Result<Option<Anchor>> {
    let file = std::fs::File::open(path)?;
    let mut latest: Option<Anchor> = None;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let anchor: Anchor = serde_json::from_str(&line)
            .map_err(|e| AuditError::Anchor(format!("{} line {}: {e}", path.display(), n + 1)))?;
        if latest
            .as_ref()
            .is_none_or(|l| anchor.events_count > l.events_count)
        {
            latest = Some(anchor);
        }
    }
    Ok(latest)
}
