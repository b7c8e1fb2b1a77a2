//! The search page: `/search?package=NAME` answers "which images contain package X"
//! (exact name or a PURL substring), `/search?cve=ID` "which images are affected by CVE Y"
//! (the id or any alias, any case), each result with the image's references and where it
//! was admitted. A plain GET form, so it works without JavaScript.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::html::{self, Esc, Nav, PageError, PageResult, badge, image_link};
use super::images::{references, sort_findings, vuln_link};
use super::queries;
use crate::ledger::Ledger;

/// The longest search term accepted.
const MAX_TERM: usize = 256;

/// The query of `/search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    package: Option<String>,
    cve: Option<String>,
}

/// A search term trimmed, `None` when empty; an error when too long or with control
/// characters.
fn term<'a>(what: &str, value: Option<&'a str>) -> Result<Option<&'a str>, PageError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() > MAX_TERM {
        return Err(PageError::BadRequest(format!(
            "the {what} to search for is longer than {MAX_TERM} bytes"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(PageError::BadRequest(format!(
            "the {what} to search for contains control characters"
        )));
    }
    Ok(Some(v))
}

/// `GET /search`.
pub async fn page(
    State(ledger): State<Ledger>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let package = term("package", query.package.as_deref())?;
    let cve = term("vulnerability id", query.cve.as_deref())?;

    let mut b = String::from("<h1>Search</h1>");
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/search\">\
         <label>Images containing the package<input type=\"text\" name=\"package\" \
         value=\"{}\" placeholder=\"openssl or pkg:deb/debian/openssl\"></label>\
         <label>Images affected by the vulnerability<input type=\"text\" name=\"cve\" \
         value=\"{}\" placeholder=\"CVE-2024-12345 or GHSA-…\"></label>\
         <button type=\"submit\">Search</button></form>",
        Esc(package.unwrap_or("")),
        Esc(cve.unwrap_or(""))
    );
    if package.is_none() && cve.is_none() {
        return Ok(html::ok("Search", Nav::Search, &b));
    }
    let runs = queries::image_runs(&ledger, None).await?;
    let admissions = ledger.admissions(None).await?;
    let refs = references(&runs, &admissions);
    let mut admitted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in &admissions {
        admitted
            .entry(&a.image_digest)
            .or_default()
            .insert(&a.namespace);
    }
    let refs_of = |d: &str| -> String {
        refs.get(d)
            .map(|r| {
                r.iter()
                    .map(|i| Esc(i).to_string())
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default()
    };
    let admitted_in = |d: &str| -> String {
        admitted
            .get(d)
            .map(|ns| Esc(&ns.iter().copied().collect::<Vec<_>>().join(", ")).to_string())
            .unwrap_or_else(|| "<span class=\"muted\">no</span>".to_string())
    };

    if let Some(name) = package {
        let rows = ledger.images_with_package(name).await?;
        let images: BTreeSet<&str> = rows.iter().map(|(d, _)| d.as_str()).collect();
        let _ = write!(
            b,
            "<h2 id=\"package-result\">{} image(s) contain package {}</h2>",
            images.len(),
            Esc(name)
        );
        if !rows.is_empty() {
            b.push_str(
                "<table id=\"package-images\"><thead><tr><th>Image</th><th>References</th>\
                 <th>Package</th><th>Version</th><th>Ecosystem</th><th>PURL</th>\
                 <th>Admitted in</th></tr></thead><tbody>",
            );
            for (d, p) in &rows {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td class=\"mono\">{}</td><td>{}</td></tr>",
                    image_link(d),
                    refs_of(d),
                    Esc(&p.name),
                    Esc(&p.version),
                    Esc(&p.ecosystem),
                    Esc(&p.purl),
                    admitted_in(d)
                );
            }
            b.push_str("</tbody></table>");
        }
    }

    if let Some(id) = cve {
        let mut rows = ledger.images_affected_by(id).await?;
        sort_findings(&mut rows);
        let images: BTreeSet<&str> = rows.iter().map(|f| f.image_digest.as_str()).collect();
        let _ = write!(
            b,
            "<h2 id=\"cve-result\">{} image(s) affected by {}</h2>",
            images.len(),
            Esc(id)
        );
        if !rows.is_empty() {
            b.push_str(
                "<table id=\"cve-images\"><thead><tr><th>Image</th><th>References</th>\
                 <th>Vulnerability</th><th>Aliases</th><th>Severity</th><th>Package</th>\
                 <th>Version</th><th>Fixed in</th><th>First seen</th><th>Admitted in</th>\
                 </tr></thead><tbody>",
            );
            for f in &rows {
                let aliases: Vec<String> = f.aliases.iter().map(|a| vuln_link(a)).collect();
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    image_link(&f.image_digest),
                    refs_of(&f.image_digest),
                    vuln_link(&f.vuln_id),
                    aliases.join(" "),
                    badge(&f.severity),
                    Esc(&f.package),
                    Esc(&f.version),
                    Esc(f.fixed_version.as_deref().unwrap_or("")),
                    html::time(f.first_seen),
                    admitted_in(&f.image_digest)
                );
            }
            b.push_str("</tbody></table>");
        }
    }
    Ok(html::ok("Search", Nav::Search, &b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_trimmed_and_checked() {
        assert_eq!(term("package", None).unwrap(), None);
        assert_eq!(term("package", Some("  ")).unwrap(), None);
        assert_eq!(term("package", Some(" zlib ")).unwrap(), Some("zlib"));
        assert!(matches!(
            term("package", Some("a\u{7}b")),
            Err(PageError::BadRequest(_))
        ));
        let long = "x".repeat(MAX_TERM + 1);
        assert!(matches!(
            term("package", Some(&long)),
            Err(PageError::BadRequest(_))
        ));
    }
}
