//! Image layers, read through the kiln-oci filesystem view: every regular file of every
//! layer, including versions a later layer deleted or overwrote (anyone who pulls the
//! image can still read them). Each finding names its layer and whether it is hidden in
//! the final image.

use std::io::Read;
use std::path::Path;

use kiln_oci::fsview::{FsError, FsView, LayerFile, Limits};
use kiln_oci::layout::OciLayout;
use kiln_oci::manifest::ManifestKind;

use super::{Event, Notice, Stats};
use crate::engine::{Fragment, Scanner};

/// Errors that stop an image scan.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The image could not be opened or resolved.
    #[error("image {image}: {message}")]
    Open {
        /// The image.
        image: String,
        /// The cause.
        message: String,
    },
    /// Reading the layers failed.
    #[error("image {image}: {source}")]
    Layers {
        /// The image.
        image: String,
        /// The cause.
        source: Box<FsError>,
    },
}

/// Opens the image `selector` (tag or digest) of the OCI layout at `root` as a view; an
/// index resolves to its first image manifest.
pub fn open_layout_image(root: &Path, selector: &str) -> Result<FsView, ImageError> {
    let image = format!("oci:{}:{selector}", root.display());
    let err = |e: kiln_oci::error::OciError| ImageError::Open {
        image: image.clone(),
        message: e.to_string(),
    };
    let layout = OciLayout::open(root).map_err(err)?;
    let mut manifest = layout.resolve_sync(selector).map_err(err)?;
    if let ManifestKind::Index(ix) = &manifest.kind {
        let first = ix.manifests.first().ok_or_else(|| ImageError::Open {
            image: image.clone(),
            message: "the index lists no manifest".to_string(),
        })?;
        manifest = layout
            .resolve_sync(&first.digest.to_string())
            .map_err(err)?;
    }
    let m = manifest.as_image().map_err(err)?;
    FsView::from_layout(&layout, m, Limits::default()).map_err(|source| ImageError::Layers {
        image: image.clone(),
        source: Box::new(source),
    })
}

/// Opens the image `selector` (tag or digest) of any store (a registry or a layout) as a
/// view; an index resolves to its linux/amd64 image (else its first).
pub async fn open_store_image(
    store: &dyn kiln_oci::ImageStore,
    selector: &str,
) -> Result<FsView, ImageError> {
    let image = format!("{}:{selector}", store.name());
    let err = |e: kiln_oci::error::OciError| ImageError::Open {
        image: image.clone(),
        message: e.to_string(),
    };
    let manifest = kiln_oci::store::resolve_image(store, selector)
        .await
        .map_err(err)?;
    let m = manifest.as_image().map_err(err)?;
    FsView::from_store(store, m, Limits::default())
        .await
        .map_err(|source| ImageError::Layers {
            image: image.clone(),
            source: Box::new(source),
        })
}

/// Scans every file of every layer of `view`. `image` names it in errors.
pub fn scan_view(
    view: &FsView,
    image: &str,
    scanner: &Scanner,
    sink: &(dyn Fn(Event) + Sync),
) -> Result<Stats, ImageError> {
    let mut stats = Stats::default();
    let rel = |f: &LayerFile| f.entry.path.trim_start_matches('/').to_string();
    let mut buf = Vec::new();
    let filter = |f: &LayerFile| {
        let path = rel(f);
        let layer = f.entry.layer.digest.to_string();
        for mut finding in scanner.scan_path(&path) {
            finding.layer = Some(layer.clone());
            finding.deleted = !f.visible;
            sink(Event::Finding(Box::new(finding)));
        }
        if scanner.path_allowed(&path) {
            return false;
        }
        match scanner
            .skip
            .by_path(&path)
            .or_else(|| scanner.skip.by_size(f.entry.size))
        {
            Some(reason) => {
                sink(Event::Notice(Notice::Skipped { path, reason }));
                false
            }
            None => true,
        }
    };
    let visit = |f: &LayerFile, r: &mut dyn Read| -> Result<(), FsError> {
        let path = rel(f);
        buf.clear();
        if let Err(e) = r
            .take(scanner.skip.max_size.saturating_add(1))
            .read_to_end(&mut buf)
        {
            sink(Event::Notice(Notice::Unreadable {
                path: format!("{path} ({})", f.entry.layer),
                message: e.to_string(),
            }));
            return Ok(());
        }
        if let Some(reason) = scanner.skip.by_content(&path, &buf) {
            stats.skipped += 1;
            sink(Event::Notice(Notice::Skipped { path, reason }));
            return Ok(());
        }
        stats.scanned += 1;
        stats.bytes += buf.len() as u64;
        sink(Event::Progress(buf.len() as u64));
        for mut finding in scanner.scan(&Fragment {
            path: &path,
            data: &buf,
            commit: None,
        }) {
            finding.layer = Some(f.entry.layer.digest.to_string());
            finding.deleted = !f.visible;
            sink(Event::Finding(Box::new(finding)));
        }
        Ok(())
    };
    view.visit_layer_files(filter, visit)
        .map_err(|source| ImageError::Layers {
            image: image.to_string(),
            source: Box::new(source),
        })?;
    Ok(stats)
}
