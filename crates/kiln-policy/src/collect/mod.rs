//! The gate: from an image reference and a policy to a decision on verified evidence.
//!
//! [`Gate::decide`] resolves the reference once (tag → digest), reads the signatures and
//! attestations stored for that digest, verifies them with the policy's own signers
//! (prepared once in [`Gate::new`]) through kiln-sign, turns only what verified into
//! [`Evidence`], and evaluates. It never fails: a registry error or an exhausted time
//! budget becomes a reason (`registry-error`, `timeout`) that denies under an enforcing
//! rule and warns under an auditing one. Signatures and attestations that were found but
//! did not verify are reported (`signature-invalid`, `attestation-invalid`) next to the
//! rule they would have satisfied.
//!
//! `kiln verify --policy` and the admission webhook both decide through this module.

pub mod cache;
mod gather;
mod signers;
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kiln_oci::registry::{Credentials, RegistryOptions};
use kiln_oci::{Digest, ImageRef};

use crate::decision::{Decision, Reason, ReasonCode};
use crate::document::{Mode, Policy, Rule};
use crate::evidence::Evidence;

pub use cache::{RegistryCache, RegistryCacheOptions};
pub use gather::Problems;

/// How the gate reaches registries and how long a decision may take.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// Plain HTTP, default credentials, retries.
    pub registry: RegistryOptions,
    /// The longest a whole [`Gate::decide`] may take (resolution, fetches, KMS, checks).
    pub budget: Duration,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            registry: RegistryOptions::default(),
            budget: Duration::from_secs(30),
        }
    }
}

/// Why a gate could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A signer of the policy cannot be turned into verification material.
    #[error("{policy}: signer {name:?}: {reason}")]
    SignerMaterial {
        policy: String,
        name: String,
        reason: String,
    },
    /// Internal form of [`CollectError::SignerMaterial`] before the policy is named.
    #[error("signer {name:?}: {reason}")]
    Signer { name: String, reason: String },
    /// The private Notation trust store directory could not be created.
    #[error("cannot create a Notation trust store: {0}")]
    TrustStore(std::io::Error),
}

/// A policy with its signers' key material, ready to decide.
pub struct Gate {
    policy: Arc<Policy>,
    options: GateOptions,
    signers: BTreeMap<String, signers::Prepared>,
    /// Registry reads shared across decisions (see [`cache`]); none by default.
    registry_cache: Option<RegistryCache>,
    /// Holds the Notation trust stores written for the policy's CAs.
    _trust_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("policy", &self.policy.source)
            .field("version", &self.policy_version())
            .field("signers", &self.signers.keys().collect::<Vec<_>>())
            .field("options", &self.options)
            .finish()
    }
}

/// The outcome of [`Gate::decide`].
#[derive(Debug, Clone)]
pub struct Verdict {
    pub decision: Decision,
    /// The digest the reference resolved to (what a mutating webhook pins).
    pub digest: Option<Digest>,
    /// The verified evidence the decision was made on.
    pub evidence: Evidence,
    /// Set when the registry could not be read (or the budget ran out).
    pub registry_error: Option<String>,
}

impl Gate {
    /// Prepares the signers' key material: PEM keys parsed, key and certificate files
    /// read (relative to the policy's directory), Notation CAs put in a private trust
    /// store. KMS public keys are fetched on first use.
    pub fn new(policy: Arc<Policy>, options: GateOptions) -> Result<Gate, CollectError> {
        let spec = &policy.document.spec;
        let needs_trust_dir = spec.signers.iter().any(|s| s.notation.is_some());
        let trust_dir = if needs_trust_dir {
            Some(
                tempfile::Builder::new()
                    .prefix("kiln-gate-trust")
                    .tempdir()
                    .map_err(CollectError::TrustStore)?,
            )
        } else {
            None
        };
        let mut prepared = BTreeMap::new();
        for def in &spec.signers {
            let dir = trust_dir
                .as_ref()
                .map(|d| d.path().to_path_buf())
                .unwrap_or_default();
            let p = signers::prepare(def, policy.base_dir(), &dir).map_err(|e| match e {
                CollectError::Signer { name, reason } => CollectError::SignerMaterial {
                    policy: policy.source.clone(),
                    name,
                    reason,
                },
                other => other,
            })?;
            prepared.insert(def.name.clone(), p);
        }
        Ok(Gate {
            policy,
            options,
            signers: prepared,
            registry_cache: None,
            _trust_dir: trust_dir,
        })
    }

    /// Shares registry reads across this gate's decisions (see [`cache`]): what a
    /// long-running webhook uses so that a decision not in its decision cache still does
    /// not go back to the registry for content it already holds.
    pub fn with_registry_cache(mut self, options: RegistryCacheOptions) -> Gate {
        self.registry_cache = Some(RegistryCache::new(options));
        self
    }

