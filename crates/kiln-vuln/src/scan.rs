//! Matching packages to advisories: each package is mapped to its OSV ecosystem and name
//! (Debian, Ubuntu and Alpine through the source package, with the distribution release),
//! looked up in the database, checked against the affected ranges, and the matching
//! advisories that name each other (aliases) are merged into one finding with the fixed
//! versions that resolve it and its severities.

use std::collections::{BTreeMap, BTreeSet};

use kiln_sbom::{Catalog, Distro, Package, PackageType};
use serde::{Deserialize, Serialize};

use crate::db::{DbError, Reader};
use crate::osv::{Record, ecosystem_base};
use crate::purl;
use crate::range::evaluate;
use crate::severity::{Rating, Scored, overall, score};
use crate::version::Scheme;

/// The package a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    pub name: String,
    pub version: String,
    pub purl: String,
    /// The OSV ecosystem it was matched in.
    pub ecosystem: String,
    /// The source package it was matched through, when not the package itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A VEX statement applied to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexNote {
    /// `not_affected`, `fixed`, `under_investigation` or `affected`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The VEX document it came from.
    pub document: String,
}

/// One vulnerability in one package (aliases merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub package: PackageRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Versions that fix it, lowest first.
    pub fixed_versions: Vec<String>,
    pub severity: Rating,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub severities: Vec<Scored>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<VexNote>,
    /// Suppressed by VEX (`not_affected` or `fixed`): reported, never counted.
    pub suppressed: bool,
}

impl Finding {
    /// The id and every alias.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub findings: Vec<Finding>,
    /// Packages that could not be checked, records that could not be evaluated.
    pub warnings: Vec<String>,
    pub packages_scanned: usize,
}

/// The OSV ecosystem and name a package is filed under, and the release filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub ecosystem: &'static str,
    pub name: String,
    pub source_name: Option<String>,
    /// The release as OSV writes it after the colon (`12`, `v3.20`, `22.04`, `9`).
    pub release: Option<String>,
}

fn major(v: &str) -> String {
    v.split('.').next().unwrap_or(v).to_string()
}

/// Maps a package (and the catalog's distribution) to its OSV ecosystem and name.
pub fn target(pkg: &Package, distro: Option<&Distro>) -> Option<Target> {
    let p = purl::parse(&pkg.purl);
    let ptype = p
        .as_ref()
        .map(|p| p.kind.as_str())
        .unwrap_or(pkg.kind.purl_type());
    let name = p
        .as_ref()
        .map(|p| p.osv_name())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| pkg.name.clone());
    let ns = p
        .as_ref()
        .and_then(|p| p.namespace.clone())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let distro_id = distro
        .map(|d| d.id.to_ascii_lowercase())
        .unwrap_or_else(|| ns.clone());
    let version_id = distro.map(|d| d.version_id.clone()).or_else(|| {
        p.as_ref()
            .and_then(|p| p.qualifier("distro"))
            .map(|d| d.rsplit('-').next().unwrap_or(d).to_string())
    });
    let lang = |eco: &'static str| {
        Some(Target {
            ecosystem: eco,
            name: name.clone(),
            source_name: None,
            release: None,
        })
    };
    let os = |eco: &'static str, release: Option<String>| {
        let source = pkg
            .source_name
            .clone()
            .filter(|s| !s.is_empty() && *s != name);
        Some(Target {
            ecosystem: eco,
            name: source.clone().unwrap_or_else(|| name.clone()),
            source_name: source,
            release,
        })
    };
    match (pkg.kind, ptype) {
        (PackageType::Npm, _) | (_, "npm") => lang("npm"),
        (PackageType::Cargo, _) | (_, "cargo") => lang("crates.io"),
        (PackageType::Golang, _) | (_, "golang") => lang("Go"),
        (PackageType::Pypi, _) | (_, "pypi") => lang("PyPI"),
        (PackageType::Maven, _) | (_, "maven") => lang("Maven"),
        (PackageType::Gem, _) | (_, "gem") => lang("RubyGems"),
        (PackageType::Composer, _) | (_, "composer") => lang("Packagist"),
        (PackageType::Nuget, _) | (_, "nuget") => lang("NuGet"),
        (_, "hex") => lang("Hex"),
        (_, "pub") => lang("Pub"),
        (_, "cran") => lang("CRAN"),
        (_, "hackage") => lang("Hackage"),
        (PackageType::Deb, _) | (_, "deb") => match distro_id.as_str() {
            "ubuntu" => os("Ubuntu", version_id),
            _ => os("Debian", version_id.map(|v| major(&v))),
        },
        (PackageType::Apk, _) | (_, "apk") => os(
            "Alpine",
            version_id.map(|v| {
                let mut it = v.split('.');
                format!("v{}.{}", it.next().unwrap_or(""), it.next().unwrap_or("0"))
            }),
        ),
        (PackageType::Rpm, _) | (_, "rpm") => {
            let eco = match distro_id.as_str() {
                "almalinux" => "AlmaLinux",
                "rocky" => "Rocky Linux",
                "sles" | "sled" | "suse" => "SUSE",
                "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "openSUSE",
                _ => "Red Hat",
            };
            let release = match eco {
                "AlmaLinux" | "Rocky Linux" => version_id.map(|v| major(&v)),
                _ => None,
            };
            // rpm advisories name binary packages.
            Some(Target {
                ecosystem: eco,
                name: name.clone(),
                source_name: None,
                release,
            })
        }
        _ => None,
    }
}

