//! in-toto Statements (v1 written; v0.1 also read) and the predicate types Kiln attests:
//! SPDX and CycloneDX SBOMs, SLSA provenance v1, the cosign vuln predicate, OpenVEX and
//! custom JSON, each checked for its basic shape before it is signed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_oci::Digest;

/// in-toto Statement v1 `_type`.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// in-toto Statement v0.1 `_type` (accepted when verifying).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// The predicate kinds `kiln attest --type` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PredicateKind {
    Spdx,
    CycloneDx,
    SlsaProvenanceV1,
    /// SLSA provenance v0.2 (what cosign's `slsaprovenance` writes).
    SlsaProvenanceV02,
    CosignVuln,
    OpenVex,
    /// cosign's custom predicate type.
    Custom,
    /// Any other predicate type URI.
    Uri(String),
}

/// (name on the command line, kind, predicate type URI).
const TABLE: &[(&str, PredicateKind, &str)] = &[
    ("spdx", PredicateKind::Spdx, "https://spdx.dev/Document"),
    ("spdxjson", PredicateKind::Spdx, "https://spdx.dev/Document"),
    (
        "cyclonedx",
        PredicateKind::CycloneDx,
        "https://cyclonedx.org/bom",
    ),
    (
        "slsaprovenance",
        PredicateKind::SlsaProvenanceV1,
        "https://slsa.dev/provenance/v1",
    ),
    (
        "slsaprovenance1",
        PredicateKind::SlsaProvenanceV1,
        "https://slsa.dev/provenance/v1",
    ),
    (
        "slsaprovenance02",
        PredicateKind::SlsaProvenanceV02,
        "https://slsa.dev/provenance/v0.2",
    ),
    (
        "vuln",
        PredicateKind::CosignVuln,
        "https://cosign.sigstore.dev/attestation/vuln/v1",
    ),
    ("openvex", PredicateKind::OpenVex, "https://openvex.dev/ns"),
    (
        "custom",
        PredicateKind::Custom,
        "https://cosign.sigstore.dev/attestation/v1",
    ),
];

/// Problems with a statement or predicate.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(
        "unknown attestation type {0:?} (sbom, spdx, cyclonedx, slsaprovenance, vuln, openvex, custom or a URI)"
    )]
    UnknownType(String),
    #[error("predicate is not a {kind}: {reason}")]
    BadPredicate { kind: String, reason: String },
    #[error("malformed in-toto statement: {0}")]
    Malformed(String),
    #[error("statement subject does not name the image {expected} (subjects: {found})")]
    SubjectMismatch { expected: String, found: String },
    #[error("statement predicate type is {found:?}, expected {expected:?}")]
    PredicateTypeMismatch { found: String, expected: String },
}

impl PredicateKind {
    /// The predicate type URI.
    pub fn uri(&self) -> &str {
        if let PredicateKind::Uri(u) = self {
            return u;
        }
        TABLE
            .iter()
            .find(|(_, k, _)| k == self)
            .map(|(_, _, u)| *u)
            .unwrap_or_default()
    }

    /// Resolves `--type` to a kind; `sbom` picks SPDX or CycloneDX from the document.
    pub fn from_cli(name: &str, predicate: &Value) -> Result<PredicateKind, StatementError> {
        let lower = name.to_ascii_lowercase();
        if lower == "sbom" {
            return if predicate.get("spdxVersion").is_some() {
                Ok(PredicateKind::Spdx)
            } else if predicate.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
                Ok(PredicateKind::CycloneDx)
            } else {
                Err(StatementError::BadPredicate {
                    kind: "SBOM".into(),
                    reason: "neither SPDX (spdxVersion) nor CycloneDX (bomFormat)".into(),
                })
            };
        }
        if let Some((_, k, _)) = TABLE.iter().find(|(n, _, _)| *n == lower) {
            return Ok(k.clone());
        }
        if name.contains("://") {
            return Ok(PredicateKind::Uri(name.to_string()));
        }
        Err(StatementError::UnknownType(name.to_string()))
    }

    /// The predicate type URI a `--attestation TYPE` filter names (`sbom` names both SBOM
    /// types, so it returns `None` there and callers match either).
    pub fn uri_for_filter(name: &str) -> Result<Option<Vec<String>>, StatementError> {
        let lower = name.to_ascii_lowercase();
        if lower == "sbom" {
            return Ok(Some(vec![
                PredicateKind::Spdx.uri().into(),
                PredicateKind::CycloneDx.uri().into(),
            ]));
        }
        if let Some((_, k, _)) = TABLE.iter().find(|(n, _, _)| *n == lower) {
            return Ok(Some(vec![k.uri().to_string()]));
        }
        if name.contains("://") {
            return Ok(Some(vec![name.to_string()]));
        }
        Err(StatementError::UnknownType(name.to_string()))
    }

    /// Checks the predicate's basic shape for its kind.
    pub fn check(&self, predicate: &Value) -> Result<(), StatementError> {
        let need = |kind: &str, fields: &[&str]| {
            if !predicate.is_object() {
                return Err(StatementError::BadPredicate {
                    kind: kind.into(),
                    reason: "not a JSON object".into(),
                });
            }
            for f in fields {
                if predicate.get(f).is_none() {
                    return Err(StatementError::BadPredicate {
                        kind: kind.into(),
                        reason: format!("field {f:?} is missing"),
                    });
                }
            }
            Ok(())
        };
        match self {
            PredicateKind::Spdx => need("SPDX document", &["spdxVersion", "SPDXID"]),
            PredicateKind::CycloneDx => {
                need("CycloneDX BOM", &["bomFormat", "specVersion"])?;
                if predicate["bomFormat"] != "CycloneDX" {
                    return Err(StatementError::BadPredicate {
                        kind: "CycloneDX BOM".into(),
                        reason: "bomFormat is not \"CycloneDX\"".into(),
                    });
                }
                Ok(())
            }
            PredicateKind::SlsaProvenanceV1 => {
                need("SLSA provenance v1", &["buildDefinition", "runDetails"])
            }
            PredicateKind::SlsaProvenanceV02 => {
                need("SLSA provenance v0.2", &["builder", "buildType"])
            }
            PredicateKind::CosignVuln => need("cosign vuln predicate", &["scanner"]),
            PredicateKind::OpenVex => need("OpenVEX document", &["@context", "statements"]),
            PredicateKind::Custom | PredicateKind::Uri(_) => need("JSON object", &[]),
        }
    }
}

