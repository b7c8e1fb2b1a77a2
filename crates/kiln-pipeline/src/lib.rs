//! The Kiln factory: `kiln.yaml` ([`config`]), the build stage ([`build`]), the stage
//! runner behind `kiln run` ([`run`]), SLSA provenance ([`provenance`]), `kiln init`
//! ([`init`]), the evidence ledger ([`ledger`]), the encrypted evidence store
//! ([`evidence`]) and the web dashboard over the ledger ([`dashboard`]).

pub mod build;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod evidence;
pub mod hook;
pub mod init;
pub mod ledger;
pub mod notify;
pub mod provenance;
pub mod rescan;
pub mod run;
pub mod server;

pub use build::{BuildOutcome, BuildRequest};
pub use config::{ConfigError, KilnConfig};
pub use error::BuildError;
