//! The policy document: `apiVersion: kiln.dev/v1alpha1`, `kind: ImagePolicy`, parsed from
//! YAML with unknown fields refused. Globs and Rego conditions are compiled while parsing, so
//! every error carries the line and column of the offending field.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::glob::GlobList;
use crate::rego::Condition;
use crate::signer::SignerDef;

/// The only API version this build reads.
pub const API_VERSION: &str = "kiln.dev/v1alpha1";
/// The only kind this build reads.
pub const KIND: &str = "ImagePolicy";

/// Why a policy document could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{source_name}: cannot read: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        /// 1-based line, when known.
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
}

/// Whether a failed rule denies or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

/// What happens to an image no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAction {
    #[default]
    Deny,
    Allow,
}

/// The whole document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyDocument {
    pub api_version: ApiVersion,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    pub spec: Spec,
}

/// `apiVersion`, checked while parsing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiVersion;
impl TryFrom<String> for ApiVersion {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        if v == API_VERSION {
            Ok(ApiVersion)
        } else {
            Err(format!("apiVersion must be {API_VERSION:?}, found {v:?}"))
        }
    }
}
impl From<ApiVersion> for String {
    fn from(_: ApiVersion) -> String {
        API_VERSION.to_string()
    }
}

/// `kind`, checked while parsing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kind;
impl TryFrom<String> for Kind {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        if v == KIND {
            Ok(Kind)
        } else {
            Err(format!("kind must be {KIND:?}, found {v:?}"))
        }
    }
}
impl From<Kind> for String {
    fn from(_: Kind) -> String {
        KIND.to_string()
    }
}

/// Name and free-form annotations.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}
impl Metadata {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.annotations.is_empty()
    }
}

/// The policy proper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", try_from = "RawSpec")]
pub struct Spec {
    pub mode: Mode,
    pub default_action: DefaultAction,
    #[serde(skip_serializing_if = "GlobList::is_empty")]
    pub exclude: GlobList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<SignerDef>,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpec {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    default_action: DefaultAction,
    #[serde(default)]
    exclude: GlobList,
    #[serde(default)]
    signers: Vec<SignerDef>,
    rules: Vec<Rule>,
}

impl TryFrom<RawSpec> for Spec {
    type Error = String;
    fn try_from(raw: RawSpec) -> Result<Self, String> {
        let mut names = BTreeSet::new();
        for s in &raw.signers {
            if !names.insert(s.name.as_str()) {
                return Err(format!("signer {:?} is defined twice", s.name));
            }
        }
        let mut rule_names = BTreeSet::new();
        for rule in &raw.rules {
            if !rule_names.insert(rule.name.as_str()) {
                return Err(format!("rule {:?} is defined twice", rule.name));
            }
            let refs = rule
                .signatures
                .iter()
                .flat_map(|s| s.signers.iter())
                .chain(rule.attestations.iter().flat_map(|a| a.signers.iter()));
            for r in refs {
                if !names.contains(r.as_str()) {
                    return Err(format!(
                        "rule {:?} names signer {r:?}, which spec.signers does not define",
                        rule.name
                    ));
                }
            }
        }
        Ok(Spec {
            mode: raw.mode,
            default_action: raw.default_action,
            exclude: raw.exclude,
            signers: raw.signers,
            rules: raw.rules,
        })
    }
}

/// One rule: which images it covers and what they must carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    pub name: String,
    /// Globs on `registry/repository` (`*` also crosses `/`).
    pub images: GlobList,
    /// Namespace globs; empty means every namespace (and none).
    #[serde(default, skip_serializing_if = "GlobList::is_empty")]
    pub namespaces: GlobList,
    #[serde(default, skip_serializing_if = "GlobList::is_empty")]
    pub exclude: GlobList,
    /// Overrides `spec.mode` for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Signatures>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<Attestation>,
}

/// Image signatures required: `count` of the named signers (default: all of them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawSignatures")]
pub struct Signatures {
    pub signers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignatures {
    signers: Vec<String>,
    #[serde(default)]
    count: Option<usize>,
}

impl TryFrom<RawSignatures> for Signatures {
    type Error = String;
    fn try_from(raw: RawSignatures) -> Result<Self, String> {
        if raw.signers.is_empty() {
            return Err("signatures.signers must name at least one signer".into());
        }
        if let Some(c) = raw.count
            && (c == 0 || c > raw.signers.len())
        {
            return Err(format!(
                "signatures.count is {c}, must be between 1 and {} (the number of signers)",
                raw.signers.len()
            ));
        }
        Ok(Signatures {
            signers: raw.signers,
            count: raw.count,
        })
    }
}

impl Signatures {
    /// How many distinct signers must have signed.
    pub fn required(&self) -> usize {
        self.count.unwrap_or(self.signers.len())
    }
}

/// An attestation that must be present, signed by one of `signers` (empty: the rule's
/// signature signers, or any verified signer when the rule names none), whose statement
/// passes every condition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attestation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub predicate_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl Attestation {
    /// The name used in reasons.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.predicate_type)
    }
}

/// A loaded policy, ready to evaluate (signer key files read).
#[derive(Debug, Clone)]
pub struct Policy {
    pub document: PolicyDocument,
    /// Where the document came from (a path or `<inline>`).
    pub source: String,
    /// The directory relative key and certificate files are read from.
    base_dir: PathBuf,
    /// `sha256:HEX` of the document's source text.
    source_digest: String,
}

impl Policy {
    /// Parses a document from text; `source_name` names it in errors, `base_dir` resolves
    /// relative key file paths.
    pub fn parse(text: &str, source_name: &str, base_dir: &Path) -> Result<Policy, PolicyError> {
        let mut document: PolicyDocument = serde_norway::from_str(text).map_err(|e| {
            let loc = e.location();
            PolicyError::Invalid {
                source_name: source_name.to_string(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: e.to_string(),
            }
        })?;
        for signer in &mut document.spec.signers {
            signer
                .resolve_files(base_dir)
                .map_err(|message| PolicyError::Invalid {
                    source_name: source_name.to_string(),
                    line: None,
                    column: None,
                    message,
                })?;
        }
        Ok(Policy {
            document,
            source: source_name.to_string(),
            base_dir: base_dir.to_path_buf(),
            source_digest: crate::signer::der_fingerprint(text.as_bytes()),
        })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| PolicyError::Read {
            source_name: name.clone(),
            error,
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Policy::parse(&text, &name, &base)
    }

    /// The policy as YAML.
    pub fn to_yaml(&self) -> Result<String, serde_norway::Error> {
        serde_norway::to_string(&self.document)
    }

    /// `sha256:HEX` of the source text: identifies this version of the policy (caches).
    pub fn source_digest(&self) -> &str {
        &self.source_digest
    }

    /// The directory relative `publicKeyFile`, `certificateFile` and `caFile` are read from.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    pub(crate) fn signer(&self, name: &str) -> Option<&SignerDef> {
        self.document.spec.signers.iter().find(|s| s.name == name)
    }
}
