//! Evaluation of a policy against verified evidence. Fails closed: an unparsable image, a
//! missing digest, a Rego error or no matching rule (unless `defaultAction: allow`) denies.

use kiln_oci::reference::ImageRef;

use crate::decision::{Decision, Reason, ReasonCode};
use crate::document::{Attestation, DefaultAction, Mode, Policy, Rule};
use crate::evidence::{Evidence, VerifiedAttestation};
use crate::rego::Outcome;
use crate::signer::SignerDef;

fn reason(rule: Option<&str>, code: ReasonCode, message: String) -> Reason {
    Reason {
        rule: rule.map(str::to_string),
        code,
        message,
    }
}

impl Policy {
    /// Decides whether the image in `evidence` may run.
    pub fn evaluate(&self, evidence: &Evidence) -> Decision {
        let spec = &self.document.spec;
        let mut decision = Decision {
            image: evidence.image.clone(),
            digest: evidence.digest.clone(),
            allowed: false,
            mode: spec.mode,
            matched_rules: Vec::new(),
            reasons: Vec::new(),
            warnings: Vec::new(),
        };
        let parsed = match ImageRef::parse(&evidence.image) {
            Ok(r) => r,
            Err(e) => {
                decision.reasons.push(reason(
                    None,
                    ReasonCode::InvalidImage,
                    format!("image reference {:?}: {e}", evidence.image),
                ));
                return decision;
            }
        };
        if decision.digest.is_none() {
            decision.digest = parsed.digest().map(|d| d.to_string());
        }
        let location = parsed.location();
        if spec.exclude.matches(&location) {
            decision.allowed = true;
            decision.warnings.push(reason(
                None,
                ReasonCode::Excluded,
                format!("{location} is excluded by spec.exclude"),
            ));
            return decision;
        }
        let ns = evidence.namespace.as_deref();
        let rules: Vec<&Rule> = spec
            .rules
            .iter()
            .filter(|r| {
                r.images.matches(&location)
                    && (r.namespaces.is_empty() || ns.is_some_and(|n| r.namespaces.matches(n)))
            })
            .collect();
        for rule in &rules {
            if rule.exclude.matches(&location) {
                decision.warnings.push(reason(
                    Some(&rule.name),
                    ReasonCode::Excluded,
                    format!("{location} is excluded by rule {:?}", rule.name),
                ));
            }
        }
        let rules: Vec<&Rule> = rules
            .into_iter()
            .filter(|r| !r.exclude.matches(&location))
            .collect();
        if rules.is_empty() {
            let msg = format!("no rule covers {location}; defaultAction decides");
            match spec.default_action {
                DefaultAction::Deny => {
                    decision
                        .reasons
                        .push(reason(None, ReasonCode::NoMatchingRule, msg))
                }
                DefaultAction::Allow => {
                    decision
                        .warnings
                        .push(reason(None, ReasonCode::NoMatchingRule, msg))
                }
            }
            decision.allowed = decision.reasons.is_empty();
            return decision;
        }
        let digest = decision.digest.clone();
        for rule in rules {
            decision.matched_rules.push(rule.name.clone());
            let mut failures = Vec::new();
            if digest.is_none() {
                failures.push(reason(
                    Some(&rule.name),
                    ReasonCode::MissingDigest,
                    format!("{}: no verified digest for the image", evidence.image),
                ));
            } else {
                self.check_rule(rule, evidence, digest.as_deref(), &mut failures);
            }
            match rule.mode.unwrap_or(spec.mode) {
                Mode::Enforce => decision.reasons.extend(failures),
                Mode::Audit => decision.warnings.extend(failures),
            }
        }
        decision.allowed = decision.reasons.is_empty();
        decision
    }

    fn signers<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = &'a SignerDef> + 'a {
        names.iter().filter_map(|n| self.signer(n))
    }

