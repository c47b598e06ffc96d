//! Streaming a legacy table out of SQLite, read-only.
//!
//! Each file gets one thread of its own, holding one read-only connection and one read
//! transaction for as long as the file is imported: every table of the file is read
//! from the same snapshot, so a call cannot refer to a customer added after the
//! customers were read. The price: on a database in rollback-journal mode a legacy
//! application cannot commit a write while the file is being imported (it waits for
//! its busy timeout, then reports the database as busy); in WAL mode it is not
//! blocked. `immutable=1` would avoid the lock but is unsafe while the legacy
//! applications may still write, so it is not used.
//!
//! Rows travel to the async import in chunks over a bounded channel, so at most a few
//! chunks are in memory whatever the table's size.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use super::cell::{Cell, MAX_DOCUMENT_BYTES, MAX_TEXT_BYTES, Row};
use super::{LegacyFile, Table};
use crate::error::MigrateError;

/// Rows per chunk sent to the import.
const CHUNK_ROWS: usize = 512;
/// Bytes per chunk, for tables holding documents.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Chunks buffered between the reader thread and the import.
const CHANNEL_CHUNKS: usize = 4;
/// How long to wait for a legacy writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// A chunk of rows, or the error that ended the stream.
pub type ChunkResult = Result<Vec<Row>, MigrateError>;

struct Request {
    table: Table,
    columns: &'static [&'static str],
    only: Option<Arc<HashSet<i64>>>,
    reply: mpsc::Sender<ChunkResult>,
}

/// An open legacy file: its reading thread and the row counts of its tables.
#[derive(Debug)]
pub struct LegacyReader {
    file: LegacyFile,
    requests: std::sync::mpsc::Sender<Request>,
    counts: BTreeMap<Table, u64>,
}

impl LegacyReader {
    /// Opens a file read-only, starts its read transaction, checks that its tables
    /// have the columns the import needs and counts their rows.
    pub async fn open(dir: &Path, file: LegacyFile) -> Result<Self, MigrateError> {
        let path = dir.join(file.file_name());
        if !path.is_file() {
            return Err(MigrateError::MissingFile {
                file: file.file_name(),
                path,
            });
        }
        let (requests, incoming) = std::sync::mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("legacy-{}", file.file_name()))
            .spawn(move || {
                let connection = match open_checked(&path, file) {
                    Ok((connection, counts)) => {
                        let _ = ready_tx.send(Ok(counts));
                        connection
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Serve stream requests until the import drops its reader.
                while let Ok(request) = incoming.recv() {
                    stream_table(&connection, request);
                }
            })
            .map_err(|e| MigrateError::Internal(format!("cannot start a reader thread: {e}")))?;
        let counts = ready_rx
            .await
            .map_err(|_| MigrateError::Internal("the reader thread stopped".into()))??;
        Ok(Self {
            file,
            requests,
            counts,
        })
    }

    /// The number of rows of a table of this file when the file was opened.
    pub fn count(&self, table: Table) -> u64 {
        self.counts.get(&table).copied().unwrap_or(0)
    }

    /// Streams a table's rows in rowid order, with the given columns (all of
    /// [`Table::columns`] or a subset of them), optionally only the given rowids.
    pub fn stream(
        &self,
        table: Table,
        columns: &'static [&'static str],
        only: Option<Arc<HashSet<i64>>>,
    ) -> mpsc::Receiver<ChunkResult> {
        let (reply, rows) = mpsc::channel(CHANNEL_CHUNKS);
        debug_assert_eq!(table.file(), self.file);
        let request = Request {
            table,
            columns,
            only,
            reply,
        };
        if let Err(std::sync::mpsc::SendError(request)) = self.requests.send(request) {
            // The thread is gone: say so on the stream rather than ending it silently.
            let _ = request.reply.try_send(Err(MigrateError::Internal(format!(
                "the reader of {} stopped",
                self.file.file_name()
            ))));
        }
        rows
    }
}

fn open_checked(
    path: &Path,
    file: LegacyFile,
) -> Result<(Connection, BTreeMap<Table, u64>), MigrateError> {
    let name = file.file_name();
    let open_error = |source| MigrateError::Open { file: name, source };
    // SQLITE_OPEN_READ_ONLY is what the URI parameter `mode=ro` sets.
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    connection.execute_batch("BEGIN").map_err(open_error)?;
    let mut counts = BTreeMap::new();
    for table in file.tables() {
        check_schema(&connection, table)?;
        let count: i64 = connection
            .query_row(
                &format!("SELECT count(*) FROM \"{}\"", table.name()),
                [],
                |r| r.get(0),
            )
            .map_err(|source| MigrateError::Read {
                file: name,
                table: table.name(),
                after_row: None,
                source,
            })?;
        counts.insert(table, u64::try_from(count).unwrap_or(0));
    }
    Ok((connection, counts))
}

