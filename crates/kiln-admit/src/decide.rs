//! The decision source behind the webhook: the [`Decide`] trait, implemented by the policy
//! gate (`kiln_policy::collect::Gate`, which resolves, verifies and evaluates) and by
//! [`RecordedEvidence`] (a policy evaluated on evidence recorded beforehand, for offline use
//! and tests of the webhook's own parts).

use std::collections::HashMap;
use std::sync::Arc;

use kiln_oci::registry::Credentials;
use kiln_policy::{Decision, Evidence, Policy, Reason, ReasonCode};

/// What one image's decision came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub decision: Decision,
    /// The digest the reference resolved to and everything was verified against.
    pub digest: Option<String>,
    /// Set when the registry could not be reached or answered with an error (never cached).
    pub registry_error: Option<String>,
}

/// Decides whether one image may run. Never fails: every failure is a decision that follows
/// the policy's mode.
#[async_trait::async_trait]
pub trait Decide: Send + Sync + 'static {
    async fn decide(
        &self,
        image: &str,
        namespace: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Outcome;
}

/// Builds the decider for a (re)loaded policy.
pub type DeciderFactory = Arc<dyn Fn(Arc<Policy>) -> Result<Arc<dyn Decide>, String> + Send + Sync>;

/// A denial (or, in audit mode, an allowance with a warning) for a failure that happened
/// before the policy could be evaluated.
pub fn failure(policy: &Policy, image: &str, code: ReasonCode, message: String) -> Decision {
    let mode = policy.document.spec.mode;
    let reason = Reason {
        rule: None,
        code,
        message,
    };
    let audit = mode == kiln_policy::Mode::Audit;
    Decision {
        image: image.to_string(),
        digest: None,
        allowed: audit,
        mode,
        matched_rules: Vec::new(),
        reasons: if audit {
            Vec::new()
        } else {
            vec![reason.clone()]
        },
        warnings: if audit { vec![reason] } else { Vec::new() },
    }
}

/// A policy evaluated on evidence recorded beforehand, keyed by image reference. An image
/// without a record is evaluated on empty evidence (no digest, nothing verified), which the
/// policy denies unless it excludes the image.
pub struct RecordedEvidence {
    policy: Arc<Policy>,
    records: HashMap<String, Evidence>,
}

impl RecordedEvidence {
    pub fn new(policy: Arc<Policy>, records: impl IntoIterator<Item = Evidence>) -> Self {
        RecordedEvidence {
            policy,
            records: records.into_iter().map(|e| (e.image.clone(), e)).collect(),
        }
    }
}

#[async_trait::async_trait]
impl Decide for RecordedEvidence {
    async fn decide(
        &self,
        image: &str,
        namespace: Option<&str>,
        _credentials: Option<Credentials>,
    ) -> Outcome {
        let mut evidence = self.records.get(image).cloned().unwrap_or(Evidence {
            image: image.to_string(),
            digest: None,
            namespace: None,
            signatures: Vec::new(),
            attestations: Vec::new(),
        });
        evidence.namespace = namespace.map(str::to_string);
        let decision = self.policy.evaluate(&evidence);
        Outcome {
            digest: decision.digest.clone(),
            decision,
            registry_error: None,
        }
    }
}
