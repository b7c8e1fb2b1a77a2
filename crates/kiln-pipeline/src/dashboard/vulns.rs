//! The vulnerabilities page (`/vulnerabilities?days=N`): open findings by severity over
//! time across all images, as an inline SVG chart built from the recorded scans (each
//! image counts with its latest scan at every instant), the findings per image, and the
//! latest scans (runs and re-scans, with the findings each one saw first).

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::chart;
use super::html::{self, Esc, Nav, PageError, PageResult, image_link};
use super::images::count_badges;
use super::queries::{self, Counts, SEVERITIES};
use crate::ledger::{Ledger, ScanRow, now_ms};

const DEFAULT_DAYS: i64 = 90;
const MAX_DAYS: i64 = 3650;
/// How many of the latest scans the page lists.
const RECENT_SCANS: usize = 20;

/// The query of `/vulnerabilities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VulnQuery {
    /// The chart's window in days (1 to 3650).
    days: Option<String>,
}

/// The chart's points: at each scan's instant (and at `since` when images were scanned
/// before it), the sum over images of each one's latest counts. `baseline` holds the
/// latest counts of images scanned before `since`; `scans` are oldest first.
pub fn series(
    since: i64,
    baseline: &BTreeMap<String, Counts>,
    scans: &[ScanRow],
) -> Vec<(i64, Counts)> {
    let mut current = baseline.clone();
    let mut total = baseline
        .values()
        .fold(Counts::default(), |acc, c| acc.plus(c));
    let mut points: Vec<(i64, Counts)> = Vec::new();
    if !baseline.is_empty() {
        points.push((since, total));
    }
    for s in scans {
        let counts = Counts([s.critical, s.high, s.medium, s.low, s.unknown]);
        if let Some(old) = current.insert(s.image_digest.clone(), counts) {
            for (t, o) in total.0.iter_mut().zip(old.0) {
                *t -= o;
            }
        }
        total = total.plus(&counts);
        match points.last_mut() {
            Some(last) if last.0 == s.scanned_at => last.1 = total,
            _ => points.push((s.scanned_at, total)),
        }
    }
    points
}

/// `GET /vulnerabilities`.
pub async fn page(
    State(ledger): State<Ledger>,
    query: Result<Query<VulnQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let days = match query.days.as_deref() {
        None | Some("") => DEFAULT_DAYS,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_DAYS).contains(n))
            .ok_or_else(|| {
                PageError::BadRequest(format!(
                    "days {d:?} is not a number of days from 1 to {MAX_DAYS}"
                ))
            })?,
    };
    let since = now_ms() - days * 86_400_000;
    let baseline = queries::scan_baseline(&ledger, since).await?;
    let scans = ledger.scans(since).await?;
    let points = series(since, &baseline, &scans);
    let counts = queries::finding_counts(&ledger, None).await?;
    let runs = queries::image_runs(&ledger, None).await?;
    let mut refs: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &runs {
        if let Some(i) = &r.image {
            refs.entry(&r.digest).or_insert(i);
        }
    }

    let mut b = String::from("<h1>Vulnerabilities</h1>");
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/vulnerabilities\"><label>Days shown\
         <input type=\"number\" name=\"days\" min=\"1\" max=\"{MAX_DAYS}\" value=\"{days}\"></label>\
         <button type=\"submit\">Show</button></form>\
         <h2>Open findings by severity, last {days} day(s)</h2>"
    );
    match chart::severity_chart(&points) {
        Some(svg) => {
            b.push_str(&svg);
            if let Some((_, now)) = points.last() {
                let _ = write!(b, "<p id=\"current-counts\">Now: {}</p>", count_badges(now));
            }
        }
        None => b.push_str("<p class=\"empty\">No scan recorded in this period.</p>"),
    }

    b.push_str("<h2>Findings per image</h2>");
    let mut per_image: Vec<(&String, &Counts)> = counts.iter().collect();
    // Most severe first: by critical, then high, ... descending.
    per_image.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    if per_image.is_empty() {
        b.push_str("<p class=\"empty\">No finding recorded.</p>");
    } else {
        b.push_str("<table id=\"findings-per-image\"><thead><tr><th>Image</th><th>Reference</th>");
        for s in SEVERITIES {
            let _ = write!(b, "<th class=\"num\">{s}</th>");
        }
        b.push_str("<th class=\"num\">total</th></tr></thead><tbody>");
        for (d, c) in per_image {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"mono\">{}</td>",
                image_link(d),
                Esc(refs.get(d.as_str()).copied().unwrap_or(""))
            );
            for n in c.0 {
                let _ = write!(b, "<td class=\"num\">{n}</td>");
            }
            let _ = write!(b, "<td class=\"num\">{}</td></tr>", c.total());
        }
        b.push_str("</tbody></table>");
    }

    let _ = write!(b, "<h2>Latest scans</h2>");
    if scans.is_empty() {
        b.push_str("<p class=\"empty\">No scan in this period.</p>");
    } else {
        b.push_str(
            "<table id=\"scans\"><thead><tr><th>When</th><th>Image</th><th>Kind</th>\
             <th>Database</th><th>Findings</th><th class=\"num\">New</th></tr></thead><tbody>",
        );
        for s in scans.iter().rev().take(RECENT_SCANS) {
            let c = Counts([s.critical, s.high, s.medium, s.low, s.unknown]);
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td>\
                 <td class=\"num\">{}</td></tr>",
                html::time(s.scanned_at),
                image_link(&s.image_digest),
                Esc(&s.kind),
                Esc(s.db_built.as_deref().unwrap_or("")),
                count_badges(&c),
                s.new_findings
            );
        }
        b.push_str("</tbody></table>");
    }
    Ok(html::ok("Vulnerabilities", Nav::Vulnerabilities, &b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(digest: &str, at: i64, c: [i64; 5]) -> ScanRow {
        ScanRow {
            id: format!("{digest}-{at}"),
            image_digest: digest.to_string(),
            run_id: None,
            kind: "rescan".into(),
            scanned_at: at,
            db_built: None,
            critical: c[0],
            high: c[1],
            medium: c[2],
            low: c[3],
            unknown: c[4],
            new_findings: 0,
        }
    }

    #[test]
    fn each_image_counts_with_its_latest_scan() {
        let mut baseline = BTreeMap::new();
        baseline.insert("a".to_string(), Counts([1, 0, 0, 0, 0]));
        let scans = [
            scan("b", 20, [0, 2, 0, 0, 0]),
            scan("a", 30, [2, 0, 1, 0, 0]),
            scan("b", 30, [0, 1, 0, 0, 0]),
        ];
        let points = series(10, &baseline, &scans);
        assert_eq!(
            points,
            [
                (10, Counts([1, 0, 0, 0, 0])),
                (20, Counts([1, 2, 0, 0, 0])),
                (30, Counts([2, 1, 1, 0, 0])),
            ]
        );
    }

    #[test]
    fn nothing_scanned_no_points() {
        assert!(series(0, &BTreeMap::new(), &[]).is_empty());
    }
}
