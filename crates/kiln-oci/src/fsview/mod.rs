//! The image filesystem view: the merged tree of an image's layers, read straight from
//! the (gzip, zstd or uncompressed) tar blobs without extracting anything to disk.
//!
//! Building a [`FsView`] makes one index pass over every layer, in manifest order: each
//! layer is decompressed once, its tar headers are read (content is skipped, not kept),
//! its whiteouts (`.wh.NAME`) and opaque-directory markers (`.wh..wh..opq`) are applied to
//! the layers below it, and its entries are merged in. Paths are normalized (`./`, `/`,
//! repeated slashes and `..` inside the root are accepted; `..` climbing out of the root,
//! NUL bytes and non-UTF-8 names are refused, naming the layer and entry). Parent
//! directories are resolved through symlinks as an extractor would, never leaving the
//! root. Every entry knows the layer that added its current version. The compressed bytes
//! are checked against each layer descriptor's digest and size during that pass.
//!
//! Content is read later by passes that stream the layers again:
//! - [`FsView::read`]: one file into memory (bounded by [`Limits::max_file_read`]);
//! - [`FsView::visit_files`]: every regular file of the merged tree that a filter selects,
//!   each handed to the visitor with a streaming reader;
//! - [`FsView::visit_layer_files`]: every regular file of every layer, including versions
//!   later hidden by a whiteout or an overwrite, each marked visible or not (anyone who
//!   pulls the image can read hidden versions, so secret scanning needs them).
//!
//! A pass decompresses each layer at most once, skips layers with nothing selected, stops
//! reading a layer after its last selected entry and never holds a whole layer in memory.
//! Symbolic links are resolved inside the image root: an absolute target starts again at
//! the image root, `..` stops at the root, and more than [`Limits::max_symlink_hops`]
//! links make a [`FsError::SymlinkLoop`].
//!
//! A view is built from an [`OciLayout`] (blobs read in place), from any [`ImageStore`]
//! (blobs fetched, digest-checked, kept in private temporary files), or from a list of
//! [`LayerBlob`]s (files, bytes, or readers: for tests and archive sources).

mod build;
mod decode;
mod entry;
mod error;
mod limits;
mod pass;
mod path;
mod source;
mod tree;

use std::collections::BTreeMap;
use std::io::Read;

pub use entry::{Entry, EntryKind, LayerFile, LayerInfo, LayerRef};
pub use error::{FsError, FsResult};
pub use limits::Limits;
pub use source::LayerBlob;

use crate::layout::OciLayout;
use crate::manifest::ImageManifest;
use crate::store::ImageStore;

/// The read-only merged filesystem of an image. `Send + Sync`: passes take `&self` and
/// may run on several threads at once.
#[derive(Debug)]
pub struct FsView {
    layers: Vec<LayerRef>,
    blobs: Vec<LayerBlob>,
    /// The merged tree, keyed by normalized absolute path (always holds `/`).
    tree: BTreeMap<String, Entry>,
    /// Per layer: its regular files with their tar ordinals, in archive order.
    layer_files: Vec<Vec<Entry>>,
    limits: Limits,
}

impl FsView {
    /// Builds the view of `layers` (bottom first), reading each once.
    pub fn from_layers(layers: Vec<LayerBlob>, limits: Limits) -> FsResult<FsView> {
        build::build(layers, limits)
    }

    /// Builds the view of the image `manifest` whose blobs are in `layout`, reading them
    /// in place, streaming.
    pub fn from_layout(
        layout: &OciLayout,
        manifest: &ImageManifest,
        limits: Limits,
    ) -> FsResult<FsView> {
        let blobs = manifest
            .layers
            .iter()
            .map(|d| LayerBlob::from_path(d.clone(), layout.blob_path(&d.digest)))
            .collect();
        FsView::from_layers(blobs, limits)
    }

