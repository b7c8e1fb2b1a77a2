//! OSV records (the OSV schema), read leniently: unknown fields are kept in `extra` so they
//! can be reported, never fatal; the package's ecosystem is kept as written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One OSV advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub upstream: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<Severity>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub affected: Vec<Affected>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
    /// Fields the schema does not define (kept, reported on import).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A severity entry: `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, or another type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// A reference URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
}

/// The affected package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Package {
    #[serde(default)]
    pub ecosystem: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// One affected package with its ranges and versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Affected {
    #[serde(default)]
    pub package: Package,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<Severity>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// A range of affected versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
}

/// A range event: exactly one of the four keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Why a record was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not an OSV record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("OSV record has no id")]
    NoId,
}

impl Record {
    /// Parses one record from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Record, RecordError> {
        let r: Record = serde_json::from_slice(bytes)?;
        if r.id.trim().is_empty() {
            return Err(RecordError::NoId);
        }
        Ok(r)
    }

    /// Whether the record is withdrawn (and so ignored).
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.as_deref().is_some_and(|w| !w.is_empty())
    }
}

/// The ecosystem's base name (`Debian:12` -> `Debian`).
pub fn ecosystem_base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// The package name as the index keys it (PyPI names normalized per PEP 503; NuGet,
/// Packagist and Composer names are case-insensitive).
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    match ecosystem_base(ecosystem) {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        "NuGet" | "Packagist" => name.to_lowercase(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_record() {
        let r = Record::from_json(br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","aliases":null,"future_field":1,
            "affected":[{"package":{"ecosystem":"NewEco","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#)
        .unwrap();
        assert_eq!(r.id, "X-1");
        assert!(r.extra.contains_key("future_field"));
        assert_eq!(r.affected[0].package.ecosystem, "NewEco");
        assert!(Record::from_json(b"{\"id\":\"\"}").is_err());
        assert!(Record::from_json(b"[1]").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            normalize_name("PyPI", "Zope.Interface__x"),
            "zope-interface-x"
        );
        assert_eq!(normalize_name("npm", "Foo"), "Foo");
    }
}
