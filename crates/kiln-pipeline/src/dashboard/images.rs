//! The images pages: `/images` lists every image the ledger knows (digest, references,
//! latest run, the signatures and attestations its succeeded runs attached, its SBOM,
//! findings by severity, where it was admitted); `/images/{digest}` shows one image's
//! runs, signatures, attestations, packages, findings by severity and admissions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};

use super::html::{self, Esc, Nav, PageError, PageResult, Url, badge, image_link, run_link};
use super::queries::{self, Attached, Counts, ImageRun, SEVERITIES};
use crate::ledger::{AdmissionRow, FindingRow, Ledger};

/// A short name for an attestation's predicate type.
pub fn predicate_name(uri: &str) -> &str {
    match uri {
        "https://spdx.dev/Document" => "SPDX SBOM",
        "https://cyclonedx.org/bom" => "CycloneDX SBOM",
        "https://slsa.dev/provenance/v1" => "SLSA provenance",
        "https://cosign.sigstore.dev/attestation/vuln/v1" => "vulnerability scan",
        other => other,
    }
}

/// Severity badges for the non-zero counts, or "none".
pub fn count_badges(c: &Counts) -> String {
    let parts: Vec<String> = SEVERITIES
        .iter()
        .zip(c.0)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("<span class=\"badge {}\">{n} {s}</span>", badge_class(s)))
        .collect();
    if parts.is_empty() {
        "<span class=\"muted\">none</span>".to_string()
    } else {
        parts.join(" ")
    }
}

fn badge_class(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "bad",
        "medium" => "warn",
        "low" => "info",
        _ => "muted",
    }
}

/// The references (`image` values) each digest was known by, from runs and admissions.
pub fn references(
    runs: &[ImageRun],
    admissions: &[AdmissionRow],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in runs {
        if let Some(i) = &r.image {
            out.entry(r.digest.clone()).or_default().insert(i.clone());
        }
    }
    for a in admissions {
        out.entry(a.image_digest.clone())
            .or_default()
            .insert(a.image.clone());
    }
    out
}

fn refs_html(refs: Option<&BTreeSet<String>>) -> String {
    refs.map(|r| {
        r.iter()
            .map(|i| format!("<span class=\"mono ref\">{}</span>", Esc(i)))
            .collect::<Vec<_>>()
            .join("<br>")
    })
    .unwrap_or_default()
}

fn signatures_summary(a: Option<&Attached>) -> String {
    let formats: BTreeSet<&str> = a
        .map(|a| a.signatures.iter().map(|s| s.format.as_str()).collect())
        .unwrap_or_default();
    if formats.is_empty() {
        "<span class=\"muted\">none</span>".to_string()
    } else {
        Esc(&formats.into_iter().collect::<Vec<_>>().join(", ")).to_string()
    }
}

fn attestations_summary(a: Option<&Attached>) -> String {
    let names: Vec<&str> = a
        .map(|a| a.attestations.iter().map(|u| predicate_name(u)).collect())
        .unwrap_or_default();
    if names.is_empty() {
        "<span class=\"muted\">none</span>".to_string()
    } else {
        Esc(&names.join(", ")).to_string()
    }
}

fn sbom_summary(a: Option<&Attached>, packages: Option<i64>) -> String {
    let formats: Vec<&str> = a
        .map(|a| a.sbom_formats.iter().map(String::as_str).collect())
        .unwrap_or_default();
    match (formats.is_empty(), packages) {
        (true, None) => "<span class=\"muted\">none</span>".to_string(),
        (true, Some(n)) => format!("{n} package(s)"),
        (false, None) => Esc(&formats.join(", ")).to_string(),
        (false, Some(n)) => format!("{}; {n} package(s)", Esc(&formats.join(", "))),
    }
}

