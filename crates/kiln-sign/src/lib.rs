//! Signing for Kiln: key providers behind the [`signer::Signer`] trait, cosign and Notation
//! signatures, DSSE envelopes and in-toto attestations, and their storage in any
//! [`kiln_oci::ImageStore`].

pub mod cosign;
pub mod dsse;
pub mod error;
pub mod intoto;
pub mod keys;
pub mod notation;
pub mod signer;
pub mod verify;

pub use error::SignError;
pub use signer::{SignatureAlgorithm, Signer};
