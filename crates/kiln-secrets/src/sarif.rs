//! Findings as data for output: the JSON record of a finding and a SARIF 2.1.0 log
//! (GitHub code scanning's dialect: rule metadata, `partialFingerprints`). The secret is
//! masked unless the caller asks for it in full.

use serde::Serialize;
use serde_json::{Value, json};

use crate::finding::{CommitInfo, Finding};
use crate::rules::RuleSet;

/// The JSON record of a finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRecord<'a> {
    /// Rule id.
    pub rule_id: &'a str,
    /// Rule description.
    pub description: &'a str,
    /// Path.
    pub path: &'a str,
    /// 1-based line (0 for whole-file findings).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// End line.
    pub end_line: usize,
    /// End column (exclusive).
    pub end_column: usize,
    /// The secret, masked unless `--no-redact`.
    pub secret: String,
    /// Shannon entropy of the secret.
    pub entropy: f64,
    /// Stable fingerprint.
    pub fingerprint: String,
    /// Introducing commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<&'a CommitInfo>,
    /// Image layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<&'a str>,
    /// Deleted by a later layer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl<'a> FindingRecord<'a> {
    /// The record of `f`, redacted unless `reveal`.
    pub fn new(f: &'a Finding, reveal: bool) -> Self {
        FindingRecord {
            rule_id: &f.rule_id,
            description: &f.description,
            path: &f.path,
            line: f.line,
            column: f.column,
            end_line: f.end_line,
            end_column: f.end_column,
            secret: if reveal {
                f.secret.expose().to_string()
            } else {
                f.secret.masked()
            },
            entropy: f.entropy,
            fingerprint: f.fingerprint(),
            commit: f.commit.as_ref(),
            layer: f.layer.as_deref(),
            deleted: f.deleted,
        }
    }
}

/// A SARIF 2.1.0 log of `findings`, with every rule of `rules` that has a finding.
pub fn sarif(findings: &[Finding], rules: &RuleSet, tool_version: &str, reveal: bool) -> Value {
    let mut used: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    used.sort_unstable();
    used.dedup();
    let rule_meta: Vec<Value> = used
        .iter()
        .map(|id| {
            let desc = rules
                .rules
                .iter()
                .find(|r| r.id == *id)
                .map_or_else(|| id.to_string(), |r| r.description.clone());
            let desc = if desc.is_empty() { id.to_string() } else { desc };
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": desc},
                "fullDescription": {"text": desc},
                "help": {"text": format!("{desc}. Revoke the credential, remove it from the code and its history, and load it from a secret store.")},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["security", "secret"], "precision": "high", "security-severity": "8.0"}
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let shown = if reveal {
                f.secret.expose().to_string()
            } else {
                f.secret.masked()
            };
            let mut region = json!({});
            if f.line > 0 {
                region = json!({
                    "startLine": f.line,
                    "startColumn": f.column.max(1),
                    "endLine": f.end_line.max(f.line),
                    "endColumn": f.end_column.max(1),
                    "snippet": {"text": shown},
                });
            }
            let mut physical = json!({"artifactLocation": {"uri": f.path}});
            if f.line > 0 {
                physical["region"] = region;
            }
            let mut where_ = String::new();
            if let Some(c) = &f.commit {
                where_ = format!(" (commit {}, {} <{}>, {})", c.id, c.author, c.email, c.date);
            }
            if let Some(l) = &f.layer {
                where_ = format!(
                    " (layer {l}{})",
                    if f.deleted {
                        ", deleted by a later layer"
                    } else {
                        ""
                    }
                );
            }
            let mut props = json!({"entropy": f.entropy});
            if let Some(c) = &f.commit {
                props["commit"] = json!(c);
            }
            if let Some(l) = &f.layer {
                props["layer"] = json!(l);
                props["deleted"] = json!(f.deleted);
            }
            json!({
                "ruleId": f.rule_id,
                "ruleIndex": used.iter().position(|u| *u == f.rule_id).unwrap_or(0),
                "level": "error",
                "message": {"text": format!("{}: {}{where_}", f.rule_id, shown)},
                "locations": [{"physicalLocation": physical}],
                "partialFingerprints": {"kilnSecretFingerprint/v1": f.fingerprint()},
                "properties": props,
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kiln-secrets",
                "informationUri": "https://example.invalid/kiln",
                "version": tool_version,
                "rules": rule_meta,
            }},
            "results": results,
        }]
    })
}
