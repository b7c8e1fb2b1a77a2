//! VEX: OpenVEX documents and CycloneDX VEX (`vulnerabilities[].analysis`) read into
//! statements that annotate findings; `not_affected` and `fixed` suppress a finding.

use serde_json::Value;

use crate::scan::{Finding, VexNote};

/// One statement: which vulnerability, which products (PURLs; empty = every product).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub vulnerability: Vec<String>,
    pub products: Vec<String>,
    pub note: VexNote,
}

/// A VEX document that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("VEX document {what}: {reason}")]
pub struct VexError {
    pub what: String,
    pub reason: String,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_string)
}

/// Reads an OpenVEX or CycloneDX VEX document.
pub fn read(bytes: &[u8], what: &str) -> Result<Vec<Statement>, VexError> {
    let err = |reason: String| VexError {
        what: what.to_string(),
        reason,
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| err(format!("not JSON: {e}")))?;
    let mut out = Vec::new();
    if let Some(stmts) = doc.get("statements").and_then(|v| v.as_array()) {
        for st in stmts {
            let mut vulns = Vec::new();
            match st.get("vulnerability") {
                Some(Value::String(v)) => vulns.push(v.clone()),
                Some(v @ Value::Object(_)) => {
                    vulns.extend(s(v, "name"));
                    vulns.extend(s(v, "@id"));
                    if let Some(a) = v.get("aliases").and_then(|a| a.as_array()) {
                        vulns.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)));
                    }
                }
                _ => return Err(err("an OpenVEX statement has no vulnerability".into())),
            }
            let products = st
                .get("products")
                .and_then(|p| p.as_array())
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| match p {
                            Value::String(x) => Some(x.clone()),
                            o => s(o, "@id")
                                .or_else(|| o.get("identifiers").and_then(|i| s(i, "purl"))),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let status =
                s(st, "status").ok_or_else(|| err("an OpenVEX statement has no status".into()))?;
            out.push(Statement {
                vulnerability: vulns,
                products,
                note: VexNote {
                    status,
                    justification: s(st, "justification"),
                    detail: s(st, "impact_statement").or_else(|| s(st, "status_notes")),
                    document: what.to_string(),
                },
            });
        }
        return Ok(out);
    }
    if doc.get("bomFormat").and_then(|v| v.as_str()) == Some("CycloneDX") {
        let refs: std::collections::BTreeMap<String, String> = doc
            .get("components")
            .and_then(|c| c.as_array())
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| Some((s(c, "bom-ref")?, s(c, "purl")?)))
                    .collect()
            })
            .unwrap_or_default();
        for v in doc
            .get("vulnerabilities")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let Some(analysis) = v.get("analysis") else {
                continue;
            };
            let Some(state) = s(analysis, "state") else {
                continue;
            };
            let status = match state.as_str() {
                "not_affected" | "false_positive" => "not_affected",
                "resolved" | "resolved_with_pedigree" => "fixed",
                "in_triage" => "under_investigation",
                "exploitable" => "affected",
                other => return Err(err(format!("unknown analysis state {other:?}"))),
            };
            let mut vulns: Vec<String> = s(v, "id").into_iter().collect();
            if let Some(r) = v.get("references").and_then(|r| r.as_array()) {
                vulns.extend(r.iter().filter_map(|x| s(x, "id")));
            }
            let products = v
                .get("affects")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| s(x, "ref"))
                        .map(|r| refs.get(&r).cloned().unwrap_or(r))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Statement {
                vulnerability: vulns,
                products,
                note: VexNote {
                    status: status.to_string(),
                    justification: s(analysis, "justification"),
                    detail: s(analysis, "detail"),
                    document: what.to_string(),
                },
            });
        }
        return Ok(out);
    }
    Err(err(
        "neither OpenVEX (statements) nor CycloneDX (bomFormat)".into(),
    ))
}

/// A PURL without version, qualifiers and subpath, for product matching.
fn purl_base(p: &str) -> &str {
    let p = p.split(['?', '#']).next().unwrap_or(p);
    match p.rfind('@') {
        Some(i) if i > 4 => &p[..i],
        _ => p,
    }
}

fn product_matches(product: &str, purl: &str) -> bool {
    product == purl
        || (!product.contains('@') && purl_base(product) == purl_base(purl))
        || purl_base(product) == purl_base(purl)
            && product.split(['?', '#']).next() == purl.split(['?', '#']).next()
}

/// Applies statements to findings; the last matching statement wins.
pub fn apply(findings: &mut [Finding], statements: &[Statement]) {
    for f in findings.iter_mut() {
        for st in statements {
            let names = st
                .vulnerability
                .iter()
                .any(|v| f.all_ids().any(|id| id == v));
            let product = st.products.is_empty()
                || st
                    .products
                    .iter()
                    .any(|p| product_matches(p, &f.package.purl));
            if names && product {
                f.suppressed = matches!(st.note.status.as_str(), "not_affected" | "fixed");
                f.vex = Some(st.note.clone());
            }
        }
    }
}
