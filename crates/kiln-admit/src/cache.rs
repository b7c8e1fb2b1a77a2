//! The decision cache. A tag can move, so two caches:
//! - **tag → digest**, short TTL (default 30 s): how long a moved tag may still be answered
//!   with the digest it pointed to;
//! - **decision by (repository@digest, policy version, namespace)**, longer TTL (default
//!   5 min): a digest's content cannot change, only the evidence attached to it (a new
//!   signature or attestation) or the clock (Rego conditions on scan age), hence a TTL.
//!   The namespace is part of the key only when a rule of the policy is namespace-scoped.
//!
//! Both are bounded (moka, TinyLFU eviction). Registry errors and timeouts are never cached.

use std::time::Duration;

use moka::sync::Cache;

use crate::decide::Outcome;

/// Key of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DecisionKey {
    /// `registry/repository@sha256:…` (or `oci:PATH@sha256:…`).
    pub pinned: String,
    pub policy_version: String,
    pub namespace: Option<String>,
}

/// Sizes and lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    pub capacity: u64,
    pub tag_ttl: Duration,
    pub decision_ttl: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            capacity: 10_000,
            tag_ttl: Duration::from_secs(30),
            decision_ttl: Duration::from_secs(300),
        }
    }
}

/// Both caches.
pub struct DecisionCache {
    /// Zero: tag resolutions are never reused.
    tag_ttl: Duration,
    tags: Cache<String, String>,
    decisions: Cache<DecisionKey, Outcome>,
}

impl DecisionCache {
    pub fn new(options: CacheOptions) -> Self {
        DecisionCache {
            tag_ttl: options.tag_ttl,
            tags: Cache::builder()
                .max_capacity(options.capacity)
                .time_to_live(options.tag_ttl.max(Duration::from_millis(1)))
                .build(),
            decisions: Cache::builder()
                .max_capacity(options.capacity)
                .time_to_live(options.decision_ttl)
                .build(),
        }
    }

    /// The digest a tag reference resolved to recently.
    pub fn tag(&self, reference: &str) -> Option<String> {
        self.tags.get(reference)
    }

    pub fn put_tag(&self, reference: String, digest: String) {
        if self.tag_ttl.is_zero() {
            return;
        }
        self.tags.insert(reference, digest);
    }

    pub fn decision(&self, key: &DecisionKey) -> Option<Outcome> {
        self.decisions.get(key)
    }

    pub fn put_decision(&self, key: DecisionKey, outcome: Outcome) {
        self.decisions.insert(key, outcome);
    }

    /// Drops everything (after a policy reload the version changes anyway; this frees memory).
    pub fn clear(&self) {
        self.tags.invalidate_all();
        self.decisions.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_entries_expire() {
        let c = DecisionCache::new(CacheOptions {
            capacity: 10,
            tag_ttl: Duration::from_millis(1),
            decision_ttl: Duration::from_secs(60),
        });
        c.put_tag("r/a:1".into(), "sha256:1".into());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.tag("r/a:1"), None);
    }
}
