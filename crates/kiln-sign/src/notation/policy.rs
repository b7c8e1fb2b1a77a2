//! Notation's trust policy (`trustpolicy.json`, version 1.0) and trust store
//! (`truststore/x509/{ca,signingAuthority,tsa}/NAME/*.{pem,crt,cer}`), read exactly as
//! notation reads them, and the checks each verification level enforces or logs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::NotationError;
use super::cert::{Cert, parse_certificates};

/// A verification level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationLevel {
    Strict,
    Permissive,
    Audit,
    Skip,
}

/// What a failed validation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The verification fails.
    Enforce,
    /// The failure is recorded and verification goes on.
    Log,
    /// The validation is not performed.
    Skip,
}

/// The validations a level governs, after overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    pub authenticity: Action,
    pub authentic_timestamp: Action,
    pub expiry: Action,
    pub revocation: Action,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    version: String,
    #[serde(rename = "trustPolicies")]
    trust_policies: Vec<RawPolicy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    name: String,
    registry_scopes: Vec<String>,
    signature_verification: RawVerification,
    #[serde(default)]
    trust_stores: Vec<String>,
    #[serde(default)]
    trusted_identities: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerification {
    level: String,
    #[serde(default)]
    r#override: std::collections::BTreeMap<String, String>,
}

/// A trusted identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// `*`: any certificate that chains to the trust stores.
    Any,
    /// `x509.subject: ...`: these subject attributes, each equal in the leaf's subject.
    Subject(Vec<(String, String)>),
}

/// One trust policy, validated.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    pub name: String,
    pub registry_scopes: Vec<String>,
    pub level: VerificationLevel,
    pub actions: Actions,
    /// `(type, name)` pairs, e.g. `("ca", "acme-rockets")`.
    pub trust_stores: Vec<(String, String)>,
    pub trusted_identities: Vec<Identity>,
}

/// A trust policy document (`trustpolicy.json`).
#[derive(Debug, Clone)]
pub struct TrustPolicyDocument {
    pub policies: Vec<TrustPolicy>,
}

