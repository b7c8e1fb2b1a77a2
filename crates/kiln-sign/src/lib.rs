//! Signing for Kiln: key providers behind the [`signer::Signer`] trait, cosign and Notation
//! signatures, DSSE envelopes and in-toto attestations, and their storage in any
//! [`kiln_oci::ImageStore`].

pub mod error;
pub mod signer;

pub use error::SignError;
pub use signer::{SignatureAlgorithm, Signer};
