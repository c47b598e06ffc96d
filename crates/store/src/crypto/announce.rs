//! Key destructions and grant changes announced to every process at once.
//!
//! Each [`super::Keyring`] caches unwrapped keys for [`super::keyring::DEFAULT_CACHE_TTL`]
//! and the categories its role may read until told otherwise. An erasure destroys the
//! customer's keys in PostgreSQL, which is the source of truth; without more, another
//! process would keep opening that customer's fields from its cache until the entry
//! ages out. So:
//!
//! - the erasure publishes the subject's uuid on the core NATS subject
//!   `<prefix>.destroyed` ([`KeyAnnouncements::destroyed`], `LAE_KEYS_SUBJECT_PREFIX`,
//!   `lae.keys` by default), and every process that holds keyrings runs [`listen`],
//!   which drops the subject's keys from every keyring of the process
//!   ([`super::keyring::forget_everywhere`]);
//! - a `GRANT` or `REVOKE` in the database fires the event trigger of migration 0017
//!   (created only when the migrating role is a superuser), which sends a `NOTIFY` on
//!   [`GRANTS_CHANNEL`]; [`listen`] also listens there and makes every keyring ask
//!   again which categories its role may read ([`super::keyring::reread_grants_everywhere`]).
//!
//! Neither path can make an erasure fail or keep a key alive: publishing is bounded by
//! [`PUBLISH_TIMEOUT`] and only logged when NATS is down; a listener that was cut off
//! may have missed announcements, so it drops every cached key when it reconnects; and
//! the cache lifetime remains the bound when nothing is heard at all.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::keyring::{forget_all_everywhere, forget_everywhere, reread_grants_everywhere};

/// The subject prefix of key announcements unless `LAE_KEYS_SUBJECT_PREFIX` says otherwise.
pub const DEFAULT_SUBJECT_PREFIX: &str = "lae.keys";
/// The PostgreSQL channel the grant event trigger notifies (migration 0017).
pub const GRANTS_CHANNEL: &str = "lae_grants";
/// How long an erasure waits for NATS before it gives up announcing (and logs it).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest wait between two attempts of a listener to reach NATS or PostgreSQL.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where key destructions are announced: the NATS servers and the subject prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAnnouncements {
    /// The NATS servers (comma-separated URLs), as `NATS_URL`.
    pub nats_url: String,
    /// `<prefix>.destroyed` carries the uuid of each subject whose keys were destroyed.
    pub subject_prefix: String,
}

impl KeyAnnouncements {
    /// Announcements on `nats_url` under the default prefix.
    #[must_use]
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
        }
    }

    /// From `NATS_URL` (default `nats://127.0.0.1:4222`) and `LAE_KEYS_SUBJECT_PREFIX`
    /// (default [`DEFAULT_SUBJECT_PREFIX`]); a prefix that is not a NATS subject (an
    /// empty token, a wildcard, a space) is refused with its reason.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let nats_url = get("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
        let subject_prefix = match get("LAE_KEYS_SUBJECT_PREFIX") {
            None => DEFAULT_SUBJECT_PREFIX.to_owned(),
            Some(prefix) => {
                let valid = !prefix.is_empty()
                    && prefix.split('.').all(|token| {
                        !token.is_empty()
                            && !token.contains(|c: char| c.is_whitespace() || c == '*' || c == '>')
                    });
                if !valid {
                    return Err(format!(
                        "LAE_KEYS_SUBJECT_PREFIX={prefix:?} is not a NATS subject (dot-separated tokens, no wildcard nor space)"
                    ));
                }
                prefix
            }
        };
        Ok(Self {
            nats_url,
            subject_prefix,
        })
    }

    /// The core subject of key destructions.
    #[must_use]
    pub fn destroyed(&self) -> String {
        format!("{}.destroyed", self.subject_prefix)
    }

    /// Tells every process that `subject`'s keys are destroyed. Never fails: the keys
    /// are already gone from the database, which every cache reads again in time; a
    /// NATS that cannot be reached within [`PUBLISH_TIMEOUT`] is logged.
    pub async fn announce_destroyed(&self, subject: Uuid) {
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.publish(subject)).await {
            Ok(Ok(())) => tracing::debug!(%subject, "key destruction announced"),
            Ok(Err(e)) => tracing::warn!(%subject, error = %e,
                "could not announce the key destruction: other processes drop the keys when their cache expires"),
            Err(_) => tracing::warn!(%subject,
                "NATS did not answer in time: other processes drop the keys when their cache expires"),
        }
    }

    async fn publish(&self, subject: Uuid) -> Result<(), AnnounceError> {
        let client = async_nats::connect(servers(&self.nats_url)).await?;
        client
            .publish(self.destroyed(), subject.to_string().into())
            .await
            .map_err(|e| AnnounceError::Nats(e.to_string()))?;
        client
            .flush()
            .await
            .map_err(|e| AnnounceError::Nats(e.to_string()))?;
        Ok(())
    }
}

