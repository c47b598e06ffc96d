//! Data keys in PostgreSQL, cached in memory, and the sealing and opening of event
//! payloads with them.
//!
//! I/O and cryptography are split: [`Keyring::provision`] (writers) and
//! [`Keyring::load`] (readers) bring the keys a batch needs into the cache in one
//! query per category; [`Keyring::seal`] and [`Keyring::open`] then work on the
//! cache alone, so that a batch of thousands of events costs a handful of round trips.

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use lae_domain::{DataCategory, classify};
use lru::LruCache;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::KeyError;
use super::cipher::{DataKey, MasterKey};
use super::payload::{self, Access, OnTampered, Opened, SealedText};

/// Keys kept in memory per keyring unless configured otherwise.
pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;
/// How long a cached key (or a cached absence), and the categories a role may read,
/// are trusted before they are read again. The process that erases forgets the keys at
/// once and announces it ([`super::announce`]); a process that hears nothing (NATS
/// down) stops using them within this time at worst.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// The current master key, and the previous ones still accepted for unwrapping
/// (during a rotation).
#[derive(Debug)]
pub struct MasterKeys {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl MasterKeys {
    /// Only `current`.
    #[must_use]
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Also accepts `previous` when unwrapping.
    #[must_use]
    pub fn with_previous(mut self, previous: MasterKey) -> Self {
        if previous.id() != self.current.id() {
            self.previous.push(previous);
        }
        self
    }

    /// From the environment: `LAE_MASTER_KEY` or `LAE_MASTER_KEY_FILE` (the current
    /// key), and optionally `LAE_MASTER_KEY_PREVIOUS` or `LAE_MASTER_KEY_PREVIOUS_FILE`
    /// (the key being rotated away from). `None` when no current key is configured.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`MasterKeys::from_env`] with another source of variables (settings, tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, KeyError> {
        let Some(current) = key_from_lookup(&lookup, "LAE_MASTER_KEY")? else {
            return Ok(None);
        };
        let mut keys = Self::new(current);
        if let Some(previous) = key_from_lookup(&lookup, "LAE_MASTER_KEY_PREVIOUS")? {
            keys = keys.with_previous(previous);
        }
        Ok(Some(keys))
    }

    /// The key new data keys are wrapped with.
    #[must_use]
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The key with this id, current or previous.
    pub fn by_id(&self, id: &str) -> Result<&MasterKey, KeyError> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == id)
            .ok_or_else(|| KeyError::UnknownMasterKey(id.to_owned()))
    }
}

/// Reads a master key from `NAME` or from the file named by `NAME_FILE`.
fn key_from_lookup(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<MasterKey>, KeyError> {
    // Errors name the variable (never the key), whoever reports them.
    if let Some(text) = lookup(name).filter(|v| !v.trim().is_empty()) {
        return MasterKey::parse(&zeroize::Zeroizing::new(text))
            .map(Some)
            .map_err(|e| KeyError::MasterKeySource(format!("{name}: {e}")));
    }
    match lookup(&format!("{name}_FILE")) {
        Some(path) if !path.trim().is_empty() => read_key_file(Path::new(path.trim()))
            .map(Some)
            .map_err(|e| KeyError::MasterKeySource(format!("{name}_FILE: {e}"))),
        _ => Ok(None),
    }
}

/// Reads a master key file (64 hex digits or base64).
pub fn read_key_file(path: &Path) -> Result<MasterKey, KeyError> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| KeyError::MasterKeySource(format!("{}: {e}", path.display())))?,
    );
    MasterKey::parse(&text)
}

/// The categories a role may read, as last asked.
#[derive(Debug, Clone)]
struct Readable {
    categories: Vec<DataCategory>,
    asked: Instant,
    /// Grants changed since: the next load asks again; openers keep the last answer
    /// until then (the keys they open with were loaded under it).
    stale: bool,
}

fn bit(category: DataCategory) -> u8 {
    1 << (category as u8)
}

#[derive(Debug, Clone)]
enum Slot {
    Key(Arc<DataKey>),
    /// No key: never created, or destroyed by an erasure.
    Gone,
}

