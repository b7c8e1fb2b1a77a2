//! The error type of every operation in this crate.

use std::path::PathBuf;

/// Result with [`OciError`].
pub type Result<T, E = OciError> = std::result::Result<T, E>;

/// What went wrong reading or writing OCI content. Each variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest { input: String, reason: String },

    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("unknown media type {media_type:?} in {what}")]
    UnknownMediaType { media_type: String, what: String },

    #[error("malformed {what}: {reason}")]
    Malformed { what: String, reason: String },

    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge { what: String, size: u64, limit: u64 },

    #[error("invalid image reference {input:?}: {reason}")]
    InvalidReference { input: String, reason: String },

    #[error("not found: {0}")]
    NotFound(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },

    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl OciError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        OciError::Io {
            path: path.into(),
            source,
        }
    }

    /// Malformed content, naming what it was.
    pub fn malformed(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        OciError::Malformed {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
