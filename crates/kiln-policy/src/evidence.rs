//! The verified evidence a decision is made on: the image, its digest, and the signatures
//! and attestations that verification accepted, as plain data. Producing it (checking
//! signatures) is the signing stage's job; this crate trusts it as given.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::signer::der_fingerprint;

/// Who made a verified signature. Any of the fields may be known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignerIdentity {
    /// The signer's public key, DER SubjectPublicKeyInfo in standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_spki: Option<String>,
    /// `sha256:HEX` of the DER SubjectPublicKeyInfo (derived from `publicKeySpki` if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    /// The KMS key reference that signed (`awskms:///...`, `pkcs11:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// `sha256:HEX` of the DER signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_fingerprint: Option<String>,
    /// The X.509 subject of the signing certificate (Notation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `sha256:HEX` of every DER certificate of the verified chain, CA included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain_fingerprints: Vec<String>,
}

impl SignerIdentity {
    /// The key fingerprint, given or computed from the SPKI. `None` when the SPKI is not
    /// valid base64 (which then matches no key).
    pub fn key_fingerprint(&self) -> Option<String> {
        if let Some(spki) = &self.public_key_spki {
            let der = base64::engine::general_purpose::STANDARD
                .decode(spki)
                .ok()?;
            let fp = der_fingerprint(&der);
            // Both given and disagreeing: trust neither.
            if self.key_fingerprint.as_ref().is_some_and(|k| *k != fp) {
                return None;
            }
            return Some(fp);
        }
        self.key_fingerprint.clone()
    }
}

/// A signature over the image that verification accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifiedSignature {
    pub signer: SignerIdentity,
    /// `cosign` or `notation`, for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// An attestation whose envelope verification accepted, with its in-toto statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifiedAttestation {
    pub predicate_type: String,
    pub signer: SignerIdentity,
    /// `cosign` (tag scheme) or `bundle`, for signers with a `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The in-toto statement (`_type`, `subject`, `predicateType`, `predicate`).
    pub statement: serde_json::Value,
}

/// Everything a decision is made on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Evidence {
    /// The image reference as deployed (`registry/repository[:tag][@digest]`).
    pub image: String,
    /// The digest verification resolved the reference to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The Kubernetes namespace, when deciding for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub signatures: Vec<VerifiedSignature>,
    #[serde(default)]
    pub attestations: Vec<VerifiedAttestation>,
}
