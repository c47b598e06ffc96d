//! Rebuilding a department's read model from the event store, while it stays online.
//!
//! 1. A fresh copy of the schema, `<dept>__rebuild`, is created empty, with the same
//!    tables and the same grants (`lae_read_model_clone`, `lae_read_model_grant`).
//! 2. The event store (the source of truth: the stream may have dropped old messages) is
//!    replayed into it in commit order, in large batches, through the same code as the
//!    live projector ([`crate::apply`]), writing as the department's writer role; only
//!    the bookkeeping is kept in memory meanwhile ([`crate::apply::Replay`]) and written
//!    in bulk before the pause.
//! 3. The live projector is paused: an owner transaction locks the live schema's
//!    bookkeeping table (`applied`, or `applied_positions` for management) in EXCLUSIVE
//!    mode. Every live batch starts by locking rows of that table, so the batch in
//!    flight finishes first and the next one waits. Readers are not blocked (EXCLUSIVE
//!    lets plain SELECTs through, and they do not read that table anyway).
//! 4. With the live projector paused, the copy catches up to the current xmin, then the
//!    two schemas are renamed in the same transaction (`<dept>` → `<dept>__old`,
//!    `<dept>__rebuild` → `<dept>`), which commits and releases the pause at once.
//! 5. The old copy is dropped.
//!
//! # Why no event is lost across the swap
//! The live projector only ever applies events that the relay published, and the relay
//! only publishes events of transactions below `pg_snapshot_xmin(pg_current_snapshot())`
//! at the time it read them. The final catch-up reads below the xmin taken *after* the
//! pause began, and xmin only grows (a new transaction always gets a larger id than
//! every running one). So every event the live schema had applied when it was paused is
//! in the copy. Events the copy has and the live projector has not seen yet arrive after
//! the swap and are duplicates by sequence (or by position, for management); events that
//! commit later arrive through the stream as usual. A live batch that was waiting on the
//! lock resumes against the swapped-in tables: PostgreSQL looks names up again once the
//! lock is granted (and re-plans prepared statements when a schema is renamed).
//!
//! Queries keep answering throughout: until the rename commits they see the old tables,
//! afterwards the new ones, and neither is ever locked against reading. The copy was
//! granted exactly like the live schema, so the reader and writer roles lose nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lae_store::crypto::MasterKeys;
use lae_store::db::{DbSettings, quote_ident};
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

use crate::apply::{
    ApplyError, DecodedBatch, Replay, Verdict, apply, apply_replay_decoded, decode_batch,
};
use crate::db::writer_options;
use crate::decode::Decoder;
use crate::department::Department;
use crate::envelope::Envelope;
use crate::error::ProjectionError;
use crate::metrics::ProjectionMetrics;
use crate::store_reader::{CommitPosition, read_after_using};

/// How a rebuild reads and waits.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// Events read from the store and applied per transaction.
    pub batch_size: usize,
    /// How long the pause waits for the live projector's batch in flight.
    pub lock_timeout: Duration,
    /// The master keys that unwrap the data keys of sealed personal fields, as the
    /// live projector has them ([`crate::ProjectorConfig::master_keys`]). Without them
    /// sealed fields read as withheld, and the rebuilt read model lacks them.
    pub master_keys: Option<Arc<MasterKeys>>,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            batch_size: 10_000,
            lock_timeout: Duration::from_secs(30),
            master_keys: None,
        }
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebuildReport {
    /// The department rebuilt.
    pub department: Department,
    /// Events replayed before the pause.
    pub events_replayed: u64,
    /// Events applied during the pause (the final catch-up).
    pub events_caught_up: u64,
    /// Events skipped as redacted (personal data erased, or withheld from the
    /// department's role), replay and catch-up together.
    pub events_redacted: u64,
    /// Seconds spent replaying before the pause.
    pub replay_seconds: f64,
    /// Seconds the live projector was paused.
    pub pause_seconds: f64,
    /// Seconds from start to the old copy dropped.
    pub total_seconds: f64,
    /// Replay speed (events replayed ÷ replay seconds).
    pub events_per_second: f64,
    /// Batches decoded ahead, while the previous one was written (every batch but the
    /// first of each catch-up, unless loading ahead failed).
    pub batches_decoded_ahead: u64,
}

