//! The index pass: reads every layer's tar headers once, bottom layer first, applies its
//! whiteouts and opaque directories to the layers below, and merges its entries into the
//! tree (resolving parent directories through symlinks inside the root, hard links to
//! what they name at that moment).

use std::collections::BTreeMap;
use std::sync::Arc;

use tar::EntryType;

use super::FsView;
use super::decode::{self, LayerStream, SharedCounters};
use super::entry::{ContentRef, Entry, EntryKind, LayerInfo, LayerRef};
use super::error::{FsError, FsResult};
use super::limits::Limits;
use super::path;
use super::source::LayerBlob;
use super::tree::{self, Tree};
use crate::digest::Digest;
use crate::manifest::Descriptor;
use crate::media_type::{self, Compression};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// The compression of layer `index`, or the unknown-media-type error.
pub(crate) fn check_media_type(index: usize, d: &Descriptor) -> FsResult<Compression> {
    media_type::layer_compression(&d.media_type).ok_or_else(|| FsError::UnknownMediaType {
        layer: index,
        digest: d.digest.clone(),
        media_type: d.media_type.clone(),
    })
}

/// What one tar entry does to the tree.
enum Action {
    Put(EntryKind),
    Hardlink(Vec<String>),
    Whiteout(String),
    Opaque,
    Ignore,
}

/// One tar entry of the layer being applied, headers only.
struct Raw {
    ordinal: u64,
    name: String,
    comps: Vec<String>,
    action: Action,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
}

/// Builds the view: the index pass over `blobs`, bottom first.
pub(crate) fn build(blobs: Vec<LayerBlob>, limits: Limits) -> FsResult<FsView> {
    let mut layers = Vec::with_capacity(blobs.len());
    for (index, b) in blobs.iter().enumerate() {
        let compression = check_media_type(index, &b.descriptor)?;
        layers.push(LayerRef(Arc::new(LayerInfo {
            index,
            digest: b.descriptor.digest.clone(),
            media_type: b.descriptor.media_type.clone(),
            compression,
            size: b.descriptor.size,
        })));
    }
    let root_layer = layers.first().cloned().unwrap_or_else(|| {
        LayerRef(Arc::new(LayerInfo {
            index: 0,
            digest: Digest::sha256(b""),
            media_type: media_type::OCI_LAYER_TAR.into(),
            compression: Compression::None,
            size: 0,
        }))
    });
    let mut b = Builder {
        tree: BTreeMap::new(),
        limits,
        entries: 0,
    };
    b.tree
        .insert("/".into(), dir_entry("/".into(), &root_layer));
    let counters = decode::counters();
    let mut layer_files = Vec::with_capacity(blobs.len());
    for (index, blob) in blobs.iter().enumerate() {
        let raws = b.read_headers(index, blob, &layers[index], &counters)?;
        layer_files.push(b.apply(&layers[index], raws)?);
    }
    Ok(FsView {
        layers,
        blobs,
        tree: b.tree,
        layer_files,
        limits,
    })
}

/// An implied directory (or the root).
fn dir_entry(path: String, layer: &LayerRef) -> Entry {
    Entry {
        path,
        kind: EntryKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        layer: layer.clone(),
        content: None,
    }
}

struct Builder {
    tree: Tree,
    limits: Limits,
    entries: u64,
}

