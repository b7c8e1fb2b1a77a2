//! Kiln's own SBOM JSON: the catalog as it is, with the warnings of the run.

use serde::{Deserialize, Serialize};

use super::ReadError;
use crate::package::Catalog;
use crate::warning::Warning;

/// The Kiln JSON document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KilnDocument {
    /// The format version (1).
    pub kiln_sbom: u32,
    #[serde(flatten)]
    pub catalog: Catalog,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Writes Kiln JSON (pretty, deterministic).
pub fn write(catalog: &Catalog, warnings: &[Warning]) -> String {
    let doc = KilnDocument {
        kiln_sbom: 1,
        catalog: catalog.clone(),
        warnings: warnings.to_vec(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// Reads Kiln JSON.
pub fn read(doc: serde_json::Value, what: &str) -> Result<Catalog, ReadError> {
    let d: KilnDocument = serde_json::from_value(doc).map_err(|e| ReadError::Json {
        what: what.to_string(),
        source: e,
    })?;
    Ok(d.catalog)
}
