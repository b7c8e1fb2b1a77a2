//! The webhook's decisions, independent of HTTP: an AdmissionRequest in, an
//! AdmissionResponse out. Finds the images, decides each (through the cache) within the
//! request's budget, and composes the answer: a denial naming each denied image with every
//! reason, audit warnings in `warnings`, and on `/mutate` the digest-pinning patch.
//!
//! Fail closed: a panic while deciding, a decision that overruns the deadline, or more
//! distinct images than [`Limits::max_images`] all deny with the reason; nothing is ever
//! allowed because something inside went wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kiln_oci::ImageRef;
use kiln_oci::registry::Credentials;
use kiln_policy::{Decision, Policy, PolicyError, Reason, ReasonCode};

use crate::cache::{CacheOptions, DecisionCache, DecisionKey};
use crate::creds::{DockerConfig, KubeClient};
use crate::decide::{Decide, DeciderFactory, Outcome, failure};
use crate::metrics::{CacheKind, Metrics, Refusal};
use crate::patch;
use crate::review::{AdmissionRequest, AdmissionResponse};
use crate::server::Limits;
use crate::workload::{self, ImageSite};

/// How long past its deadline a review may run before the safety net denies it.
const OVERRUN_GRACE: Duration = Duration::from_millis(200);

/// Longest warning kept whole (the API server may truncate longer ones).
const WARNING_MAX: usize = 250;

/// `/validate` or `/mutate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Validate,
    Mutate,
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// The document is invalid; the message carries the line and column when known.
    #[error("{0}")]
    Invalid(String),
    /// The gate could not be built from it (a signer's key material).
    #[error("{path}: {message}")]
    Gate { path: PathBuf, message: String },
}

impl From<PolicyError> for PolicyLoadError {
    fn from(e: PolicyError) -> Self {
        PolicyLoadError::Invalid(match &e {
            PolicyError::Invalid {
                source_name,
                line: Some(line),
                column,
                message,
            } if !message.contains("line ") => format!(
                "{source_name}: line {line}{}: {message}",
                column.map(|c| format!(", column {c}")).unwrap_or_default()
            ),
            _ => e.to_string(),
        })
    }
}

/// A policy with its decider.
pub struct LoadedPolicy {
    pub policy: Arc<Policy>,
    /// `sha256:…` of the policy source: part of every decision's cache key.
    pub version: String,
    pub decider: Arc<dyn Decide>,
    /// Whether some rule is scoped to namespaces (then the namespace is part of the key).
    pub namespace_sensitive: bool,
}

