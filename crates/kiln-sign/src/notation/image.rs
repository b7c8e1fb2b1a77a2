//! Signing an image with Notation (the envelope pushed as an OCI 1.1 referrer with
//! artifactType `application/vnd.cncf.notary.signature`, one `application/jose+json`
//! layer, the chain thumbprint annotation) and verifying an image's Notation signatures
//! against a trust policy and trust store.

use std::collections::BTreeMap;
use std::time::SystemTime;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{Digest, ImageStore, Manifest, media_type};
use sha2::Digest as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::cert::Cert;
use super::envelope::{self, VerifiedEnvelope};
use super::policy::{Action, TrustPolicyDocument, TrustStore, VerificationLevel, identity_matches};
use super::{ARTIFACT_TYPE, JWS_MEDIA_TYPE, NotationError, THUMBPRINT_ANNOTATION};
use crate::signer::Signer;

/// A Notation signature stored for an image.
#[derive(Debug, Clone)]
pub struct NotationSignature {
    /// The signature manifest's descriptor.
    pub manifest: Descriptor,
    /// The envelope blob's descriptor.
    pub envelope: Descriptor,
}

/// The thumbprint annotation value: a JSON array of the hex SHA-256 of each DER cert.
pub fn thumbprints(chain: &[Vec<u8>]) -> String {
    let list: Vec<String> = chain
        .iter()
        .map(|c| hex::encode(sha2::Sha256::digest(c)))
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// Signs the image `subject` (its manifest descriptor) in `store` with `signer`, whose
/// certificate chain (leaf first) is `chain`, and pushes the signature as a referrer.
/// Blobs go first, then the manifest; nothing is pushed if signing fails.
pub async fn sign_image(
    store: &dyn ImageStore,
    subject: &Descriptor,
    signer: &dyn Signer,
    chain: &[Vec<u8>],
    expiry: Option<OffsetDateTime>,
) -> Result<NotationSignature, NotationError> {
    let now = OffsetDateTime::now_utc();
    let envelope_bytes = envelope::sign(subject, signer, chain, now, expiry).await?;
    let envelope_desc = Descriptor::of(JWS_MEDIA_TYPE, &envelope_bytes);
    let empty = b"{}";
    let config = Descriptor::of(media_type::OCI_EMPTY, empty);
    store.push_blob(&config.digest, empty).await?;
    store
        .push_blob(&envelope_desc.digest, &envelope_bytes)
        .await?;
    let mut annotations = BTreeMap::new();
    annotations.insert(THUMBPRINT_ANNOTATION.to_string(), thumbprints(chain));
    annotations.insert(
        "org.opencontainers.image.created".to_string(),
        now.replace_nanosecond(0)
            .unwrap_or(now)
            .format(&Rfc3339)
            .map_err(|e| NotationError::Envelope(e.to_string()))?,
    );
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        config,
        layers: vec![envelope_desc.clone()],
        subject: Some(Descriptor::new(
            &subject.media_type,
            subject.digest.clone(),
            subject.size,
        )),
        annotations: Some(annotations.into_iter().collect()),
    };
    let manifest = Manifest::from_image(&manifest);
    store.push_manifest(&manifest, None).await?;
    Ok(NotationSignature {
        manifest: manifest.descriptor(),
        envelope: envelope_desc,
    })
}

/// A signature that satisfied the trust policy.
#[derive(Debug, Clone)]
pub struct VerifiedNotation {
    /// The signature manifest's digest.
    pub signature_digest: Digest,
    /// The trust policy applied.
    pub policy: String,
    /// The leaf certificate's subject (RFC 4514).
    pub signer_subject: String,
    /// When it was signed (by the signer's clock).
    pub signing_time: OffsetDateTime,
    /// Validations that failed but are only logged at this level.
    pub logged: Vec<String>,
}

impl VerifiedNotation {
    /// The signing time as RFC 3339.
    pub fn signing_time_rfc3339(&self) -> String {
        self.signing_time
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.signing_time.to_string())
    }
}

/// The result of verifying an image.
#[derive(Debug, Clone)]
pub enum Verification {
    /// A signature satisfied the policy.
    Verified(VerifiedNotation),
    /// The applicable policy's level is `skip`.
    Skipped { policy: String },
}

/// Verifies the Notation signatures of `subject` in `store` for the repository
/// `repository` (the trust policy scope, `registry/namespace/repo`). Succeeds when one
/// signature satisfies the applicable policy; otherwise fails with each signature's reason.
pub async fn verify_image(
    store: &dyn ImageStore,
    subject: &Descriptor,
    repository: &str,
    policy: &TrustPolicyDocument,
    trust_store: &TrustStore,
) -> Result<Verification, NotationError> {
    let policy = policy.select(repository)?;
    if policy.level == VerificationLevel::Skip {
        return Ok(Verification::Skipped {
            policy: policy.name.clone(),
        });
    }
    let referrers = store
        .referrers(&subject.digest, Some(ARTIFACT_TYPE))
        .await?;
    if referrers.is_empty() {
        return Err(NotationError::Verification(format!(
            "{} has no Notation signature in {}",
            subject.digest,
            store.name()
        )));
    }
    let mut reasons = Vec::new();
    for r in referrers {
        match verify_one(store, &r, subject, policy, trust_store).await {
            Ok(v) => return Ok(Verification::Verified(v)),
            Err(e) => reasons.push(format!("{}: {e}", r.digest)),
        }
    }
    Err(NotationError::Verification(format!(
        "no Notation signature of {} satisfies trust policy {:?}: {}",
        subject.digest,
        policy.name,
        reasons.join("; ")
    )))
}