    fn check_rule(
        &self,
        rule: &Rule,
        evidence: &Evidence,
        digest: Option<&str>,
        out: &mut Vec<Reason>,
    ) {
        if let Some(sigs) = &rule.signatures {
            let (signed, missing): (Vec<&SignerDef>, Vec<&SignerDef>) =
                self.signers(&sigs.signers).partition(|s| {
                    evidence
                        .signatures
                        .iter()
                        .any(|v| s.matches_in(&v.signer, v.format.as_deref()))
                });
            if signed.len() < sigs.required() {
                let names = |v: &[&SignerDef]| {
                    v.iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push(reason(
                    Some(&rule.name),
                    ReasonCode::MissingSignature,
                    format!(
                        "{} of {} required signers signed (need {}); signed: [{}], missing: [{}]",
                        signed.len(),
                        sigs.signers.len(),
                        sigs.required(),
                        names(&signed),
                        names(&missing)
                    ),
                ));
            }
        }
        for att in &rule.attestations {
            self.check_attestation(rule, att, evidence, digest, out);
        }
    }

    fn check_attestation(
        &self,
        rule: &Rule,
        att: &Attestation,
        evidence: &Evidence,
        digest: Option<&str>,
        out: &mut Vec<Reason>,
    ) {
        let rn = Some(rule.name.as_str());
        let label = att.label();
        let of_type: Vec<&VerifiedAttestation> = evidence
            .attestations
            .iter()
            .filter(|a| a.predicate_type == att.predicate_type)
            .collect();
        if of_type.is_empty() {
            out.push(reason(
                rn,
                ReasonCode::MissingAttestation,
                format!("no verified attestation of type {}", att.predicate_type),
            ));
            return;
        }
        let names: &[String] = if !att.signers.is_empty() {
            &att.signers
        } else {
            rule.signatures
                .as_ref()
                .map(|s| s.signers.as_slice())
                .unwrap_or(&[])
        };
        let trusted: Vec<&VerifiedAttestation> = if names.is_empty() {
            of_type
        } else {
            of_type
                .into_iter()
                .filter(|a| {
                    self.signers(names)
                        .any(|s| s.matches_in(&a.signer, a.format.as_deref()))
                })
                .collect()
        };
        if trusted.is_empty() {
            out.push(reason(
                rn,
                ReasonCode::UntrustedAttestation,
                format!(
                    "attestation {label}: none signed by any of [{}]",
                    names.join(", ")
                ),
            ));
            return;
        }
        for a in trusted {
            if let Some(problem) = statement_problem(a, digest) {
                out.push(reason(
                    rn,
                    ReasonCode::StatementMismatch,
                    format!("attestation {label}: {problem}"),
                ));
                continue;
            }
            for cond in &att.conditions {
                match cond.evaluate(&a.statement) {
                    Outcome::Pass => {}
                    Outcome::Fail(msgs) => out.extend(msgs.into_iter().map(|m| {
                        reason(
                            rn,
                            ReasonCode::ConditionFailed,
                            format!("attestation {label}, condition {}: {m}", cond.name),
                        )
                    })),
                    Outcome::Error(e) => out.push(reason(
                        rn,
                        ReasonCode::RegoError,
                        format!("attestation {label}, condition {}: {e}", cond.name),
                    )),
                }
            }
        }
    }
}

/// Checks that a statement is about `digest` and of the declared predicate type.
fn statement_problem(a: &VerifiedAttestation, digest: Option<&str>) -> Option<String> {
    let st = &a.statement;
    if let Some(pt) = st.get("predicateType").and_then(|v| v.as_str())
        && pt != a.predicate_type
    {
        return Some(format!(
            "statement predicateType {pt} differs from {}",
            a.predicate_type
        ));
    }
    let (Some(digest), Some(subjects)) = (digest, st.get("subject").and_then(|s| s.as_array()))
    else {
        return None;
    };
    let (alg, hex) = digest.split_once(':')?;
    let about = subjects.iter().any(|s| {
        s.get("digest")
            .and_then(|d| d.get(alg))
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.eq_ignore_ascii_case(hex))
    });
    (!about).then(|| format!("no subject of the statement has digest {digest}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{SignerIdentity, VerifiedSignature};

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

    fn policy(format: &str) -> Policy {
        let key = KEY.trim().replace('\n', "\n        ");
        let text = format!(
            "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  signers:\n    - name: ci\n      format: {format}\n      publicKey: |\n        {key}\n  rules:\n    - name: all\n      images: [\"reg.example/*\"]\n      signatures:\n        signers: [ci]\n"
        );
        Policy::parse(&text, "p.yaml", std::path::Path::new(".")).unwrap()
    }

    fn evidence(format: Option<&str>) -> Evidence {
        let der = crate::signer::pem_der(KEY, "PUBLIC KEY").unwrap();
        Evidence {
            image: "reg.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000".into(),
            digest: None,
            namespace: None,
            signatures: vec![VerifiedSignature {
                signer: SignerIdentity {
                    public_key_spki: Some(
                        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der),
                    ),
                    ..Default::default()
                },
                format: format.map(str::to_string),
            }],
            attestations: Vec::new(),
        }
    }

    #[test]
    fn a_bundle_signer_is_not_satisfied_by_a_legacy_signature() {
        let bundle = policy("bundle");
        assert!(bundle.evaluate(&evidence(Some("bundle"))).allowed);
        let d = bundle.evaluate(&evidence(Some("cosign")));
        assert!(!d.allowed);
        assert_eq!(d.reasons[0].code, ReasonCode::MissingSignature);
        assert!(!bundle.evaluate(&evidence(None)).allowed);
        let legacy = policy("legacy");
        assert!(legacy.evaluate(&evidence(Some("cosign"))).allowed);
        assert!(!legacy.evaluate(&evidence(Some("bundle"))).allowed);
        assert!(policy("any").evaluate(&evidence(Some("bundle"))).allowed);
    }
}
