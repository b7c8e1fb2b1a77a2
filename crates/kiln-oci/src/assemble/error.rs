//! The error type of image assembly: each variant names the input that was wrong.

use std::path::PathBuf;

use crate::error::OciError;

/// What went wrong assembling an image.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("layer source {} does not exist", .0.display())]
    MissingSource(PathBuf),

    #[error("layer source {}: {source}", path.display())]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "layer source {}: unsupported file type ({kind}); layers hold regular files, directories and symbolic links",
        path.display()
    )]
    UnsupportedFile { path: PathBuf, kind: &'static str },

    #[error("layer source {} changed size while it was being read", .0.display())]
    Changed(PathBuf),

    #[error("layer destination {dest:?}: {reason}")]
    Destination { dest: String, reason: String },

    #[error("image config {field}: {reason}")]
    Config { field: &'static str, reason: String },

    #[error("base image {name}: {reason}")]
    Base { name: String, reason: String },

    #[error("writing a layer into the layout: {0}")]
    Write(#[source] std::io::Error),

    #[error(transparent)]
    Oci(#[from] OciError),
}

/// Result with [`AssembleError`].
pub type Result<T, E = AssembleError> = std::result::Result<T, E>;