/// Rebuilds a department's read model (see the module docs).
///
/// `owner` connects as the owner of the schemas (the `DATABASE_URL` user): it runs the
/// DDL and reads `events`. `writer` connects as the department's writer role and writes
/// the copy. `owner` needs at least three connections (one holds the rebuild lock, one
/// the pause, one reads). When the store holds events that cannot be applied, the copy is dropped and
/// the live read model is kept.
pub async fn rebuild(
    department: Department,
    owner: &PgPool,
    writer: &PgPool,
    options: &RebuildOptions,
    metrics: Option<&ProjectionMetrics>,
) -> Result<RebuildReport, ProjectionError> {
    if options.batch_size == 0 {
        return Err(ProjectionError::Config(
            "the rebuild batch size is zero".into(),
        ));
    }
    let mut guard = owner.acquire().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(format!("lae_rebuild:{department}"))
        .fetch_one(&mut *guard)
        .await?;
    if !locked {
        return Err(ProjectionError::RebuildRunning(department));
    }
    if let Some(m) = metrics {
        m.department(department).set_rebuilding(true);
    }
    let result = Rebuild::new(department, owner, writer, options).run().await;
    if let Some(m) = metrics {
        m.department(department).set_rebuilding(false);
    }
    if result.is_err() {
        // The live schema is untouched; only the copy goes.
        let drop = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_ident(&copy_schema(department))
        );
        if let Err(error) = owner.execute(drop.as_str()).await {
            tracing::warn!(department = %department, %error, "could not drop the copy of a failed rebuild");
        }
    }
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(format!("lae_rebuild:{department}"))
        .execute(&mut *guard)
        .await;
    result
}

/// [`rebuild`] with pools made from the platform's settings: the owner as in
/// `DATABASE_URL`, the writer role with `writer_password` where the server asks for one.
pub async fn rebuild_with_settings(
    department: Department,
    settings: &DbSettings,
    writer_password: Option<&str>,
    options: &RebuildOptions,
) -> Result<RebuildReport, ProjectionError> {
    let owner = PgPoolOptions::new()
        .max_connections(3)
        .connect_with(settings.owner.clone())
        .await?;
    let writer = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(writer_options(settings, department, writer_password))
        .await?;
    let report = rebuild(department, &owner, &writer, options, None).await;
    owner.close().await;
    writer.close().await;
    report
}

/// The schema a rebuild fills before swapping it in.
#[must_use]
pub fn copy_schema(department: Department) -> String {
    format!("{}__rebuild", department.schema())
}

/// The name the replaced schema has between the swap and its drop.
fn old_schema(department: Department) -> String {
    format!("{}__old", department.schema())
}

/// The table every live batch locks first, which the pause locks.
fn bookkeeping_table(department: Department) -> &'static str {
    match department {
        Department::Management => "applied_positions",
        _ => "applied",
    }
}

struct Rebuild<'a> {
    department: Department,
    decoder: Decoder,
    owner: &'a PgPool,
    writer: &'a PgPool,
    options: &'a RebuildOptions,
    copy: String,
    cursor: CommitPosition,
    held: usize,
    redacted: u64,
    decoded_ahead: u64,
    /// The event types whose payload the department reads (the others are not read).
    used: Vec<String>,
    /// In-memory bookkeeping while replaying; `None` once handed over to the table.
    replay: Option<Replay>,
}