/// `GET /images`.
pub async fn list(State(ledger): State<Ledger>) -> PageResult {
    let runs = queries::image_runs(&ledger, None).await?;
    let attached = queries::attached(&ledger, None).await?;
    let counts = queries::finding_counts(&ledger, None).await?;
    let packages = queries::package_counts(&ledger).await?;
    let others = queries::other_digests(&ledger).await?;
    let admissions = ledger.admissions(None).await?;
    let refs = references(&runs, &admissions);

    // Digests by their newest run, then those known only from scans or admissions.
    let mut order: Vec<&str> = Vec::new();
    let mut latest: BTreeMap<&str, &ImageRun> = BTreeMap::new();
    let mut run_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &runs {
        *run_counts.entry(&r.digest).or_default() += 1;
        if !latest.contains_key(r.digest.as_str()) {
            latest.insert(&r.digest, r);
            order.push(&r.digest);
        }
    }
    for d in &others {
        if !latest.contains_key(d.as_str()) {
            order.push(d);
        }
    }
    let mut admitted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in &admissions {
        admitted
            .entry(&a.image_digest)
            .or_default()
            .insert(&a.namespace);
    }

    let mut b = String::from("<h1>Images</h1>");
    if order.is_empty() {
        b.push_str("<p class=\"empty\">No image yet: a run that builds one records it here.</p>");
        return Ok(html::ok("Images", Nav::Images, &b));
    }
    let _ = write!(
        b,
        "<p>{} image(s).</p><table id=\"images\"><thead><tr><th>Image</th><th>References</th>\
         <th>Latest run</th><th>Signatures</th><th>Attestations</th><th>SBOM</th>\
         <th>Findings</th><th>Admitted</th></tr></thead><tbody>",
        order.len()
    );
    for d in order {
        let latest_run = match latest.get(d) {
            Some(r) => format!(
                "{} {}<br>{}{}",
                run_link(&r.run_id),
                badge(&r.status),
                html::time(r.started_at),
                match run_counts.get(d) {
                    Some(n) if *n > 1 => format!(" ({n} runs)"),
                    _ => String::new(),
                }
            ),
            None => "<span class=\"muted\">no run</span>".to_string(),
        };
        let admitted_in = match admitted.get(d) {
            Some(ns) => Esc(&ns.iter().copied().collect::<Vec<_>>().join(", ")).to_string(),
            None => "<span class=\"muted\">no</span>".to_string(),
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            image_link(d),
            refs_html(refs.get(d)),
            latest_run,
            signatures_summary(attached.get(d)),
            attestations_summary(attached.get(d)),
            sbom_summary(attached.get(d), packages.get(d).copied()),
            count_badges(&counts.get(d).copied().unwrap_or_default()),
            admitted_in,
        );
    }
    b.push_str("</tbody></table>");
    Ok(html::ok("Images", Nav::Images, &b))
}

/// Findings sorted most severe first, then by id.
pub fn sort_findings(findings: &mut [FindingRow]) {
    let rank = |s: &str| {
        SEVERITIES
            .iter()
            .position(|x| x.eq_ignore_ascii_case(s))
            .unwrap_or(SEVERITIES.len())
    };
    findings.sort_by(|a, b| {
        rank(&a.severity)
            .cmp(&rank(&b.severity))
            .then_with(|| a.vuln_id.cmp(&b.vuln_id))
            .then_with(|| a.purl.cmp(&b.purl))
    });
}

/// A link to the CVE search for a vulnerability id.
pub fn vuln_link(id: &str) -> String {
    format!(
        "<a class=\"mono\" href=\"/search?cve={}\">{}</a>",
        Url(id),
        Esc(id)
    )
}

/// What found a finding first: `run:<id>` links to the run; `rescan:<id>` is shown as is.
fn source_html(source: &str) -> String {
    match source.strip_prefix("run:") {
        Some(id) => format!("run {}", run_link(id)),
        None => Esc(source).to_string(),
    }
}

