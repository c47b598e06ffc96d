//! The sealer as a background task of `lae serve`.
//!
//! It seals until nothing readable is left, then sleeps until a notification on
//! `lae_events` (sent by the store after appends, in a transaction of its own: see
//! ARCHITECTURE.md, "No NOTIFY inside an append"), the poll interval, or shutdown.
//! Polling stays necessary: a notification can be lost while the listening connection
//! reconnects, and events held back behind a long transaction become readable when it
//! ends, which notifies nobody if it wrote no event.

use std::future::Future;
use std::time::Duration;

use futures::FutureExt;
use lae_store::notify::EVENTS_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::anchor::AnchorPublisher;
use crate::error::Result;
use crate::key::AuditKey;
use crate::sealer::{SealerConfig, seal_pending_with};

/// After a failure (database down, key refused), wait this long before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// Runs the sealer with the default settings until `shutdown` completes.
pub async fn run_sealer(
    pool: PgPool,
    key: AuditKey,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    run_sealer_with(pool, key, SealerConfig::default(), shutdown).await
}

/// Runs the sealer until `shutdown` completes. Failures are logged and retried, never
/// returned: the platform keeps serving while the sealer catches up later. `pool`
/// should log in as `lae_sealer` and have at least two connections (one listens).
pub async fn run_sealer_with(
    pool: PgPool,
    key: AuditKey,
    config: SealerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let mut shutdown = std::pin::pin!(shutdown.fuse());
    let mut listener: Option<PgListener> = None;
    let mut anchors = config.anchors.clone().map(AnchorPublisher::new);
    let mut anchoring = Anchoring::default();
    tracing::info!(
        key_id = key.key_id(),
        keyed = key.is_keyed(),
        "audit sealer started"
    );
    loop {
        // Listen before reading, so that nothing committed after the read goes
        // unnoticed until the next poll.
        if listener.is_none() {
            listener = listen(&pool).await;
        }
        let sealed = seal_pending_with(&pool, &key, &config).await;
        if sealed.is_ok()
            && let Some(publisher) = anchors.as_mut()
        {
            // After the checkpoints committed, never inside their transaction.
            anchoring.round(publisher, &pool).await;
        }
        let wait = match sealed {
            // A full batch: more may be waiting right now.
            Ok(n) if n >= config.batch => Duration::ZERO,
            Ok(_) => config.poll_interval,
            Err(e) => {
                tracing::warn!(error = %e, "sealing failed; retrying");
                RETRY
            }
        };
        if (&mut shutdown).now_or_never().is_some() {
            break;
        }
        if wait.is_zero() {
            continue;
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            result = notified => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "the LISTEN connection failed; polling only until it is back");
                    listener = None;
                } else if let Some(l) = listener.as_mut() {
                    // One batch serves every notification that arrived meanwhile.
                    while l.next_buffered().is_some() {}
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("audit sealer stopped");
    Ok(())
}

/// When anchors may be published again, and how many rounds failed in a row.
#[derive(Default)]
struct Anchoring {
    not_before: Option<tokio::time::Instant>,
    failures: u64,
}

impl Anchoring {
    /// Publishes what is not anchored yet. A failure is logged with the number of
    /// failed rounds in a row and retried after [`RETRY`]; sealing goes on meanwhile,
    /// and the checkpoints wait in the database for the next successful round.
    async fn round(&mut self, publisher: &mut AnchorPublisher, pool: &PgPool) {
        let now = tokio::time::Instant::now();
        if self.not_before.is_some_and(|t| now < t) {
            return;
        }
        match publisher.publish_pending(pool).await {
            Ok(_) => {
                if self.failures > 0 {
                    tracing::info!(
                        failed_rounds = self.failures,
                        "audit anchors published again"
                    );
                }
                self.failures = 0;
                self.not_before = None;
            }
            Err(e) => {
                self.failures += 1;
                tracing::warn!(error = %e, failed_rounds = self.failures,
                    "publishing audit anchors failed; retrying");
                self.not_before = Some(now + RETRY);
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let listening = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for new events; polling only");
            None
        }
    }
}
