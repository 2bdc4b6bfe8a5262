//! One error type for all engines.
//!
//! Each variant corresponds to one Python exception class in `python/minide/errors.py`; the mapping
//! lives in `rust/bindings/src/errors.rs`. Messages say *what* went wrong and *where* (file, offset,
//! column, line) so the user can act on them without a debugger.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes on disk (or on the wire) do not decode: bad magic, checksum mismatch, truncated record,
    /// a length field pointing past the end. Never decode such data into values.
    #[error("{}{what}", fmt_location(path.as_deref(), *offset))]
    Corrupt {
        what: String,
        path: Option<PathBuf>,
        offset: Option<u64>,
    },
    /// Data does not fit the declared or expected schema (unknown column, incompatible types).
    #[error("{0}")]
    Schema(String),
    /// A caller passed an argument that cannot work (bad option value, wrong type of input).
    #[error("{0}")]
    InvalidArgument(String),
    /// Valid input that this version of minide does not implement yet.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// Operation on a store, file or handle that was closed.
    #[error("{0} is closed")]
    Closed(String),
    /// An operating-system I/O failure, with the path it happened on.
    #[error("{}{source}", fmt_location(path.as_deref(), None))]
    Io {
        source: std::io::Error,
        path: Option<PathBuf>,
    },
}

fn fmt_location(path: Option<&Path>, offset: Option<u64>) -> String {
    match (path, offset) {
        (Some(p), Some(o)) => format!("{} (at byte {o}): ", p.display()),
        (Some(p), None) => format!("{}: ", p.display()),
        (None, Some(o)) => format!("at byte {o}: "),
        (None, None) => String::new(),
    }
}

impl Error {
    /// A corruption error without location; add one with [`Error::at_path`] / [`Error::at_offset`].
    pub fn corrupt(what: impl Into<String>) -> Self {
        Error::Corrupt {
            what: what.into(),
            path: None,
            offset: None,
        }
    }

    pub fn schema(msg: impl Into<String>) -> Self {
        Error::Schema(msg.into())
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub fn unsupported(msg: impl Into<String>) -> Self {
        Error::Unsupported(msg.into())
    }

    pub fn io(source: std::io::Error, path: impl AsRef<Path>) -> Self {
        Error::Io {
            source,
            path: Some(path.as_ref().to_path_buf()),
        }
    }

    /// Attach the file a corruption or I/O error happened in (keeps an existing path).
    pub fn at_path(self, p: impl AsRef<Path>) -> Self {
        match self {
            Error::Corrupt { what, path, offset } => Error::Corrupt {
                what,
                path: path.or_else(|| Some(p.as_ref().to_path_buf())),
                offset,
            },
            Error::Io { source, path } => Error::Io {
                source,
                path: path.or_else(|| Some(p.as_ref().to_path_buf())),
            },
            other => other,
        }
    }

    /// Attach the byte offset a corruption was found at (keeps an existing offset).
    pub fn at_offset(self, off: u64) -> Self {
        match self {
            Error::Corrupt { what, path, offset } => Error::Corrupt {
                what,
                path,
                offset: offset.or(Some(off)),
            },
            other => other,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io { source, path: None }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        use arrow_schema::ArrowError as A;
        match e {
            A::SchemaError(m) | A::InvalidArgumentError(m) | A::CastError(m) => Error::Schema(m),
            A::NotYetImplemented(m) => Error::Unsupported(m),
            A::IoError(m, source) => Error::Io {
                source: std::io::Error::new(source.kind(), m),
                path: None,
            },
            other => Error::InvalidArgument(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_message_names_file_and_offset() {
        let e = Error::corrupt("bad magic")
            .at_path("/tmp/x.parquet")
            .at_offset(12);
        assert_eq!(e.to_string(), "/tmp/x.parquet (at byte 12): bad magic");
        // A second location does not overwrite the first, innermost one.
        let e = e.at_path("/other").at_offset(99);
        assert_eq!(e.to_string(), "/tmp/x.parquet (at byte 12): bad magic");
    }

    #[test]
    fn io_message_names_path() {
        let e = Error::io(std::io::Error::from(std::io::ErrorKind::NotFound), "/nope");
        assert!(e.to_string().starts_with("/nope: "), "{e}");
    }
}
