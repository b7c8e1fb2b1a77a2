//! The decision: allowed or not, and every reason as data.

use serde::{Deserialize, Serialize};

use crate::document::Mode;

/// Why a rule failed (or what to warn about), machine-readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    /// The image reference could not be parsed.
    InvalidImage,
    /// The evidence names no digest, so nothing verified is bound to the image.
    MissingDigest,
    /// No rule covers the image and `defaultAction` decided.
    NoMatchingRule,
    /// The image matched an exclusion.
    Excluded,
    /// Fewer required signers signed the image than the rule asks.
    MissingSignature,
    /// No attestation of the required predicate type.
    MissingAttestation,
    /// Attestations of the type exist but none from a trusted signer.
    UntrustedAttestation,
    /// The attestation's statement is not about this digest or this predicate type.
    StatementMismatch,
    /// A Rego condition did not hold.
    ConditionFailed,
    /// A Rego condition could not be evaluated (fail closed).
    RegoError,
    /// The registry (or layout) holding the image could not be read.
    RegistryError,
    /// Collecting the evidence took longer than the time budget.
    Timeout,
    /// A signature was found but did not verify (tampered, malformed, or another key's).
    SignatureInvalid,
    /// An attestation was found but did not verify (tampered, malformed, or another key's).
    AttestationInvalid,
    /// A signer's key could not be obtained (KMS unreachable, unsupported backend).
    SignerUnavailable,
}

impl ReasonCode {
    /// The code as it appears in JSON (`missing-signature`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::InvalidImage => "invalid-image",
            ReasonCode::MissingDigest => "missing-digest",
            ReasonCode::NoMatchingRule => "no-matching-rule",
            ReasonCode::Excluded => "excluded",
            ReasonCode::MissingSignature => "missing-signature",
            ReasonCode::MissingAttestation => "missing-attestation",
            ReasonCode::UntrustedAttestation => "untrusted-attestation",
            ReasonCode::StatementMismatch => "statement-mismatch",
            ReasonCode::ConditionFailed => "condition-failed",
            ReasonCode::RegoError => "rego-error",
            ReasonCode::RegistryError => "registry-error",
            ReasonCode::Timeout => "timeout",
            ReasonCode::SignatureInvalid => "signature-invalid",
            ReasonCode::AttestationInvalid => "attestation-invalid",
            ReasonCode::SignerUnavailable => "signer-unavailable",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_json() {
        for c in [
            ReasonCode::InvalidImage,
            ReasonCode::MissingDigest,
            ReasonCode::NoMatchingRule,
            ReasonCode::Excluded,
            ReasonCode::MissingSignature,
            ReasonCode::MissingAttestation,
            ReasonCode::UntrustedAttestation,
            ReasonCode::StatementMismatch,
            ReasonCode::ConditionFailed,
            ReasonCode::RegoError,
            ReasonCode::RegistryError,
            ReasonCode::Timeout,
            ReasonCode::SignatureInvalid,
            ReasonCode::AttestationInvalid,
            ReasonCode::SignerUnavailable,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}

/// One reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    /// The rule that produced it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub code: ReasonCode,
    pub message: String,
}

/// The outcome of evaluating a policy against evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub allowed: bool,
    /// The policy's mode.
    pub mode: Mode,
    /// Names of the rules that covered the image.
    pub matched_rules: Vec<String>,
    /// Why it was denied (empty when allowed).
    pub reasons: Vec<Reason>,
    /// Failures that did not deny (audit mode), exclusions, defaults.
    pub warnings: Vec<Reason>,
}
