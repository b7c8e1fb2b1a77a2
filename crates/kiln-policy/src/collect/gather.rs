//! Collection proper: resolve the reference, read what is stored for the digest, verify it
//! with the signers the covering rules name, and keep only what verified as [`Evidence`].
//! Everything found that did not verify is kept as [`Problems`], with why.

use std::collections::{BTreeMap, BTreeSet};

use kiln_oci::registry::RegistryOptions;
use kiln_oci::{Digest, ImageRef, ImageStore, Manifest};
use kiln_sign::cosign::payload::SimpleSigning;
use kiln_sign::notation::{self, NotationError, Verification};
use kiln_sign::verify::{self, Format, UnverifiedSignature, VerifyError};

use super::Gate;
use super::signers::{Material, Prepared};
use super::store::Memo;
use crate::decision::ReasonCode;
use crate::document::Rule;
use crate::evidence::{Evidence, SignerIdentity, VerifiedAttestation, VerifiedSignature};

/// What was found but did not verify (or could not be checked), as `(code, message)`.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    /// Image signatures.
    pub signatures: Vec<(ReasonCode, String)>,
    /// Attestations, by predicate type.
    pub attestations: BTreeMap<String, Vec<(ReasonCode, String)>>,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Cosign => "cosign",
        Format::Bundle => "bundle",
    }
}

/// A kiln-sign verified signature, as policy evidence.
fn signature_evidence(v: &verify::VerifiedSignature, signer: SignerIdentity) -> VerifiedSignature {
    VerifiedSignature {
        signer,
        format: Some(format_name(v.format()).to_string()),
    }
}

/// A kiln-sign verified attestation, as policy evidence.
fn attestation_evidence(
    v: &verify::VerifiedAttestation,
    signer: SignerIdentity,
) -> Option<VerifiedAttestation> {
    Some(VerifiedAttestation {
        predicate_type: v.predicate_type().to_string(),
        signer,
        format: Some(format_name(v.format()).to_string()),
        statement: serde_json::to_value(v.statement()).ok()?,
    })
}

/// Why a stored signature that no trusted key verified was rejected, worded so that
/// tampering reads as such.
fn rejected(s: &UnverifiedSignature, image: &Digest, errors: &[String]) -> String {
    if s.format == Format::Cosign
        && let Err(e) = SimpleSigning::parse_for(&s.payload, image)
    {
        return format!("tampered signature {}: {e}", s.source);
    }
    format!(
        "signature {} does not verify with any trusted key (tampered, or made by an \
         untrusted key): {}",
        s.source,
        errors.join("; ")
    )
}

