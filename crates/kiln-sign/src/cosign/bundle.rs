//! Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) for key-based
//! signing, offline: a public-key hint, no transparency log entries, and either a message
//! signature over the image manifest bytes (whose SHA-256 is the image digest) or a DSSE
//! envelope (attestations).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::dsse::{Envelope, EnvelopeSignature, decode_b64};
use crate::keys::PublicKey;

/// The bundle media type (also the referrer's artifact type).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Referrer annotation naming what the bundle holds.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// Referrer annotation naming an attestation bundle's predicate type.
pub const PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// The bundle document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<DsseJson>,
}

/// Key material: a public-key hint only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    pub public_key: PublicKeyHint,
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

/// A public-key identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    pub hint: String,
}

/// A signature over a message given by its digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    pub message_digest: MessageDigest,
    pub signature: String,
}

/// The signed message's digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDigest {
    pub algorithm: String,
    pub digest: String,
}

/// A DSSE envelope in the bundle's protobuf-JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DsseJson {
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<DsseSigJson>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DsseSigJson {
    pub sig: String,
    #[serde(default)]
    pub keyid: String,
}

/// The hint for a public key: base64 SHA-256 of its DER SubjectPublicKeyInfo.
pub fn key_hint(key: &PublicKey) -> String {
    use sha2::Digest as _;
    STANDARD.encode(sha2::Sha256::digest(key.to_spki_der()))
}

impl Bundle {
    fn base(key: &PublicKey) -> Bundle {
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE.to_string(),
            verification_material: VerificationMaterial {
                public_key: PublicKeyHint {
                    hint: key_hint(key),
                },
                tlog_entries: Vec::new(),
            },
            message_signature: None,
            dsse_envelope: None,
        }
    }

    /// A bundle with a message signature over a message whose SHA-256 is `sha256`.
    pub fn message(key: &PublicKey, sha256: &[u8], signature: &[u8]) -> Bundle {
        let mut b = Self::base(key);
        b.message_signature = Some(MessageSignature {
            message_digest: MessageDigest {
                algorithm: "SHA2_256".into(),
                digest: STANDARD.encode(sha256),
            },
            signature: STANDARD.encode(signature),
        });
        b
    }

    /// A bundle holding a DSSE envelope.
    pub fn dsse(key: &PublicKey, env: &Envelope) -> Bundle {
        let mut b = Self::base(key);
        b.dsse_envelope = Some(DsseJson {
            payload: STANDARD.encode(&env.payload),
            payload_type: env.payload_type.clone(),
            signatures: env
                .signatures
                .iter()
                .map(|s| DsseSigJson {
                    sig: STANDARD.encode(&s.sig),
                    keyid: s.keyid.clone(),
                })
                .collect(),
        });
        b
    }

    /// Serializes the bundle.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a bundle, requiring the v0.3 media type.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, String> {
        let b: Bundle =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed bundle: {e}"))?;
        if b.media_type != BUNDLE_MEDIA_TYPE {
            return Err(format!(
                "bundle media type {:?} is not {BUNDLE_MEDIA_TYPE}",
                b.media_type
            ));
        }
        Ok(b)
    }

    /// The DSSE envelope inside, decoded.
    pub fn envelope(&self) -> Result<Envelope, String> {
        let d = self
            .dsse_envelope
            .as_ref()
            .ok_or("the bundle holds no DSSE envelope")?;
        let payload = decode_b64(&d.payload).ok_or("DSSE payload is not base64")?;
        let signatures = d
            .signatures
            .iter()
            .map(|s| {
                Ok(EnvelopeSignature {
                    keyid: s.keyid.clone(),
                    sig: decode_b64(&s.sig).ok_or("DSSE signature is not base64")?,
                })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        if signatures.is_empty() {
            return Err("the DSSE envelope has no signatures".into());
        }
        Ok(Envelope {
            payload_type: d.payload_type.clone(),
            payload,
            signatures,
        })
    }
}
