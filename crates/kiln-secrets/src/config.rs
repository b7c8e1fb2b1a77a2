//! The rule file: gitleaks' TOML configuration format (plus Kiln's `tp`/`fp` rule examples),
//! parsed as data, with `[extend]` resolution and discovery of a repository's own file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Kiln's built-in rules, compiled into the binary.
pub const DEFAULT_RULES: &str = include_str!("rules/default.toml");

/// Errors reading a rule file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading rule file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the gitleaks structure.
    #[error("parsing rule file {origin}: {message}")]
    Parse {
        /// Where the text came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// `[extend] path` chains too deep (or a cycle).
    #[error("rule file {0}: [extend] nests deeper than 4 files")]
    ExtendDepth(String),
}

/// A whole rule file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Free-form title.
    #[serde(default)]
    pub title: Option<String>,
    /// `[extend]`: build on the default rules or another file.
    #[serde(default)]
    pub extend: Option<Extend>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// The global `[allowlist]` table (gitleaks' older form).
    #[serde(default)]
    pub allowlist: Option<AllowlistConfig>,
    /// The global `[[allowlists]]` tables.
    #[serde(default)]
    pub allowlists: Vec<AllowlistConfig>,
}

/// `[extend]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extend {
    /// Start from the built-in rules.
    #[serde(default)]
    pub use_default: bool,
    /// Start from another rule file (relative to this one).
    #[serde(default)]
    pub path: Option<String>,
    /// Rule ids of the base to drop.
    #[serde(default)]
    pub disabled_rules: Vec<String>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    /// Unique id.
    pub id: String,
    /// What the rule finds.
    #[serde(default)]
    pub description: String,
    /// Go RE2 syntax regular expression over file content.
    #[serde(default)]
    pub regex: Option<String>,
    /// Which capture group holds the secret (0 = first non-empty group, or the whole match).
    #[serde(default)]
    pub secret_group: Option<usize>,
    /// Minimum Shannon entropy (bits per character) of the secret.
    #[serde(default)]
    pub entropy: Option<f64>,
    /// The rule runs only on files whose path matches.
    #[serde(default)]
    pub path: Option<String>,
    /// Lower-case literals; the regex runs only when one occurs in the content.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Tags (kept, unused).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The older single `[rules.allowlist]`.
    #[serde(default)]
    pub allowlist: Option<AllowlistConfig>,
    /// `[[rules.allowlists]]`.
    #[serde(default)]
    pub allowlists: Vec<AllowlistConfig>,
    /// Kiln: true-positive examples (each must produce a finding of this rule).
    #[serde(default)]
    pub tp: Vec<String>,
    /// Kiln: false-positive examples (none may produce a finding of this rule).
    #[serde(default)]
    pub fp: Vec<String>,
}

/// An allowlist (global or per rule).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistConfig {
    /// Free-form description.
    #[serde(default)]
    pub description: Option<String>,
    /// `OR` (default: any criterion allows) or `AND` (all given criteria must hold).
    #[serde(default)]
    pub condition: Option<String>,
    /// Commit ids.
    #[serde(default)]
    pub commits: Vec<String>,
    /// Path regexes.
    #[serde(default)]
    pub paths: Vec<String>,
    /// What `regexes` test: `secret` (default), `match` or `line`.
    #[serde(default)]
    pub regex_target: Option<String>,
    /// Regexes.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Substrings of the secret that mark it as not a secret.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// Global allowlists only: the rules it applies to (all when empty).
    #[serde(default)]
    pub target_rules: Vec<String>,
}

impl Config {
    /// Parses rule file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })
    }

    /// The built-in rules.
    pub fn builtin() -> Config {
        // The built-in file is checked by unit tests; failure here is a build defect.
        Config::parse(DEFAULT_RULES, "built-in rules").unwrap_or_default()
    }

    /// Reads a rule file and resolves its `[extend]` chain.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_depth(path, 0)
    }

    fn load_depth(path: &Path, depth: usize) -> Result<Config, ConfigError> {
        if depth > 4 {
            return Err(ConfigError::ExtendDepth(path.display().to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg = Config::parse(&text, &path.display().to_string())?;
        let Some(ext) = cfg.extend.clone() else {
            return Ok(cfg);
        };
        let base = if let Some(p) = &ext.path {
            let p = path.parent().unwrap_or(Path::new(".")).join(p);
            Some(Self::load_depth(&p, depth + 1)?)
        } else if ext.use_default {
            Some(Config::builtin())
        } else {
            None
        };
        Ok(match base {
            Some(base) => cfg.extend_from(base, &ext.disabled_rules),
            None => cfg,
        })
    }

    /// Merges `self` over `base`: a rule of `self` replaces the base rule of the same id,
    /// allowlists add up, `disabled` base rules are dropped.
    pub fn extend_from(self, base: Config, disabled: &[String]) -> Config {
        let mut rules: Vec<RuleConfig> = base
            .rules
            .into_iter()
            .filter(|r| !disabled.contains(&r.id))
            .collect();
        for r in self.rules {
            match rules.iter_mut().find(|b| b.id == r.id) {
                Some(slot) => *slot = r,
                None => rules.push(r),
            }
        }
        let mut allowlists = base.allowlists;
        allowlists.extend(base.allowlist);
        allowlists.extend(self.allowlists);
        allowlists.extend(self.allowlist);
        Config {
            title: self.title.or(base.title),
            extend: None,
            rules,
            allowlist: None,
            allowlists,
        }
    }

    /// The rule file a repository or directory brings: `.kiln/secrets.toml`, then
    /// `.gitleaks.toml`.
    pub fn discover(root: &Path) -> Option<PathBuf> {
        [".kiln/secrets.toml", ".gitleaks.toml"]
            .iter()
            .map(|p| root.join(p))
            .find(|p| p.is_file())
    }
}
