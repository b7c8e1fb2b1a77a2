//! Matching packages to advisories: each package is mapped to its OSV ecosystem and name
//! (Debian, Ubuntu and Alpine through the source package, rpm distributions through the
//! binary and the source package, each with the distribution release),
//! looked up in the database, checked against the affected ranges, and the matching
//! advisories that name each other (aliases) are merged into one finding with the fixed
//! versions that resolve it and its severities.

use std::collections::{BTreeMap, BTreeSet};

use kiln_sbom::{Catalog, Distro, Package, PackageType};
use serde::{Deserialize, Serialize};

use crate::db::{DbError, Reader};
use crate::osv::{Record, ecosystem_base};
use crate::purl;
use crate::range::evaluate_parts;
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
    /// Another name advisories may file the package under, looked up too (an rpm's source
    /// package: Red Hat advisories name binary or source rpms, SUSE and AlmaLinux sources).
    pub also: Option<String>,
    /// The release as OSV writes it after the colon (`12`, `v3.20`, `22.04`, `9`); for Red
    /// Hat the `VERSION_ID` (`9.4`), for SUSE the version label (`15 SP5`), for openSUSE the
    /// product (`openSUSE Leap 15.5`).
    pub release: Option<String>,
    /// The version to compare (an rpm's `epoch:version-release`).
    pub version: String,
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
            also: None,
            release: None,
            version: pkg.version.clone(),
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
            also: None,
            release,
            version: pkg.version.clone(),
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
            let (eco, release) = match distro_id.as_str() {
                "rhel" | "redhat" => ("Red Hat", version_id),
                "almalinux" => ("AlmaLinux", version_id.map(|v| major(&v))),
                "rocky" => ("Rocky Linux", version_id.map(|v| major(&v))),
                "sles" | "sled" | "suse" => ("SUSE", version_id.map(|v| suse_label(&v))),
                id if id.starts_with("opensuse") => (
                    "openSUSE",
                    distro
                        .and_then(|d| d.pretty_name.clone())
                        .or_else(|| version_id.map(|v| format!("openSUSE Leap {v}"))),
                ),
                // Fedora, CentOS, Amazon Linux, Oracle Linux...: no OSV data of their own.
                _ => return None,
            };
            let source = pkg
                .source_name
                .clone()
                .or_else(|| {
                    p.as_ref()
                        .and_then(|p| p.qualifier("upstream"))
                        .and_then(rpm_source_name)
                })
                .filter(|s| !s.is_empty() && *s != name);
            let epoch = p
                .as_ref()
                .and_then(|p| p.qualifier("epoch"))
                .filter(|e| !e.is_empty());
            let version = match epoch {
                Some(e) if !pkg.version.contains(':') => format!("{e}:{}", pkg.version),
                _ => pkg.version.clone(),
            };
            Some(Target {
                ecosystem: eco,
                name: name.clone(),
                source_name: None,
                also: source,
                release,
                version,
            })
        }
        _ => None,
    }
}

/// The source package name of an rpm's `SOURCERPM` (`name-ver-rel.src.rpm`), or the value
/// itself when it is a bare name.
fn rpm_source_name(upstream: &str) -> Option<String> {
    let Some(base) = upstream
        .strip_suffix(".src.rpm")
        .or_else(|| upstream.strip_suffix(".nosrc.rpm"))
    else {
        return (!upstream.contains(['/', ' '])).then(|| upstream.to_string());
    };
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    (!name.is_empty()).then(|| name.to_string())
}

/// SUSE's version label for a `VERSION_ID`: `15.5` -> `15 SP5`, `15` -> `15`.
fn suse_label(version_id: &str) -> String {
    match version_id.split_once('.') {
        Some((major, sp)) if sp != "0" => format!("{major} SP{sp}"),
        Some((major, _)) => major.to_string(),
        None => version_id.to_string(),
    }
}

