//! Prometheus metrics (text exposition through `prometheus-client`):
//! - `kiln_admit_decisions_total{result="allowed|denied|error"}`: admission responses;
//! - `kiln_admit_request_duration_seconds`: latency histogram of `/validate` and `/mutate`;
//! - `kiln_admit_cache_hits_total` / `kiln_admit_cache_misses_total{cache="tag|decision"}`;
//! - `kiln_admit_registry_errors_total`: image decisions that met a registry error/timeout;
//! - `kiln_admit_reloads_total{what="policy|certificate",result="ok|error"}`;
//! - `kiln_admit_admitted_images_total`: images admitted outside dry runs.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabel {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabel {
    what: &'static str,
    result: &'static str,
}

/// Which cache a lookup went to.
#[derive(Debug, Clone, Copy)]
pub enum CacheKind {
    Tag,
    Decision,
}

/// Outcome of one admission response.
#[derive(Debug, Clone, Copy)]
pub enum ResultKind {
    Allowed,
    Denied,
    Error,
}

/// Every metric of the webhook.
pub struct Metrics {
    registry: Registry,
    decisions: Family<ResultLabel, Counter>,
    latency: Histogram,
    hits: Family<CacheLabel, Counter>,
    misses: Family<CacheLabel, Counter>,
    registry_errors: Counter,
    reloads: Family<ReloadLabel, Counter>,
    admitted: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let decisions = Family::<ResultLabel, Counter>::default();
        registry.register(
            "kiln_admit_decisions",
            "Admission responses by result",
            decisions.clone(),
        );
        // 0.25 ms .. ~8 s
        let latency = Histogram::new(exponential_buckets(0.00025, 2.0, 16));
        registry.register(
            "kiln_admit_request_duration_seconds",
            "Time to answer an AdmissionReview",
            latency.clone(),
        );
        let hits = Family::<CacheLabel, Counter>::default();
        registry.register("kiln_admit_cache_hits", "Cache hits", hits.clone());
        let misses = Family::<CacheLabel, Counter>::default();
        registry.register("kiln_admit_cache_misses", "Cache misses", misses.clone());
        let registry_errors = Counter::default();
        registry.register(
            "kiln_admit_registry_errors",
            "Image decisions that met a registry error or timeout",
            registry_errors.clone(),
        );
        let reloads = Family::<ReloadLabel, Counter>::default();
        registry.register(
            "kiln_admit_reloads",
            "Policy and certificate reloads",
            reloads.clone(),
        );
        let admitted = Counter::default();
        registry.register(
            "kiln_admit_admitted_images",
            "Images admitted outside dry runs",
            admitted.clone(),
        );
        Metrics {
            registry,
            decisions,
            latency,
            hits,
            misses,
            registry_errors,
            reloads,
            admitted,
        }
    }

    pub fn decision(&self, result: ResultKind, seconds: f64) {
        let result = match result {
            ResultKind::Allowed => "allowed",
            ResultKind::Denied => "denied",
            ResultKind::Error => "error",
        };
        self.decisions.get_or_create(&ResultLabel { result }).inc();
        self.latency.observe(seconds);
    }

    pub fn cache(&self, kind: CacheKind, hit: bool) {
        let cache = match kind {
            CacheKind::Tag => "tag",
            CacheKind::Decision => "decision",
        };
        let family = if hit { &self.hits } else { &self.misses };
        family.get_or_create(&CacheLabel { cache }).inc();
    }

    pub fn registry_error(&self) {
        self.registry_errors.inc();
    }

    pub fn reload(&self, what: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reloads
            .get_or_create(&ReloadLabel { what, result })
            .inc();
    }

    pub fn admitted(&self, images: u64) {
        self.admitted.inc_by(images);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::new();
        m.decision(ResultKind::Denied, 0.001);
        m.cache(CacheKind::Decision, true);
        let text = m.render();
        assert!(
            text.contains("kiln_admit_decisions_total{result=\"denied\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kiln_admit_cache_hits_total{cache=\"decision\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kiln_admit_request_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
