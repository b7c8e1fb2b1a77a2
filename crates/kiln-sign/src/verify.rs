//! Verification of an image's signatures and attestations against a public key. What is
//! read from a store is unverified data; only [`VerifiedSignature`] and
//! [`VerifiedAttestation`] — built here and nowhere else — say that a check passed.
//! Verification fails closed: no signatures, or none that verifies, is an error carrying
//! the reason each candidate was rejected.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use kiln_oci::{Digest, ImageStore, Manifest};

use crate::cosign::bundle::Bundle;
use crate::cosign::payload::{SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning};
use crate::cosign::{BUNDLE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION, attach};
use crate::dsse::{ENVELOPE_MEDIA_TYPE, Envelope, INTOTO_PAYLOAD_TYPE};
use crate::intoto::Statement;
use crate::keys::PublicKey;

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no signatures found for {0}")]
    NoSignatures(String),
    #[error("no attestations{kind} found for {image}")]
    NoAttestations { image: String, kind: String },
    #[error("no valid {what} for {image}: {}", reasons.join("; "))]
    NoneValid {
        what: &'static str,
        image: String,
        reasons: Vec<String>,
    },
    #[error(transparent)]
    Oci(#[from] kiln_oci::OciError),
}

/// How a signature was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// cosign tag scheme.
    Cosign,
    /// Sigstore bundle referrer.
    Bundle,
}

/// A signature as found: not yet checked.
#[derive(Debug, Clone)]
pub struct UnverifiedSignature {
    /// Where it came from (for messages).
    pub source: String,
    pub format: Format,
    /// The signed bytes (simple-signing payload; for bundles, empty: the image manifest).
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    /// For bundles, the digest the bundle says it signs.
    pub message_digest: Option<Vec<u8>>,
}

/// A signature that verified with a key over the expected image. Only this module can
/// build one.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedSignature {
    image: Digest,
    format: Format,
    source: String,
    key_fingerprint: String,
    docker_reference: Option<String>,
}

impl VerifiedSignature {
    /// The image digest the signature covers (equal to the image verified).
    pub fn image(&self) -> &Digest {
        &self.image
    }
    /// How it was stored.
    pub fn format(&self) -> Format {
        self.format
    }
    /// SHA-256 of the verifying key's SPKI.
    pub fn key_fingerprint(&self) -> &str {
        &self.key_fingerprint
    }
    /// The repository the payload names (cosign format).
    pub fn docker_reference(&self) -> Option<&str> {
        self.docker_reference.as_deref()
    }
}

/// An attestation that verified: its statement names the image.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedAttestation {
    image: Digest,
    format: Format,
    source: String,
    key_fingerprint: String,
    predicate_type: String,
    statement: Statement,
}

impl VerifiedAttestation {
    /// The image digest.
    pub fn image(&self) -> &Digest {
        &self.image
    }
    /// The predicate type.
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }
    /// The verified statement.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
    /// How it was stored.
    pub fn format(&self) -> Format {
        self.format
    }
}

impl UnverifiedSignature {
    /// Checks the signature against `key` and the image `image` (manifest as fetched).
    pub fn verify(&self, key: &PublicKey, image: &Manifest) -> Result<VerifiedSignature, String> {
        match self.format {
            Format::Cosign => {
                key.verify(&self.payload, &self.signature)
                    .map_err(|e| e.to_string())?;
                let p = SimpleSigning::parse_for(&self.payload, &image.digest)
                    .map_err(|e| e.to_string())?;
                Ok(VerifiedSignature {
                    image: image.digest.clone(),
                    format: self.format,
                    source: self.source.clone(),
                    key_fingerprint: key.fingerprint(),
                    docker_reference: Some(p.critical.identity.docker_reference),
                })
            }
            Format::Bundle => {
                image
                    .digest
                    .verify(&image.bytes, "image manifest")
                    .map_err(|e| e.to_string())?;
                let claimed = self.message_digest.as_deref().unwrap_or_default();
                if claimed != image.digest.raw().as_slice() {
                    return Err(format!(
                        "bundle signs digest {}, not the image {}",
                        hex::encode(claimed),
                        image.digest
                    ));
                }
                key.verify(&image.bytes, &self.signature)
                    .map_err(|e| e.to_string())?;
                Ok(VerifiedSignature {
                    image: image.digest.clone(),
                    format: self.format,
                    source: self.source.clone(),
                    key_fingerprint: key.fingerprint(),
                    docker_reference: None,
                })
            }
        }
    }
}

