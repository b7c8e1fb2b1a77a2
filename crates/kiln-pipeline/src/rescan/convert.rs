//! The ledger's view of what the vulnerability stage and the re-scan work with: kiln-sbom
//! packages as [`PackageRow`]s and kiln-vuln findings as [`NewFinding`]s. Shared by
//! `kiln run` (its `sbom` and `vuln` stages) and the re-scan, so both record the same way.

use kiln_sbom::Package;
use kiln_vuln::scan::Finding;
use kiln_vuln::severity::Rating;

use crate::ledger::{NewFinding, PackageRow};

/// A package's URL, or `pkg:generic/NAME@VERSION` for the rare package without one.
fn purl_or_generic(purl: &str, name: &str, version: &str) -> String {
    if purl.is_empty() {
        format!("pkg:generic/{name}@{version}")
    } else {
        purl.to_string()
    }
}

/// The ledger rows of an SBOM's packages (unnamed packages are left out).
pub fn package_rows(packages: &[Package]) -> Vec<PackageRow> {
    packages
        .iter()
        .filter(|p| !p.name.is_empty())
        .map(|p| PackageRow {
            name: p.name.clone(),
            version: p.version.clone(),
            ecosystem: p.kind.purl_type().to_string(),
            purl: purl_or_generic(&p.purl, &p.name, &p.version),
        })
        .collect()
}

/// The ledger's severity of a rating: `none` (a CVSS score of 0) counts as `low`.
pub fn severity(rating: Rating) -> &'static str {
    match rating {
        Rating::Critical => "critical",
        Rating::High => "high",
        Rating::Medium => "medium",
        Rating::Low | Rating::None => "low",
        Rating::Unknown => "unknown",
    }
}

/// The findings to record: every one not suppressed by VEX, with its lowest fixed version.
pub fn new_findings(findings: &[Finding]) -> Vec<NewFinding> {
    findings
        .iter()
        .filter(|f| !f.suppressed)
        .map(|f| NewFinding {
            vuln_id: f.id.clone(),
            aliases: f.aliases.clone(),
            purl: purl_or_generic(&f.package.purl, &f.package.name, &f.package.version),
            package: f.package.name.clone(),
            version: f.package.version.clone(),
            severity: severity(f.severity).to_string(),
            fixed_version: f.fixed_versions.first().cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_sbom::PackageType;
    use kiln_vuln::scan::PackageRef;

    fn package(name: &str, purl: &str) -> Package {
        Package {
            id: name.into(),
            name: name.into(),
            version: "1.0".into(),
            kind: PackageType::Npm,
            purl: purl.into(),
            license: None,
            locations: Vec::new(),
            cpes: Vec::new(),
            source_name: None,
            source_version: None,
            depends_on: Vec::new(),
        }
    }

    #[test]
    fn packages_keep_their_purl_or_get_a_generic_one() {
        let rows = package_rows(&[
            package("a", "pkg:npm/a@1.0"),
            package("b", ""),
            package("", "pkg:npm/x@1"),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].purl, "pkg:npm/a@1.0");
        assert_eq!(rows[0].ecosystem, "npm");
        assert_eq!(rows[1].purl, "pkg:generic/b@1.0");
    }

    #[test]
    fn suppressed_findings_are_not_recorded() {
        let f = |id: &str, suppressed: bool, severity: Rating| Finding {
            id: id.into(),
            aliases: vec!["CVE-1".into()],
            package: PackageRef {
                name: "a".into(),
                version: "1.0".into(),
                purl: "pkg:npm/a@1.0".into(),
                ecosystem: "npm".into(),
                source_name: None,
                location: None,
            },
            summary: None,
            fixed_versions: vec!["1.1".into(), "2.0".into()],
            severity,
            score: None,
            severities: Vec::new(),
            references: Vec::new(),
            vex: None,
            suppressed,
        };
        let out = new_findings(&[
            f("GHSA-a", false, Rating::None),
            f("GHSA-b", true, Rating::High),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].severity, "low");
        assert_eq!(out[0].fixed_version.as_deref(), Some("1.1"));
    }
}
