//! The errors of the evidence store.

/// Why an evidence store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The store URL is not a directory, `file://DIR` or `s3://BUCKET/PREFIX`.
    #[error("evidence store {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// A run id, object name or media type that cannot be stored.
    #[error("evidence {what} {value:?}: {reason}")]
    BadName {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// The wrapping key could not be loaded, created or reached.
    #[error("evidence key {key}: {reason}")]
    Key { key: String, reason: String },
    /// The object does not exist.
    #[error("no evidence {name:?} for run {run_id}")]
    NotFound { run_id: String, name: String },
    /// The object exists already; evidence is written once.
    #[error("evidence {name:?} of run {run_id} exists already")]
    Exists { run_id: String, name: String },
    /// Reading or writing the store failed.
    #[error("evidence store {location}: {reason}")]
    Store { location: String, reason: String },
    /// The object's header is unreadable or does not describe this object.
    #[error("evidence {name:?} of run {run_id}: bad header: {reason}")]
    BadHeader {
        run_id: String,
        name: String,
        reason: String,
    },
    /// The object was wrapped by another key than the one configured.
    #[error(
        "evidence {name:?} of run {run_id} was encrypted with key {stored} ({wrapping}), not the configured {configured}"
    )]
    WrongKey {
        run_id: String,
        name: String,
        wrapping: String,
        stored: String,
        configured: String,
    },
    /// Authentication failed: the ciphertext, its header or its key was altered, or the
    /// object was moved from another run or name.
    #[error("evidence {name:?} of run {run_id} does not decrypt: {reason}")]
    Decrypt {
        run_id: String,
        name: String,
        reason: String,
    },
    /// The store was opened without a key; only listing and raw reads work.
    #[error("no evidence key configured: cannot {0}")]
    NoKey(&'static str),
}