impl LoadedPolicy {
    /// Loads `path` and builds its decider; fails whole (never half-loaded).
    pub fn load(path: &Path, factory: &DeciderFactory) -> Result<LoadedPolicy, PolicyLoadError> {
        let policy = Arc::new(Policy::load(path)?);
        LoadedPolicy::from_policy(policy, factory).map_err(|message| PolicyLoadError::Gate {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Wraps an already parsed policy.
    pub fn from_policy(
        policy: Arc<Policy>,
        factory: &DeciderFactory,
    ) -> Result<LoadedPolicy, String> {
        let decider = factory(policy.clone())?;
        Ok(LoadedPolicy {
            version: policy.source_digest().to_string(),
            namespace_sensitive: policy
                .document
                .spec
                .rules
                .iter()
                .any(|r| !r.namespaces.is_empty()),
            policy,
            decider,
        })
    }
}

/// Settings of the webhook's decisions.
#[derive(Clone)]
pub struct WebhookOptions {
    /// The time one AdmissionReview may take; must be under the webhook's `timeoutSeconds`.
    pub budget: Duration,
    /// Namespaces whose objects are admitted unchecked.
    pub excluded_namespaces: Vec<String>,
    pub cache: CacheOptions,
    /// Credentials from `--registry-credentials`.
    pub registry_credentials: DockerConfig,
    /// Reads imagePullSecrets when set.
    pub kube: Option<KubeClient>,
    /// Limits under load (applied by the server, and `max_images` here).
    pub limits: Limits,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            budget: Duration::from_secs(8),
            excluded_namespaces: vec!["kube-system".to_string()],
            cache: CacheOptions::default(),
            registry_credentials: DockerConfig::default(),
            kube: None,
            limits: Limits::default(),
        }
    }
}

/// The webhook's state.
pub struct Webhook {
    policy: RwLock<Arc<LoadedPolicy>>,
    cache: DecisionCache,
    metrics: Arc<Metrics>,
    options: WebhookOptions,
    /// Where admitted images are reported (`--report-admitted`), when set.
    reporter: std::sync::OnceLock<crate::report::Reporter>,
}

/// Codes that describe a failure to look, not the image: never cached.
fn transient(o: &Outcome) -> bool {
    o.registry_error.is_some()
        || o.decision
            .reasons
            .iter()
            .chain(&o.decision.warnings)
            .any(|r| matches!(r.code, ReasonCode::RegistryError | ReasonCode::Timeout))
}

fn reason_text(r: &Reason) -> String {
    match &r.rule {
        Some(rule) => format!("[{rule}] {}: {}", r.code, r.message),
        None => format!("{}: {}", r.code, r.message),
    }
}

fn shorten(mut s: String) -> String {
    if s.len() > WARNING_MAX {
        let mut cut = WARNING_MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

impl Webhook {
    pub fn new(policy: LoadedPolicy, options: WebhookOptions, metrics: Arc<Metrics>) -> Self {
        Webhook {
            policy: RwLock::new(Arc::new(policy)),
            cache: DecisionCache::new(options.cache),
            metrics,
            options,
            reporter: std::sync::OnceLock::new(),
        }
    }

    /// Reports every admitted image (not dry runs) to the Kiln server from now on. Only
    /// the first reporter set is kept.
    pub fn set_reporter(&self, reporter: crate::report::Reporter) {
        let _ = self.reporter.set(reporter);
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<LoadedPolicy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts a newly loaded policy in force and drops cached decisions.
    pub fn replace_policy(&self, policy: LoadedPolicy) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        self.cache.clear();
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn options(&self) -> &WebhookOptions {
        &self.options
    }

    /// Answers one AdmissionRequest within the budget from now. Internal failures deny
    /// (fail closed) with the reason.
    pub async fn review(
        self: &Arc<Self>,
        endpoint: Endpoint,
        request: AdmissionRequest,
    ) -> AdmissionResponse {
        let deadline = tokio::time::Instant::now() + self.options.budget;
        self.review_until(endpoint, request, deadline).await
    }

    /// Answers one AdmissionRequest by `deadline` (the server starts the budget when the
    /// request arrives, so queueing and reading the body count against it).
    pub async fn review_until(
        self: &Arc<Self>,
        endpoint: Endpoint,
        request: AdmissionRequest,
        deadline: tokio::time::Instant,
    ) -> AdmissionResponse {
        let uid = request.uid.clone();
        let me = self.clone();
        // A panic in a decision must not take the connection down: it denies.
        let mut task =
            tokio::spawn(async move { me.review_inner(endpoint, request, deadline).await });
        // The per-image deadline answers in time; this is the safety net behind it (the
        // composition after the decisions is bounded work).
        match tokio::time::timeout_at(deadline + OVERRUN_GRACE, &mut task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(uid, "decision task failed: {e}");
                AdmissionResponse::deny(
                    &uid,
                    format!("kiln: internal error while deciding, denied (fail closed): {e}"),
                )
            }
            Err(_) => {
                task.abort();
                self.metrics.refused(Refusal::Budget);
                AdmissionResponse::deny(
                    &uid,
                    format!(
                        "kiln: timeout: no answer within the webhook's budget of {} ms, denied \
                         (fail closed)",
                        self.options.budget.as_millis()
                    ),
                )
            }
        }
    }

    async fn review_inner(
        self: Arc<Self>,
        endpoint: Endpoint,
        request: AdmissionRequest,
        deadline: tokio::time::Instant,
    ) -> AdmissionResponse {
        let uid = request.uid.as_str();
        match request.operation.as_deref() {
            Some("DELETE") | Some("CONNECT") => return AdmissionResponse::allow(uid),
            _ => {}
        }
        let namespace = request.effective_namespace();
        if let Some(ns) = &namespace
            && self.options.excluded_namespaces.iter().any(|e| e == ns)
        {
            return AdmissionResponse::allow(uid);
        }
        let view = match workload::extract(&request.kind.kind, request.object.as_ref()) {
            Ok(v) => v,
            Err(e) => return AdmissionResponse::deny(uid, format!("kiln: {e}")),
        };
        if view.images.is_empty() {
            return AdmissionResponse::allow(uid);
        }
        let distinct = view
            .images
            .iter()
            .map(|s| s.image.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if distinct > self.options.limits.max_images {
            return AdmissionResponse::deny(
                uid,
                format!(
                    "kiln: the {} names {distinct} distinct images, more than the webhook's limit \
                     of {}; denied",
                    request.kind.kind, self.options.limits.max_images
                ),
            );
        }
        let loaded = self.policy();
        let outcomes = self
            .decide_all(
                &loaded,
                &view.images,
                namespace.as_deref(),
                &view.pull_secrets,
                deadline,
            )
            .await;
        self.compose(endpoint, &request, &view.images, &outcomes, &loaded)
    }

    /// Decides every distinct image at once, all within the budget.
    async fn decide_all(
        self: &Arc<Self>,
        loaded: &Arc<LoadedPolicy>,
        sites: &[ImageSite],
        namespace: Option<&str>,
        pull_secrets: &[String],
        deadline: tokio::time::Instant,
    ) -> BTreeMap<String, Outcome> {
        let mut set = tokio::task::JoinSet::new();
        let mut images: Vec<&str> = sites.iter().map(|s| s.image.as_str()).collect();
        images.sort_unstable();
        images.dedup();
        for image in &images {
            let me = self.clone();
            let loaded = loaded.clone();
            let image = image.to_string();
            let ns = namespace.map(str::to_string);
            let secrets = pull_secrets.to_vec();
            set.spawn(async move {
                let o = me
                    .decide_image(&loaded, &image, ns.as_deref(), &secrets)
                    .await;
                (image, o)
            });
        }
        let mut out = BTreeMap::new();
        loop {
            match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(Some(Ok((image, o)))) => {
                    out.insert(image, o);
                }
                Ok(Some(Err(e))) => {
                    tracing::error!("an image decision failed: {e}");
                }
                Ok(None) => break,
                Err(_) => {
                    set.abort_all();
                    break;
                }
            }
        }
        for image in images {
            if !out.contains_key(image) {
                let (code, message) = if tokio::time::Instant::now() >= deadline {
                    self.metrics.registry_error();
                    (
                        ReasonCode::Timeout,
                        format!(
                            "no decision for {image} within the webhook's budget of {} ms",
                            self.options.budget.as_millis()
                        ),
                    )
                } else {
                    (
                        ReasonCode::RegoError,
                        format!("internal error deciding {image}; denied (fail closed)"),
                    )
                };
                let decision = failure(&loaded.policy, image, code, message.clone());
                out.insert(
                    image.to_string(),
                    Outcome {
                        decision,
                        digest: None,
                        registry_error: Some(message),
                    },
                );
            }
        }
        out
    }

    async fn credentials(
        &self,
        image: &ImageRef,
        namespace: Option<&str>,
        pull_secrets: &[String],
    ) -> Option<Credentials> {
        let ImageRef::Registry { registry, .. } = image else {
            return None;
        };
        if let (Some(kube), Some(ns)) = (&self.options.kube, namespace)
            && !pull_secrets.is_empty()
            && let Some(c) = kube.credentials_for(ns, pull_secrets, registry).await
        {
            return Some(c);
        }
        self.options.registry_credentials.get(registry)
    }

    /// One image through the caches, else through the decider.
    async fn decide_image(
        &self,
        loaded: &LoadedPolicy,
        image: &str,
        namespace: Option<&str>,
        pull_secrets: &[String],
    ) -> Outcome {
        let parsed = ImageRef::parse(image).ok();
        let ns_key = if loaded.namespace_sensitive {
            namespace.map(str::to_string)
        } else {
            None
        };
        let key_for = |r: &ImageRef, digest: &str| DecisionKey {
            pinned: format!("{}@{digest}", r.location()),
            policy_version: loaded.version.clone(),
            namespace: ns_key.clone(),
        };
        if let Some(r) = &parsed {
            let digest = match r.digest() {
                Some(d) => Some(d.to_string()),
                None => {
                    let d = self.cache.tag(&r.to_string());
                    self.metrics.cache(CacheKind::Tag, d.is_some());
                    d
                }
            };
            if let Some(d) = digest {
                let cached = self.cache.decision(&key_for(r, &d));
                self.metrics.cache(CacheKind::Decision, cached.is_some());
                if let Some(mut o) = cached {
                    o.decision.image = image.to_string();
                    return o;
                }
            }
        }
        let creds = match &parsed {
            Some(r) => self.credentials(r, namespace, pull_secrets).await,
            None => None,
        };
        let o = loaded.decider.decide(image, namespace, creds).await;
        if transient(&o) {
            self.metrics.registry_error();
            return o;
        }
        if let (Some(r), Some(d)) = (&parsed, &o.digest) {
            if r.digest().is_none() {
                self.cache.put_tag(r.to_string(), d.clone());
            }
            self.cache.put_decision(key_for(r, d), o.clone());
        }
        o
    }

    fn compose(
        &self,
        endpoint: Endpoint,
        request: &AdmissionRequest,
        sites: &[ImageSite],
        outcomes: &BTreeMap<String, Outcome>,
        loaded: &LoadedPolicy,
    ) -> AdmissionResponse {
        let uid = request.uid.as_str();
        let mut denials = Vec::new();
        let mut warnings = Vec::new();
        let mut replacements = Vec::new();
        let mut reported = std::collections::BTreeSet::new();
        for site in sites {
            let Some(o) = outcomes.get(&site.image) else {
                // decide_all fills every image; keep failing closed regardless.
                denials.push(format!("{}: no decision", site.image));
                continue;
            };
            let first = reported.insert(site.image.clone());
            let d: &Decision = &o.decision;
            if first {
                if !d.allowed {
                    let reasons: Vec<String> = if d.reasons.is_empty() {
                        vec!["denied by the policy".to_string()]
                    } else {
                        d.reasons.iter().map(reason_text).collect()
                    };
                    denials.push(format!(
                        "image {} (container {:?}): {}",
                        site.image,
                        site.container,
                        reasons.join("; ")
                    ));
                }
                for w in &d.warnings {
                    if w.code != ReasonCode::Excluded {
                        warnings.push(shorten(format!("kiln: {}: {}", site.image, reason_text(w))));
                    }
                }
                if let Ok(r) = ImageRef::parse(&site.image)
                    && r.tag().is_none()
                    && r.digest().is_none()
                {
                    warnings.push(shorten(format!(
                        "kiln: {} names no tag or digest; Kubernetes pulls :latest, which is what \
                         was checked",
                        site.image
                    )));
                }
            }
            if d.allowed
                && let Some(digest) = &o.digest
                && let Some(p) = patch::pinned(&site.image, digest)
            {
                replacements.push((site.pointer.clone(), p));
            }
        }
        if !denials.is_empty() {
            let mut r = AdmissionResponse::deny(
                uid,
                format!(
                    "kiln policy {} denied {} image(s): {}",
                    loaded.policy.source,
                    denials.len(),
                    denials.join(" | ")
                ),
            );
            r.warnings = warnings;
            return r;
        }
        let mut r = AdmissionResponse::allow(uid);
        r.warnings = warnings;
        if endpoint == Endpoint::Mutate && !replacements.is_empty() {
            r.patch = Some(patch::encode(&patch::json_patch(&replacements)));
            r.patch_type = Some("JSONPatch".to_string());
        }
        if endpoint == Endpoint::Validate && !request.is_dry_run() {
            // The only side effect: counting and logging what was admitted.
            self.metrics.admitted(reported.len() as u64);
            for (image, o) in outcomes {
                let namespace = request.effective_namespace().unwrap_or_default();
                tracing::debug!(
                    image,
                    digest = o.digest.as_deref().unwrap_or(""),
                    namespace = namespace.as_str(),
                    "admitted"
                );
                if let (Some(r), Some(digest)) = (self.reporter.get(), o.digest.as_deref()) {
                    r.admitted(image, digest, &namespace);
                }
            }
        }
        r
    }
}

/// Measures one review for the latency histogram.
pub struct Timer(Instant);

impl Timer {
    pub fn start() -> Self {
        Timer(Instant::now())
    }

    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panics on every image whose name contains "boom", hangs on "hang", allows the rest.
    struct Faulty;

    #[async_trait::async_trait]
    impl Decide for Faulty {
        async fn decide(
            &self,
            image: &str,
            _namespace: Option<&str>,
            _credentials: Option<Credentials>,
        ) -> Outcome {
            if image.contains("boom") {
                panic!("injected panic deciding {image}");
            }
            if image.contains("hang") {
                std::future::pending::<()>().await;
            }
            let policy = Policy::parse(POLICY, "t.yaml", Path::new(".")).unwrap();
            let mut decision = failure(&policy, image, ReasonCode::Timeout, String::new());
            decision.allowed = true;
            decision.reasons.clear();
            Outcome {
                decision,
                digest: None,
                registry_error: None,
            }
        }
    }

    const POLICY: &str = "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  \
                          name: t\nspec:\n  mode: enforce\n  rules:\n    - name: all\n      \
                          images: [\"*\"]\n";

    fn webhook(max_images: usize, budget: Duration) -> Arc<Webhook> {
        let policy = Arc::new(Policy::parse(POLICY, "t.yaml", Path::new(".")).unwrap());
        let factory: DeciderFactory = Arc::new(|_| Ok(Arc::new(Faulty) as Arc<dyn Decide>));
        let loaded = LoadedPolicy::from_policy(policy, &factory).unwrap();
        let options = WebhookOptions {
            budget,
            limits: Limits {
                max_images,
                ..Limits::default()
            },
            ..WebhookOptions::default()
        };
        Arc::new(Webhook::new(loaded, options, Arc::new(Metrics::new())))
    }

    fn request(images: &[&str]) -> AdmissionRequest {
        let containers: Vec<serde_json::Value> = images
            .iter()
            .map(|i| serde_json::json!({"name": "c", "image": i}))
            .collect();
        serde_json::from_value(serde_json::json!({"uid": "u", "kind": {"kind": "Pod"},
            "namespace": "prod", "object": {"spec": {"containers": containers}}}))
        .unwrap()
    }

    #[tokio::test]
    async fn a_panic_while_deciding_denies() {
        let w = webhook(64, Duration::from_secs(5));
        let ok = w
            .review(Endpoint::Validate, request(&["r.example/ok:1"]))
            .await;
        assert!(ok.allowed, "{ok:?}");
        let r = w
            .review(
                Endpoint::Validate,
                request(&["r.example/ok:1", "r.example/boom:1"]),
            )
            .await;
        assert!(!r.allowed, "{r:?}");
        assert_eq!(r.uid, "u");
        let msg = r.status.unwrap().message;
        assert!(msg.contains("r.example/boom:1"), "{msg}");
        assert!(msg.contains("fail closed"), "{msg}");
    }

    #[tokio::test]
    async fn a_hanging_decision_denies_at_the_deadline() {
        let w = webhook(64, Duration::from_millis(200));
        let r = w
            .review(Endpoint::Mutate, request(&["r.example/hang:1"]))
            .await;
        assert!(!r.allowed, "{r:?}");
        assert!(r.patch.is_none());
        assert!(r.status.unwrap().message.contains("timeout"));
    }

    #[tokio::test]
    async fn too_many_distinct_images_deny_without_deciding() {
        let w = webhook(2, Duration::from_secs(5));
        // Repeats count once.
        let r = w
            .review(
                Endpoint::Validate,
                request(&["r.example/a:1", "r.example/b:1", "r.example/a:1"]),
            )
            .await;
        assert!(r.allowed, "{r:?}");
        // A panicking image beyond the limit is never decided.
        let r = w
            .review(
                Endpoint::Validate,
                request(&["r.example/a:1", "r.example/b:1", "r.example/boom:1"]),
            )
            .await;
        assert!(!r.allowed);
        let msg = r.status.unwrap().message;
        assert!(
            msg.contains("3 distinct images") && msg.contains("limit of 2"),
            "{msg}"
        );
    }
}
