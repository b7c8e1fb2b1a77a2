//! Notation (Notary Project) signatures: the JWS envelope with the `notary.x509` signing
//! scheme ([`envelope`]), X.509 certificates for it ([`cert`]), trust stores and trust
//! policies as notation reads them ([`policy`]), and signing and verifying an image's
//! signature stored as an OCI referrer ([`image`]).

pub mod cert;
pub mod envelope;
pub mod image;
pub mod policy;

pub use cert::{CertChain, CertRequest, make_chain};
pub use envelope::{SignedEnvelope, VerifiedEnvelope};
pub use image::{NotationSignature, Verification, VerifiedNotation, sign_image, verify_image};
pub use policy::{TrustPolicyDocument, TrustStore, VerificationLevel};

/// The artifact type of a Notation signature manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The media type of the JWS envelope layer.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// The content type of the signed payload.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// The annotation listing the SHA-256 thumbprints of the certificate chain.
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
/// The signing scheme Kiln produces.
pub const SIGNING_SCHEME_X509: &str = "notary.x509";

/// What went wrong with a Notation signature.
#[derive(Debug, thiserror::Error)]
pub enum NotationError {
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    #[error("signature envelope: {0}")]
    Envelope(String),
    #[error("trust policy {path}: {reason}")]
    Policy { path: String, reason: String },
    #[error("trust store {path}: {reason}")]
    TrustStore { path: String, reason: String },
    #[error("verification failed: {0}")]
    Verification(String),
    #[error(transparent)]
    Sign(#[from] crate::SignError),
    #[error(transparent)]
    Oci(#[from] kiln_oci::OciError),
}
