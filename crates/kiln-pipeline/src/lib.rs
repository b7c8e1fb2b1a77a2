//! The Kiln factory: `kiln.yaml` ([`config`]), the build stage ([`build`]), the stage
//! runner behind `kiln run` ([`run`]), SLSA provenance ([`provenance`]), `kiln init`
//! ([`init`]), the evidence ledger ([`ledger`]) and the encrypted evidence store
//! ([`evidence`]).

pub mod build;
pub mod config;
pub mod error;
pub mod evidence;
pub mod init;
pub mod ledger;
pub mod provenance;
pub mod run;

pub use build::{BuildOutcome, BuildRequest};
pub use config::{ConfigError, KilnConfig};
pub use error::BuildError;