/// Reads every signature stored for `image` (cosign tag and bundle referrers). Entries
/// that cannot even be decoded come back as `Err(reason)`.
pub async fn find_signatures(
    store: &dyn ImageStore,
    image: &Digest,
) -> Result<Vec<Result<UnverifiedSignature, String>>, VerifyError> {
    let mut out = Vec::new();
    for (layer, blob) in attach::read_layers(store, image, "sig").await? {
        let source = format!(
            "{} layer {}",
            attach::cosign_tag(image, "sig"),
            layer.digest
        );
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            out.push(Err(format!(
                "{source}: media type {} is not a simple-signing payload",
                layer.media_type
            )));
            continue;
        }
        let Some(b64) = layer.annotation(SIGNATURE_ANNOTATION) else {
            out.push(Err(format!(
                "{source}: no {SIGNATURE_ANNOTATION} annotation"
            )));
            continue;
        };
        match STANDARD.decode(b64.trim()) {
            Ok(signature) => out.push(Ok(UnverifiedSignature {
                source,
                format: Format::Cosign,
                payload: blob,
                signature,
                message_digest: None,
            })),
            Err(e) => out.push(Err(format!(
                "{source}: signature annotation is not base64 ({e})"
            ))),
        }
    }
    for (digest, blob) in attach::read_referrers(store, image, BUNDLE_MEDIA_TYPE).await? {
        let source = format!("bundle referrer {digest}");
        let b = match Bundle::parse(&blob) {
            Ok(b) => b,
            Err(e) => {
                out.push(Err(format!("{source}: {e}")));
                continue;
            }
        };
        let Some(ms) = b.message_signature else {
            continue;
        }; // DSSE bundles are attestations
        let decoded = (
            STANDARD.decode(&ms.message_digest.digest),
            STANDARD.decode(&ms.signature),
        );
        match decoded {
            (Ok(d), Ok(s)) if ms.message_digest.algorithm == "SHA2_256" => {
                out.push(Ok(UnverifiedSignature {
                    source,
                    format: Format::Bundle,
                    payload: Vec::new(),
                    signature: s,
                    message_digest: Some(d),
                }))
            }
            _ => out.push(Err(format!(
                "{source}: bad messageSignature (base64 or digest algorithm)"
            ))),
        }
    }
    Ok(out)
}

/// Verifies the signatures of `image` with `key`. Succeeds only if at least one verifies;
/// returns every one that does.
pub async fn verify_signatures(
    store: &dyn ImageStore,
    image: &Manifest,
    key: &PublicKey,
) -> Result<Vec<VerifiedSignature>, VerifyError> {
    let found = find_signatures(store, &image.digest).await?;
    if found.is_empty() {
        return Err(VerifyError::NoSignatures(image.digest.to_string()));
    }
    let mut ok = Vec::new();
    let mut reasons = Vec::new();
    for f in found {
        match f.and_then(|s| {
            s.verify(key, image)
                .map_err(|e| format!("{}: {e}", s.source))
        }) {
            Ok(v) => ok.push(v),
            Err(r) => reasons.push(r),
        }
    }
    if ok.is_empty() {
        return Err(VerifyError::NoneValid {
            what: "signature",
            image: image.digest.to_string(),
            reasons,
        });
    }
    Ok(ok)
}

/// Checks one DSSE envelope: signature, payload type, statement, subject, predicate type.
pub fn verify_envelope(
    env: &Envelope,
    key: &PublicKey,
    image: &Digest,
    predicate_types: Option<&[String]>,
) -> Result<Statement, String> {
    let payload = env
        .verify(key, INTOTO_PAYLOAD_TYPE)
        .map_err(|e| e.to_string())?;
    let st = Statement::parse(payload).map_err(|e| e.to_string())?;
    st.check_subject(image).map_err(|e| e.to_string())?;
    if let Some(types) = predicate_types
        && !types.contains(&st.predicate_type)
    {
        return Err(format!(
            "predicate type {} is not {}",
            st.predicate_type,
            types.join(" or ")
        ));
    }
    Ok(st)
}

/// Verifies the attestations of `image` with `key`, optionally only those of the given
/// predicate types. Succeeds only if at least one verifies.
pub async fn verify_attestations(
    store: &dyn ImageStore,
    image: &Manifest,
    key: &PublicKey,
    predicate_types: Option<&[String]>,
) -> Result<Vec<VerifiedAttestation>, VerifyError> {
    let mut candidates: Vec<(String, Format, Result<Envelope, String>)> = Vec::new();
    for (layer, blob) in attach::read_layers(store, &image.digest, "att").await? {
        let source = format!(
            "{} layer {}",
            attach::cosign_tag(&image.digest, "att"),
            layer.digest
        );
        if let (Some(types), Some(annotated)) =
            (predicate_types, layer.annotation(PREDICATE_TYPE_ANNOTATION))
            && !types.iter().any(|t| t == annotated)
        {
            continue;
        }
        let env = if layer.media_type != ENVELOPE_MEDIA_TYPE {
            Err(format!(
                "media type {} is not a DSSE envelope",
                layer.media_type
            ))
        } else {
            Envelope::parse(&blob).map_err(|e| e.to_string())
        };
        candidates.push((source, Format::Cosign, env));
    }
    for (digest, blob) in attach::read_referrers(store, &image.digest, BUNDLE_MEDIA_TYPE).await? {
        let source = format!("bundle referrer {digest}");
        match Bundle::parse(&blob) {
            Ok(b) if b.dsse_envelope.is_none() => continue,
            Ok(b) => candidates.push((source, Format::Bundle, b.envelope())),
            Err(e) => candidates.push((source, Format::Bundle, Err(e))),
        }
    }
    if candidates.is_empty() {
        let kind = predicate_types
            .map(|t| format!(" of type {}", t.join(" or ")))
            .unwrap_or_default();
        return Err(VerifyError::NoAttestations {
            image: image.digest.to_string(),
            kind,
        });
    }
    let mut ok = Vec::new();
    let mut reasons = Vec::new();
    for (source, format, env) in candidates {
        match env.and_then(|e| verify_envelope(&e, key, &image.digest, predicate_types)) {
            Ok(statement) => ok.push(VerifiedAttestation {
                image: image.digest.clone(),
                format,
                source,
                key_fingerprint: key.fingerprint(),
                predicate_type: statement.predicate_type.clone(),
                statement,
            }),
            Err(r) => reasons.push(format!("{source}: {r}")),
        }
    }
    if ok.is_empty() {
        return Err(VerifyError::NoneValid {
            what: "attestation",
            image: image.digest.to_string(),
            reasons,
        });
    }
    Ok(ok)
}
