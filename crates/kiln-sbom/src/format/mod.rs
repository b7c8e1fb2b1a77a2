//! SBOM documents: writers for SPDX 2.3 JSON, CycloneDX 1.6 JSON, Kiln's own JSON and a table,
//! and readers that load SPDX and CycloneDX JSON (Kiln's and syft's) and Kiln JSON back into
//! a [`Catalog`]. Writers are deterministic: the same catalog and options give the same bytes.

pub mod cyclonedx;
pub mod kiln;
pub mod spdx;
pub mod table;
mod time;

use sha2::{Digest as _, Sha256};

use crate::package::{Catalog, PackageType};

/// What a writer needs besides the catalog.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Creation time, seconds since the Unix epoch (the CLI takes `SOURCE_DATE_EPOCH` or now).
    pub created: i64,
    /// The Kiln version written as the creating tool.
    pub tool_version: String,
}

/// A document that could not be read as an SBOM.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{what}: not JSON: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

/// The SBOM formats Kiln reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    Spdx,
    CycloneDx,
    Kiln,
}

/// Detects the format of an SBOM document.
pub fn detect(doc: &serde_json::Value) -> Option<SbomFormat> {
    if doc.get("spdxVersion").is_some() {
        Some(SbomFormat::Spdx)
    } else if doc.get("bomFormat").and_then(|v| v.as_str()) == Some("CycloneDX") {
        Some(SbomFormat::CycloneDx)
    } else if doc.get("kilnSbom").is_some() {
        Some(SbomFormat::Kiln)
    } else {
        None
    }
}

/// Reads an SBOM in any of the formats Kiln reads; `what` names the input in errors.
pub fn read(bytes: &[u8], what: &str) -> Result<Catalog, ReadError> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ReadError::Json {
        what: what.to_string(),
        source: e,
    })?;
    match detect(&doc) {
        Some(SbomFormat::Spdx) => spdx::read(&doc, what),
        Some(SbomFormat::CycloneDx) => cyclonedx::read(&doc, what),
        Some(SbomFormat::Kiln) => kiln::read(doc, what),
        None => Err(ReadError::Invalid {
            what: what.to_string(),
            reason: "neither SPDX (spdxVersion), CycloneDX (bomFormat) nor Kiln JSON".into(),
        }),
    }
}

/// The package type a PURL type names.
pub fn kind_of_purl_type(t: &str) -> PackageType {
    match t {
        "deb" => PackageType::Deb,
        "apk" | "alpine" => PackageType::Apk,
        "rpm" => PackageType::Rpm,
        "cargo" => PackageType::Cargo,
        "golang" => PackageType::Golang,
        "npm" => PackageType::Npm,
        "pypi" => PackageType::Pypi,
        "maven" => PackageType::Maven,
        "gem" => PackageType::Gem,
        "composer" => PackageType::Composer,
        "nuget" => PackageType::Nuget,
        _ => PackageType::Other,
    }
}

/// What a PURL tells a reader: type, upstream (source) name and version, distro qualifier.
#[derive(Debug, Default)]
pub struct PurlInfo {
    pub kind: Option<PackageType>,
    pub upstream: Option<(String, Option<String>)>,
    pub distro: Option<(String, String)>,
}

/// Parses the parts of a PURL readers use; tolerant of PURLs the crate refuses.
pub fn purl_info(purl: &str) -> PurlInfo {
    let mut info = PurlInfo::default();
    let Ok(p) = purl.parse::<packageurl::PackageUrl>() else {
        if let Some(t) = purl.strip_prefix("pkg:").and_then(|r| r.split('/').next()) {
            info.kind = Some(kind_of_purl_type(t));
        }
        return info;
    };
    info.kind = Some(kind_of_purl_type(p.ty()));
    for (k, v) in p.qualifiers() {
        match k.as_ref() {
            "upstream" => {
                info.upstream = Some(match v.split_once('@') {
                    Some((n, ver)) => (n.to_string(), Some(ver.to_string())),
                    None => (v.to_string(), None),
                })
            }
            "distro" => {
                if let Some((id, ver)) = v.split_once('-') {
                    info.distro = Some((id.to_string(), ver.to_string()));
                }
            }
            _ => {}
        }
    }
    info
}

/// A stable hex digest of a catalog's identity, for document namespaces and serial numbers.
pub(crate) fn fingerprint(catalog: &Catalog, opts: &WriteOptions) -> String {
    let mut h = Sha256::new();
    h.update(catalog.source.as_bytes());
    h.update(catalog.image_digest.as_deref().unwrap_or("").as_bytes());
    h.update(opts.created.to_le_bytes());
    for p in &catalog.packages {
        h.update(p.id.as_bytes());
        h.update(p.purl.as_bytes());
    }
    hex::encode(h.finalize())
}

/// An expression safe to write as a declared license (no references to licensing info the
/// document does not carry).
pub(crate) fn writable_license(l: &Option<String>) -> Option<&str> {
    l.as_deref()
        .filter(|e| !e.contains("LicenseRef-") && !e.contains("DocumentRef-"))
}