/// Why an announcement could not be sent or heard.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// NATS could not be reached or refused the message.
    #[error("NATS: {0}")]
    Nats(String),
    /// PostgreSQL's `LISTEN` failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<async_nats::ConnectError> for AnnounceError {
    fn from(e: async_nats::ConnectError) -> Self {
        Self::Nats(e.to_string())
    }
}

fn servers(nats_url: &str) -> Vec<&str> {
    nats_url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Hears key destructions on NATS and grant changes on `pool`'s database (when given)
/// until `shutdown` resolves, applying each to every keyring of this process. Retries
/// with back-off while NATS or PostgreSQL cannot be reached.
pub async fn listen(
    announcements: KeyAnnouncements,
    pool: Option<PgPool>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let keys = listen_to_destructions(announcements);
    let grants = async move {
        match pool {
            Some(pool) => listen_to_grants(pool).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = keys => {}
        () = grants => {}
    }
}

async fn listen_to_destructions(announcements: KeyAnnouncements) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match subscribe(&announcements).await {
            Ok((client, mut messages)) => {
                backoff = Duration::from_millis(100);
                tracing::debug!(subject = %announcements.destroyed(), "listening to key destructions");
                while let Some(message) = messages.next().await {
                    match std::str::from_utf8(&message.payload)
                        .ok()
                        .and_then(|text| Uuid::parse_str(text.trim()).ok())
                    {
                        Some(subject) => {
                            forget_everywhere(subject);
                            tracing::info!(%subject, "keys destroyed elsewhere: dropped from the caches");
                        }
                        None => {
                            tracing::warn!("a key destruction announcement names no subject uuid")
                        }
                    }
                }
                drop(client);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen to key destructions yet"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe(
    announcements: &KeyAnnouncements,
) -> Result<(async_nats::Client, async_nats::Subscriber), AnnounceError> {
    let client = async_nats::ConnectOptions::new()
        .name("lae key announcements")
        .event_callback(|event| async move {
            // Whatever was announced while the connection was down is lost: forget
            // every cached key, so that none outlives its erasure.
            if matches!(event, async_nats::Event::Connected) {
                forget_all_everywhere();
            }
        })
        .connect(servers(&announcements.nats_url))
        .await?;
    let messages = client
        .subscribe(announcements.destroyed())
        .await
        .map_err(|e| AnnounceError::Nats(e.to_string()))?;
    Ok((client, messages))
}

async fn listen_to_grants(pool: PgPool) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match grant_listener(&pool).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                // Grants may have changed while nobody listened.
                reread_grants_everywhere();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => {
                            reread_grants_everywhere();
                            tracing::info!("grants changed: readable categories asked again");
                        }
                        // The connection was lost and is being re-established:
                        // notifications may have been missed meanwhile.
                        Ok(None) => reread_grants_everywhere(),
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the grant notifications");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "cannot listen to grant changes yet");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn grant_listener(pool: &PgPool) -> Result<PgListener, AnnounceError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(GRANTS_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_under_the_prefix() {
        let announcements = KeyAnnouncements {
            nats_url: "nats://x".into(),
            subject_prefix: "lae.test.abc.keys".into(),
        };
        assert_eq!(announcements.destroyed(), "lae.test.abc.keys.destroyed");
        assert_eq!(KeyAnnouncements::new("n").destroyed(), "lae.keys.destroyed");
    }

    #[test]
    fn a_prefix_that_is_no_subject_is_refused() {
        let with = |prefix: &str| {
            let prefix = prefix.to_owned();
            KeyAnnouncements::from_lookup(move |name| {
                (name == "LAE_KEYS_SUBJECT_PREFIX").then(|| prefix.clone())
            })
        };
        assert_eq!(
            with("a.b").map(|a| a.destroyed()),
            Ok("a.b.destroyed".to_owned())
        );
        for bad in ["", "a..b", "a.*", "a.>", "a b"] {
            assert!(with(bad).is_err(), "{bad:?} should be refused");
        }
        let default = KeyAnnouncements::from_lookup(|_| None).expect("defaults");
        assert_eq!(default.destroyed(), "lae.keys.destroyed");
    }

    #[test]
    fn servers_are_split_on_commas() {
        assert_eq!(
            servers("nats://a:4222, nats://b:4222,"),
            vec!["nats://a:4222", "nats://b:4222"]
        );
    }
}
