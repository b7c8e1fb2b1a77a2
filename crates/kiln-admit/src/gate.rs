//! The policy gate as the webhook's decider: [`Decide`] for `kiln_policy::collect::Gate`,
//! and the factory that builds a gate for every (re)loaded policy.

use std::sync::Arc;

use kiln_oci::registry::Credentials;
use kiln_policy::Policy;
use kiln_policy::collect::{Gate, GateOptions, RegistryCacheOptions};

use crate::decide::{Decide, DeciderFactory, Outcome};

#[async_trait::async_trait]
impl Decide for Gate {
    async fn decide(
        &self,
        image: &str,
        namespace: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Outcome {
        let v = Gate::decide(self, image, namespace, credentials).await;
        Outcome {
            decision: v.decision,
            digest: v.digest.map(|d| d.to_string()),
            registry_error: v.registry_error,
        }
    }
}

/// Builds a [`Gate`] with `options` for each policy.
pub fn gate_factory(options: GateOptions) -> DeciderFactory {
    Arc::new(move |policy: Arc<Policy>| {
        Gate::new(policy, options.clone())
            .map(|g| Arc::new(g) as Arc<dyn Decide>)
            .map_err(|e| e.to_string())
    })
}

/// Builds a [`Gate`] with `options` for each policy, sharing registry reads across its
/// decisions (see `kiln_policy::collect::cache`); a new policy starts with an empty cache.
pub fn gate_factory_cached(options: GateOptions, cache: RegistryCacheOptions) -> DeciderFactory {
    Arc::new(move |policy: Arc<Policy>| {
        Gate::new(policy, options.clone())
            .map(|g| Arc::new(g.with_registry_cache(cache)) as Arc<dyn Decide>)
            .map_err(|e| e.to_string())
    })
}