/// One stored event, as loading the keys to open it needs.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// Its aggregate type.
    pub aggregate_type: &'a str,
    /// Its aggregate id.
    pub aggregate_id: &'a str,
    /// Its event type.
    pub event_type: &'a str,
    /// Its payload as stored.
    pub payload: &'a Value,
}

/// Data keys for one reader or writer: the master keys, the categories it may use,
/// and a cache. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Keyring(Arc<Inner>);

struct Inner {
    masters: Arc<MasterKeys>,
    /// The categories this keyring is meant to use.
    categories: Vec<DataCategory>,
    /// Those of `categories` the connection's role may read, when asked last; asked
    /// again after `ttl` or when grants change ([`reread_grants_everywhere`]).
    readable: RwLock<Option<Readable>>,
    /// Read (without touching recency) by the openers, which may run on several
    /// threads at once; written by loading, which also refreshes the recency of the
    /// keys a batch needs, so that they outlast the batch.
    cache: RwLock<LruCache<(Uuid, DataCategory), (Slot, Instant)>>,
    ttl: Duration,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("categories", &self.0.categories)
            .field("master_key", &self.0.masters.current().id())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring for `categories` (what the component is meant to read; the
    /// database's grants may narrow it further).
    #[must_use]
    pub fn new(masters: Arc<MasterKeys>, categories: &[DataCategory]) -> Self {
        Self::with_cache(
            masters,
            categories,
            DEFAULT_CACHE_CAPACITY,
            DEFAULT_CACHE_TTL,
        )
    }

    /// A keyring for every category (the command side, auditors).
    #[must_use]
    pub fn all(masters: Arc<MasterKeys>) -> Self {
        Self::new(masters, &DataCategory::ALL)
    }

    /// [`Keyring::new`] with another cache size and lifetime.
    #[must_use]
    pub fn with_cache(
        masters: Arc<MasterKeys>,
        categories: &[DataCategory],
        capacity: usize,
        ttl: Duration,
    ) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        let keyring = Self(Arc::new(Inner {
            masters,
            categories: categories.to_vec(),
            readable: RwLock::new(None),
            cache: RwLock::new(LruCache::new(capacity)),
            ttl,
        }));
        register(&keyring);
        keyring
    }

    /// The master keys.
    #[must_use]
    pub fn masters(&self) -> &Arc<MasterKeys> {
        &self.0.masters
    }

    /// The subjects and categories whose keys `payload` needs: those of its personal
    /// fields, clear (to seal) or sealed (to open). Empty for events without personal
    /// data.
    pub fn needs(
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        payload: &Value,
    ) -> Result<Vec<(Uuid, DataCategory)>, KeyError> {
        let classification = classify(aggregate_type, event_type);
        let categories = payload::categories(&classification, payload);
        if categories.is_empty() {
            return Ok(Vec::new());
        }
        let subject = payload::subject(&classification, aggregate_id, event_type, payload)?;
        Ok(categories.into_iter().map(|c| (subject, c)).collect())
    }

