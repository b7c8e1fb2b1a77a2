//! The error type of signing and verification.

/// What went wrong signing or verifying.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("key {key}: {reason}")]
    Key { key: String, reason: String },
    #[error("signing with {key} failed: {reason}")]
    Signing { key: String, reason: String },
    #[error("verification failed: {0}")]
    Verification(String),
    #[error(transparent)]
    Oci(#[from] kiln_oci::OciError),
}
