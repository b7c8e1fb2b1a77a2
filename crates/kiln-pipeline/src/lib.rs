//! The Kiln factory: `kiln.yaml` ([`config`]) and the build stage ([`build`]); the stage
//! runner, SLSA provenance and the evidence ledger join them later.

pub mod build;
pub mod config;
pub mod error;

pub use build::{BuildOutcome, BuildRequest};
pub use config::{ConfigError, KilnConfig};
pub use error::BuildError;