/// Whether an advisory's ecosystem (`Debian:12`, `Ubuntu:Pro:22.04:LTS`,
/// `Red Hat:enterprise_linux:9::baseos`, `SUSE:Linux Enterprise Server 15 SP5`) covers the
/// release. An advisory without a release suffix covers every release.
fn release_matches(advisory_ecosystem: &str, release: Option<&str>) -> bool {
    let Some(release) = release else { return true };
    let Some((base, suffix)) = advisory_ecosystem.split_once(':') else {
        return true;
    };
    if suffix.split(':').all(str::is_empty) {
        return true;
    }
    match base {
        // A CPE without its prefix: product, version, update, edition. RHEL streams only;
        // a stream with a minor version (EUS, AUS, E4S) covers only that minor release.
        "Red Hat" => {
            let mut cpe = suffix.split(':');
            let product = cpe.next().unwrap_or("");
            let version = cpe.next().unwrap_or("");
            (product == "enterprise_linux" || product.starts_with("rhel"))
                && (version == release || (!version.contains('.') && version == major(release)))
        }
        "SUSE" => {
            let product = suffix.strip_prefix("SUSE ").unwrap_or(suffix);
            product.contains("Linux Enterprise") && product.ends_with(&format!(" {release}"))
        }
        "openSUSE" => {
            let strip = |s: &'_ str| s.strip_prefix("openSUSE ").unwrap_or(s).to_string();
            strip(suffix).eq_ignore_ascii_case(&strip(release))
        }
        _ => suffix.split(':').any(|p| p == release),
    }
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
        let valid = match scheme.validate(&t.version) {
            Ok(()) => true,
            Err(e) => {
                result.warnings.push(format!(
                    "{} ({}): {e}; only exact version lists are checked",
                    pkg.purl, t.ecosystem
                ));
                false
            }
        };
        // id -> (matched entry positions, fixed versions), over every name looked up.
        let mut matched_by_id: BTreeMap<String, (Vec<usize>, Vec<String>)> = BTreeMap::new();
        let mut via_also = false;
        for (n, name) in std::iter::once(&t.name).chain(t.also.as_ref()).enumerate() {
            let Some(value) = reader.matches(t.ecosystem, name)? else {
                continue;
            };
            for item in value.advisories() {
                let (id, blob) = item.map_err(|m| reader.corrupt(name, m))?;
                let entries =
                    crate::matchidx::decode_entries(blob).map_err(|m| reader.corrupt(id, m))?;
                let mut fixed = Vec::new();
                let mut matched = Vec::new();
                for entry in &entries {
                    if ecosystem_base(entry.ecosystem) != t.ecosystem
                        || !release_matches(entry.ecosystem, t.release.as_deref())
                    {
                        continue;
                    }
                    let v =
                        evaluate_parts(scheme, &entry.versions, &entry.ranges, &t.version, valid);
                    for p in &v.problems {
                        if !p.contains(&format!("{:?}", t.version)) {
                            result.warnings.push(format!("{id}: {name}: {p}"));
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
                via_also |= n > 0;
                let slot = matched_by_id.entry(id.to_string()).or_default();
                slot.0.extend(matched);
                slot.1.extend(fixed);
            }
        }
        let mut hits: Vec<Hit> = Vec::with_capacity(matched_by_id.len());
        for (id, (mut matched, fixed)) in matched_by_id {
            matched.sort_unstable();
            matched.dedup();
            // Only advisories that match are read in full.
            let Some(record) = reader.get(&id)? else {
                continue;
            };
            let severities = record_severities(&record, &matched);
            hits.push(Hit {
                record,
                fixed,
                severities,
            });
        }
        per_package.push((pos, merge(hits, pkg, &t, scheme, via_also)));
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
fn merge(
    hits: Vec<Hit>,
    pkg: &Package,
    t: &Target,
    scheme: Scheme,
    via_also: bool,
) -> Vec<Finding> {
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
                source_name: t
                    .source_name
                    .clone()
                    .or_else(|| t.also.clone().filter(|_| via_also)),
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

    #[test]
    fn rpm_targets_and_releases() {
        let p = |purl: &str| pkg(PackageType::Rpm, "curl", "7.76.1-26.el9", purl, None);
        let t = target(
            &p("pkg:rpm/rhel/curl@7.76.1-26.el9?arch=x86_64&epoch=1&upstream=curl-7.76.1-26.el9.src.rpm&distro=rhel-9.4"),
            None,
        )
        .unwrap();
        assert_eq!(
            (
                t.ecosystem,
                t.name.as_str(),
                t.also.as_deref(),
                t.release.as_deref(),
                t.version.as_str()
            ),
            ("Red Hat", "curl", None, Some("9.4"), "1:7.76.1-26.el9")
        );
        let t = target(
            &p("pkg:rpm/almalinux/libcurl@7.76.1-26.el9?arch=x86_64&upstream=curl-7.76.1-26.el9.src.rpm&distro=almalinux-9.4"),
            None,
        )
        .unwrap();
        assert_eq!(
            (
                t.ecosystem,
                t.name.as_str(),
                t.also.as_deref(),
                t.release.as_deref()
            ),
            ("AlmaLinux", "libcurl", Some("curl"), Some("9"))
        );
        let t = target(
            &p("pkg:rpm/sles/libopenssl3@3.0.8-1?upstream=openssl-3-3.0.8-1.src.rpm&distro=sles-15.5"),
            None,
        )
        .unwrap();
        assert_eq!(
            (t.ecosystem, t.also.as_deref(), t.release.as_deref()),
            ("SUSE", Some("openssl-3"), Some("15 SP5"))
        );
        let t = target(&p("pkg:rpm/rocky/curl@1-1?distro=rocky-8.10"), None).unwrap();
        assert_eq!(
            (t.ecosystem, t.release.as_deref()),
            ("Rocky Linux", Some("8"))
        );
        assert!(target(&p("pkg:rpm/fedora/curl@1-1?distro=fedora-40"), None).is_none());

        let rh = |eco: &str, rel: &str| release_matches(eco, Some(rel));
        assert!(rh("Red Hat:enterprise_linux:9::baseos", "9.4"));
        assert!(rh("Red Hat:enterprise_linux:9::appstream", "9"));
        assert!(!rh("Red Hat:enterprise_linux:8::baseos", "9.4"));
        assert!(rh("Red Hat:rhel_eus:9.2::baseos", "9.2"));
        assert!(!rh("Red Hat:rhel_eus:9.2::baseos", "9.4"));
        assert!(!rh("Red Hat:openshift:4.14::el9", "9.4"));
        assert!(rh("AlmaLinux:9", "9") && !rh("AlmaLinux:8", "9"));
        assert!(rh("SUSE:Linux Enterprise Server 15 SP5", "15 SP5"));
        assert!(rh(
            "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
            "15 SP5"
        ));
        assert!(!rh("SUSE:Linux Enterprise Server 15 SP4", "15 SP5"));
        assert!(!rh("SUSE:Linux Enterprise Server 12 SP5", "15 SP5"));
        assert!(rh("openSUSE:openSUSE Leap 15.5", "openSUSE Leap 15.5"));
        assert!(!rh("openSUSE:openSUSE Leap 15.4", "openSUSE Leap 15.5"));
        assert_eq!(
            rpm_source_name("openssl-3-3.0.8-1.src.rpm").as_deref(),
            Some("openssl-3")
        );
        assert_eq!(rpm_source_name("bad.src.rpm"), None);
    }
}
