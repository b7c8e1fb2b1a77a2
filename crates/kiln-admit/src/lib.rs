//! Kiln's Kubernetes admission webhook: `admission.k8s.io/v1` AdmissionReview at `/validate`
//! and `/mutate` over HTTPS, deciding with the same policy engine as `kiln verify --policy`.
//!
//! - [`review`]: the AdmissionReview request/response types;
//! - [`workload`]: where each workload kind keeps its pod spec, and its images;
//! - [`patch`]: the digest-pinning JSONPatch;
//! - [`decide`]: the decider trait; [`gate`] implements it with the policy gate;
//! - [`cache`]: tag → digest and decision caches;
//! - [`creds`]: registry credentials (config.json, imagePullSecrets via the Kubernetes API);
//! - [`webhook`]: request → response, budget, fail-closed composition;
//! - [`server`]: HTTPS serving, probes, metrics, reloads; [`tls`]: the reloading certificate;
//! - [`metrics`]: Prometheus metrics; [`certs`]: `kiln admit gen-certs`.

pub mod cache;
pub mod certs;
pub mod creds;
pub mod decide;
pub mod gate;
pub mod metrics;
pub mod patch;
pub mod report;
pub mod review;
pub mod server;
pub mod tls;
pub mod webhook;
pub mod workload;

pub use decide::{Decide, DeciderFactory, Outcome, RecordedEvidence};
pub use server::{RunningServer, ServerConfig, StartError, start};
pub use webhook::{Endpoint, LoadedPolicy, Webhook, WebhookOptions};