impl TrustPolicyDocument {
    /// Reads and validates a trust policy file.
    pub fn load(path: &Path) -> Result<TrustPolicyDocument, NotationError> {
        let data = std::fs::read(path).map_err(|e| NotationError::Policy {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&data, &path.display().to_string())
    }

    /// Parses and validates a trust policy document; `path` names it in errors.
    pub fn parse(data: &[u8], path: &str) -> Result<TrustPolicyDocument, NotationError> {
        let bad = |reason: String| NotationError::Policy {
            path: path.to_string(),
            reason,
        };
        let raw: RawDocument =
            serde_json::from_slice(data).map_err(|e| bad(format!("not a trust policy: {e}")))?;
        if raw.version != "1.0" {
            return Err(bad(format!(
                "version {:?} is not supported (1.0)",
                raw.version
            )));
        }
        if raw.trust_policies.is_empty() {
            return Err(bad("trustPolicies is empty".into()));
        }
        let mut names = BTreeSet::new();
        let mut scopes = BTreeSet::new();
        let mut policies = Vec::new();
        for p in raw.trust_policies {
            let pbad = |r: String| bad(format!("policy {:?}: {r}", p.name));
            if p.name.trim().is_empty() {
                return Err(bad("a policy has an empty name".into()));
            }
            if !names.insert(p.name.clone()) {
                return Err(pbad("the name is used twice".into()));
            }
            if p.registry_scopes.is_empty() {
                return Err(pbad("registryScopes is empty".into()));
            }
            for s in &p.registry_scopes {
                if s == "*" {
                    if p.registry_scopes.len() != 1 {
                        return Err(pbad("the global scope \"*\" must stand alone".into()));
                    }
                } else if s.contains('*') || s.is_empty() {
                    return Err(pbad(format!("scope {s:?} is not a repository")));
                }
                if !scopes.insert(s.clone()) {
                    return Err(pbad(format!("scope {s:?} is in more than one policy")));
                }
            }
            let level = match p.signature_verification.level.as_str() {
                "strict" => VerificationLevel::Strict,
                "permissive" => VerificationLevel::Permissive,
                "audit" => VerificationLevel::Audit,
                "skip" => VerificationLevel::Skip,
                other => return Err(pbad(format!("unknown verification level {other:?}"))),
            };
            let mut actions = default_actions(level);
            if level == VerificationLevel::Skip {
                if !p.signature_verification.r#override.is_empty() {
                    return Err(pbad("the skip level cannot be overridden".into()));
                }
                if p.registry_scopes == ["*"] {
                    return Err(pbad("the skip level cannot have the global scope".into()));
                }
            }
            for (k, v) in &p.signature_verification.r#override {
                let action = match v.as_str() {
                    "enforce" => Action::Enforce,
                    "log" => Action::Log,
                    "skip" if k == "revocation" => Action::Skip,
                    _ => return Err(pbad(format!("override {k}: {v:?} is not allowed"))),
                };
                match k.as_str() {
                    "authenticity" => actions.authenticity = action,
                    "authenticTimestamp" => actions.authentic_timestamp = action,
                    "expiry" => actions.expiry = action,
                    "revocation" => actions.revocation = action,
                    other => return Err(pbad(format!("override of {other:?} is not allowed"))),
                }
            }
            let mut trust_stores = Vec::new();
            for s in &p.trust_stores {
                let (t, n) = s
                    .split_once(':')
                    .ok_or_else(|| pbad(format!("trust store {s:?} is not TYPE:NAME")))?;
                if !["ca", "signingAuthority", "tsa"].contains(&t) || n.is_empty() {
                    return Err(pbad(format!(
                        "trust store {s:?} is not ca|signingAuthority|tsa:NAME"
                    )));
                }
                trust_stores.push((t.to_string(), n.to_string()));
            }
            let mut identities = Vec::new();
            for id in &p.trusted_identities {
                identities.push(parse_identity(id).map_err(&pbad)?);
            }
            if identities.contains(&Identity::Any) && identities.len() > 1 {
                return Err(pbad("\"*\" must be the only trusted identity".into()));
            }
            if level != VerificationLevel::Skip {
                if trust_stores.is_empty() {
                    return Err(pbad("trustStores is empty".into()));
                }
                if identities.is_empty() {
                    return Err(pbad("trustedIdentities is empty".into()));
                }
            }
            policies.push(TrustPolicy {
                name: p.name,
                registry_scopes: p.registry_scopes,
                level,
                actions,
                trust_stores,
                trusted_identities: identities,
            });
        }
        Ok(TrustPolicyDocument { policies })
    }

    /// The policy for a repository (`registry/namespace/repo`): an exact scope, else
    /// the global one, else none (an error: the artifact is untrusted).
    pub fn select(&self, repository: &str) -> Result<&TrustPolicy, NotationError> {
        self.policies
            .iter()
            .find(|p| p.registry_scopes.iter().any(|s| s == repository))
            .or_else(|| self.policies.iter().find(|p| p.registry_scopes == ["*"]))
            .ok_or_else(|| {
                NotationError::Verification(format!("no trust policy applies to {repository}"))
            })
    }
}

fn default_actions(level: VerificationLevel) -> Actions {
    use Action::*;
    let (a, t, e, r) = match level {
        VerificationLevel::Strict => (Enforce, Enforce, Enforce, Enforce),
        VerificationLevel::Permissive => (Enforce, Log, Log, Log),
        VerificationLevel::Audit => (Log, Log, Log, Log),
        VerificationLevel::Skip => (Skip, Skip, Skip, Skip),
    };
    Actions {
        authenticity: a,
        authentic_timestamp: t,
        expiry: e,
        revocation: r,
    }
}

