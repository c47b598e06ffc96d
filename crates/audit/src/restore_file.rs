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
    AccessLine, CheckpointLine, DataKeyLine, DocumentLine, ErasedLine, EventLine, FORMAT, Header,
    OLDEST_VERSION, SealKeyLine, SealLine, Section, SectionStart, Trailer, VERSION, sections,
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
    DataKey(DataKeyLine),
    Erased(ErasedLine),
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
    if header.format != FORMAT || !(OLDEST_VERSION..=VERSION).contains(&header.version) {
        return Err(format_error(format!(
            "format {} version {} (this build reads {FORMAT} versions {OLDEST_VERSION} to {VERSION})",
            header.format, header.version
        )));
    }
    for &expected in sections(header.version) {
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
        Section::DataKeys => Parsed::DataKey(serde_json::from_str(line).map_err(bad)?),
        Section::ErasedSubjects => Parsed::Erased(serde_json::from_str(line).map_err(bad)?),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A file path removed when dropped.
    struct TempPath(std::path::PathBuf);

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A backup file of `lines` (each followed by a newline) and its trailer.
    fn file_of(lines: &[String]) -> TempPath {
        let mut content = String::new();
        for line in lines {
            content.push_str(line);
            content.push('\n');
        }
        let sha256 = hex::encode(Sha256::digest(content.as_bytes()));
        content.push_str(&format!("{{\"end\":true,\"sha256\":\"{sha256}\"}}\n"));
        let path = TempPath(
            std::env::temp_dir().join(format!("lae-backup-{}.gz", uuid::Uuid::new_v4().simple())),
        );
        let mut gzip = flate2::write::GzEncoder::new(
            std::fs::File::create(&path.0).expect("create"),
            flate2::Compression::fast(),
        );
        gzip.write_all(content.as_bytes()).expect("write");
        gzip.finish().expect("finish");
        path
    }

    #[test]
    fn a_version_1_file_without_key_sections_is_still_read() {
        let header = r#"{"format":"lae-backup","version":1,"created_at":"2025-01-01T00:00:00Z","database":"lae","counts":{"events":0,"seals":0,"checkpoints":0,"seal_keys":0,"access_log":0,"documents":0},"customer_number_seq":null}"#;
        let mut lines = vec![header.to_owned()];
        for section in [
            "events",
            "seals",
            "checkpoints",
            "seal_keys",
            "access_log",
            "documents",
        ] {
            lines.push(format!(r#"{{"section":"{section}","count":0}}"#));
        }
        let file = file_of(&lines);
        let header = validate(&file.0).expect("a version 1 file reads");
        assert_eq!(header.version, 1);
        assert_eq!(header.counts.data_keys, 0);
        assert!(header.master_key_ids.is_empty());

        // The same sections announced as version 2 lack the key sections.
        lines[0] = lines[0].replace(r#""version":1"#, r#""version":2"#);
        let file = file_of(&lines);
        assert!(matches!(
            validate(&file.0),
            Err(AuditError::BackupFormat(_))
        ));
    }
}
