//! [`FsError`]: everything that can go wrong building or reading an image filesystem view.
//! Each variant names the layer (index and digest) and, where there is one, the tar entry
//! or image path at fault.

use crate::digest::Digest;
use crate::error::OciError;

/// Result with [`FsError`].
pub type FsResult<T, E = FsError> = std::result::Result<T, E>;

/// What went wrong reading an image's layers or its merged tree.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// A layer whose media type is not a filesystem layer Kiln knows.
    #[error("layer {layer} ({digest}): unknown layer media type {media_type:?}")]
    UnknownMediaType {
        layer: usize,
        digest: Digest,
        media_type: String,
    },

    /// The layer blob could not be fetched or opened.
    #[error("layer {layer} ({digest}): {source}")]
    Blob {
        layer: usize,
        digest: Digest,
        #[source]
        source: OciError,
    },

    /// The layer's bytes are not a valid compressed stream or tar archive.
    #[error("layer {layer} ({digest}): corrupt layer: {reason}")]
    Corrupt {
        layer: usize,
        digest: Digest,
        reason: String,
    },

    /// The layer's compressed bytes do not have the digest its descriptor names.
    #[error("layer {layer}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        layer: usize,
        expected: Digest,
        actual: Digest,
    },

    /// The layer's compressed bytes do not have the size its descriptor names.
    #[error("layer {layer} ({digest}): size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        layer: usize,
        digest: Digest,
        expected: u64,
        actual: u64,
    },

    /// A tar entry whose path (or link target) is unusable: non-UTF-8, a NUL byte, empty,
    /// or `..` components that climb out of the image root.
    #[error("layer {layer} ({digest}): tar entry {entry:?}: {reason}")]
    BadPath {
        layer: usize,
        digest: Digest,
        entry: String,
        reason: String,
    },

    /// A tar entry path or link target longer than [`Limits::max_path_len`](super::Limits).
    #[error(
        "layer {layer} ({digest}): tar entry {entry:?}: path of {len} bytes is over the limit of {limit}"
    )]
    PathTooLong {
        layer: usize,
        digest: Digest,
        entry: String,
        len: usize,
        limit: usize,
    },

    /// A hard link whose target does not exist (or is a directory) when it is applied.
    #[error("layer {layer} ({digest}): hard link {entry:?} -> {target:?}: {reason}")]
    BadHardlink {
        layer: usize,
        digest: Digest,
        entry: String,
        target: String,
        reason: String,
    },

    /// More tar entries in the image than [`Limits::max_entries`](super::Limits).
    #[error("layer {layer} ({digest}): more than {limit} tar entries in the image")]
    TooManyEntries {
        layer: usize,
        digest: Digest,
        limit: u64,
    },

    /// One layer decompresses to more than [`Limits::max_layer_bytes`](super::Limits)
    /// (a decompression bomb, or a limit set too low).
    #[error("layer {layer} ({digest}): decompresses to more than {limit} bytes (layer limit)")]
    LayerTooLarge {
        layer: usize,
        digest: Digest,
        limit: u64,
    },

    /// The layers together decompress to more than
    /// [`Limits::max_image_bytes`](super::Limits).
    #[error(
        "layer {layer} ({digest}): the image decompresses to more than {limit} bytes (image limit)"
    )]
    ImageTooLarge {
        layer: usize,
        digest: Digest,
        limit: u64,
    },

    /// A file bigger than [`Limits::max_file_read`](super::Limits) was to be read into memory.
    #[error("{path}: file of {size} bytes is over the read limit of {limit}")]
    FileTooLarge { path: String, size: u64, limit: u64 },

    /// Symbolic links followed more than [`Limits::max_symlink_hops`](super::Limits)
    /// times (a loop, or a chain too long).
    #[error("{path}: more than {limit} symbolic links followed (a symlink loop?)")]
    SymlinkLoop { path: String, limit: u32 },

    /// No such path in the merged tree.
    #[error("{path}: no such file or directory in the image")]
    NotFound { path: String },

    /// A path component that should be a directory is not one.
    #[error("{path}: not a directory")]
    NotADirectory { path: String },

    /// The path is not a regular file (a directory, device, fifo...).
    #[error("{path}: not a regular file ({kind})")]
    NotAFile { path: String, kind: &'static str },

    /// A temporary file for a fetched compressed blob could not be written.
    #[error("temporary copy of layer blob {digest}: {source}")]
    Spool {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
}