/// Whether an advisory's ecosystem (`Debian:12`, `Ubuntu:Pro:22.04:LTS`) covers the release.
fn release_matches(advisory_ecosystem: &str, release: Option<&str>) -> bool {
    let Some(release) = release else { return true };
    let mut parts = advisory_ecosystem.split(':');
    parts.next();
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() || rest.iter().all(|p| p.is_empty()) {
        return true;
    }
    rest.contains(&release)
}

fn record_severities(r: &Record, affected_idx: &[usize]) -> Vec<Scored> {
    let mut out: Vec<Scored> = r
        .severity
        .iter()
        .map(|s| score(&s.kind, &s.score))
        .collect();
    for &i in affected_idx {
        if let Some(a) = r.affected.get(i) {
            out.extend(a.severity.iter().map(|s| score(&s.kind, &s.score)));
        }
    }
    if let Some(w) = r
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|v| v.as_str())
    {
        let source = if r.id.starts_with("GHSA-") {
            "GHSA"
        } else {
            "database_specific"
        };
        out.push(score(source, w));
    }
    out
}

struct Hit {
    record: Record,
    fixed: Vec<String>,
    severities: Vec<Scored>,
}

/// Scans a catalog's packages against the database.
pub fn scan(reader: &Reader<'_>, catalog: &Catalog) -> Result<ScanResult, DbError> {
    let mut result = ScanResult {
        packages_scanned: catalog.packages.len(),
        ..Default::default()
    };
    let mut seen_packages = BTreeSet::new();
    // (position in the catalog, package, target), first occurrence of each package only.
    let mut todo: Vec<(usize, &Package, Target)> = Vec::new();
    for (pos, pkg) in catalog.packages.iter().enumerate() {
        let Some(t) = target(pkg, catalog.distro.as_ref()) else {
            continue;
        };
        if seen_packages.insert((
            t.ecosystem,
            pkg.name.clone(),
            pkg.version.clone(),
            pkg.purl.clone(),
        )) {
            todo.push((pos, pkg, t));
        }
    }
    // Look up in key order so the index pages are read in order, each once; findings are
    // put back in catalog order below.
    todo.sort_by(|a, b| (a.2.ecosystem, &a.2.name).cmp(&(b.2.ecosystem, &b.2.name)));
    let mut per_package: Vec<(usize, Vec<Finding>)> = Vec::with_capacity(todo.len());
    for (pos, pkg, t) in todo {
        let scheme = match Scheme::for_ecosystem(t.ecosystem) {
            Ok(s) => s,
            Err(e) => {
                result
                    .warnings
                    .push(format!("{} {}: {e}", pkg.name, pkg.version));
                continue;
            }
        };
        if let Err(e) = scheme.validate(&pkg.version) {
            result.warnings.push(format!(
                "{} ({}): {e}; only exact version lists are checked",
                pkg.purl, t.ecosystem
            ));
        }
        let mut hits: Vec<Hit> = Vec::new();
        for cand in reader.candidates(t.ecosystem, &t.name)? {
            let mut fixed = Vec::new();
            let mut matched = Vec::new();
            for entry in &cand.entries {
                let a = &entry.affected;
                if ecosystem_base(&a.package.ecosystem) != t.ecosystem
                    || !release_matches(&a.package.ecosystem, t.release.as_deref())
                {
                    continue;
                }
                let v = evaluate(scheme, a, &pkg.version);
                for p in &v.problems {
                    if !p.contains(&format!("{:?}", pkg.version)) {
                        result
                            .warnings
                            .push(format!("{}: {}: {p}", cand.id, a.package.name));
                    }
                }
                if v.affected {
                    matched.push(entry.index as usize);
                    fixed.extend(v.fixed);
                }
            }
            if matched.is_empty() {
                continue;
            }
            // Only advisories that match are read in full.
            let Some(record) = reader.get(&cand.id)? else {
                continue;
            };
            let severities = record_severities(&record, &matched);
            hits.push(Hit {
                record,
                fixed,
                severities,
            });
        }
        per_package.push((pos, merge(hits, pkg, &t, scheme)));
    }
    per_package.sort_by_key(|(pos, _)| *pos);
    result
        .findings
        .extend(per_package.into_iter().flat_map(|(_, f)| f));
    result.warnings.sort();
    result.warnings.dedup();
    Ok(result)
}

