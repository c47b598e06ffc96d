//! Reading a backup file: its structure, its checksum, its lines.
//!
//! [`walk`] checks the structure as it goes (header, each section announced with its
//! line count, the trailer) and hashes every line before the trailer; a file that is
//! truncated, reordered or edited fails here. See [`crate::backup_format`].

use std::io::BufRead;
use std::path::Path;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::backup_format::{
    AccessLine, CheckpointLine, DocumentLine, EventLine, FORMAT, Header, SECTIONS, SealKeyLine,
    SealLine, Section, SectionStart, Trailer, VERSION,
};
use crate::error::{AuditError, Result};

pub(crate) fn format_error(message: impl Into<String>) -> AuditError {
    AuditError::BackupFormat(message.into())
}

/// One parsed line of a section.
pub(crate) enum Parsed {
    Event(EventLine),
    Seal(SealLine),
    Checkpoint(CheckpointLine),
    SealKey(SealKeyLine),
    Access(AccessLine),
    Document(DocumentLine),
}

/// Walks the file's structure, hashing every line before the trailer; calls `row` for
/// each section line. Returns the header once the trailer's digest has been checked.
fn walk(path: &Path, mut row: impl FnMut(Section, &str) -> Result<()>) -> Result<Header> {
    let file = std::fs::File::open(path)?;
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, GzDecoder::new(std::io::BufReader::new(file)));
    let mut digest = Sha256::new();
    let mut line = String::new();
    let mut next_line = |line: &mut String| -> Result<bool> {
        line.clear();
        Ok(reader.read_line(line)? > 0)
    };

    if !next_line(&mut line)? {
        return Err(format_error("the file is empty"));
    }
    digest.update(line.as_bytes());
    let header: Header =
        serde_json::from_str(&line).map_err(|e| format_error(format!("header: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(format_error(format!(
            "format {} version {} (this build reads {FORMAT} version {VERSION})",
            header.format, header.version
        )));
    }
    for expected in SECTIONS {
        if !next_line(&mut line)? {
            return Err(format_error("the file ends before its last section"));
        }
        digest.update(line.as_bytes());
        let start: SectionStart =
            serde_json::from_str(&line).map_err(|e| format_error(format!("section start: {e}")))?;
        if start.section != expected || start.count != header.counts.get(expected) {
            return Err(format_error(format!(
                "expected section {expected:?} with {} lines, found {:?} with {}",
                header.counts.get(expected),
                start.section,
                start.count
            )));
        }
        for _ in 0..start.count {
            if !next_line(&mut line)? {
                return Err(format_error(format!("section {expected:?} is cut short")));
            }
            digest.update(line.as_bytes());
            row(expected, line.trim_end_matches('\n'))?;
        }
    }
    if !next_line(&mut line)? {
        return Err(format_error(
            "the trailer is missing: the file is truncated",
        ));
    }
    let trailer: Trailer =
        serde_json::from_str(&line).map_err(|e| format_error(format!("trailer: {e}")))?;
    let actual = hex::encode(digest.finalize());
    if !trailer.end || trailer.sha256 != actual {
        return Err(AuditError::BackupChecksum {
            expected: trailer.sha256,
            actual,
        });
    }
    if next_line(&mut line)? {
        return Err(format_error("data after the trailer"));
    }
    Ok(header)
}

/// The first pass: structure, counts and checksum, and every line parses.
pub(crate) fn validate(path: &Path) -> Result<Header> {
    walk(path, |section, line| parse(section, line).map(drop))
}

/// The second pass: parsed rows to the loader, in batches.
pub(crate) fn stream_rows(path: &Path, sender: &mpsc::Sender<Vec<Parsed>>) -> Result<()> {
    let mut batch = Vec::with_capacity(1024);
    walk(path, |section, line| {
        batch.push(parse(section, line)?);
        if batch.len() >= 1024 {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(1024));
            sender
                .blocking_send(full)
                .map_err(|_| AuditError::Task("the restore stopped".into()))?;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        sender
            .blocking_send(batch)
            .map_err(|_| AuditError::Task("the restore stopped".into()))?;
    }
    Ok(())
}

fn parse(section: Section, line: &str) -> Result<Parsed> {
    let bad = |e: serde_json::Error| format_error(format!("{section:?} line: {e}"));
    Ok(match section {
        Section::Events => Parsed::Event(serde_json::from_str(line).map_err(bad)?),
        Section::Seals => Parsed::Seal(serde_json::from_str(line).map_err(bad)?),
        Section::Checkpoints => Parsed::Checkpoint(serde_json::from_str(line).map_err(bad)?),
        Section::SealKeys => Parsed::SealKey(serde_json::from_str(line).map_err(bad)?),
        Section::AccessLog => Parsed::Access(serde_json::from_str(line).map_err(bad)?),
        Section::Documents => Parsed::Document(serde_json::from_str(line).map_err(bad)?),
    })
}