/// An in-toto subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub name: String,
    pub digest: std::collections::BTreeMap<String, String>,
}

/// An in-toto Statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: Value,
}

impl Statement {
    /// A v1 statement about the image `name@digest`.
    pub fn new(
        name: &str,
        digest: &Digest,
        kind: &PredicateKind,
        predicate: Value,
    ) -> Result<Statement, StatementError> {
        kind.check(&predicate)?;
        Ok(Statement {
            type_: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: name.to_string(),
                digest: [(
                    digest.algorithm().as_str().to_string(),
                    digest.hex().to_string(),
                )]
                .into(),
            }],
            predicate_type: kind.uri().to_string(),
            predicate,
        })
    }

    /// Serializes the statement (the DSSE payload).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a statement payload (v1 or v0.1).
    pub fn parse(payload: &[u8]) -> Result<Statement, StatementError> {
        let s: Statement = serde_json::from_slice(payload)
            .map_err(|e| StatementError::Malformed(e.to_string()))?;
        if s.type_ != STATEMENT_V1 && s.type_ != STATEMENT_V01 {
            return Err(StatementError::Malformed(format!(
                "unknown _type {:?}",
                s.type_
            )));
        }
        if s.subject.is_empty() {
            return Err(StatementError::Malformed("no subject".into()));
        }
        if s.predicate_type.is_empty() {
            return Err(StatementError::Malformed("empty predicateType".into()));
        }
        Ok(s)
    }

    /// Checks that a subject names `digest`.
    pub fn check_subject(&self, digest: &Digest) -> Result<(), StatementError> {
        let alg = digest.algorithm().as_str();
        if self
            .subject
            .iter()
            .any(|s| s.digest.get(alg).map(String::as_str) == Some(digest.hex()))
        {
            return Ok(());
        }
        let found = self
            .subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect::<Vec<_>>()
            .join(", ");
        Err(StatementError::SubjectMismatch {
            expected: digest.to_string(),
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_and_shapes() {
        let spdx = json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"});
        assert_eq!(
            PredicateKind::from_cli("sbom", &spdx).unwrap(),
            PredicateKind::Spdx
        );
        let cdx = json!({"bomFormat": "CycloneDX", "specVersion": "1.6"});
        assert_eq!(
            PredicateKind::from_cli("sbom", &cdx).unwrap(),
            PredicateKind::CycloneDx
        );
        assert!(PredicateKind::from_cli("sbom", &json!({})).is_err());
        assert!(PredicateKind::from_cli("nonsense", &json!({})).is_err());
        assert_eq!(
            PredicateKind::from_cli("vuln", &json!({})).unwrap().uri(),
            "https://cosign.sigstore.dev/attestation/vuln/v1"
        );
        assert!(
            PredicateKind::SlsaProvenanceV1
                .check(&json!({"buildDefinition": {}}))
                .is_err()
        );
        assert!(
            PredicateKind::OpenVex
                .check(&json!({"@context": "x", "statements": []}))
                .is_ok()
        );
    }

    #[test]
    fn subject_must_match() {
        let d = Digest::sha256(b"image");
        let s = Statement::new("reg/app", &d, &PredicateKind::Custom, json!({"a": 1})).unwrap();
        let back = Statement::parse(&s.to_json()).unwrap();
        back.check_subject(&d).unwrap();
        assert!(matches!(
            back.check_subject(&Digest::sha256(b"other")),
            Err(StatementError::SubjectMismatch { .. })
        ));
        let v01 = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicateType":"p","predicate":{}}"#;
        assert!(Statement::parse(v01).is_ok());
        assert!(Statement::parse(br#"{"_type":"x","subject":[],"predicateType":"p"}"#).is_err());
    }
}