    /// Fetches the layer blobs of `manifest` from `store` (each digest-checked by the
    /// store) into private temporary files, for [`FsView::from_layers`].
    pub async fn fetch_layers(
        store: &dyn ImageStore,
        manifest: &ImageManifest,
    ) -> FsResult<Vec<LayerBlob>> {
        let mut blobs = Vec::with_capacity(manifest.layers.len());
        for (index, d) in manifest.layers.iter().enumerate() {
            build::check_media_type(index, d)?;
            let data = store.fetch_blob(d).await.map_err(|source| FsError::Blob {
                layer: index,
                digest: d.digest.clone(),
                source,
            })?;
            blobs.push(LayerBlob::from_reader(d.clone(), &data[..])?);
        }
        Ok(blobs)
    }

    /// Fetches the layers of `manifest` from `store` and builds the view on a blocking
    /// thread (so it must run inside a Tokio runtime).
    pub async fn from_store(
        store: &dyn ImageStore,
        manifest: &ImageManifest,
        limits: Limits,
    ) -> FsResult<FsView> {
        let blobs = FsView::fetch_layers(store, manifest).await?;
        match tokio::task::spawn_blocking(move || FsView::from_layers(blobs, limits)).await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[LayerRef] {
        &self.layers
    }

    /// The limits the view enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Number of entries in the merged tree (the root included).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the merged tree holds only the root.
    pub fn is_empty(&self) -> bool {
        self.tree.len() <= 1
    }

    /// Every entry of the merged tree, sorted by path (byte order), the root first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.tree.values()
    }

    /// Every entry whose content is a regular file (files and hard links), by path.
    pub fn files(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.tree.values().filter(|e| e.is_file())
    }

    /// The entry at `path` itself, without following any symlink (the path is only
    /// normalized lexically: `..` removes the previous component).
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.tree.get(&path::lexical(path))
    }

    /// The entry `path` leads to, following symlinks in every component, the last one
    /// included, without ever leaving the image root.
    pub fn lookup(&self, path: &str) -> FsResult<&Entry> {
        let real = self.resolve(path)?;
        self.tree
            .get(&real)
            .ok_or_else(|| FsError::NotFound { path: path.into() })
    }

    /// The canonical path `path` leads to, following every symlink inside the root.
    /// Fails when a component (the last one included) does not exist.
    pub fn resolve(&self, path: &str) -> FsResult<String> {
        tree::resolve(&self.tree, path, true, self.limits.max_symlink_hops, true)
    }

    /// The entries directly inside the directory `path` (symlinks followed), by name.
    pub fn read_dir(&self, path: &str) -> FsResult<Vec<&Entry>> {
        let dir = self.lookup(path)?;
        if !dir.is_dir() {
            return Err(FsError::NotADirectory { path: path.into() });
        }
        Ok(tree::children(&self.tree, &dir.path).collect())
    }

    /// Reads the whole file at `path` (symlinks followed) into memory; refuses files over
    /// [`Limits::max_file_read`]. Decompresses the one layer holding the content, up to
    /// that file.
    pub fn read(&self, path: &str) -> FsResult<Vec<u8>> {
        let entry = self.lookup(path)?;
        pass::read(self, path, entry)
    }

    /// The all-in-one merged-tree content pass: calls `visit` once for every regular file
    /// (and hard link to one) of the merged tree for which `filter` returns true, with a
    /// reader of its content. Layers are streamed bottom first, so files come in layer
    /// order, then archive order (not path order); a layer with no selected file is not
    /// read at all. The reader need not be read to its end. Content shared by several
    /// selected hard links is read into memory once (bounded by
    /// [`Limits::max_file_read`]). An error from `visit` stops the pass and is returned.
    pub fn visit_files<E>(
        &self,
        filter: impl FnMut(&Entry) -> bool,
        visit: impl FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<FsError>,
    {
        pass::visit_files(self, filter, visit)
    }

    /// The all-layers content pass: calls `visit` for every regular file of every layer
    /// selected by `filter`, including versions later deleted by a whiteout or an opaque
    /// directory or overwritten ([`LayerFile::visible`] is false for those), in layer and
    /// archive order, with a reader of its content. Hard links are not repeated (their
    /// content is the file they link to). An error from `visit` stops the pass.
    pub fn visit_layer_files<E>(
        &self,
        filter: impl FnMut(&LayerFile) -> bool,
        visit: impl FnMut(&LayerFile, &mut dyn Read) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<FsError>,
    {
        pass::visit_layer_files(self, filter, visit)
    }
}
