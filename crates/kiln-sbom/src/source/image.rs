//! An image source: the merged filesystem of an image (whiteouts applied), read only through
//! the kiln-oci filesystem view, so nothing is extracted to disk and every file carries the
//! digest of the layer that added it.

use std::io::Read;

use kiln_oci::fsview::{FsError, FsView, Limits};
use kiln_oci::manifest::{ImageManifest, ManifestKind};
use kiln_oci::{ImageRef, ImageStore, Manifest, OciLayout};

use super::{FileMeta, Sink, Source, SourceError};
use crate::warning::Warning;

/// An image's merged filesystem.
pub struct ImageSource {
    view: FsView,
    digest: String,
}

fn invalid(input: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Invalid {
        input: input.to_string(),
        reason: e.to_string(),
    }
}

impl ImageSource {
    /// Opens the image named by `reference` (`oci:PATH[:TAG|@DIGEST]`) in a local layout.
    /// Without a tag or digest, the layout's only image is taken.
    pub fn open_layout(reference: &str) -> Result<ImageSource, SourceError> {
        let r = ImageRef::parse(reference).map_err(|e| invalid(reference, e))?;
        let ImageRef::Layout { path, tag, digest } = &r else {
            return Err(invalid(reference, "not an OCI layout reference"));
        };
        let layout = OciLayout::open(path).map_err(|e| invalid(reference, e))?;
        let selector = match (digest, tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => {
                let index = layout.index().map_err(|e| invalid(reference, e))?;
                match index.manifests.as_slice() {
                    [one] => one.digest.to_string(),
                    [] => return Err(invalid(reference, "the layout holds no image")),
                    _ => "latest".to_string(),
                }
            }
        };
        let mut manifest = layout
            .resolve_sync(&selector)
            .map_err(|e| invalid(reference, e))?;
        if let ManifestKind::Index(index) = &manifest.kind {
            let d = kiln_oci::store::pick_image_from_index(index)
                .ok_or_else(|| invalid(reference, "the index names no image manifest"))?;
            manifest = layout
                .resolve_sync(&d.digest.to_string())
                .map_err(|e| invalid(reference, e))?;
        }
        let (digest, image) = image_of(reference, manifest)?;
        let view = FsView::from_layout(&layout, &image, Limits::default())
            .map_err(|e| invalid(reference, e))?;
        Ok(ImageSource { view, digest })
    }

    /// Opens the image `selector` (tag or digest) of any store (a registry, a layout).
    pub async fn open_store(
        store: &dyn ImageStore,
        selector: &str,
    ) -> Result<ImageSource, SourceError> {
        let name = format!("{}:{selector}", store.name());
        let mut manifest = store
            .resolve(selector)
            .await
            .map_err(|e| invalid(&name, e))?;
        if let ManifestKind::Index(index) = &manifest.kind {
            let d = kiln_oci::store::pick_image_from_index(index)
                .ok_or_else(|| invalid(&name, "the index names no image manifest"))?;
            manifest = store
                .fetch_manifest(&d.digest)
                .await
                .map_err(|e| invalid(&name, e))?;
        }
        let (digest, image) = image_of(&name, manifest)?;
        let view = FsView::from_store(store, &image, Limits::default())
            .await
            .map_err(|e| invalid(&name, e))?;
        Ok(ImageSource { view, digest })
    }

    /// A source over an already built view.
    pub fn from_view(view: FsView, digest: String) -> ImageSource {
        ImageSource { view, digest }
    }

    /// The image manifest digest.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

fn image_of(name: &str, m: Manifest) -> Result<(String, ImageManifest), SourceError> {
    match m.kind {
        ManifestKind::Image(i) => Ok((m.digest.to_string(), i)),
        ManifestKind::Index(_) => Err(invalid(name, "a nested index is not an image")),
    }
}

struct Stop(FsError);

impl From<FsError> for Stop {
    fn from(e: FsError) -> Stop {
        Stop(e)
    }
}

impl Source for ImageSource {
    fn visit(
        &mut self,
        select: &dyn Fn(&str) -> bool,
        sink: &mut Sink<'_>,
    ) -> Result<Vec<Warning>, SourceError> {
        let r = self.view.visit_files(
            |e| select(&e.path),
            |e, reader: &mut dyn Read| -> Result<(), Stop> {
                let layer = e.layer.digest.to_string();
                sink(
                    FileMeta {
                        path: &e.path,
                        layer: Some(&layer),
                        size: e.size,
                    },
                    reader,
                );
                Ok(())
            },
        );
        match r {
            Ok(()) => Ok(Vec::new()),
            Err(Stop(e)) => Err(invalid(&self.digest, e)),
        }
    }
}
