//! Reports of a scan: JSON, SARIF 2.1.0, CycloneDX 1.6 with vulnerabilities, the cosign vuln
//! predicate (`https://cosign.sigstore.dev/attestation/vuln/v1`), and a text table grouped
//! by package.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Value, json};

use crate::scan::{Finding, ScanResult};
use crate::severity::Rating;

/// The cosign vuln predicate type.
pub const COSIGN_VULN_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// Kiln's JSON report.
pub fn json(result: &ScanResult, source: &str) -> Value {
    json!({
        "source": source,
        "packagesScanned": result.packages_scanned,
        "findings": result.findings,
        "warnings": result.warnings,
    })
}

fn advisory_url(id: &str) -> String {
    format!("https://osv.dev/vulnerability/{id}")
}

fn sarif_level(r: Rating) -> &'static str {
    match r {
        Rating::Critical | Rating::High => "error",
        Rating::Medium => "warning",
        _ => "note",
    }
}

/// SARIF 2.1.0: one rule per vulnerability, one result per finding (suppressed ones carry a
/// `suppressions` entry).
pub fn sarif(result: &ScanResult, source: &str, tool_version: &str) -> Value {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &result.findings {
        rules.entry(f.id.as_str()).or_insert_with(|| {
            let mut props = json!({ "tags": ["security", "vulnerability"] });
            if let Some(s) = f.score {
                props["security-severity"] = json!(format!("{s:.1}"));
            }
            json!({
                "id": f.id,
                "shortDescription": { "text": f.summary.clone().unwrap_or_else(|| f.id.clone()) },
                "helpUri": advisory_url(&f.id),
                "properties": props,
            })
        });
        let fix = if f.fixed_versions.is_empty() {
            "no fixed version known".to_string()
        } else {
            format!("fixed in {}", f.fixed_versions.join(", "))
        };
        let mut r = json!({
            "ruleId": f.id,
            "level": sarif_level(f.severity),
            "message": { "text": format!("{} {} is affected by {} ({}); {}", f.package.name, f.package.version, f.id, f.severity.as_str(), fix) },
            "locations": [{ "physicalLocation": { "artifactLocation": { "uri": f.package.location.clone().unwrap_or_else(|| source.to_string()) } },
                            "logicalLocations": [{ "name": f.package.purl, "kind": "package" }] }],
            "properties": { "aliases": f.aliases, "purl": f.package.purl, "fixedVersions": f.fixed_versions },
        });
        if f.suppressed {
            let v = f.vex.as_ref();
            r["suppressions"] = json!([{ "kind": "external", "status": "accepted",
                "justification": v.and_then(|v| v.justification.clone()).unwrap_or_else(|| v.map(|v| v.status.clone()).unwrap_or_default()) }]);
        }
        results.push(r);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "kiln", "version": tool_version, "informationUri": "https://example.invalid/kiln",
                                  "rules": rules.into_values().collect::<Vec<_>>() } },
            "results": results,
        }]
    })
}

fn cdx_method(kind: &str, vector: &str) -> &'static str {
    match kind {
        "CVSS_V2" => "CVSSv2",
        "CVSS_V3" if vector.starts_with("CVSS:3.0") => "CVSSv3",
        "CVSS_V3" => "CVSSv31",
        "CVSS_V4" => "CVSSv4",
        _ => "other",
    }
}

fn cdx_state(status: &str) -> &'static str {
    match status {
        "not_affected" => "not_affected",
        "fixed" => "resolved",
        "under_investigation" => "in_triage",
        _ => "exploitable",
    }
}