impl<'a> Rebuild<'a> {
    fn new(
        department: Department,
        owner: &'a PgPool,
        writer: &'a PgPool,
        options: &'a RebuildOptions,
    ) -> Self {
        let decoder = match &options.master_keys {
            // Room for the keys of three batches: the one applied, the next one decoded
            // ahead on another thread, and a margin, so that loading ahead never evicts
            // a key that the batch being applied still needs.
            Some(masters) => Decoder::with_key_capacity(
                department,
                masters.clone(),
                3 * options.batch_size * department.categories().len(),
            ),
            None => Decoder::new(department),
        };
        Self {
            department,
            decoder,
            owner,
            writer,
            options,
            copy: copy_schema(department),
            cursor: CommitPosition::default(),
            held: 0,
            redacted: 0,
            decoded_ahead: 0,
            used: crate::departments::used_event_types(department),
            replay: Some(Replay::default()),
        }
    }

    async fn run(mut self) -> Result<RebuildReport, ProjectionError> {
        let started = Instant::now();
        let live = self.department.schema();
        let copy = quote_ident(&self.copy);
        let old = quote_ident(&old_schema(self.department));
        // Leftovers of a rebuild that crashed (the advisory lock says none is running).
        self.owner
            .execute(
                format!(
                    "DROP SCHEMA IF EXISTS {copy} CASCADE; DROP SCHEMA IF EXISTS {old} CASCADE"
                )
                .as_str(),
            )
            .await?;
        sqlx::query("SELECT lae_read_model_clone($1, $2), lae_read_model_grant($3, $2)")
            .bind(live)
            .bind(&self.copy)
            .bind(self.department.as_str())
            .execute(self.owner)
            .await?;

        let replayed = self.catch_up().await?;
        // From here on the bookkeeping lives in the copy's table, as the live path needs.
        if let Some(mut replay) = self.replay.take() {
            let mut conn = self.writer.acquire().await?;
            replay.flush(&mut conn, &self.copy).await?;
        }
        let replay_seconds = started.elapsed().as_secs_f64();
        tracing::info!(department = %self.department, events = replayed, seconds = replay_seconds, "rebuild replayed the store; pausing the live projector");

        let paused = Instant::now();
        let mut swap = self.owner.begin().await?;
        let lock_timeout_ms = self.options.lock_timeout.as_millis();
        swap.execute(format!("SET LOCAL lock_timeout = '{lock_timeout_ms}ms'").as_str())
            .await?;
        swap.execute(
            format!(
                "LOCK TABLE {}.{} IN EXCLUSIVE MODE",
                quote_ident(live),
                bookkeeping_table(self.department)
            )
            .as_str(),
        )
        .await?;
        // Read below the xmin taken now, after the pause began (see the module docs).
        let caught_up = self.catch_up().await?;
        if self.held > 0 {
            return Err(ProjectionError::RebuildIncomplete {
                department: self.department,
                count: self.held,
            });
        }
        swap.execute(
            format!(
                "ALTER SCHEMA {live} RENAME TO {old}; ALTER SCHEMA {copy} RENAME TO {live}",
                live = quote_ident(live)
            )
            .as_str(),
        )
        .await?;
        swap.commit().await?;
        let pause_seconds = paused.elapsed().as_secs_f64();
        self.owner
            .execute(format!("DROP SCHEMA {old} CASCADE").as_str())
            .await?;
        let total_seconds = started.elapsed().as_secs_f64();
        tracing::info!(department = %self.department, caught_up, pause_seconds, "rebuilt read model swapped in");
        #[allow(clippy::cast_precision_loss)]
        let events_per_second = if replay_seconds > 0.0 {
            replayed as f64 / replay_seconds
        } else {
            0.0
        };
        Ok(RebuildReport {
            department: self.department,
            events_replayed: replayed,
            events_caught_up: caught_up,
            events_redacted: self.redacted,
            replay_seconds,
            pause_seconds,
            total_seconds,
            events_per_second,
            batches_decoded_ahead: self.decoded_ahead,
        })
    }

