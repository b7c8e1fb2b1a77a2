//! Version ordering per ecosystem, exactly as each ecosystem's own tool orders: one
//! hand-written module per scheme, chosen through [`Scheme`] from the OSV ecosystem name.

mod apk;
mod composer;
pub mod dpkg;
mod maven;
mod nuget;
mod num;
mod numeric;
mod pep440;
mod rpm;
mod rubygems;
mod semver;

use std::cmp::Ordering;

/// A version that does not parse in its ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {version:?} does not parse: {reason}")]
pub struct VersionError {
    pub version: String,
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(version: &str, reason: &str) -> Self {
        Self {
            version: version.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// An ecosystem Kiln has no version order for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no version order is known for ecosystem {0:?}")]
pub struct UnknownEcosystem(pub String);

/// A version ordering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// npm, crates.io, Go, Hex (and other SemVer ecosystems).
    Semver,
    /// Dart's Pub: SemVer where build metadata counts.
    Pub,
    Pep440,
    Maven,
    RubyGems,
    NuGet,
    Composer,
    Dpkg,
    Rpm,
    Apk,
    Cran,
    Hackage,
}

impl Scheme {
    /// The scheme for an OSV ecosystem name; a release suffix (`Debian:12`, `Alpine:v3.20`)
    /// is ignored.
    pub fn for_ecosystem(ecosystem: &str) -> Result<Scheme, UnknownEcosystem> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem).trim();
        Ok(match base {
            "npm" | "crates.io" | "Go" | "Hex" | "Bitnami" | "ConanCenter" | "SwiftURL"
            | "Bioconductor" => Scheme::Semver,
            "Pub" => Scheme::Pub,
            "PyPI" => Scheme::Pep440,
            "Maven" => Scheme::Maven,
            "RubyGems" => Scheme::RubyGems,
            "NuGet" => Scheme::NuGet,
            "Packagist" => Scheme::Composer,
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "SUSE" | "openSUSE" | "openEuler"
            | "Mageia" => Scheme::Rpm,
            "Alpine" | "Wolfi" | "Chainguard" | "MinimOS" => Scheme::Apk,
            "CRAN" => Scheme::Cran,
            "Hackage" => Scheme::Hackage,
            _ => return Err(UnknownEcosystem(ecosystem.to_string())),
        })
    }

    /// Orders two versions; an error names the version that does not parse.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        match self {
            Scheme::Semver => semver::compare(a, b),
            Scheme::Pub => semver::compare_pub(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Maven => maven::compare(a, b),
            Scheme::RubyGems => rubygems::compare(a, b),
            Scheme::NuGet => nuget::compare(a, b),
            Scheme::Composer => composer::compare(a, b),
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Cran => numeric::compare_cran(a, b),
            Scheme::Hackage => numeric::compare_hackage(a, b),
        }
    }

    /// Checks that a version parses in this scheme.
    pub fn validate(self, v: &str) -> Result<(), VersionError> {
        self.compare(v, v).map(|_| ())
    }
}

/// Orders two versions of an OSV ecosystem.
pub fn compare(ecosystem: &str, a: &str, b: &str) -> Result<Ordering, CompareError> {
    Ok(Scheme::for_ecosystem(ecosystem)?.compare(a, b)?)
}

/// Why two versions could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Ecosystem(#[from] UnknownEcosystem),
    #[error(transparent)]
    Version(#[from] VersionError),
}
