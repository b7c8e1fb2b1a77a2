//! A registry read cache shared by every decision of one [`Gate`](super::Gate), so that an
//! uncached decision (one not in the webhook's decision cache) does not have to go back to
//! the registry for what it read moments ago.
//!
//! Two kinds of entries, with different rules:
//! - **content-addressed** (a manifest by its digest, a blob by its digest): immutable, so
//!   kept until evicted by size (the total is bounded by [`RegistryCacheOptions::max_bytes`]);
//!   only blobs up to [`MAX_CACHED_BLOB`] are kept (signature payloads, attestation
//!   envelopes), never image layers;
//! - **mutable** (a tag → digest, including a tag that does not exist, and a referrers list):
//!   kept for [`RegistryCacheOptions::tag_ttl`] only, so a new or removed signature is
//!   seen within that time. A TTL of zero keeps no mutable entry at all.
//!
//! Entries are keyed by `registry/repository`; only registry stores are cached (a local
//! layout is read directly). Like the decision cache, an entry read with one set of
//! credentials serves later decisions of the same repository.

use std::sync::Arc;
use std::time::Duration;

use kiln_oci::manifest::Descriptor;
use kiln_oci::{Digest, Manifest};
use moka::sync::Cache;

/// The largest blob kept (signature payloads and attestation envelopes are far smaller).
pub const MAX_CACHED_BLOB: usize = 4 * 1024 * 1024;

/// Sizes and lifetimes of a [`RegistryCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryCacheOptions {
    /// How long a tag resolution or a referrers list is trusted (zero: never cached).
    pub tag_ttl: Duration,
    /// The most bytes of manifests and blobs kept (zero: nothing content-addressed kept).
    pub max_bytes: u64,
}

