//! The cosign simple-signing payload (sigstore/cosign specs/SIGNATURE_SPEC.md): the JSON
//! document a cosign signature signs, naming the image by repository and manifest digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use kiln_oci::Digest;

/// The `critical.type` value of a cosign signature payload.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";
/// The layer media type of a simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// A simple-signing payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    pub critical: Critical,
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// The part of the payload a verifier must check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: Image,
    #[serde(rename = "type")]
    pub type_: String,
}

/// The signed repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// The signed manifest digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// Why a payload is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed simple-signing payload: {0}")]
    Malformed(String),
    #[error("payload type is {0:?}, not {COSIGN_SIGNATURE_TYPE:?}")]
    WrongType(String),
    #[error("payload signs image {found}, not {expected}")]
    DigestMismatch { found: String, expected: String },
}

impl SimpleSigning {
    /// The payload for `digest` in repository `docker_reference`, exactly as cosign
    /// writes it (no optional annotations: `"optional":null`).
    pub fn new(docker_reference: &str, digest: &Digest) -> SimpleSigning {
        SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: docker_reference.to_string(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                type_: COSIGN_SIGNATURE_TYPE.to_string(),
            },
            optional: None,
        }
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a payload and checks that it is a cosign signature of `expected`.
    pub fn parse_for(bytes: &[u8], expected: &Digest) -> Result<SimpleSigning, PayloadError> {
        let p: SimpleSigning =
            serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
        if p.critical.type_ != COSIGN_SIGNATURE_TYPE {
            return Err(PayloadError::WrongType(p.critical.type_));
        }
        let found = &p.critical.image.docker_manifest_digest;
        if Digest::parse(found).ok().as_ref() != Some(expected) {
            return Err(PayloadError::DigestMismatch {
                found: found.clone(),
                expected: expected.to_string(),
            });
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_exactly_cosigns() {
        let d = Digest::parse(
            "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00",
        )
        .unwrap();
        let p = SimpleSigning::new("192.168.64.2:5000/cosign-signed-single-sample", &d);
        assert_eq!(
            String::from_utf8(p.to_bytes()).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"192.168.64.2:5000/cosign-signed-single-sample"},"image":{"docker-manifest-digest":"sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"},"type":"cosign container image signature"},"optional":null}"#
        );
        assert!(SimpleSigning::parse_for(&p.to_bytes(), &d).is_ok());
        assert!(matches!(
            SimpleSigning::parse_for(&p.to_bytes(), &Digest::sha256(b"x")),
            Err(PayloadError::DigestMismatch { .. })
        ));
        assert!(SimpleSigning::parse_for(b"[]", &d).is_err());
    }
}