/// Resolves `reference`, verifies what `rules` ask for and fills `evidence`, `digest` and
/// `problems` as it goes (so that what was verified before a timeout is kept). An `Err`
/// is a registry (or layout) failure.
pub(crate) async fn collect(
    gate: &Gate,
    reference: &ImageRef,
    registry: &RegistryOptions,
    rules: &[&Rule],
    evidence: &mut Evidence,
    digest: &mut Option<Digest>,
    problems: &mut Problems,
) -> Result<(), String> {
    let opened = kiln_oci::open::open_existing_store(reference, registry)
        .map_err(|e| format!("{}: {e}", reference.location()))?;
    let store = Memo::new(&*opened, gate.registry_cache.as_ref());
    let manifest = store
        .resolve(&reference.selector())
        .await
        .map_err(|e| format!("resolving {reference}: {e}"))?;
    *digest = Some(manifest.digest.clone());
    evidence.digest = Some(manifest.digest.to_string());

    let wanted: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r.signatures.as_ref())
        .flat_map(|s| s.signers.iter().map(String::as_str))
        .collect();
    let wanted: Vec<&Prepared> = wanted.iter().filter_map(|n| gate.signers.get(*n)).collect();
    if !wanted.is_empty() {
        signatures(&store, reference, &manifest, &wanted, evidence, problems).await?;
    }

    let mut done = BTreeSet::new();
    let all: Vec<String> = gate.signers.keys().cloned().collect();
    for rule in rules {
        for att in &rule.attestations {
            let names: &[String] = if !att.signers.is_empty() {
                &att.signers
            } else if let Some(s) = &rule.signatures {
                &s.signers
            } else {
                &all
            };
            for name in names {
                if !done.insert((name.clone(), att.predicate_type.clone())) {
                    continue;
                }
                let Some(p) = gate.signers.get(name) else {
                    continue;
                };
                attestations(
                    &store,
                    &manifest,
                    p,
                    &att.predicate_type,
                    evidence,
                    problems,
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn signatures(
    store: &dyn ImageStore,
    reference: &ImageRef,
    manifest: &Manifest,
    wanted: &[&Prepared],
    evidence: &mut Evidence,
    problems: &mut Problems,
) -> Result<(), String> {
    let mut keys = Vec::new();
    let mut notations = Vec::new();
    for p in wanted {
        match p.key().await {
            Ok(Some((key, id))) => keys.push((*p, key, id)),
            Ok(None) => notations.push(*p),
            Err(e) => problems.signatures.push((ReasonCode::SignerUnavailable, e)),
        }
    }
    if !keys.is_empty() {
        let found = verify::find_signatures(store, &manifest.digest)
            .await
            .map_err(|e| format!("reading the signatures of {}: {e}", manifest.digest))?;
        for f in found {
            let s = match f {
                Ok(s) => s,
                Err(reason) => {
                    problems.signatures.push((
                        ReasonCode::SignatureInvalid,
                        format!("tampered or malformed signature: {reason}"),
                    ));
                    continue;
                }
            };
            let mut errors = Vec::new();
            let mut verified = false;
            for (p, key, id) in &keys {
                match s.verify(key, manifest) {
                    Ok(v) if v.image() == &manifest.digest => {
                        verified = true;
                        evidence.signatures.push(signature_evidence(&v, id.clone()));
                    }
                    Ok(v) => errors.push(format!("{}: signs {}", p.name, v.image())),
                    Err(e) => errors.push(format!("{}: {e}", p.name)),
                }
            }
            if !verified {
                problems.signatures.push((
                    ReasonCode::SignatureInvalid,
                    rejected(&s, &manifest.digest, &errors),
                ));
            }
        }
    }
    if notations.is_empty() {
        return Ok(());
    }
    let stored = store
        .referrers(&manifest.digest, Some(notation::ARTIFACT_TYPE))
        .await
        .map_err(|e| {
            format!(
                "reading the Notation signatures of {}: {e}",
                manifest.digest
            )
        })?;
    if stored.is_empty() {
        return Ok(());
    }
    let subject = manifest.descriptor();
    let scope = reference.location();
    for p in notations {
        let Material::Notation {
            policy,
            store: trust,
            ca_fingerprint,
        } = &p.material
        else {
            continue;
        };
        match notation::verify_image(store, &subject, &scope, policy, trust).await {
            Ok(Verification::Verified(v)) => evidence.signatures.push(VerifiedSignature {
                signer: SignerIdentity {
                    subject: Some(v.signer_subject),
                    chain_fingerprints: vec![ca_fingerprint.clone()],
                    ..Default::default()
                },
                format: Some("notation".into()),
            }),
            Ok(Verification::Skipped { .. }) => {}
            Err(NotationError::Oci(e)) => {
                return Err(format!(
                    "reading the Notation signatures of {}: {e}",
                    manifest.digest
                ));
            }
            Err(e) => problems.signatures.push((
                ReasonCode::SignatureInvalid,
                format!("Notation signer {:?}: {e}", p.name),
            )),
        }
    }
    Ok(())
}

async fn attestations(
    store: &dyn ImageStore,
    manifest: &Manifest,
    signer: &Prepared,
    predicate_type: &str,
    evidence: &mut Evidence,
    problems: &mut Problems,
) -> Result<(), String> {
    let (key, id) = match signer.key().await {
        Ok(Some(k)) => k,
        // Notation identities sign images, not attestations.
        Ok(None) => return Ok(()),
        Err(e) => {
            problems
                .attestations
                .entry(predicate_type.to_string())
                .or_default()
                .push((ReasonCode::SignerUnavailable, e));
            return Ok(());
        }
    };
    let types = [predicate_type.to_string()];
    match verify::verify_attestations(store, manifest, key, Some(&types)).await {
        Ok(list) => {
            for v in list {
                if v.image() != &manifest.digest || v.predicate_type() != predicate_type {
                    continue;
                }
                if let Some(a) = attestation_evidence(&v, id.clone()) {
                    evidence.attestations.push(a);
                }
            }
            Ok(())
        }
        Err(VerifyError::NoAttestations { .. }) => Ok(()),
        Err(VerifyError::NoneValid { reasons, .. }) => {
            // Attestations of other types (bundles carry no type hint) are not problems.
            let other_type = format!("is not {predicate_type}");
            let reasons: Vec<String> = reasons
                .into_iter()
                .filter(|r| !(r.contains("predicate type") && r.ends_with(&other_type)))
                .collect();
            if !reasons.is_empty() {
                problems
                    .attestations
                    .entry(predicate_type.to_string())
                    .or_default()
                    .push((
                        ReasonCode::AttestationInvalid,
                        format!(
                            "attestation of type {predicate_type} does not verify with signer \
                             {:?} (tampered, or made by an untrusted key): {}",
                            signer.name,
                            reasons.join("; ")
                        ),
                    ));
            }
            Ok(())
        }
        Err(VerifyError::Oci(e)) => Err(format!(
            "reading the attestations of {}: {e}",
            manifest.digest
        )),
        Err(e) => {
            problems
                .attestations
                .entry(predicate_type.to_string())
                .or_default()
                .push((ReasonCode::AttestationInvalid, e.to_string()));
            Ok(())
        }
    }
}
