//! The entries of a merged image tree: [`Entry`], [`EntryKind`] and the layer
//! ([`LayerInfo`]) each one came from.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::digest::Digest;
use crate::media_type::Compression;

/// One layer of the view, in manifest order (index 0 is the base layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Position in the manifest's `layers` (0 = bottom).
    pub index: usize,
    /// Digest of the (compressed) layer blob.
    pub digest: Digest,
    /// The layer's media type.
    pub media_type: String,
    /// Compression, from the media type.
    pub compression: Compression,
    /// Size of the blob in bytes.
    pub size: u64,
}

/// A cheap shared handle on a [`LayerInfo`]; derefs to it (`entry.layer.index`,
/// `entry.layer.digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef(pub(crate) Arc<LayerInfo>);

impl Deref for LayerRef {
    type Target = LayerInfo;
    fn deref(&self) -> &LayerInfo {
        &self.0
    }
}

impl fmt::Display for LayerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layer {} ({})", self.0.index, self.0.digest)
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory (from a tar entry, or implied by an entry below it).
    Dir,
    /// A symbolic link; `target` exactly as stored in the tar entry (absolute targets are
    /// resolved relative to the image root).
    Symlink { target: String },
    /// A hard link to a regular file; `target` is the normalized absolute path the link
    /// pointed at when its layer was applied. The entry's content and size are that file's.
    Hardlink { target: String },
    /// A character or block device, a fifo, or a tar type Kiln does not model;
    /// `type_flag` is the tar type byte.
    Other { type_flag: u8 },
}

impl EntryKind {
    /// A short name for messages: `file`, `directory`, `symlink`, `hardlink`, `special`.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::Hardlink { .. } => "hardlink",
            EntryKind::Other { .. } => "special",
        }
    }
}

/// Where a regular file's content lives: the tar entry `ordinal` (0-based, in archive
/// order) of layer `layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ContentRef {
    pub(crate) layer: usize,
    pub(crate) ordinal: u64,
}

/// One path of the merged tree (or, in the all-layers pass, one file version of a layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Normalized absolute path: starts with `/`, no `.`/`..`/empty components, no
    /// trailing `/` (the root is `/`).
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits, including setuid/setgid/sticky (`0o7777` at most).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Content size in bytes (0 for directories, links and special files, except a hard
    /// link, which has its target's size).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch, as in the tar header.
    pub mtime: u64,
    /// The layer that added this version of the entry.
    pub layer: LayerRef,
    pub(crate) content: Option<ContentRef>,
}

impl Entry {
    /// Whether reading the entry gives file content: a regular file or a hard link to one.
    pub fn is_file(&self) -> bool {
        self.content.is_some()
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    /// Whether the entry is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        matches!(self.kind, EntryKind::Symlink { .. })
    }

    /// The last path component (empty for the root).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// A regular file of one layer, handed to the all-layers pass
/// ([`FsView::visit_layer_files`](super::FsView::visit_layer_files)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// The file as this layer wrote it (path normalized and resolved as when the layer
    /// was applied).
    pub entry: Entry,
    /// Whether this very version is what the final merged tree shows at `entry.path`;
    /// `false` when a later whiteout, opaque directory or overwrite hid it.
    pub visible: bool,
}