/// CycloneDX 1.6 with the scanned components and their vulnerabilities.
pub fn cyclonedx(result: &ScanResult, tool_version: &str) -> Value {
    let mut components: BTreeMap<&str, Value> = BTreeMap::new();
    let mut vulns = Vec::new();
    for f in &result.findings {
        components.entry(f.package.purl.as_str()).or_insert_with(|| {
            json!({ "type": "library", "bom-ref": f.package.purl, "name": f.package.name, "version": f.package.version, "purl": f.package.purl })
        });
        let ratings: Vec<Value> = f
            .severities
            .iter()
            .map(|s| {
                let mut r = json!({ "severity": s.rating.as_str(), "method": cdx_method(&s.kind, &s.vector), "source": { "name": s.kind } });
                if let Some(score) = s.score {
                    r["score"] = json!(score);
                    r["vector"] = json!(s.vector);
                }
                r
            })
            .collect();
        let mut v = json!({
            "bom-ref": format!("{}@{}", f.id, f.package.purl),
            "id": f.id,
            "source": { "name": "OSV", "url": advisory_url(&f.id) },
            "references": f.aliases.iter().map(|a| json!({ "id": a, "source": { "name": "OSV", "url": advisory_url(a) } })).collect::<Vec<_>>(),
            "ratings": ratings,
            "affects": [{ "ref": f.package.purl }],
        });
        if let Some(s) = &f.summary {
            v["description"] = json!(s);
        }
        if !f.fixed_versions.is_empty() {
            v["recommendation"] = json!(format!(
                "Upgrade {} to {}",
                f.package.name,
                f.fixed_versions.join(" or ")
            ));
        }
        if let Some(x) = &f.vex {
            let mut a = json!({ "state": cdx_state(&x.status) });
            if let Some(j) = &x.justification {
                let cdx_j = match j.as_str() {
                    "component_not_present" => "requires_dependency",
                    "vulnerable_code_not_present" => "code_not_present",
                    "vulnerable_code_not_in_execute_path" => "code_not_reachable",
                    "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
                    "inline_mitigations_already_exist" => "protected_by_mitigating_control",
                    other => other,
                };
                a["justification"] = json!(cdx_j);
            }
            if let Some(d) = &x.detail {
                a["detail"] = json!(d);
            }
            v["analysis"] = a;
        }
        vulns.push(v);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": { "tools": { "components": [{ "type": "application", "name": "kiln", "version": tool_version }] } },
        "components": components.into_values().collect::<Vec<_>>(),
        "vulnerabilities": vulns,
    })
}

/// The cosign vuln predicate (scanner, database, result, scan times).
pub fn cosign_predicate(
    result: &ScanResult,
    source: &str,
    tool_version: &str,
    db: &str,
    db_version: &str,
    started: &str,
    finished: &str,
) -> Value {
    json!({
        "invocation": { "parameters": [source], "uri": "", "event_id": "", "builder.id": "" },
        "scanner": {
            "uri": format!("pkg:generic/kiln@{tool_version}"),
            "version": tool_version,
            "db": { "uri": db, "version": db_version },
            "result": json(result, source),
        },
        "metadata": { "scanStartedOn": started, "scanFinishedOn": finished },
    })
}

/// A text table grouped by package.
pub fn table(findings: &[Finding]) -> String {
    let mut by_pkg: BTreeMap<(String, String, String), Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_pkg
            .entry((
                f.package.name.clone(),
                f.package.version.clone(),
                f.package.ecosystem.clone(),
            ))
            .or_default()
            .push(f);
    }
    let mut out = String::new();
    for ((name, version, eco), fs) in by_pkg {
        let via = fs[0]
            .package
            .source_name
            .as_ref()
            .map(|s| format!(" (source {s})"))
            .unwrap_or_default();
        let _ = writeln!(out, "{name} {version} [{eco}]{via}");
        for f in fs {
            let fixed = if f.fixed_versions.is_empty() {
                "-".to_string()
            } else {
                f.fixed_versions.join(", ")
            };
            let vex = match (&f.vex, f.suppressed) {
                (Some(v), true) => format!("  [suppressed: {}]", v.status),
                (Some(v), false) => format!("  [vex: {}]", v.status),
                _ => String::new(),
            };
            let aliases = if f.aliases.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.aliases.join(", "))
            };
            let _ = writeln!(
                out,
                "  {:<22} {:<9} fixed: {fixed}{aliases}{vex}",
                f.id,
                f.severity.as_str()
            );
            if let Some(s) = &f.summary {
                let _ = writeln!(out, "      {s}");
            }
        }
    }
    out
}