async fn verify_one(
    store: &dyn ImageStore,
    referrer: &Descriptor,
    subject: &Descriptor,
    policy: &super::policy::TrustPolicy,
    trust_store: &TrustStore,
) -> Result<VerifiedNotation, NotationError> {
    let manifest = store.fetch_manifest(&referrer.digest).await?;
    let m = manifest.as_image()?;
    if m.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(NotationError::Envelope(
            "not a Notation signature manifest".into(),
        ));
    }
    match m.subject.as_ref() {
        Some(s) if s.digest == subject.digest => {}
        _ => {
            return Err(NotationError::Envelope(
                "its subject is another image".into(),
            ));
        }
    }
    let layer = match m.layers.as_slice() {
        [l] => l,
        _ => {
            return Err(NotationError::Envelope(format!(
                "{} layers, expected one envelope",
                m.layers.len()
            )));
        }
    };
    if layer.media_type != JWS_MEDIA_TYPE {
        return Err(NotationError::Envelope(format!(
            "envelope media type {} is not supported ({JWS_MEDIA_TYPE})",
            layer.media_type
        )));
    }
    let bytes = store.fetch_blob(layer).await?;
    // Integrity: always enforced.
    let env = envelope::verify(&bytes)?;
    if env.target.digest != subject.digest
        || env.target.size != subject.size
        || env.target.media_type != subject.media_type
    {
        return Err(NotationError::Verification(format!(
            "the signature is for {} ({}, {} bytes), not this image",
            env.target.digest, env.target.media_type, env.target.size
        )));
    }
    let mut logged = Vec::new();
    let mut check = |action: Action, result: Result<(), String>| -> Result<(), NotationError> {
        match (action, result) {
            (_, Ok(())) | (Action::Skip, _) => Ok(()),
            (Action::Log, Err(e)) => {
                logged.push(e);
                Ok(())
            }
            (Action::Enforce, Err(e)) => Err(NotationError::Verification(e)),
        }
    };
    let chain: Vec<Cert> = env
        .chain
        .iter()
        .enumerate()
        .map(|(i, d)| Cert::parse(d, &format!("x5c[{i}]")))
        .collect::<Result<_, _>>()?;
    let leaf = &chain[0];
    check(
        policy.actions.authenticity,
        authenticity(&chain, policy, trust_store),
    )?;
    let now = SystemTime::now();
    check(
        policy.actions.authentic_timestamp,
        match chain.iter().find(|c| !c.valid_at(now)) {
            None => Ok(()),
            Some(c) => Err(format!(
                "certificate {} is outside its validity period",
                c.subject()
            )),
        },
    )?;
    check(
        policy.actions.expiry,
        match env.expiry {
            Some(e) if OffsetDateTime::now_utc() >= e => {
                Err(format!("the signature expired at {e}"))
            }
            _ => Ok(()),
        },
    )?;
    check(
        policy.actions.revocation,
        match chain.iter().find(|c| c.has_revocation_info()) {
            None => Ok(()),
            Some(c) => Err(format!(
                "revocation status of {} cannot be determined offline",
                c.subject()
            )),
        },
    )?;
    let VerifiedEnvelope { signing_time, .. } = env;
    Ok(VerifiedNotation {
        signature_digest: referrer.digest.clone(),
        policy: policy.name.clone(),
        signer_subject: leaf.subject(),
        signing_time,
        logged,
    })
}

/// The chain is a valid code-signing chain to a root, leads to a certificate in one of the
/// policy's trust stores, and the leaf is one of the trusted identities.
fn authenticity(
    chain: &[Cert],
    policy: &super::policy::TrustPolicy,
    trust_store: &TrustStore,
) -> Result<(), String> {
    let leaf = &chain[0];
    leaf.check_leaf().map_err(|e| e.to_string())?;
    for pair in chain.windows(2) {
        pair[0].issued_by(&pair[1]).map_err(|e| e.to_string())?;
        pair[1].check_ca().map_err(|e| e.to_string())?;
    }
    let root = &chain[chain.len() - 1];
    if chain.len() < 2 || root.issued_by(root).is_err() {
        return Err(format!(
            "the chain does not end in a self-signed root (ends at {})",
            root.subject()
        ));
    }
    let mut anchors = Vec::new();
    for (kind, name) in &policy.trust_stores {
        if kind == "ca" {
            anchors.extend(
                trust_store
                    .certificates(kind, name)
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    if anchors.is_empty() {
        return Err(format!(
            "trust policy {:?} names no ca: trust store",
            policy.name
        ));
    }
    let trusted = chain.iter().any(|c| anchors.iter().any(|a| a.der == c.der));
    if !trusted {
        return Err(format!(
            "the chain of {} leads to no certificate in trust stores {}",
            leaf.subject(),
            policy
                .trust_stores
                .iter()
                .map(|(k, n)| format!("{k}:{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let attrs = leaf.subject_attributes();
    if !policy
        .trusted_identities
        .iter()
        .any(|id| identity_matches(id, &attrs))
    {
        return Err(format!(
            "signer {} is not a trusted identity of policy {:?}",
            leaf.subject(),
            policy.name
        ));
    }
    Ok(())
}
