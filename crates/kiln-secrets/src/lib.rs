//! Secret scanning for Kiln: rules (gitleaks' format, Kiln's built-in set compiled in), the
//! matching engine, sources (directories, staged changes, git history, image layers),
//! findings with redaction, baselines and SARIF output.

pub mod baseline;
pub mod config;
pub mod engine;
pub mod entropy;
pub mod finding;
pub mod rules;
pub mod sarif;
pub mod skip;
pub mod source;

pub use config::{Config, ConfigError};
pub use engine::{Fragment, Scanner};
pub use finding::{CommitInfo, Finding, Secret};
pub use rules::{RuleError, RuleSet};
pub use skip::{SkipPolicy, SkipReason};
pub use source::{Event, Notice};
