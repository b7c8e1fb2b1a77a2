//! [`ImageStore`]: one interface over every place images live (an OCI image layout on
//! disk, a repository in a registry), and the operations built only on it: copying an
//! image between stores and keeping the referrers tag schema up to date.

use async_trait::async_trait;

use crate::digest::Digest;
use crate::error::{OciError, Result};
use crate::manifest::{Descriptor, ImageIndex, Manifest, ManifestKind};
use crate::media_type;

/// A place that holds one repository of images: blobs, manifests, tags and referrers.
///
/// Every blob and manifest returned has been checked against its digest. Pushes write
/// blobs before the manifests that name them, and manifests before their tags.
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// The store's name for messages (`oci:PATH` or `REGISTRY/REPO`).
    fn name(&self) -> String;

    /// Resolves a tag or a digest string to its manifest.
    async fn resolve(&self, selector: &str) -> Result<Manifest>;

    /// Fetches the manifest with `digest`.
    async fn fetch_manifest(&self, digest: &Digest) -> Result<Manifest> {
        self.resolve(&digest.to_string()).await
    }

    /// Fetches a blob, verifying its size and digest.
    async fn fetch_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>>;

    /// Whether the store has the blob.
    async fn has_blob(&self, digest: &Digest) -> Result<bool>;

    /// Stores a blob whose digest the caller computed; the store checks it again.
    async fn push_blob(&self, digest: &Digest, data: &[u8]) -> Result<()>;

    /// Stores a manifest (its blobs must be present) and, if given, points `tag` at it.
    /// A manifest with a `subject` is also made visible among the subject's referrers.
    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<()>;

    /// The store's tags, sorted.
    async fn tags(&self) -> Result<Vec<String>>;

    /// The manifests whose `subject` is `subject`, optionally of one artifact type.
    async fn referrers(&self, subject: &Digest, artifact_type: Option<&str>)
    -> Result<Vec<Descriptor>>;
}

/// Reads the referrers tag schema index for `subject` (an OCI index at tag
/// `sha256-<hex>`); an absent tag means no referrers.
pub async fn read_referrers_tag(store: &dyn ImageStore, subject: &Digest) -> Result<ImageIndex> {
    match store.resolve(&subject.tag_form()).await {
        Ok(m) => match m.kind {
            ManifestKind::Index(i) => Ok(i),
            ManifestKind::Image(_) => Err(OciError::malformed(
                format!("referrers tag {} in {}", subject.tag_form(), store.name()),
                "is an image manifest, not an index",
            )),
        },
        Err(OciError::NotFound(_)) => Ok(ImageIndex::empty()),
        Err(e) => Err(e),
    }
}

/// Adds `referrer` to the referrers tag schema index of `subject` and pushes it.
pub async fn add_to_referrers_tag(
    store: &dyn ImageStore,
    subject: &Digest,
    referrer: Descriptor,
) -> Result<()> {
    let mut index = read_referrers_tag(store, subject).await?;
    if index.manifests.iter().any(|d| d.digest == referrer.digest) {
        return Ok(());
    }
    index.manifests.push(referrer);
    let manifest = Manifest::from_index(&index);
    store
        .push_manifest(&manifest, Some(&subject.tag_form()))
        .await
}

/// Filters referrer descriptors by artifact type.
pub fn filter_referrers(list: Vec<Descriptor>, artifact_type: Option<&str>) -> Vec<Descriptor> {
    match artifact_type {
        None => list,
        Some(t) => list
            .into_iter()
            .filter(|d| d.artifact_type.as_deref() == Some(t))
            .collect(),
    }
}

/// Copies the manifest that `selector` names, with everything it references, from `src`
/// to `dst`, tagging it `tag` in `dst`. Blobs already in `dst` are not sent again.
/// Returns the copied manifest.
pub async fn copy_image(
    src: &dyn ImageStore,
    selector: &str,
    dst: &dyn ImageStore,
    tag: Option<&str>,
) -> Result<Manifest> {
    let root = src.resolve(selector).await?;
    copy_manifest_tree(src, &root, dst).await?;
    dst.push_manifest(&root, tag).await?;
    Ok(root)
}

/// Copies the blobs and child manifests of `manifest` (not the manifest itself).
async fn copy_manifest_tree(
    src: &dyn ImageStore,
    manifest: &Manifest,
    dst: &dyn ImageStore,
) -> Result<()> {
    match &manifest.kind {
        ManifestKind::Image(m) => {
            for d in std::iter::once(&m.config).chain(m.layers.iter()) {
                if !dst.has_blob(&d.digest).await? {
                    let data = src.fetch_blob(d).await?;
                    dst.push_blob(&d.digest, &data).await?;
                }
            }
        }
        ManifestKind::Index(i) => {
            for d in &i.manifests {
                if !media_type::is_image_manifest(&d.media_type)
                    && !media_type::is_index(&d.media_type)
                {
                    return Err(OciError::UnknownMediaType {
                        media_type: d.media_type.clone(),
                        what: format!("index {}", manifest.digest),
                    });
                }
                let child = src.fetch_manifest(&d.digest).await?;
                Box::pin(copy_manifest_tree(src, &child, dst)).await?;
                dst.push_manifest(&child, None).await?;
            }
        }
    }
    Ok(())
}