/// Parses `*` or `x509.subject: C=US, ST=WA, O=Example, CN=...`.
pub fn parse_identity(s: &str) -> Result<Identity, String> {
    if s == "*" {
        return Ok(Identity::Any);
    }
    let dn = s
        .strip_prefix("x509.subject:")
        .ok_or_else(|| format!("trusted identity {s:?} is neither \"*\" nor x509.subject: ..."))?;
    let attrs = parse_dn(dn).map_err(|r| format!("trusted identity {s:?}: {r}"))?;
    for required in ["C", "ST", "O"] {
        if !attrs.iter().any(|(k, _)| k == required) {
            return Err(format!(
                "trusted identity {s:?} lacks {required}= (C, ST and O are required)"
            ));
        }
    }
    Ok(Identity::Subject(attrs))
}

/// Splits a DN at unescaped commas into (TYPE, value) with escapes removed; unescaped
/// spaces around types and values are trimmed.
fn parse_dn(dn: &str) -> Result<Vec<(String, String)>, String> {
    // Each character with whether it was escaped.
    let mut parts: Vec<Vec<(char, bool)>> = Vec::new();
    let mut cur = Vec::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push((chars.next().ok_or("ends with a lone backslash")?, true)),
            ',' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push((c, false)),
        }
    }
    parts.push(cur);
    let mut out: Vec<(String, String)> = Vec::new();
    for part in parts {
        let text: String = part.iter().map(|p| p.0).collect();
        let eq = part
            .iter()
            .position(|&(c, escaped)| c == '=' && !escaped)
            .ok_or_else(|| format!("{text:?} is not TYPE=value"))?;
        let key: String = part[..eq].iter().map(|p| p.0).collect();
        let key = key.trim().to_ascii_uppercase();
        let mut v = &part[eq + 1..];
        while let Some((&(' ', false), rest)) = v.split_first() {
            v = rest;
        }
        while let Some((&(' ', false), rest)) = v.split_last() {
            v = rest;
        }
        let value: String = v.iter().map(|p| p.0).collect();
        if key.is_empty() || value.is_empty() {
            return Err(format!("{text:?} has an empty type or value"));
        }
        if out.iter().any(|(k2, _)| *k2 == key) {
            return Err(format!("{key} appears twice"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Whether the leaf's subject satisfies an identity.
pub fn identity_matches(identity: &Identity, leaf: &[(String, String)]) -> bool {
    match identity {
        Identity::Any => true,
        Identity::Subject(want) => want
            .iter()
            .all(|(k, v)| leaf.iter().any(|(lk, lv)| lk == k && lv == v)),
    }
}

/// A Notation trust store directory.
#[derive(Debug, Clone)]
pub struct TrustStore {
    root: PathBuf,
}

impl TrustStore {
    /// Opens a trust store: a directory holding `x509/`, or notation's configuration
    /// directory holding `truststore/x509/`.
    pub fn open(dir: &Path) -> Result<TrustStore, NotationError> {
        for root in [dir.to_path_buf(), dir.join("truststore")] {
            if root.join("x509").is_dir() {
                return Ok(TrustStore { root });
            }
        }
        Err(NotationError::TrustStore {
            path: dir.display().to_string(),
            reason: "has no x509/ (nor truststore/x509/) directory".into(),
        })
    }

    /// The certificates of a named store (`ca`, `acme-rockets`), DER.
    pub(crate) fn certificates(&self, kind: &str, name: &str) -> Result<Vec<Cert>, NotationError> {
        let dir = self.root.join("x509").join(kind).join(name);
        let bad = |p: &Path, reason: String| NotationError::TrustStore {
            path: p.display().to_string(),
            reason,
        };
        let meta = std::fs::symlink_metadata(&dir)
            .map_err(|e| bad(&dir, format!("named store {kind}:{name}: {e}")))?;
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(bad(&dir, "is a symlink or not a directory".into()));
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| bad(&dir, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        let mut out = Vec::new();
        for path in entries {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["pem", "crt", "cer"].contains(&ext) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).map_err(|e| bad(&path, e.to_string()))?;
            if meta.file_type().is_symlink() {
                return Err(bad(
                    &path,
                    "is a symlink (not allowed in a trust store)".into(),
                ));
            }
            if !meta.is_file() {
                continue;
            }
            let data = std::fs::read(&path).map_err(|e| bad(&path, e.to_string()))?;
            for der in parse_certificates(&data, &path.display().to_string())? {
                out.push(Cert::parse(&der, &path.display().to_string())?);
            }
        }
        if out.is_empty() {
            return Err(bad(
                &dir,
                format!("named store {kind}:{name} has no certificates"),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "net-monitor",
                "registryScopes": ["registry.example/software/net-monitor"],
                "signatureVerification": {"level": "strict", "override": {"expiry": "log"}},
                "trustStores": ["ca:acme"],
                "trustedIdentities": ["x509.subject: C=US, ST=WA, O=acme\\, inc, CN=Builder"]
            },
            {
                "name": "global",
                "registryScopes": ["*"],
                "signatureVerification": {"level": "audit"},
                "trustStores": ["ca:acme"],
                "trustedIdentities": ["*"]
            }
        ]
    }"#;

    #[test]
    fn parses_and_selects() {
        let doc = TrustPolicyDocument::parse(POLICY.as_bytes(), "p.json").unwrap();
        let p = doc.select("registry.example/software/net-monitor").unwrap();
        assert_eq!(p.name, "net-monitor");
        assert_eq!(p.level, VerificationLevel::Strict);
        assert_eq!(p.actions.expiry, Action::Log);
        assert_eq!(p.actions.authenticity, Action::Enforce);
        assert_eq!(
            p.trusted_identities,
            vec![Identity::Subject(vec![
                ("C".into(), "US".into()),
                ("ST".into(), "WA".into()),
                ("O".into(), "acme, inc".into()),
                ("CN".into(), "Builder".into()),
            ])]
        );
        assert_eq!(doc.select("other/repo").unwrap().name, "global");
    }

    #[test]
    fn rejects_invalid_policies() {
        let cases = [
            (r#"{"version":"2.0","trustPolicies":[]}"#, "version"),
            (r#"{"version":"1.0","trustPolicies":[]}"#, "empty"),
            (
                r#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}"#,
                "global scope",
            ),
            (
                r#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["r/x"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["x509.subject: CN=a"]}]}"#,
                "lacks C=",
            ),
            (
                r#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["r/x"],"signatureVerification":{"level":"strict"},"trustStores":["pgp:x"],"trustedIdentities":["*"]}]}"#,
                "trust store \"pgp:x\"",
            ),
            (
                r#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["r/x"],"signatureVerification":{"level":"lax"},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}"#,
                "unknown verification level",
            ),
            (
                r#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["r/x"],"signatureVerification":{"level":"strict","override":{"integrity":"log"}},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}"#,
                "override",
            ),
        ];
        for (doc, want) in cases {
            let e = TrustPolicyDocument::parse(doc.as_bytes(), "p.json")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{doc}: {e}");
        }
        let doc = TrustPolicyDocument::parse(
            br#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["r/x"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}"#,
            "p.json",
        )
        .unwrap();
        assert!(doc.select("r/y").is_err());
    }

    #[test]
    fn identity_matching() {
        let id = parse_identity("x509.subject: C=US, ST=WA, O=Kiln").unwrap();
        let leaf = vec![
            ("C".to_string(), "US".to_string()),
            ("ST".to_string(), "WA".to_string()),
            ("O".to_string(), "Kiln".to_string()),
            ("CN".to_string(), "Signer".to_string()),
        ];
        assert!(identity_matches(&id, &leaf));
        let other = parse_identity("x509.subject: C=US, ST=WA, O=Other").unwrap();
        assert!(!identity_matches(&other, &leaf));
        assert!(identity_matches(&Identity::Any, &leaf));
    }
}
