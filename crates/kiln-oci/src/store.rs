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
    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>>;

    /// `(registry, repository)` when the store is a registry repository, so that a copy
    /// between two repositories of one registry can mount blobs instead of sending them.
    fn registry_location(&self) -> Option<(String, String)> {
        None
    }

    /// Makes the blob `digest` of repository `from` (same registry) present here without
    /// sending it; `false` when the store cannot (the caller then pushes the blob).
    async fn mount_blob(&self, _digest: &Digest, _from: &str) -> Result<bool> {
        Ok(false)
    }
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

/// What a copy did with one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobAction {
    /// The destination had it already.
    Present,
    /// Mounted from the source repository of the same registry.
    Mounted,
    /// Fetched from the source and pushed.
    Copied,
}

/// A step of [`copy_image_with_progress`], for progress reporting.
#[derive(Debug, Clone, Copy)]
pub enum CopyEvent<'a> {
    /// A manifest's blobs are about to be copied; `bytes` is their total size.
    Planned { manifest: &'a Digest, bytes: u64 },
    /// One blob is done.
    Blob {
        descriptor: &'a Descriptor,
        action: BlobAction,
    },
    /// A manifest was pushed.
    Manifest { digest: &'a Digest },
}

/// A progress callback.
pub type Progress<'a> = &'a (dyn Fn(CopyEvent<'_>) + Send + Sync);

/// Copies the manifest that `selector` names, with everything it references, from `src`
/// to `dst`, tagging it `tag` in `dst`. Blobs already in `dst` are not sent again.
/// Returns the copied manifest.
pub async fn copy_image(
    src: &dyn ImageStore,
    selector: &str,
    dst: &dyn ImageStore,
    tag: Option<&str>,
) -> Result<Manifest> {
    copy_image_with_progress(src, selector, dst, tag, None).await
}

/// [`copy_image`], reporting each step to `progress`. Between two repositories of one
/// registry, blobs are mounted (`POST ...?mount=&from=`) rather than sent. Order: every
/// blob, then child manifests, then the manifest, then the tag; a failure leaves `dst`
/// without the manifest and tag (blobs already sent are complete and verified).
pub async fn copy_image_with_progress(
    src: &dyn ImageStore,
    selector: &str,
    dst: &dyn ImageStore,
    tag: Option<&str>,
    progress: Option<Progress<'_>>,
) -> Result<Manifest> {
    let root = src.resolve(selector).await?;
    let mount_from = match (src.registry_location(), dst.registry_location()) {
        (Some((sr, srepo)), Some((dr, drepo))) if sr == dr && srepo != drepo => Some(srepo),
        _ => None,
    };
    let ctx = CopyCtx {
        src,
        dst,
        mount_from: mount_from.as_deref(),
        progress,
    };
    ctx.copy_tree(&root).await?;
    dst.push_manifest(&root, tag).await?;
    ctx.report(CopyEvent::Manifest {
        digest: &root.digest,
    });
    Ok(root)
}

struct CopyCtx<'a> {
    src: &'a dyn ImageStore,
    dst: &'a dyn ImageStore,
    mount_from: Option<&'a str>,
    progress: Option<Progress<'a>>,
}

impl CopyCtx<'_> {
    fn report(&self, event: CopyEvent<'_>) {
        if let Some(p) = self.progress {
            p(event);
        }
    }

    async fn copy_blob(&self, d: &Descriptor) -> Result<()> {
        let action = if self.dst.has_blob(&d.digest).await? {
            BlobAction::Present
        } else if let Some(from) = self.mount_from
            && self.dst.mount_blob(&d.digest, from).await?
        {
            BlobAction::Mounted
        } else {
            let data = self.src.fetch_blob(d).await?;
            self.dst.push_blob(&d.digest, &data).await?;
            BlobAction::Copied
        };
        self.report(CopyEvent::Blob {
            descriptor: d,
            action,
        });
        Ok(())
    }

    /// Copies the blobs and child manifests of `manifest` (not the manifest itself).
    async fn copy_tree(&self, manifest: &Manifest) -> Result<()> {
        match &manifest.kind {
            ManifestKind::Image(m) => {
                let blobs: Vec<&Descriptor> =
                    std::iter::once(&m.config).chain(m.layers.iter()).collect();
                self.report(CopyEvent::Planned {
                    manifest: &manifest.digest,
                    bytes: blobs.iter().map(|d| d.size).sum(),
                });
                for d in blobs {
                    self.copy_blob(d).await?;
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
                    let child = self.src.fetch_manifest(&d.digest).await?;
                    Box::pin(self.copy_tree(&child)).await?;
                    self.dst.push_manifest(&child, None).await?;
                    self.report(CopyEvent::Manifest {
                        digest: &child.digest,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The image manifest an index stands for when the caller names no platform: the
/// linux/amd64 entry, else the first image manifest it lists.
pub fn pick_image_from_index(index: &ImageIndex) -> Option<&Descriptor> {
    let images = || {
        index
            .manifests
            .iter()
            .filter(|d| media_type::is_image_manifest(&d.media_type))
    };
    images()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .or_else(|| images().next())
}

/// Resolves `selector` (tag or digest) to an image manifest, narrowing an index with
/// [`pick_image_from_index`].
pub async fn resolve_image(store: &dyn ImageStore, selector: &str) -> Result<Manifest> {
    let manifest = store.resolve(selector).await?;
    let child = match &manifest.kind {
        ManifestKind::Image(_) => return Ok(manifest),
        ManifestKind::Index(index) => pick_image_from_index(index)
            .ok_or_else(|| {
                OciError::malformed(
                    format!("index {} in {}", manifest.digest, store.name()),
                    "lists no image manifest",
                )
            })?
            .digest
            .clone(),
    };
    let image = store.fetch_manifest(&child).await?;
    image.as_image()?;
    Ok(image)
}
