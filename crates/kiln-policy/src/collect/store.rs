//! A read-through memo over an [`ImageStore`] for the length of one decision: verifying
//! with several signers and predicate types reads the same `.sig`/`.att` manifests, blobs
//! and referrer lists; each is fetched once. Behind it, when the gate has one, the
//! [`RegistryCache`] shared across decisions (content by digest; tags and referrers for a
//! short TTL). Read-only: writes are refused.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use kiln_oci::manifest::Descriptor;
use kiln_oci::{Digest, ImageStore, Manifest, OciError, Result};

use super::cache::RegistryCache;

/// Referrer lists by subject and artifact type.
type ReferrerMap = HashMap<(Digest, Option<String>), Vec<Descriptor>>;

/// Memoizes `resolve` (found and not-found), `fetch_blob` and `referrers`.
pub(crate) struct Memo<'a> {
    inner: &'a dyn ImageStore,
    /// The gate's shared cache and this store's `registry/repository`, for registry stores.
    shared: Option<(&'a RegistryCache, String)>,
    resolved: Mutex<HashMap<String, Option<Manifest>>>,
    blobs: Mutex<HashMap<Digest, Vec<u8>>>,
    referrers: Mutex<ReferrerMap>,
}

impl<'a> Memo<'a> {
    pub(crate) fn new(inner: &'a dyn ImageStore, shared: Option<&'a RegistryCache>) -> Memo<'a> {
        let shared = shared.and_then(|c| {
            inner
                .registry_location()
                .map(|(registry, repository)| (c, format!("{registry}/{repository}")))
        });
        Memo {
            inner,
            shared,
            resolved: Mutex::default(),
            blobs: Mutex::default(),
            referrers: Mutex::default(),
        }
    }
}

impl Memo<'_> {
    /// `resolve` through the shared cache: a digest from the content cache, a tag from
    /// its (short-lived) resolution; what the registry answers is kept.
    async fn resolve_shared(&self, selector: &str) -> Result<Manifest> {
        let Some((cache, scope)) = &self.shared else {
            return self.inner.resolve(selector).await;
        };
        let by_digest = Digest::parse(selector).ok();
        let known = match &by_digest {
            Some(d) => Some(Some(d.clone())),
            None => cache.tag(scope, selector),
        };
        match known {
            Some(None) => {
                return Err(OciError::NotFound(format!("{selector} in {}", self.name())));
            }
            Some(Some(d)) => {
                if let Some(m) = cache.manifest(scope, &d) {
                    return Ok(m);
                }
            }
            None => {}
        }
        let result = self.inner.resolve(selector).await;
        match &result {
            Ok(m) => {
                cache.put_manifest(scope, m);
                if by_digest.is_none() {
                    cache.put_tag(scope, selector, Some(m.digest.clone()));
                }
            }
            Err(OciError::NotFound(_)) if by_digest.is_none() => {
                cache.put_tag(scope, selector, None);
            }
            Err(_) => {}
        }
        result
    }
}

fn read_only(what: &str) -> OciError {
    OciError::Unsupported(format!("{what} while verifying (the gate only reads)"))
}

#[async_trait]
impl ImageStore for Memo<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn resolve(&self, selector: &str) -> Result<Manifest> {
        let hit = self
            .resolved
            .lock()
            .ok()
            .and_then(|m| m.get(selector).cloned());
        match hit {
            Some(Some(m)) => return Ok(m),
            Some(None) => return Err(OciError::NotFound(format!("{selector} in {}", self.name()))),
            None => {}
        }
        let result = self.resolve_shared(selector).await;
        let keep = match &result {
            Ok(m) => Some(Some(m.clone())),
            Err(OciError::NotFound(_)) => Some(None),
            Err(_) => None,
        };
        if let (Some(v), Ok(mut map)) = (keep, self.resolved.lock()) {
            map.insert(selector.to_string(), v);
        }
        result
    }

    async fn fetch_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>> {
        if let Some((cache, scope)) = &self.shared
            && let Some(b) = cache.blob(scope, &descriptor.digest)
        {
            return Ok(b);
        }
        if let Some(b) = self
            .blobs
            .lock()
            .ok()
            .and_then(|m| m.get(&descriptor.digest).cloned())
        {
            return Ok(b);
        }
        let b = self.inner.fetch_blob(descriptor).await?;
        if let Some((cache, scope)) = &self.shared {
            cache.put_blob(scope, &descriptor.digest, &b);
        }
        if let Ok(mut map) = self.blobs.lock() {
            map.insert(descriptor.digest.clone(), b.clone());
        }
        Ok(b)
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        self.inner.has_blob(digest).await
    }

    async fn push_blob(&self, _digest: &Digest, _data: &[u8]) -> Result<()> {
        Err(read_only("pushing a blob"))
    }

    async fn push_manifest(&self, _manifest: &Manifest, _tag: Option<&str>) -> Result<()> {
        Err(read_only("pushing a manifest"))
    }

    async fn tags(&self) -> Result<Vec<String>> {
        self.inner.tags().await
    }

    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let key = (subject.clone(), artifact_type.map(str::to_string));
        if let Some(r) = self
            .referrers
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(r);
        }
        if let Some((cache, scope)) = &self.shared
            && let Some(r) = cache.referrers(scope, subject, artifact_type)
        {
            return Ok(r);
        }
        let r = self.inner.referrers(subject, artifact_type).await?;
        if let Some((cache, scope)) = &self.shared {
            cache.put_referrers(scope, subject, artifact_type, &r);
        }
        if let Ok(mut map) = self.referrers.lock() {
            map.insert(key, r.clone());
        }
        Ok(r)
    }

    fn registry_location(&self) -> Option<(String, String)> {
        self.inner.registry_location()
    }
}
