//! Prometheus metrics (text exposition through `prometheus-client`):
//! - `kiln_admit_decisions_total{result="allowed|denied|error"}`: admission responses;
//! - `kiln_admit_request_duration_seconds`: latency histogram of `/validate` and `/mutate`;
//! - `kiln_admit_cache_hits_total` / `kiln_admit_cache_misses_total{cache="tag|decision"}`;
//! - `kiln_admit_registry_errors_total`: image decisions that met a registry error/timeout;
//! - `kiln_admit_reloads_total{what="policy|certificate",result="ok|error"}`;
//! - `kiln_admit_admitted_images_total`: images admitted outside dry runs;
//! - `kiln_admit_refused_total{reason="overloaded|too_large|slow_body|connections|budget"}`:
//!   requests and connections refused by the server's limits (see `server::Limits`);
//! - `kiln_admit_in_flight`: AdmissionReviews being decided; `kiln_admit_connections`: open
//!   connections.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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
struct RefusedLabel {
    reason: &'static str,
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

/// Why the server refused a request or a connection without deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No decision slot (or body memory) free within the queue wait: 503.
    Overloaded,
    /// The body is over the limit: 413.
    TooLarge,
    /// The body did not arrive within the body timeout: 408.
    SlowBody,
    /// Over the connection limit: closed at once.
    Connections,
    /// The decision overran the budget (a safety net behind the per-image deadline): denied.
    Budget,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Overloaded => "overloaded",
            Refusal::TooLarge => "too_large",
            Refusal::SlowBody => "slow_body",
            Refusal::Connections => "connections",
            Refusal::Budget => "budget",
        }
    }
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
    refused: Family<RefusedLabel, Counter>,
    in_flight: Gauge,
    connections: Gauge,
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
        let refused = Family::<RefusedLabel, Counter>::default();
        registry.register(
            "kiln_admit_refused",
            "Requests and connections refused by the server's limits",
            refused.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "kiln_admit_in_flight",
            "AdmissionReviews being decided",
            in_flight.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "kiln_admit_connections",
            "Open connections on the webhook port",
            connections.clone(),
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
            refused,
            in_flight,
            connections,
        }
    }

    pub fn refused(&self, why: Refusal) {
        self.refused
            .get_or_create(&RefusedLabel {
                reason: why.label(),
            })
            .inc();
    }

    /// Counts one AdmissionReview in flight until the guard is dropped.
    pub fn in_flight(&self) -> GaugeGuard {
        GaugeGuard::new(self.in_flight.clone())
    }

    /// Counts one open connection until the guard is dropped.
    pub fn connection(&self) -> GaugeGuard {
        GaugeGuard::new(self.connections.clone())
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

/// Decrements its gauge when dropped.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(g: Gauge) -> Self {
        g.inc();
        GaugeGuard(g)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
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
        m.refused(Refusal::Overloaded);
        let g = m.in_flight();
        let text = m.render();
        assert!(text.contains("kiln_admit_in_flight 1"), "{text}");
        drop(g);
        assert!(m.render().contains("kiln_admit_in_flight 0"));
        assert!(
            text.contains("kiln_admit_refused_total{reason=\"overloaded\"} 1"),
            "{text}"
        );
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