    /// The keys that opening `events` needs, each once: those of their sealed fields.
    /// On a sealed payload that names no data subject, the error comes with the
    /// event's position.
    pub fn needs_to_open<'e>(
        events: impl IntoIterator<Item = EventRef<'e>>,
    ) -> Result<Vec<(Uuid, DataCategory)>, (usize, KeyError)> {
        let mut wanted = Vec::new();
        for (index, e) in events.into_iter().enumerate() {
            if payload::is_sealed(e.payload) {
                wanted.extend(
                    Self::needs(e.aggregate_type, e.aggregate_id, e.event_type, e.payload)
                        .map_err(|error| (index, error))?,
                );
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        Ok(wanted)
    }

    /// [`Keyring::load`] of the `wanted` keys that are not cached and fresh, over a
    /// connection taken from `conn` only then: keys used lately cost no round trip, not
    /// even a pool checkout (which pings the server).
    pub async fn load_missing<'c, A>(
        &self,
        conn: A,
        wanted: Vec<(Uuid, DataCategory)>,
    ) -> Result<(), KeyError>
    where
        A: sqlx::Acquire<'c, Database = sqlx::Postgres>,
    {
        if wanted.is_empty() || self.has_fresh(&wanted, true) {
            return Ok(());
        }
        let mut conn = conn.acquire().await?;
        self.load(&mut conn, wanted).await
    }

    /// Makes sure every `(subject, category)` has a key, creating the missing ones,
    /// and caches them. Fails with [`KeyError::Erased`] for an erased subject: nothing
    /// new is written about a person whose data was erased.
    pub async fn provision(
        &self,
        conn: &mut PgConnection,
        wanted: impl IntoIterator<Item = (Uuid, DataCategory)>,
    ) -> Result<(), KeyError> {
        for (category, subjects) in self.missing(wanted, false) {
            let created: Vec<(Uuid, DataKey)> =
                subjects.iter().map(|s| (*s, DataKey::generate())).collect();
            let master = self.0.masters.current();
            let ids: Vec<Uuid> = created.iter().map(|(s, _)| *s).collect();
            let kek_ids: Vec<&str> = vec![master.id(); created.len()];
            let wrapped: Vec<Vec<u8>> = created
                .iter()
                .map(|(s, k)| master.wrap(*s, category, k))
                .collect();
            let sql = format!(
                "WITH new AS (
                     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[])
                              AS n(subject_id, master_key_id, wrapped)
                      WHERE NOT EXISTS (SELECT 1 FROM keys.erased e WHERE e.subject_id = n.subject_id)
                 ), inserted AS (
                     INSERT INTO {table} (subject_id, master_key_id, wrapped)
                     SELECT subject_id, master_key_id, wrapped FROM new
                     ON CONFLICT (subject_id) DO NOTHING
                     RETURNING subject_id
                 )
                 SELECT subject_id, NULL::text, NULL::bytea FROM inserted
                 UNION ALL
                 SELECT subject_id, master_key_id, wrapped FROM {table} WHERE subject_id = ANY($1)",
                table = table(category)
            );
            let rows: Vec<(Uuid, Option<String>, Option<Vec<u8>>)> = sqlx::query_as(&sql)
                .bind(&ids)
                .bind(&kek_ids)
                .bind(&wrapped)
                .fetch_all(&mut *conn)
                .await?;
            let mut fresh: BTreeMap<Uuid, DataKey> = created.into_iter().collect();
            let mut found = HashSet::with_capacity(rows.len());
            for (subject, kek_id, wrapped) in rows {
                let key = match (kek_id, wrapped) {
                    (Some(kek_id), Some(wrapped)) => self
                        .0
                        .masters
                        .by_id(&kek_id)?
                        .unwrap(subject, category, &wrapped)?,
                    _ => match fresh.remove(&subject) {
                        Some(key) => key,
                        None => continue,
                    },
                };
                found.insert(subject);
                self.remember(subject, category, Slot::Key(Arc::new(key)));
            }
            let absent: Vec<Uuid> = subjects
                .into_iter()
                .filter(|s| !found.contains(s))
                .collect();
            if absent.is_empty() {
                continue;
            }
            // Absent: erased, or created by a concurrent transaction after this
            // statement's snapshot was taken (its insert then did nothing). Look again.
            self.fetch(&mut *conn, category, &absent).await?;
            if let Some(erased) = absent
                .iter()
                .find(|s| matches!(self.cached(**s, category), Some(Slot::Gone) | None))
            {
                self.forget(*erased);
                return Err(KeyError::Erased(*erased));
            }
        }
        Ok(())
    }

    /// Whether every wanted key is cached and fresh, so that [`Keyring::provision`]
    /// (or, with `reading`, [`Keyring::load`]) would not touch the database: callers
    /// skip acquiring a connection then.
    #[must_use]
    pub fn has_fresh(&self, wanted: &[(Uuid, DataCategory)], reading: bool) -> bool {
        // Reading needs to know which categories the role may read: asked by `load`.
        if reading && !self.readable_is_fresh() {
            return false;
        }
        self.missing(wanted.iter().copied(), false).is_empty()
    }

    /// Caches the keys of every `(subject, category)` that this keyring may read;
    /// destroyed keys are cached as such (their fields open as [`ERASED`]).
    pub async fn load(
        &self,
        conn: &mut PgConnection,
        wanted: impl IntoIterator<Item = (Uuid, DataCategory)>,
    ) -> Result<(), KeyError> {
        let readable = self.readable(&mut *conn).await?;
        let wanted: Vec<(Uuid, DataCategory)> = wanted
            .into_iter()
            .filter(|(_, c)| readable.contains(c))
            .collect();
        for (category, subjects) in self.missing(wanted, true) {
            self.fetch(&mut *conn, category, &subjects).await?;
        }
        Ok(())
    }

    /// The categories this keyring's role may read as last asked, while that answer is
    /// fresh; `None` when the next load will ask the database.
    #[must_use]
    pub fn known_readable(&self) -> Option<Vec<DataCategory>> {
        let fresh = self.readable_is_fresh();
        let readable = self
            .0
            .readable
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        readable
            .as_ref()
            .filter(|_| fresh)
            .map(|r| r.categories.clone())
    }

    fn readable_is_fresh(&self) -> bool {
        matches!(
            &*self.0.readable.read().unwrap_or_else(PoisonError::into_inner),
            Some(r) if !r.stale && r.asked.elapsed() < self.0.ttl
        )
    }

    /// The categories the last load found readable, as a set of [`bit`]s: what
    /// openers go by, without allocating on the hot path.
    fn readable_mask(&self) -> u8 {
        self.0
            .readable
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |r| r.categories.iter().fold(0, |m, c| m | bit(*c)))
    }

    /// Makes the next load ask again which categories the role may read (grants changed).
    pub fn reread_grants(&self) {
        if let Some(r) = self
            .0
            .readable
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            r.stale = true;
        }
    }

    /// The categories of this keyring that `conn`'s role may read, asked again when
    /// the last answer is stale or grants changed.
    async fn readable(&self, conn: &mut PgConnection) -> Result<Vec<DataCategory>, KeyError> {
        if let Some(known) = self.known_readable() {
            return Ok(known);
        }
        let tables: Vec<String> = self.0.categories.iter().map(|c| table(*c)).collect();
        let allowed: Vec<bool> = sqlx::query_scalar(
            "SELECT has_table_privilege(t, 'SELECT') FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
        )
        .bind(&tables)
        .fetch_all(&mut *conn)
        .await?;
        let readable: Vec<DataCategory> = self
            .0
            .categories
            .iter()
            .zip(allowed)
            .filter(|(_, ok)| *ok)
            .map(|(c, _)| *c)
            .collect();
        if readable.len() < self.0.categories.len() {
            tracing::info!(
                meant = ?self.0.categories,
                readable = ?readable,
                "this role may not read every category it was meant to: the others read as withheld"
            );
        }
        // A concurrent load may have set it too: both asked the same database.
        *self
            .0
            .readable
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Readable {
            categories: readable.clone(),
            asked: Instant::now(),
            stale: false,
        });
        Ok(readable)
    }

    async fn fetch(
        &self,
        conn: &mut PgConnection,
        category: DataCategory,
        subjects: &[Uuid],
    ) -> Result<(), KeyError> {
        let sql = format!(
            "SELECT subject_id, master_key_id, wrapped FROM {} WHERE subject_id = ANY($1)",
            table(category)
        );
        let rows: Vec<(Uuid, String, Vec<u8>)> = sqlx::query_as(&sql)
            .bind(subjects)
            .fetch_all(&mut *conn)
            .await?;
        // `subjects` is sorted (see `missing`): whether each was found, by position.
        debug_assert!(subjects.is_sorted());
        let mut found = vec![false; subjects.len()];
        let mut keys = Vec::with_capacity(rows.len());
        for (subject, kek_id, wrapped) in rows {
            let key = self
                .0
                .masters
                .by_id(&kek_id)?
                .unwrap(subject, category, &wrapped)?;
            if let Ok(at) = subjects.binary_search(&subject) {
                found[at] = true;
            }
            keys.push((subject, Slot::Key(Arc::new(key))));
        }
        let gone = subjects
            .iter()
            .zip(found)
            .filter(|(_, found)| !found)
            .map(|(subject, _)| (*subject, Slot::Gone));
        let now = Instant::now();
        let mut cache = self.write_cache();
        for (subject, slot) in keys.into_iter().chain(gone) {
            cache.put((subject, category), (slot, now));
        }
        Ok(())
    }

    /// Seals the personal fields of a payload in place, one envelope per category
    /// ([`payload`]); fields already sealed are left alone. The keys must have been
    /// provisioned.
    pub fn seal(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        payload: &mut Value,
    ) -> Result<(), KeyError> {
        let classification = classify(aggregate_type, event_type);
        if classification.personal_fields.is_empty() {
            return Ok(());
        }
        let subject = payload::subject(&classification, aggregate_id, event_type, payload)?;
        payload::seal(
            payload,
            &classification,
            subject,
            event_type,
            |category| match self.cached(subject, category) {
                Some(Slot::Key(key)) => Ok(key),
                Some(Slot::Gone) => Err(KeyError::Erased(subject)),
                None => Err(KeyError::NotLoaded { subject, category }),
            },
        )
    }

    /// Opens the sealed fields of a payload in place. Fields of a category this
    /// keyring may not read become [`payload::WITHHELD`], fields whose key was
    /// destroyed [`payload::ERASED`]; clear fields (events written before encryption)
    /// stay as they are. A ciphertext that does not open is an error. The keys of
    /// readable categories must have been loaded.
    pub fn open(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        payload: &mut Value,
    ) -> Result<Opened, KeyError> {
        self.open_with(
            aggregate_type,
            aggregate_id,
            event_type,
            payload,
            OnTampered::Fail,
        )
    }

    /// [`Keyring::open`], with a choice of what a ciphertext that does not open
    /// becomes.
    pub fn open_with(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        payload: &mut Value,
        on_tampered: OnTampered,
    ) -> Result<Opened, KeyError> {
        if !payload::is_sealed(payload) {
            return Ok(Opened::default());
        }
        let classification = classify(aggregate_type, event_type);
        let subject = payload::subject(&classification, aggregate_id, event_type, payload)?;
        payload::open(
            payload,
            &classification,
            subject,
            event_type,
            on_tampered,
            self.access(subject),
        )
    }

    /// The keys a payload read as text ([`SealedText`]) needs, as [`Keyring::needs`].
    pub fn needs_text(
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        sealed: &SealedText<'_>,
    ) -> Result<Vec<(Uuid, DataCategory)>, KeyError> {
        let classification = classify(aggregate_type, event_type);
        let subject = sealed.subject(&classification, aggregate_id, event_type)?;
        Ok(sealed.categories().map(|c| (subject, c)).collect())
    }

    /// [`Keyring::open`] for a payload read as text: the clear payload's text.
    pub fn open_text(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        sealed: &SealedText<'_>,
    ) -> Result<(Zeroizing<String>, Opened), KeyError> {
        let classification = classify(aggregate_type, event_type);
        let subject = sealed.subject(&classification, aggregate_id, event_type)?;
        sealed.open(subject, event_type, OnTampered::Fail, self.access(subject))
    }

    /// What this keyring may do with each category of `subject`'s data, from the
    /// cache: the key, its destruction, or a category the role may not read.
    fn access(&self, subject: Uuid) -> impl FnMut(DataCategory) -> Result<Access, KeyError> {
        let readable = self.readable_mask();
        move |category| {
            if readable & bit(category) == 0 {
                return Ok(Access::Withheld);
            }
            match self.cached(subject, category) {
                Some(Slot::Key(key)) => Ok(Access::Key(key)),
                Some(Slot::Gone) => Ok(Access::Erased),
                None => Err(KeyError::NotLoaded { subject, category }),
            }
        }
    }

    /// Seals a document of `subject` in `category` (see [`DataKey::seal_document`]).
    /// The key must have been provisioned; [`KeyError::Erased`] after an erasure.
    pub fn seal_document(
        &self,
        subject: Uuid,
        category: DataCategory,
        sha256: &str,
        clear: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        match self.cached(subject, category) {
            Some(Slot::Key(key)) => Ok(key.seal_document(subject, category, sha256, clear)),
            Some(Slot::Gone) => Err(KeyError::Erased(subject)),
            None => Err(KeyError::NotLoaded { subject, category }),
        }
    }

    /// Opens a document sealed by [`Keyring::seal_document`]. The key must have been
    /// loaded ([`Keyring::load`]); [`KeyError::Erased`] once it was destroyed,
    /// [`KeyError::Withheld`] when this keyring's role may not read the category.
    pub fn open_document(
        &self,
        subject: Uuid,
        category: DataCategory,
        sha256: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match (self.access(subject))(category)? {
            Access::Key(key) => key
                .open_document(subject, category, sha256, sealed)
                .ok_or(KeyError::Tampered { category }),
            Access::Erased => Err(KeyError::Erased(subject)),
            Access::Withheld => Err(KeyError::Withheld { category }),
        }
    }

    /// Drops a subject's keys from the cache (after its erasure).
    pub fn forget(&self, subject: Uuid) {
        let mut cache = self.write_cache();
        for category in DataCategory::ALL {
            cache.pop(&(subject, category));
        }
    }

    /// Drops every cached key (announcements may have been missed).
    pub fn forget_all(&self) {
        self.write_cache().clear();
    }

    /// Whether a key of `subject` in `category` is cached (fresh or not).
    #[must_use]
    pub fn holds(&self, subject: Uuid, category: DataCategory) -> bool {
        matches!(self.cached(subject, category), Some(Slot::Key(_)))
    }

    fn cached(&self, subject: Uuid, category: DataCategory) -> Option<Slot> {
        self.0
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .peek(&(subject, category))
            .map(|(slot, _)| slot.clone())
    }

    fn remember(&self, subject: Uuid, category: DataCategory, slot: Slot) {
        self.write_cache()
            .put((subject, category), (slot, Instant::now()));
    }

    /// The wanted keys that are not cached (or, with `stale`, cached too long ago),
    /// per category.
    fn missing(
        &self,
        wanted: impl IntoIterator<Item = (Uuid, DataCategory)>,
        stale: bool,
    ) -> BTreeMap<DataCategory, Vec<Uuid>> {
        let mut missing: BTreeMap<DataCategory, Vec<Uuid>> = BTreeMap::new();
        let mut cache = self.write_cache();
        for (subject, category) in wanted {
            let fresh = match cache.get(&(subject, category)) {
                None => false,
                Some((Slot::Gone, _)) if !stale => false,
                Some((_, at)) => at.elapsed() < self.0.ttl,
            };
            if !fresh {
                missing.entry(category).or_default().push(subject);
            }
        }
        for subjects in missing.values_mut() {
            subjects.sort_unstable();
            subjects.dedup();
        }
        missing
    }

    fn write_cache(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, LruCache<(Uuid, DataCategory), (Slot, Instant)>> {
        self.0.cache.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The table holding a category's keys.
pub(crate) fn table(category: DataCategory) -> String {
    format!("keys.{}", category.as_str())
}

/// Every keyring of this process, so that an announcement reaches each of them
/// whoever built it (the command side, each projector's decoder, the reactors'
/// executors, an auditor's timeline): no component can be left out when wiring.
static KEYRINGS: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

fn register(keyring: &Keyring) {
    let mut all = KEYRINGS.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|k| k.strong_count() > 0);
    all.push(Arc::downgrade(&keyring.0));
}

fn live_keyrings() -> Vec<Keyring> {
    KEYRINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .map(Keyring)
        .collect()
}

/// Drops `subject`'s keys from every keyring of this process (its keys were destroyed,
/// here or in another process: [`super::announce`]).
pub fn forget_everywhere(subject: Uuid) {
    for keyring in live_keyrings() {
        keyring.forget(subject);
    }
}

/// Drops every cached key of every keyring of this process.
pub fn forget_all_everywhere() {
    for keyring in live_keyrings() {
        keyring.forget_all();
    }
}

/// Makes every keyring of this process ask again which categories its role may read.
pub fn reread_grants_everywhere() {
    for keyring in live_keyrings() {
        keyring.reread_grants();
    }
}
