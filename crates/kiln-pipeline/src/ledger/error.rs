//! The errors of the evidence ledger.

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The URL is neither `sqlite://PATH` nor `postgres://…`.
    #[error("ledger URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The database could not be reached or opened.
    #[error("cannot open the ledger at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The migrations failed.
    #[error("cannot migrate the ledger at {url}: {reason}")]
    Migrate { url: String, reason: String },
    /// A query failed.
    #[error("ledger {operation} failed: {source}")]
    Query {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// No run has this id.
    #[error("no run {0} in the ledger")]
    UnknownRun(String),
    /// The run already finished; its outcome is not rewritten.
    #[error("run {0} has already finished")]
    Finished(String),
    /// A value the caller gave cannot be stored.
    #[error("ledger {operation}: {reason}")]
    Invalid {
        operation: &'static str,
        reason: String,
    },
    /// A row holds something this version does not understand.
    #[error("ledger row of run {run}: {reason}")]
    Corrupt { run: String, reason: String },
}

impl LedgerError {
    pub(crate) fn query(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LedgerError {
        move |source| LedgerError::Query { operation, source }
    }
}