/// `GET /images/{digest}`.
pub async fn show(
    State(ledger): State<Ledger>,
    digest: Result<Path<String>, PathRejection>,
) -> PageResult {
    let Path(digest) = digest.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let digest = kiln_oci::Digest::parse(digest.trim())
        .map_err(|e| {
            PageError::BadRequest(format!(
                "{:?} is not an image digest: {e}",
                digest.chars().take(100).collect::<String>()
            ))
        })?
        .to_string();
    let runs = queries::image_runs(&ledger, Some(&digest)).await?;
    let packages = ledger.packages(&digest).await?;
    let mut findings = ledger.findings(&digest).await?;
    let admissions = ledger.admissions(Some(&digest)).await?;
    if runs.is_empty() && packages.is_empty() && findings.is_empty() && admissions.is_empty() {
        return Err(PageError::NotFound(format!(
            "No image {digest} in the ledger."
        )));
    }
    let attached = queries::attached(&ledger, Some(&digest)).await?;
    let attached = attached.get(&digest);
    let refs = references(&runs, &admissions);

    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Image</h1><p class=\"mono\" id=\"digest\">{}</p>",
        Esc(&digest)
    );
    if let Some(r) = refs.get(&digest) {
        let _ = write!(b, "<p>Known as: {}</p>", refs_html(Some(r)));
    }

    b.push_str("<h2>Runs</h2>");
    if runs.is_empty() {
        b.push_str("<p class=\"empty\">No run of this factory built it.</p>");
    } else {
        b.push_str(
            "<table id=\"image-runs\"><thead><tr><th>Run</th><th>Status</th><th>Started</th>\
             <th>Reference</th></tr></thead><tbody>",
        );
        for r in &runs {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                run_link(&r.run_id),
                badge(&r.status),
                html::time(r.started_at),
                Esc(r.image.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>");
    }

    b.push_str("<h2>Signatures</h2>");
    match attached.filter(|a| !a.signatures.is_empty()) {
        None => b.push_str("<p class=\"empty\">No signature recorded.</p>"),
        Some(a) => {
            b.push_str(
                "<table id=\"signatures\"><thead><tr><th>Format</th><th>Signature manifest</th>\
                 <th>Tag</th></tr></thead><tbody>",
            );
            for s in &a.signatures {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                    Esc(&s.format),
                    Esc(&s.manifest),
                    Esc(s.tag.as_deref().unwrap_or(""))
                );
            }
            b.push_str("</tbody></table>");
        }
    }

    b.push_str("<h2>Attestations</h2>");
    match attached.filter(|a| !a.attestations.is_empty()) {
        None => b.push_str("<p class=\"empty\">No attestation recorded.</p>"),
        Some(a) => {
            b.push_str("<ul id=\"attestations\">");
            for u in &a.attestations {
                let _ = write!(
                    b,
                    "<li>{} <span class=\"mono\">({})</span></li>",
                    Esc(predicate_name(u)),
                    Esc(u)
                );
            }
            b.push_str("</ul>");
        }
    }

    let _ = write!(b, "<h2>SBOM: {} package(s)</h2>", packages.len());
    if let Some(a) = attached.filter(|a| !a.sbom_formats.is_empty()) {
        let formats: Vec<&str> = a.sbom_formats.iter().map(String::as_str).collect();
        let _ = write!(
            b,
            "<p>Documents: {} (encrypted in the evidence store of the run).</p>",
            Esc(&formats.join(", "))
        );
    }
    if packages.is_empty() {
        b.push_str("<p class=\"empty\">No package recorded.</p>");
    } else {
        b.push_str(
            "<table id=\"packages\"><thead><tr><th>Package</th><th>Version</th>\
             <th>Ecosystem</th><th>PURL</th></tr></thead><tbody>",
        );
        for p in &packages {
            let _ = write!(
                b,
                "<tr><td><a href=\"/search?package={}\">{}</a></td><td>{}</td><td>{}</td>\
                 <td class=\"mono\">{}</td></tr>",
                Url(&p.name),
                Esc(&p.name),
                Esc(&p.version),
                Esc(&p.ecosystem),
                Esc(&p.purl)
            );
        }
        b.push_str("</tbody></table>");
    }

    let mut counts = Counts::default();
    for f in &findings {
        counts.add(&f.severity, 1);
    }
    let _ = write!(
        b,
        "<h2>Findings: {}</h2><p id=\"finding-counts\">{}</p>",
        findings.len(),
        count_badges(&counts)
    );
    if !findings.is_empty() {
        sort_findings(&mut findings);
        b.push_str(
            "<table id=\"findings\"><thead><tr><th>Vulnerability</th><th>Aliases</th>\
             <th>Severity</th><th>Package</th><th>Version</th><th>Fixed in</th>\
             <th>First seen</th><th>Found by</th></tr></thead><tbody>",
        );
        for f in &findings {
            let aliases: Vec<String> = f.aliases.iter().map(|a| vuln_link(a)).collect();
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td class=\"mono\">{}</td></tr>",
                vuln_link(&f.vuln_id),
                aliases.join(" "),
                badge(&f.severity),
                Esc(&f.package),
                Esc(&f.version),
                Esc(f.fixed_version.as_deref().unwrap_or("")),
                html::time(f.first_seen),
                source_html(&f.source)
            );
        }
        b.push_str("</tbody></table>");
    }

    b.push_str("<h2>Admitted</h2>");
    if admissions.is_empty() {
        b.push_str("<p class=\"empty\">The admission webhook has not reported it.</p>");
    } else {
        b.push_str(
            "<table id=\"admissions\"><thead><tr><th>Namespace</th><th>Image</th>\
             <th>First admitted</th><th>Last admitted</th><th class=\"num\">Admissions</th>\
             </tr></thead><tbody>",
        );
        for a in &admissions {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td>\
                 <td class=\"num\">{}</td></tr>",
                Esc(&a.namespace),
                Esc(&a.image),
                html::time(a.first_admitted),
                html::time(a.last_admitted),
                a.admissions
            );
        }
        b.push_str("</tbody></table>");
    }
    let title = format!("Image {}", html::short_digest(&digest));
    Ok(html::ok(&title, Nav::Images, &b))
}
