//! The package model every cataloger produces and every SBOM writer and reader shares.

use serde::{Deserialize, Serialize};

/// The kind of package, named after the ecosystem's package type in PURL terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageType {
    Deb,
    Apk,
    Rpm,
    Cargo,
    Golang,
    Npm,
    Pypi,
    Maven,
    Gem,
    Composer,
    Nuget,
    /// Anything else a reader met (kept, never guessed into one of the above).
    Other,
}

impl PackageType {
    /// The PURL type string.
    pub fn purl_type(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Cargo => "cargo",
            PackageType::Golang => "golang",
            PackageType::Npm => "npm",
            PackageType::Pypi => "pypi",
            PackageType::Maven => "maven",
            PackageType::Gem => "gem",
            PackageType::Composer => "composer",
            PackageType::Nuget => "nuget",
            PackageType::Other => "generic",
        }
    }
}

/// Where a package was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    /// Path inside the scanned source, always `/`-rooted (for a directory, relative to it).
    pub path: String,
    /// The digest of the image layer that added the file, for image sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// One package found in a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// A stable identifier within one SBOM (used for relationships).
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// The package URL (`pkg:type/namespace/name@version?qualifiers`).
    pub purl: String,
    /// Declared licenses as an SPDX expression, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// The source package (dpkg `Source:`, apk origin, rpm source rpm name), which
    /// Debian's, Ubuntu's and Alpine's vulnerability data is keyed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Ids of the packages this one depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// The distribution an image or root filesystem is (from `/etc/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Distro {
    /// `ID`, e.g. `debian`, `alpine`, `ubuntu`, `rhel`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `3.20.1`.
    pub version_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

/// What was cataloged: packages, the distribution, and what the SBOM describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Catalog {
    /// The source as given (`oci:…`, `dir:…`, a registry reference).
    pub source: String,
    /// The image digest, for image sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    pub packages: Vec<Package>,
}
