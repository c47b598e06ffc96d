//! A legacy row as read: every value kept in its SQLite storage class, nothing trusted.
//!
//! SQLite does not enforce column types: a TEXT column may hold an integer, a BLOB or
//! bytes that are not UTF-8. The reader keeps each value as it is stored, and the
//! accessors here say, per field, whether it can be read as what the import expects.

use std::borrow::Cow;

/// The longest text (and non-document BLOB) the reader copies out of SQLite. Longer
/// values are no legitimate name, mail or status; only their length is kept, so a
/// hostile 10 MB value costs nothing.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// The largest signed contract document the import takes (real scans run to a few MB).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// One value as SQLite stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    /// Text as stored: not checked for UTF-8 yet.
    Text(Vec<u8>),
    Blob(Vec<u8>),
    /// A value above the size limit, of which only the length was kept.
    Oversized {
        bytes: usize,
    },
}

/// Why a field could not be read as what the import expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("not valid UTF-8 text")]
    InvalidUtf8,
    #[error("binary data (BLOB) where text is expected")]
    Blob,
    #[error("a value of {0} bytes, above the import's limit")]
    Oversized(usize),
    #[error("not an integer: {0}")]
    NotInteger(String),
    #[error("text where binary data is expected")]
    NotBinary,
}

/// One row: its rowid and the requested columns, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub row_id: i64,
    pub cells: Vec<Cell>,
}

impl Row {
    fn cell(&self, index: usize) -> &Cell {
        self.cells.get(index).unwrap_or(&Cell::Null)
    }

    /// The value as text: `None` for NULL. Integers and reals become their decimal
    /// text (a phone or an amount stored as a number is still a phone or an amount).
    pub fn text(&self, index: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        match self.cell(index) {
            Cell::Null => Ok(None),
            Cell::Integer(i) => Ok(Some(Cow::Owned(i.to_string()))),
            Cell::Real(r) => Ok(Some(Cow::Owned(r.to_string()))),
            Cell::Text(bytes) => std::str::from_utf8(bytes)
                .map(|s| Some(Cow::Borrowed(s)))
                .map_err(|_| FieldError::InvalidUtf8),
            Cell::Blob(_) => Err(FieldError::Blob),
            Cell::Oversized { bytes } => Err(FieldError::Oversized(*bytes)),
        }
    }

    /// The value as an integer key (`client_id`): an INTEGER, or text holding one.
    pub fn integer(&self, index: usize) -> Result<Option<i64>, FieldError> {
        match self.cell(index) {
            Cell::Null => Ok(None),
            Cell::Integer(i) => Ok(Some(*i)),
            Cell::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Ok(Some(*r as i64)),
            other => {
                let text = match other {
                    Cell::Text(bytes) => {
                        std::str::from_utf8(bytes).map_err(|_| FieldError::InvalidUtf8)?
                    }
                    Cell::Blob(_) => return Err(FieldError::Blob),
                    Cell::Oversized { bytes } => return Err(FieldError::Oversized(*bytes)),
                    _ => "",
                };
                let trimmed = text.trim();
                if trimmed.is_empty() {
                    return Ok(None);
                }
                trimmed
                    .parse()
                    .map(Some)
                    .map_err(|_| FieldError::NotInteger(crate::normalise::text::excerpt(text)))
            }
        }
    }

    /// The value as bytes (a document): a BLOB, or text bytes (a legacy application
    /// may have stored an ASCII PDF in a TEXT column).
    pub fn bytes(&self, index: usize) -> Result<Option<&[u8]>, FieldError> {
        match self.cell(index) {
            Cell::Null => Ok(None),
            Cell::Blob(bytes) | Cell::Text(bytes) => Ok(Some(bytes)),
            Cell::Oversized { bytes } => Err(FieldError::Oversized(*bytes)),
            Cell::Integer(_) | Cell::Real(_) => Err(FieldError::NotBinary),
        }
    }

    /// About how much memory the row holds, to bound what is buffered.
    pub fn weight(&self) -> usize {
        self.cells
            .iter()
            .map(|c| match c {
                Cell::Text(b) | Cell::Blob(b) => b.len() + 32,
                _ => 32,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: Vec<Cell>) -> Row {
        Row { row_id: 1, cells }
    }

    #[test]
    fn text_accessor_by_storage_class() {
        let r = row(vec![
            Cell::Null,
            Cell::Integer(612345678),
            Cell::Real(31.5),
            Cell::Text(b"Hel\xe8ne".to_vec()),
            Cell::Blob(vec![0, 1]),
            Cell::Oversized { bytes: 10_000_000 },
            Cell::Text("Hélène".as_bytes().to_vec()),
        ]);
        assert_eq!(r.text(0), Ok(None));
        assert_eq!(r.text(1).unwrap().unwrap(), "612345678");
        assert_eq!(r.text(2).unwrap().unwrap(), "31.5");
        assert_eq!(r.text(3), Err(FieldError::InvalidUtf8));
        assert_eq!(r.text(4), Err(FieldError::Blob));
        assert_eq!(r.text(5), Err(FieldError::Oversized(10_000_000)));
        assert_eq!(r.text(6).unwrap().unwrap(), "Hélène");
        assert_eq!(r.text(99), Ok(None), "a missing column reads as NULL");
    }

    #[test]
    fn integer_keys() {
        let r = row(vec![
            Cell::Integer(7),
            Cell::Text(b" 12 ".to_vec()),
            Cell::Text(b"douze".to_vec()),
            Cell::Real(3.0),
            Cell::Text(b"".to_vec()),
        ]);
        assert_eq!(r.integer(0), Ok(Some(7)));
        assert_eq!(r.integer(1), Ok(Some(12)));
        assert!(matches!(r.integer(2), Err(FieldError::NotInteger(_))));
        assert_eq!(r.integer(3), Ok(Some(3)));
        assert_eq!(r.integer(4), Ok(None));
    }
}
