//! The error type of the build stage: each variant names what failed and why.

use std::path::PathBuf;

use kiln_oci::OciError;
use kiln_oci::assemble::AssembleError;

use crate::config::ConfigError;

/// What went wrong building an image.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("{} has no build: section", .0.display())]
    NoBuildSection(PathBuf),

    #[error("SOURCE_DATE_EPOCH={0:?} is not a number of seconds")]
    SourceDateEpoch(String),

    #[error("build.run `{command}` could not start: {source}")]
    RunSpawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("build.run `{command}` failed ({status}); nothing was built")]
    RunFailed { command: String, status: String },

    #[error(
        "buildah is not installed: Dockerfile builds need it (Debian/Ubuntu: apt-get install buildah)"
    )]
    BuildahMissing,

    #[error("buildah {step} failed ({status}); see its output above")]
    Buildah { step: &'static str, status: String },

    #[error("{}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{field}: {source}")]
    Reference {
        field: &'static str,
        #[source]
        source: OciError,
    },

    #[error("{0}")]
    Unsupported(String),

    #[error(transparent)]
    Assemble(#[from] AssembleError),

    #[error("publishing to {target}: {source}")]
    Publish {
        target: String,
        #[source]
        source: OciError,
    },

    #[error(transparent)]
    Oci(#[from] OciError),
}
