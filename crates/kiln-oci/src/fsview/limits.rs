//! [`Limits`]: the bounds an image filesystem view enforces on untrusted layers, each
//! reported by its own [`FsError`](super::FsError) variant when exceeded.

/// Bounds on what the view accepts. [`Limits::default`] suits real images; tests and
/// callers with other needs lower or raise single fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries (headers) in the whole image, all layers together, whiteouts included.
    /// Default 1,000,000.
    pub max_entries: u64,
    /// Bytes in one tar entry path or link target. Default 4096 (Linux `PATH_MAX`).
    pub max_path_len: usize,
    /// Decompressed bytes of one layer (tar headers, padding and content). Default 16 GiB.
    pub max_layer_bytes: u64,
    /// Decompressed bytes of all layers together. Default 64 GiB.
    pub max_image_bytes: u64,
    /// Bytes of one file read into memory by [`FsView::read`](super::FsView::read) (and
    /// of content shared by several hard links in a content pass). Default 256 MiB.
    pub max_file_read: u64,
    /// Symbolic links followed while resolving one path. Default 40 (as Linux).
    pub max_symlink_hops: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_path_len: 4096,
            max_layer_bytes: 16 << 30,
            max_image_bytes: 64 << 30,
            max_file_read: 256 << 20,
            max_symlink_hops: 40,
        }
    }
}