    /// The shared registry cache, when there is one.
    pub fn registry_cache(&self) -> Option<&RegistryCache> {
        self.registry_cache.as_ref()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// `sha256:HEX` of the policy's source text: the policy version for caches.
    pub fn policy_version(&self) -> &str {
        self.policy.source_digest()
    }

    /// The options the gate was built with.
    pub fn options(&self) -> &GateOptions {
        &self.options
    }

    /// Resolves `image` (tag or digest; registry reference or `oci:PATH`), verifies what
    /// the matching rules require with the policy's own signers, and evaluates. Never
    /// panics, never errors: registry failures and timeouts become reasons that follow
    /// each rule's mode (enforce: deny; audit: allow with a warning).
    pub async fn decide(
        &self,
        image: &str,
        namespace: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Verdict {
        let mut evidence = Evidence {
            image: image.to_string(),
            digest: None,
            namespace: namespace.map(str::to_string),
            signatures: Vec::new(),
            attestations: Vec::new(),
        };
        let Ok(reference) = ImageRef::parse(image) else {
            // The evaluation reports the unparsable reference.
            return self.verdict(evidence, &[], Problems::default(), None, None);
        };
        let rules = self.covering_rules(&reference, namespace);
        if rules.is_empty() {
            // Excluded or left to defaultAction: nothing to verify, nothing to fetch.
            let digest = reference.digest().cloned();
            evidence.digest = digest.as_ref().map(Digest::to_string);
            return self.verdict(evidence, &[], Problems::default(), None, digest);
        }
        let mut problems = Problems::default();
        let mut digest = None;
        let mut registry = self.options.registry.clone();
        if credentials.is_some() {
            registry.credentials = credentials;
        }
        let work = gather::collect(
            self,
            &reference,
            &registry,
            &rules,
            &mut evidence,
            &mut digest,
            &mut problems,
        );
        let failure = match tokio::time::timeout(self.options.budget, work).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some((ReasonCode::RegistryError, e)),
            Err(_) => Some((
                ReasonCode::Timeout,
                format!(
                    "collecting the evidence for {image} took longer than the budget of {} ms",
                    self.options.budget.as_millis()
                ),
            )),
        };
        self.verdict(evidence, &rules, problems, failure, digest)
    }

    /// The rules that apply to the image, as the evaluation selects them (exclusions
    /// removed).
    fn covering_rules(&self, reference: &ImageRef, namespace: Option<&str>) -> Vec<&Rule> {
        let spec = &self.policy.document.spec;
        let location = reference.location();
        if spec.exclude.matches(&location) {
            return Vec::new();
        }
        spec.rules
            .iter()
            .filter(|r| {
                r.images.matches(&location)
                    && (r.namespaces.is_empty()
                        || namespace.is_some_and(|n| r.namespaces.matches(n)))
                    && !r.exclude.matches(&location)
            })
            .collect()
    }

    /// Evaluates and adds the collection's own reasons to each rule, in its mode's list.
    fn verdict(
        &self,
        evidence: Evidence,
        rules: &[&Rule],
        problems: Problems,
        failure: Option<(ReasonCode, String)>,
        digest: Option<Digest>,
    ) -> Verdict {
        let mut decision = self.policy.evaluate(&evidence);
        let spec_mode = self.policy.document.spec.mode;
        for rule in rules {
            let list = match rule.mode.unwrap_or(spec_mode) {
                Mode::Enforce => &mut decision.reasons,
                Mode::Audit => &mut decision.warnings,
            };
            let mut extra = Vec::new();
            let reason = |code: ReasonCode, message: &str| Reason {
                rule: Some(rule.name.clone()),
                code,
                message: message.to_string(),
            };
            if let Some((code, message)) = &failure {
                extra.push(reason(*code, message));
            }
            let of_rule = |r: &&Reason| r.rule.as_deref() == Some(rule.name.as_str());
            if list
                .iter()
                .filter(of_rule)
                .any(|r| r.code == ReasonCode::MissingSignature)
            {
                extra.extend(problems.signatures.iter().map(|(c, m)| reason(*c, m)));
            }
            for att in &rule.attestations {
                let failed = list.iter().filter(of_rule).any(|r| {
                    matches!(
                        r.code,
                        ReasonCode::MissingAttestation | ReasonCode::UntrustedAttestation
                    ) && (r.message.contains(&att.predicate_type)
                        || r.message.contains(att.label()))
                });
                if failed && let Some(ps) = problems.attestations.get(&att.predicate_type) {
                    extra.extend(ps.iter().map(|(c, m)| reason(*c, m)));
                }
            }
            list.extend(extra);
        }
        decision.allowed = decision.reasons.is_empty();
        Verdict {
            decision,
            digest,
            evidence,
            registry_error: failure.map(|(_, m)| m),
        }
    }
}
