//! The departments' read-only connections.
//!
//! Each department's query routes read its read model through connections of its own
//! `lae_<dept>_reader` role (migration 0003), which may SELECT its own schema and
//! nothing else: a bug in the sales handlers cannot read a legal table, PostgreSQL
//! refuses it. Connections open on first use, so the API starts (and answers
//! commands) while a department's role is not reachable yet.
//!
//! # Why not an `sqlx::PgPool`
//! sqlx's pool tests every connection it takes back with a round trip to the server
//! (`ping` on release, which cannot be turned off in sqlx 0.8): for a query route that
//! is one statement, that doubles the round trips and nearly doubles PostgreSQL's work
//! per request (measured by `lae bench queries`). A [`Reader`] gives its connection
//! back only when the handler says its reads completed ([`Reader::release`]); a reader
//! dropped otherwise (a failed read returned early with `?`, or the request cancelled
//! mid-read because the client went away) closes its connection, so that no connection
//! with a half-written or half-read exchange is ever reused. An idle connection that
//! the server closed meanwhile (a restart) fails the one request that takes it next,
//! and is replaced.

use std::sync::Mutex;
use std::time::Duration;

use lae_projections::Department;
use lae_store::db::DbSettings;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a request waits for a connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// One pool per department, each logged in as that department's reader role.
#[derive(Debug)]
pub struct Readers {
    customer_service: ReaderPool,
    legal: ReaderPool,
    sales: ReaderPool,
    billing: ReaderPool,
    management: ReaderPool,
}

impl Readers {
    /// Pools of at most `size` connections each, connecting on first use as
    /// `lae_<dept>_reader` (with `password` where the server asks for one).
    #[must_use]
    pub fn connect_lazy(settings: &DbSettings, password: Option<&str>, size: u32) -> Self {
        let pool = |department| {
            ReaderPool::new(
                lae_projections::db::reader_options(settings, department, password),
                size,
            )
        };
        Self {
            customer_service: pool(Department::CustomerService),
            legal: pool(Department::Legal),
            sales: pool(Department::Sales),
            billing: pool(Department::Billing),
            management: pool(Department::Management),
        }
    }

    /// The pool of a department's reader role.
    #[must_use]
    pub fn pool(&self, department: Department) -> &ReaderPool {
        match department {
            Department::CustomerService => &self.customer_service,
            Department::Legal => &self.legal,
            Department::Sales => &self.sales,
            Department::Billing => &self.billing,
            Department::Management => &self.management,
        }
    }

    /// A connection of the department's reader role; see [`Reader`].
    pub async fn acquire(&self, department: Department) -> Result<Reader<'_>, sqlx::Error> {
        self.pool(department).acquire().await
    }
}

/// Connections of one role, at most `size` open at a time.
pub struct ReaderPool {
    options: PgConnectOptions,
    /// Connections whose last reads completed, most recently used last.
    idle: Mutex<Vec<PgConnection>>,
    /// One permit per connection that may be open.
    permits: Semaphore,
}

impl std::fmt::Debug for ReaderPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderPool")
            .field("role", &self.options.get_username())
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl ReaderPool {
    fn new(options: PgConnectOptions, size: u32) -> Self {
        let size = usize::try_from(size.max(1)).unwrap_or(1);
        Self {
            options,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
        }
    }

    /// A connection of this pool: an idle one, or a new one while fewer than `size`
    /// are open; waits otherwise, in turn (5 s at most).
    pub async fn acquire(&self) -> Result<Reader<'_>, sqlx::Error> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&self.options))
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??
            }
        };
        Ok(Reader {
            conn: Some(conn),
            pool: self,
            _permit: permit,
        })
    }
}

/// A connection in use, for one request's reads. [`Reader::release`] gives it back
/// once they all completed; dropped without that, the connection closes.
pub struct Reader<'a> {
    conn: Option<PgConnection>,
    pool: &'a ReaderPool,
    _permit: SemaphorePermit<'a>,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("pool", self.pool).finish()
    }
}

impl Reader<'_> {
    /// Gives the connection back for the next request: its reads all completed.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(conn);
        }
    }
}

impl std::ops::Deref for Reader<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("a reader holds its connection until released"))
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a reader holds its connection until released"))
    }
}