impl Builder {
    /// Reads the tar headers of one layer (content skipped), checking the blob's digest.
    fn read_headers(
        &mut self,
        index: usize,
        blob: &LayerBlob,
        layer: &LayerRef,
        counters: &SharedCounters,
    ) -> FsResult<Vec<Raw>> {
        let stream = LayerStream::open(
            index,
            blob,
            layer.compression,
            self.limits,
            counters.clone(),
        )?;
        let mut archive = tar::Archive::new(stream);
        let mut raws = Vec::new();
        let entries = archive
            .entries()
            .map_err(|e| decode::error_for(counters, index, blob, &self.limits, &e))?;
        for (ordinal, entry) in entries.enumerate() {
            let entry =
                entry.map_err(|e| decode::error_for(counters, index, blob, &self.limits, &e))?;
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(FsError::TooManyEntries {
                    layer: index,
                    digest: layer.digest.clone(),
                    limit: self.limits.max_entries,
                });
            }
            raws.push(self.raw(layer, ordinal as u64, &entry)?);
        }
        archive.into_inner().finish(true)?;
        Ok(raws)
    }

    /// The header of one tar entry, its name checked and normalized.
    fn raw<R: std::io::Read>(
        &self,
        layer: &LayerRef,
        ordinal: u64,
        entry: &tar::Entry<'_, R>,
    ) -> FsResult<Raw> {
        let raw_name = entry.path_bytes();
        let name = path::display_name(&raw_name);
        let bad_path = |reason: String| FsError::BadPath {
            layer: layer.index,
            digest: layer.digest.clone(),
            entry: name.clone(),
            reason,
        };
        self.check_len(layer, &name, raw_name.len())?;
        let comps = path::tar_components(&raw_name).map_err(&bad_path)?;
        let h = entry.header();
        let corrupt = |what: &str, e: std::io::Error| FsError::Corrupt {
            layer: layer.index,
            digest: layer.digest.clone(),
            reason: format!("tar entry {name:?}: bad {what}: {e}"),
        };
        let link = || -> FsResult<Vec<u8>> {
            let target = entry.link_name_bytes().unwrap_or_default().into_owned();
            self.check_len(layer, &name, target.len())?;
            Ok(target)
        };
        let base = comps.last().map(String::as_str).unwrap_or("");
        let action = if base == OPAQUE_MARKER {
            Action::Opaque
        } else if let Some(hidden) = base.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() {
                return Err(bad_path("whiteout without a name".into()));
            }
            Action::Whiteout(hidden.to_string())
        } else {
            match h.entry_type() {
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                    Action::Put(EntryKind::File)
                }
                EntryType::Directory => Action::Put(EntryKind::Dir),
                EntryType::Symlink => {
                    let target = link()?;
                    if target.contains(&0) {
                        return Err(bad_path("symlink target contains a NUL byte".into()));
                    }
                    let target = String::from_utf8(target)
                        .map_err(|e| bad_path(format!("symlink target is not UTF-8 ({e})")))?;
                    Action::Put(EntryKind::Symlink { target })
                }
                EntryType::Link => {
                    let target = path::tar_components(&link()?)
                        .map_err(|r| bad_path(format!("hard link target: {r}")))?;
                    Action::Hardlink(target)
                }
                EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink => Action::Ignore,
                other => Action::Put(EntryKind::Other {
                    type_flag: other.as_byte(),
                }),
            }
        };
        if comps.is_empty() && !matches!(action, Action::Put(EntryKind::Dir) | Action::Ignore) {
            return Err(bad_path(
                "names the image root but is not a directory".into(),
            ));
        }
        Ok(Raw {
            ordinal,
            comps,
            action,
            mode: h.mode().map_err(|e| corrupt("mode", e))? & 0o7777,
            uid: h.uid().map_err(|e| corrupt("uid", e))?,
            gid: h.gid().map_err(|e| corrupt("gid", e))?,
            size: entry.size(),
            mtime: h.mtime().map_err(|e| corrupt("mtime", e))?,
            name,
        })
    }

    fn check_len(&self, layer: &LayerRef, name: &str, len: usize) -> FsResult<()> {
        if len > self.limits.max_path_len {
            return Err(FsError::PathTooLong {
                layer: layer.index,
                digest: layer.digest.clone(),
                entry: name.into(),
                len,
                limit: self.limits.max_path_len,
            });
        }
        Ok(())
    }

    /// The path a tar entry names in the current tree: its parent resolved through
    /// symlinks (inside the root), its last component taken as is.
    fn place(&self, comps: &[String]) -> FsResult<String> {
        let Some((last, parents)) = comps.split_last() else {
            return Ok("/".into());
        };
        let parent = tree::resolve(
            &self.tree,
            &path::join(parents.iter().map(String::as_str)),
            true,
            self.limits.max_symlink_hops,
            false,
        )?;
        Ok(path::child(&parent, last))
    }

    /// [`Builder::place`] for tar entry `r` of `layer`; a failure (a symlink loop in
    /// the parent path) names the layer and the entry.
    fn place_for(&self, layer: &LayerRef, r: &Raw, comps: &[String]) -> FsResult<String> {
        self.place(comps).map_err(|e| FsError::BadPath {
            layer: layer.index,
            digest: layer.digest.clone(),
            entry: r.name.clone(),
            reason: format!("cannot place it: {e}"),
        })
    }

    /// Applies one layer: whiteouts and opaque markers first (they hide only what lower
    /// layers put there), then its entries in archive order. Returns its regular files.
    fn apply(&mut self, layer: &LayerRef, raws: Vec<Raw>) -> FsResult<Vec<Entry>> {
        for r in &raws {
            match &r.action {
                Action::Opaque => {
                    let dir = self.place_for(layer, r, &r.comps[..r.comps.len() - 1])?;
                    tree::remove_below(&mut self.tree, &dir);
                }
                Action::Whiteout(hidden) => {
                    let dir = self.place_for(layer, r, &r.comps[..r.comps.len() - 1])?;
                    tree::remove_subtree(&mut self.tree, &path::child(&dir, hidden));
                }
                _ => {}
            }
        }
        let mut files = Vec::new();
        for r in raws {
            let kind = match &r.action {
                Action::Put(kind) => kind.clone(),
                Action::Hardlink(target) => {
                    self.hardlink(layer, &r, target)?;
                    continue;
                }
                Action::Opaque => {
                    // The directory holding the marker exists even if its entry is absent.
                    let dir = self.place_for(layer, &r, &r.comps[..r.comps.len() - 1])?;
                    self.ensure_dir(&dir, layer);
                    continue;
                }
                Action::Whiteout(_) | Action::Ignore => continue,
            };
            let path = self.place_for(layer, &r, &r.comps)?;
            let content = (kind == EntryKind::File).then_some(ContentRef {
                layer: layer.index,
                ordinal: r.ordinal,
            });
            let entry = Entry {
                path: path.clone(),
                size: if content.is_some() { r.size } else { 0 },
                kind,
                mode: r.mode,
                uid: r.uid,
                gid: r.gid,
                mtime: r.mtime,
                layer: layer.clone(),
                content,
            };
            if content.is_some() {
                files.push(entry.clone());
            }
            self.put(entry);
        }
        Ok(files)
    }

    /// Applies a hard link: the new path gets what `target` names now (same layer or
    /// below).
    fn hardlink(&mut self, layer: &LayerRef, r: &Raw, target: &[String]) -> FsResult<()> {
        let path = self.place_for(layer, r, &r.comps)?;
        let target_path = self.place_for(layer, r, target)?;
        let bad = |reason: &str| FsError::BadHardlink {
            layer: layer.index,
            digest: layer.digest.clone(),
            entry: r.name.clone(),
            target: target_path.clone(),
            reason: reason.into(),
        };
        let Some(t) = self.tree.get(&target_path) else {
            return Err(bad("the target does not exist"));
        };
        if t.is_dir() {
            return Err(bad("the target is a directory"));
        }
        if path == target_path {
            return Ok(());
        }
        let kind = if t.is_file() {
            EntryKind::Hardlink {
                target: target_path.clone(),
            }
        } else {
            t.kind.clone()
        };
        let entry = Entry {
            path,
            kind,
            layer: layer.clone(),
            ..t.clone()
        };
        self.put(entry);
        Ok(())
    }

    /// Makes sure `dir` and its ancestors are directories (implied ones are created, a
    /// non-directory in the way is replaced).
    fn ensure_dir(&mut self, dir: &str, layer: &LayerRef) {
        if dir == "/" {
            return;
        }
        let (parent, _) = path::split_last(dir);
        self.ensure_dir(parent, layer);
        match self.tree.get(dir) {
            Some(e) if e.is_dir() => {}
            _ => {
                self.tree
                    .insert(dir.to_string(), dir_entry(dir.to_string(), layer));
            }
        }
    }

    /// Puts an entry in the tree as an extractor would: a directory over a directory
    /// keeps the children, anything else replaces what was there (and below).
    fn put(&mut self, entry: Entry) {
        let (parent, _) = path::split_last(&entry.path);
        let parent = parent.to_string();
        self.ensure_dir(&parent, &entry.layer);
        let replaces_dir = self.tree.get(&entry.path).is_some_and(|e| e.is_dir());
        if replaces_dir && !entry.is_dir() {
            tree::remove_below(&mut self.tree, &entry.path);
        }
        self.tree.insert(entry.path.clone(), entry);
    }
}