    /// Applies every finished event after the cursor. While a batch is written, the
    /// next one is read, its keys loaded (on a second writer connection) and decoded on
    /// a blocking thread: the database writes one batch while this process decodes the
    /// next. Returns how many events were read.
    async fn catch_up(&mut self) -> Result<u64, ProjectionError> {
        let types = self.department.aggregate_types();
        let size = self.options.batch_size;
        let mut total = 0u64;
        let used = Some(self.used.as_slice());
        let (owner, writer) = (self.owner, self.writer);
        let (mut batch, mut next) = read_after_using(owner, types, used, self.cursor, size).await?;
        // The first batch is decoded as it is applied.
        let mut decoded: Option<DecodedBatch> = None;
        while !batch.is_empty() {
            total += batch.len() as u64;
            let more = batch.len() == size;
            let decoder = &self.decoder;
            let (applied, read) = tokio::join!(
                Self::apply_batch(
                    self.department,
                    decoder,
                    writer,
                    &self.copy,
                    self.replay.as_mut(),
                    &batch,
                    decoded.take(),
                ),
                async {
                    if !more {
                        return None;
                    }
                    Some(
                        match read_after_using(owner, types, used, next, size).await {
                            Ok((next_batch, after)) => {
                                Self::decode_ahead(decoder, writer, next_batch)
                                    .await
                                    .map(|(batch, decoded)| (batch, decoded, after))
                            }
                            Err(e) => Err(e.into()),
                        },
                    )
                }
            );
            let (held, redacted) = applied?;
            self.held += held;
            self.redacted += redacted;
            self.cursor = next;
            match read {
                Some(read) => (batch, decoded, next) = read?,
                None => break,
            }
            self.decoded_ahead += u64::from(decoded.is_some());
        }
        Ok(total)
    }

    /// Decodes a batch on a blocking thread, after loading its keys over a connection
    /// of the writer role (see [`decode_batch`]). A failure to load the keys only costs
    /// the overlap: the batch comes back undecoded, and applying it loads the keys
    /// again and reports its own errors.
    async fn decode_ahead(
        decoder: &Decoder,
        writer: &PgPool,
        batch: Vec<Envelope>,
    ) -> Result<(Vec<Envelope>, Option<DecodedBatch>), ProjectionError> {
        let decoder = decoder.clone();
        let mut conn = match writer.acquire().await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::debug!(department = %decoder.department(), %error, "no connection to decode the next batch ahead");
                return Ok((batch, None));
            }
        };
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let decoded = handle.block_on(decode_batch(&mut conn, &decoder, &batch));
            match decoded {
                Ok(decoded) => (batch, Some(decoded)),
                Err(error) => {
                    tracing::debug!(department = %decoder.department(), %error, "decoding the next batch ahead failed");
                    (batch, None)
                }
            }
        })
        .await
        .map_err(|e| ProjectionError::Config(format!("decoding a batch ahead: {e}")))
    }

    /// Applies one batch to the copy, as the writer role; returns how many were held back
    /// and how many skipped as redacted.
    async fn apply_batch(
        department: Department,
        decoder: &Decoder,
        writer: &PgPool,
        copy: &str,
        replay: Option<&mut Replay>,
        batch: &[Envelope],
        decoded: Option<DecodedBatch>,
    ) -> Result<(usize, u64), ApplyError> {
        let mut tx = writer.begin().await?;
        let verdicts = match replay {
            Some(replay) => {
                apply_replay_decoded(&mut tx, decoder, copy, batch, replay, decoded).await?
            }
            None => apply(&mut tx, decoder, copy, batch).await?,
        };
        tx.commit().await?;
        let held = verdicts.iter().filter(|v| !v.is_final()).count();
        if held > 0 {
            let first = verdicts
                .iter()
                .position(|v| !v.is_final())
                .and_then(|i| batch.get(i));
            tracing::warn!(
                department = %department,
                held,
                first_event_id = ?first.map(|e| e.event_id),
                gaps = verdicts.iter().filter(|v| **v == Verdict::Gap).count(),
                "the rebuild cannot apply some events"
            );
        }
        let redacted = verdicts.iter().filter(|v| **v == Verdict::Redacted).count() as u64;
        Ok((held, redacted))
    }
}
