//! DSSE (Dead Simple Signing Envelope): the pre-authentication encoding (PAE), the
//! envelope JSON, signing with any [`Signer`] and verification with a [`PublicKey`].
//! Standard and URL-safe base64 (padded or not) are accepted when reading.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;
use crate::signer::Signer;

/// The payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The media type of a DSSE envelope stored as an OCI layer.
pub const ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The largest envelope Kiln parses.
pub const MAX_ENVELOPE_BYTES: usize = 32 * 1024 * 1024;

/// What is wrong with an envelope.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    #[error("malformed DSSE envelope: {0}")]
    Malformed(String),
    #[error("DSSE payload type is {found:?}, expected {expected:?}")]
    PayloadType { found: String, expected: String },
    #[error("no DSSE signature verifies with the key ({0})")]
    NoValidSignature(String),
}

/// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// Decodes base64 in any of the alphabets DSSE allows.
pub fn decode_b64(text: &str) -> Option<Vec<u8>> {
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    payload_type: String,
    payload: String,
    signatures: Vec<WireSig>,
}

#[derive(Serialize, Deserialize)]
struct WireSig {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    pub keyid: String,
    pub sig: Vec<u8>,
}

/// A DSSE envelope (payload and signatures decoded, not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// Signs `payload` with `signer`. The key id is left empty, as cosign writes it.
    pub async fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<Envelope, crate::SignError> {
        let sig = signer.sign(&pae(payload_type, &payload)).await?;
        Ok(Envelope {
            payload_type: payload_type.to_string(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig,
            }],
        })
    }

    /// Parses envelope JSON.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, DsseError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(DsseError::Malformed(format!(
                "{} bytes is too large",
                bytes.len()
            )));
        }
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| DsseError::Malformed(e.to_string()))?;
        let payload = decode_b64(&wire.payload)
            .ok_or_else(|| DsseError::Malformed("payload is not base64".into()))?;
        let signatures = wire
            .signatures
            .into_iter()
            .map(|s| {
                Ok(EnvelopeSignature {
                    sig: decode_b64(&s.sig)
                        .ok_or_else(|| DsseError::Malformed("a signature is not base64".into()))?,
                    keyid: s.keyid,
                })
            })
            .collect::<Result<Vec<_>, DsseError>>()?;
        if signatures.is_empty() {
            return Err(DsseError::Malformed(
                "the envelope has no signatures".into(),
            ));
        }
        Ok(Envelope {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }

    /// The envelope JSON (standard base64), as cosign writes it.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = Wire {
            payload_type: self.payload_type.clone(),
            payload: STANDARD.encode(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSig {
                    keyid: s.keyid.clone(),
                    sig: STANDARD.encode(&s.sig),
                })
                .collect(),
        };
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Checks that some signature verifies over the PAE with `key` and that the payload
    /// type is `expected_type`; returns the payload.
    pub fn verify(&self, key: &PublicKey, expected_type: &str) -> Result<&[u8], DsseError> {
        if self.payload_type != expected_type {
            return Err(DsseError::PayloadType {
                found: self.payload_type.clone(),
                expected: expected_type.to_string(),
            });
        }
        let message = pae(&self.payload_type, &self.payload);
        let mut last = String::from("no signatures");
        for s in &self.signatures {
            match key.verify(&message, &s.sig) {
                Ok(()) => return Ok(&self.payload),
                Err(e) => last = e.to_string(),
            }
        }
        Err(DsseError::NoValidSignature(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn url_safe_and_unpadded_base64_are_accepted() {
        assert_eq!(decode_b64("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_b64("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert!(decode_b64("!!").is_none());
    }

    #[tokio::test]
    async fn sign_verify_and_tamper() {
        let key =
            crate::keys::PrivateKey::generate(crate::SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let signer = crate::keys::file::FileSigner::new(key, "test");
        let env = Envelope::sign(INTOTO_PAYLOAD_TYPE, b"{}".to_vec(), &signer)
            .await
            .unwrap();
        let public = signer.key().public_key();
        let back = Envelope::parse(&env.to_json()).unwrap();
        assert_eq!(back.verify(&public, INTOTO_PAYLOAD_TYPE).unwrap(), b"{}");
        let mut changed = back.clone();
        changed.payload = b"{ }".to_vec();
        assert!(matches!(
            changed.verify(&public, INTOTO_PAYLOAD_TYPE),
            Err(DsseError::NoValidSignature(_))
        ));
        let mut retyped = back.clone();
        retyped.payload_type = "text/plain".into();
        assert!(matches!(
            retyped.verify(&public, INTOTO_PAYLOAD_TYPE),
            Err(DsseError::PayloadType { .. })
        ));
        assert!(
            Envelope::parse(b"{\"payloadType\":\"x\",\"payload\":\"e30=\",\"signatures\":[]}")
                .is_err()
        );
        assert!(Envelope::parse(b"not json").is_err());
    }
}