fn is_primary_rank(id: &str) -> (u8, String) {
    let rank = if id.starts_with("CVE-") {
        2
    } else if id.starts_with("GHSA-") {
        1
    } else {
        0
    };
    (rank, id.to_string())
}

/// Merges hits that name each other into findings.
fn merge(hits: Vec<Hit>, pkg: &Package, t: &Target, scheme: Scheme) -> Vec<Finding> {
    // Union-find over hits by shared ids.
    let n = hits.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while p[r] != r {
            r = p[r];
        }
        p[i] = r;
        r
    }
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        for id in std::iter::once(&h.record.id).chain(h.record.aliases.iter()) {
            match owner.get(id.as_str()) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(id.as_str(), i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in groups.values() {
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let mut fixed: Vec<String> = Vec::new();
        let mut severities: Vec<Scored> = Vec::new();
        let mut references: Vec<String> = Vec::new();
        let primary = members
            .iter()
            .map(|&i| &hits[i].record)
            .min_by_key(|r| is_primary_rank(&r.id))
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let mut summary = None;
        for &i in members {
            let h = &hits[i];
            ids.insert(h.record.id.clone());
            ids.extend(h.record.aliases.iter().cloned());
            fixed.extend(h.fixed.iter().cloned());
            for s in &h.severities {
                if !severities.contains(s) {
                    severities.push(s.clone());
                }
            }
            references.extend(h.record.references.iter().map(|r| r.url.clone()));
            if h.record.id == primary || summary.is_none() {
                summary = h
                    .record
                    .summary
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or(summary);
            }
        }
        ids.remove(&primary);
        fixed.sort_by(|a, b| scheme.compare(a, b).unwrap_or(std::cmp::Ordering::Equal));
        fixed.dedup();
        references.dedup();
        let rating = overall(&severities);
        let best = severities
            .iter()
            .filter(|s| s.score.is_some() && s.kind.starts_with("CVSS"))
            .max_by(|a, b| {
                a.kind.cmp(&b.kind).then(
                    a.score
                        .partial_cmp(&b.score)
                        .unwrap_or(std::cmp::Ordering::Equal),
                )
            });
        out.push(Finding {
            id: primary,
            aliases: ids.into_iter().collect(),
            package: PackageRef {
                name: pkg.name.clone(),
                version: pkg.version.clone(),
                purl: pkg.purl.clone(),
                ecosystem: t.ecosystem.to_string(),
                source_name: t.source_name.clone(),
                location: pkg.locations.first().map(|l| l.path.clone()),
            },
            summary,
            fixed_versions: fixed,
            severity: rating,
            score: best.and_then(|s| s.score),
            severities,
            references,
            vex: None,
            suppressed: false,
        });
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(
        kind: PackageType,
        name: &str,
        version: &str,
        purl: &str,
        source: Option<&str>,
    ) -> Package {
        Package {
            id: name.into(),
            name: name.into(),
            version: version.into(),
            kind,
            purl: purl.into(),
            license: None,
            locations: vec![],
            cpes: vec![],
            source_name: source.map(Into::into),
            source_version: None,
            depends_on: vec![],
        }
    }

    #[test]
    fn targets() {
        let d = Distro {
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: None,
        };
        let t = target(
            &pkg(
                PackageType::Deb,
                "nginx-core",
                "1.0",
                "pkg:deb/debian/nginx-core@1.0",
                Some("nginx"),
            ),
            Some(&d),
        )
        .unwrap();
        assert_eq!(
            (t.ecosystem, t.name.as_str(), t.release.as_deref()),
            ("Debian", "nginx", Some("12"))
        );
        let a = Distro {
            id: "alpine".into(),
            version_id: "3.20.1".into(),
            pretty_name: None,
        };
        let t = target(
            &pkg(
                PackageType::Apk,
                "libssl3",
                "3.3.0-r0",
                "pkg:apk/alpine/libssl3@3.3.0-r0",
                Some("openssl"),
            ),
            Some(&a),
        )
        .unwrap();
        assert_eq!(
            (t.ecosystem, t.name.as_str(), t.release.as_deref()),
            ("Alpine", "openssl", Some("v3.20"))
        );
        let t = target(
            &pkg(
                PackageType::Maven,
                "commons-text",
                "1.9",
                "pkg:maven/org.apache.commons/commons-text@1.9",
                None,
            ),
            None,
        )
        .unwrap();
        assert_eq!(t.name, "org.apache.commons:commons-text");
        assert!(release_matches("Ubuntu:Pro:14.04:LTS", Some("14.04")));
        assert!(!release_matches("Debian:11", Some("12")));
        assert!(release_matches("Debian", Some("12")));
    }
}