/// Checks that the table exists, has every column the import reads, and that its `id`
/// is the INTEGER PRIMARY KEY (the rowid): ids of imported aggregates are derived from
/// it, and child rows refer to it.
fn check_schema(connection: &Connection, table: Table) -> Result<(), MigrateError> {
    let file = table.file().file_name();
    let schema_error = |detail: String| MigrateError::Schema {
        file,
        table: table.name(),
        detail,
    };
    let read_error = |source| MigrateError::Read {
        file,
        table: table.name(),
        after_row: None,
        source,
    };
    let mut statement = connection
        .prepare(&format!("PRAGMA table_info(\"{}\")", table.name()))
        .map_err(read_error)?;
    let columns: Vec<(String, String, i64)> = statement
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(read_error)?
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    if columns.is_empty() {
        return Err(schema_error("table not found".into()));
    }
    let has = |name: &str| columns.iter().any(|(c, _, _)| c.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = table
        .columns()
        .iter()
        .copied()
        .filter(|c| !has(c))
        .collect();
    if !missing.is_empty() {
        return Err(schema_error(format!(
            "missing column(s) {}",
            missing.join(", ")
        )));
    }
    let primary: Vec<&(String, String, i64)> =
        columns.iter().filter(|(_, _, pk)| *pk > 0).collect();
    let id_is_rowid = matches!(primary.as_slice(), [(name, kind, _)]
        if name.eq_ignore_ascii_case("id") && kind.eq_ignore_ascii_case("INTEGER"));
    if !id_is_rowid {
        return Err(schema_error(
            "`id` is not the INTEGER PRIMARY KEY: rows could not be identified across runs".into(),
        ));
    }
    Ok(())
}

fn stream_table(connection: &Connection, request: Request) {
    let Request {
        table,
        columns,
        only,
        reply,
    } = request;
    let mut last_row = None;
    if let Err(source) = read_rows(
        connection,
        table,
        columns,
        only.as_deref(),
        &reply,
        &mut last_row,
    ) {
        let _ = reply.blocking_send(Err(MigrateError::Read {
            file: table.file().file_name(),
            table: table.name(),
            after_row: last_row,
            source,
        }));
    }
}

fn read_rows(
    connection: &Connection,
    table: Table,
    columns: &'static [&'static str],
    only: Option<&HashSet<i64>>,
    reply: &mpsc::Sender<ChunkResult>,
    last_row: &mut Option<i64>,
) -> Result<(), rusqlite::Error> {
    let select: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!(
        "SELECT rowid, {} FROM \"{}\" ORDER BY rowid",
        select.join(", "),
        table.name()
    );
    let document = table.document_column();
    let limits: Vec<usize> = columns
        .iter()
        .map(|c| {
            if Some(*c) == document {
                MAX_DOCUMENT_BYTES
            } else {
                MAX_TEXT_BYTES
            }
        })
        .collect();
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query([])?;
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut chunk_bytes = 0usize;
    while let Some(row) = rows.next()? {
        let row_id: i64 = row.get(0)?;
        *last_row = Some(row_id);
        if only.is_some_and(|only| !only.contains(&row_id)) {
            continue;
        }
        let mut cells = Vec::with_capacity(columns.len());
        for (i, limit) in limits.iter().enumerate() {
            cells.push(cell(row.get_ref(i + 1)?, *limit));
        }
        let row = Row { row_id, cells };
        chunk_bytes += row.weight();
        chunk.push(row);
        if chunk.len() >= CHUNK_ROWS || chunk_bytes >= CHUNK_BYTES {
            if reply.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                // The import stopped listening (it failed or was cancelled).
                return Ok(());
            }
            chunk_bytes = 0;
        }
    }
    if !chunk.is_empty() {
        let _ = reply.blocking_send(Ok(chunk));
    }
    Ok(())
}

fn cell(value: ValueRef<'_>, limit: usize) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Integer(i),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Text(bytes) if bytes.len() > limit => Cell::Oversized { bytes: bytes.len() },
        ValueRef::Blob(bytes) if bytes.len() > limit => Cell::Oversized { bytes: bytes.len() },
        ValueRef::Text(bytes) => Cell::Text(bytes.to_vec()),
        ValueRef::Blob(bytes) => Cell::Blob(bytes.to_vec()),
    }
}
