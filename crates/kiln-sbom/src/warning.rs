//! Warnings: problems met while cataloging (a malformed database, an unreadable file), returned
//! as data so the rest of the SBOM is still produced and the CLI can print them.

use serde::{Deserialize, Serialize};

/// One problem with one input file; the file was skipped in whole or in part.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    /// The file (or directory) the problem is in, as a path inside the source.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl Warning {
    /// A warning about `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