impl Default for RegistryCacheOptions {
    fn default() -> Self {
        RegistryCacheOptions {
            tag_ttl: Duration::from_secs(30),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// `(registry/repository, tag)`.
type TagKey = (String, String);
/// `(registry/repository, digest)`.
type ContentKey = (String, Digest);
/// `(registry/repository, subject, artifact type)`.
type ReferrersKey = (String, Digest, Option<String>);

/// The shared cache (cheap to clone: the maps are reference-counted).
#[derive(Clone)]
pub struct RegistryCache {
    options: RegistryCacheOptions,
    /// `None`: the tag does not exist (the registry answered "not found").
    tags: Cache<TagKey, Option<Digest>>,
    manifests: Cache<ContentKey, Arc<Manifest>>,
    blobs: Cache<ContentKey, Arc<Vec<u8>>>,
    referrers: Cache<ReferrersKey, Arc<Vec<Descriptor>>>,
}

impl std::fmt::Debug for RegistryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCache")
            .field("options", &self.options)
            .field("entries", &self.entries())
            .finish()
    }
}

/// A weight for moka: bytes, saturated to `u32`.
fn weight(len: usize) -> u32 {
    u32::try_from(len.saturating_add(64)).unwrap_or(u32::MAX)
}

impl RegistryCache {
    /// An empty cache.
    pub fn new(options: RegistryCacheOptions) -> RegistryCache {
        let ttl = options.tag_ttl.max(Duration::from_millis(1));
        // Half of the byte budget each for manifests and blobs.
        let half = options.max_bytes / 2;
        RegistryCache {
            options,
            tags: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            manifests: Cache::builder()
                .max_capacity(half)
                .weigher(|_, m: &Arc<Manifest>| weight(m.bytes.len()))
                .build(),
            blobs: Cache::builder()
                .max_capacity(half)
                .weigher(|_, b: &Arc<Vec<u8>>| weight(b.len()))
                .build(),
            referrers: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The options it was built with.
    pub fn options(&self) -> RegistryCacheOptions {
        self.options
    }

    fn mutable_enabled(&self) -> bool {
        !self.options.tag_ttl.is_zero()
    }

    fn content_enabled(&self) -> bool {
        self.options.max_bytes > 0
    }

    /// A tag's cached resolution: `Some(Some(digest))`, `Some(None)` (known not to exist),
    /// or `None` (not cached).
    pub(crate) fn tag(&self, scope: &str, tag: &str) -> Option<Option<Digest>> {
        if !self.mutable_enabled() {
            return None;
        }
        self.tags.get(&(scope.to_string(), tag.to_string()))
    }

    pub(crate) fn put_tag(&self, scope: &str, tag: &str, digest: Option<Digest>) {
        if self.mutable_enabled() {
            self.tags
                .insert((scope.to_string(), tag.to_string()), digest);
        }
    }

    pub(crate) fn manifest(&self, scope: &str, digest: &Digest) -> Option<Manifest> {
        self.manifests
            .get(&(scope.to_string(), digest.clone()))
            .map(|m| (*m).clone())
    }

    pub(crate) fn put_manifest(&self, scope: &str, manifest: &Manifest) {
        if self.content_enabled() {
            self.manifests.insert(
                (scope.to_string(), manifest.digest.clone()),
                Arc::new(manifest.clone()),
            );
        }
    }

    pub(crate) fn blob(&self, scope: &str, digest: &Digest) -> Option<Vec<u8>> {
        self.blobs
            .get(&(scope.to_string(), digest.clone()))
            .map(|b| (*b).clone())
    }

    /// Keeps a blob that was read and checked against `digest` by the store.
    pub(crate) fn put_blob(&self, scope: &str, digest: &Digest, data: &[u8]) {
        if self.content_enabled() && data.len() <= MAX_CACHED_BLOB {
            self.blobs
                .insert((scope.to_string(), digest.clone()), Arc::new(data.to_vec()));
        }
    }

    pub(crate) fn referrers(
        &self,
        scope: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Option<Vec<Descriptor>> {
        if !self.mutable_enabled() {
            return None;
        }
        self.referrers
            .get(&(
                scope.to_string(),
                subject.clone(),
                artifact_type.map(str::to_string),
            ))
            .map(|r| (*r).clone())
    }

    pub(crate) fn put_referrers(
        &self,
        scope: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
        list: &[Descriptor],
    ) {
        if self.mutable_enabled() {
            self.referrers.insert(
                (
                    scope.to_string(),
                    subject.clone(),
                    artifact_type.map(str::to_string),
                ),
                Arc::new(list.to_vec()),
            );
        }
    }

    /// How many entries are held (tags, manifests, blobs, referrers lists), after moka's
    /// pending bookkeeping has run.
    pub fn entries(&self) -> u64 {
        self.tags.run_pending_tasks();
        self.manifests.run_pending_tasks();
        self.blobs.run_pending_tasks();
        self.referrers.run_pending_tasks();
        self.tags.entry_count()
            + self.manifests.entry_count()
            + self.blobs.entry_count()
            + self.referrers.entry_count()
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.tags.invalidate_all();
        self.manifests.invalidate_all();
        self.blobs.invalidate_all();
        self.referrers.invalidate_all();
        self.entries();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::parse(&format!("sha256:{}", hex_of(n))).expect("digest")
    }

    fn hex_of(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    #[test]
    fn zero_ttl_keeps_no_tag_or_referrers() {
        let c = RegistryCache::new(RegistryCacheOptions {
            tag_ttl: Duration::ZERO,
            max_bytes: 1024,
        });
        c.put_tag("r/a", "v1", Some(digest(1)));
        assert_eq!(c.tag("r/a", "v1"), None);
        c.put_referrers("r/a", &digest(1), None, &[]);
        assert_eq!(c.referrers("r/a", &digest(1), None), None);
    }

    #[test]
    fn tags_expire_and_negative_answers_are_kept() {
        let c = RegistryCache::new(RegistryCacheOptions {
            tag_ttl: Duration::from_millis(50),
            max_bytes: 1024,
        });
        c.put_tag("r/a", "missing", None);
        c.put_tag("r/a", "v1", Some(digest(2)));
        assert_eq!(c.tag("r/a", "missing"), Some(None));
        assert_eq!(c.tag("r/a", "v1"), Some(Some(digest(2))));
        assert_eq!(c.tag("r/b", "v1"), None, "scoped by repository");
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(c.tag("r/a", "v1"), None);
    }

    #[test]
    fn blobs_are_scoped_and_bounded_in_size() {
        let c = RegistryCache::new(RegistryCacheOptions::default());
        c.put_blob("r/a", &digest(3), b"payload");
        assert_eq!(c.blob("r/a", &digest(3)).as_deref(), Some(&b"payload"[..]));
        assert_eq!(c.blob("r/b", &digest(3)), None);
        let big = vec![0u8; MAX_CACHED_BLOB + 1];
        c.put_blob("r/a", &digest(4), &big);
        assert_eq!(c.blob("r/a", &digest(4)), None, "layers are never kept");
    }
}
