//! `kiln.yaml`: the project's factory configuration. Parsed strictly (an unknown field is
//! an error naming the field, with its line and column). Each stage has one section; a new
//! stage adds one field to [`KilnConfig`].
//!
//! ```yaml
//! image: { name: hello, tag: "1.0" }      # local tag in .kiln/oci (default: latest)
//! build:
//!   run: make                             # optional, runs first in the project dir
//!   base: scratch                         # or oci:PATH:TAG, or a registry reference
//!   layers:
//!     - files:
//!         - { src: bin/hello, dest: /usr/local/bin/hello, mode: "0755", owner: "0:0" }
//!   config:
//!     entrypoint: [/usr/local/bin/hello]
//!     env: { GREETING: hello }
//!     ports: ["8080/tcp"]
//!   # or, instead of base/layers/config:
//!   # dockerfile: Containerfile
//!   # context: .
//! publish: { image: registry.example/hello:1.0 }
//! secrets: { enabled: true, history: since-last-run }   # or full, none; config: rules.toml
//! sbom: { formats: [spdx-json, cyclonedx-json] }
//! vuln: { fail_on: high, vex: [vex.json], max_db_age: 7, require_db: false }
//! sign: { key: .kiln/keys/cosign.key, formats: [cosign] }   # or awskms://…, pkcs11:…
//! attest: { sbom: true, provenance: true, vuln: true }
//! evidence: { store: .kiln/evidence }
//! ledger: { url: "sqlite://.kiln/ledger.db" }
//! notifications: { webhook: https://hooks.example/kiln, format: json }   # or slack
//! ```
//!
//! Every section but `build` has defaults that work offline on a laptop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The largest `kiln.yaml` accepted.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// What was wrong with a `kiln.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: over the limit of {MAX_CONFIG_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    /// A YAML or schema error; the message names the field, line and column.
    #[error("{}: {message}", path.display())]
    Parse {
        path: PathBuf,
        message: String,
        line: Option<usize>,
        column: Option<usize>,
    },
    #[error("{}: {field}: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

/// The whole `kiln.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct KilnConfig {
    /// How the built image is named in the local layout.
    #[serde(default)]
    pub image: ImageSection,
    /// How the image is built.
    pub build: Option<BuildSection>,
    /// Where the built image goes besides the local layout.
    pub publish: Option<PublishSection>,
    /// The secret scan before the build.
    #[serde(default)]
    pub secrets: SecretsSection,
    /// The SBOM documents made of the image.
    #[serde(default)]
    pub sbom: SbomSection,
    /// The vulnerability gate.
    #[serde(default)]
    pub vuln: VulnSection,
    /// The signing key and signature formats.
    #[serde(default)]
    pub sign: SignSection,
    /// The attestations attached to the image.
    #[serde(default)]
    pub attest: AttestSection,
    /// Where SBOMs, scan reports and provenance are kept.
    #[serde(default)]
    pub evidence: EvidenceSection,
    /// Where runs are recorded.
    #[serde(default)]
    pub ledger: LedgerSection,
    /// Where run results are announced (used by `kiln server`).
    #[serde(default)]
    pub notifications: NotificationsSection,
}

fn yes() -> bool {
    true
}

/// `secrets:`: the secret scan that runs before the build.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// Whether the stage runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A rule file in gitleaks' format (default: `.kiln/secrets.toml` or `.gitleaks.toml`
    /// in the project, else the built-in rules).
    pub config: Option<PathBuf>,
    /// A baseline (`kiln secrets baseline`) whose findings are accepted.
    pub baseline: Option<PathBuf>,
    /// Which git history is scanned besides the working tree.
    #[serde(default)]
    pub history: HistoryMode,
}

impl Default for SecretsSection {
    fn default() -> Self {
        SecretsSection {
            enabled: true,
            config: None,
            baseline: None,
            history: HistoryMode::default(),
        }
    }
}

/// `secrets.history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryMode {
    /// The commits since the last successful run (none on the first run: the tree is
    /// scanned).
    #[default]
    SinceLastRun,
    /// Every commit reachable from any ref.
    Full,
    /// Only the working tree.
    None,
}

/// An SBOM format `sbom.formats` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SbomFormat {
    /// SPDX 2.3 JSON.
    SpdxJson,
    /// CycloneDX 1.6 JSON.
    CyclonedxJson,
}

impl SbomFormat {
    /// The name as written in kiln.yaml.
    pub fn name(self) -> &'static str {
        match self {
            SbomFormat::SpdxJson => "spdx-json",
            SbomFormat::CyclonedxJson => "cyclonedx-json",
        }
    }
}

/// `sbom:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbomSection {
    /// The documents written (default both).
    #[serde(default = "default_sbom_formats")]
    pub formats: Vec<SbomFormat>,
}

fn default_sbom_formats() -> Vec<SbomFormat> {
    vec![SbomFormat::SpdxJson, SbomFormat::CyclonedxJson]
}

impl Default for SbomSection {
    fn default() -> Self {
        SbomSection {
            formats: default_sbom_formats(),
        }
    }
}

/// A severity `vuln.fail_on` names.
pub use kiln_vuln::severity::Rating as Severity;

/// `vuln:`: the vulnerability gate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VulnSection {
    /// Whether the stage runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The database (default: `KILN_VULN_DB`, else `~/.local/share/kiln/vuln.db`).
    pub db: Option<PathBuf>,
    /// The run stops when a finding not suppressed by VEX is at least this severe
    /// (critical, high, medium, low, none, unknown); without it findings are reported only.
    pub fail_on: Option<Severity>,
    /// OpenVEX or CycloneDX VEX documents, relative to the project directory.
    #[serde(default)]
    pub vex: Vec<PathBuf>,
    /// Days after which the data counts as stale (default 7): a warning, or a failure
    /// with `require_db`.
    #[serde(default = "default_max_db_age")]
    pub max_db_age: u64,
    /// Fail when there is no database (or it is stale) instead of skipping with a warning.
    #[serde(default)]
    pub require_db: bool,
}

fn default_max_db_age() -> u64 {
    7
}

impl Default for VulnSection {
    fn default() -> Self {
        VulnSection {
            enabled: true,
            db: None,
            fail_on: None,
            vex: Vec::new(),
            max_db_age: default_max_db_age(),
            require_db: false,
        }
    }
}

/// A signature format `sign.formats` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignFormat {
    /// cosign's tag scheme (`sha256-<hex>.sig`).
    Cosign,
    /// A Notation JWS signature with an X.509 chain, as an OCI referrer.
    Notation,
}

/// The key used when `sign.key` is not set (created on the first run).
pub const DEFAULT_KEY: &str = ".kiln/keys/cosign.key";

/// `sign:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignSection {
    /// A key file (relative to the project directory), `awskms://…` or `pkcs11:…`.
    pub key: Option<String>,
    /// The signatures made (default cosign).
    #[serde(default = "default_sign_formats")]
    pub formats: Vec<SignFormat>,
    /// For Notation: the certificate chain (PEM, leaf first) of the key; by default one
    /// is made on the first run at `.kiln/keys/notation.chain.pem` (its CA beside it).
    pub cert_chain: Option<PathBuf>,
}

fn default_sign_formats() -> Vec<SignFormat> {
    vec![SignFormat::Cosign]
}

impl Default for SignSection {
    fn default() -> Self {
        SignSection {
            key: None,
            formats: default_sign_formats(),
            cert_chain: None,
        }
    }
}

impl SignSection {
    /// The key reference in use.
    pub fn key_ref(&self) -> &str {
        self.key.as_deref().unwrap_or(DEFAULT_KEY)
    }
}

/// `attest:`: which attestations are attached (all by default).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestSection {
    #[serde(default = "yes")]
    pub sbom: bool,
    #[serde(default = "yes")]
    pub provenance: bool,
    #[serde(default = "yes")]
    pub vuln: bool,
    /// The SLSA `builder.id` (default `https://kiln.dev/builder/v1`).
    pub builder_id: Option<String>,
}

impl Default for AttestSection {
    fn default() -> Self {
        AttestSection {
            sbom: true,
            provenance: true,
            vuln: true,
            builder_id: None,
        }
    }
}

/// `evidence:`: the encrypted evidence store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSection {
    /// A directory (relative to the project) or `s3://BUCKET/PREFIX` (default `.kiln/evidence`).
    pub store: Option<String>,
    /// The key that wraps each object's data key: a key file or `awskms://…`.
    pub key: Option<String>,
}

/// `ledger:`: where runs are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LedgerSection {
    /// `sqlite://PATH` (relative to the project) or `postgres://…` (default
    /// `sqlite://.kiln/ledger.db`).
    pub url: Option<String>,
}

/// `notifications:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSection {
    /// A URL that receives a JSON document for each run and new finding.
    pub webhook: Option<String>,
    /// `json` (Kiln's document, the default) or `slack` (a Slack-compatible message).
    #[serde(default)]
    pub format: crate::notify::NotifyFormat,
}

/// `image:`: the local name and tag of the built image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    /// The image's name (recorded as the `org.opencontainers.image.title` annotation).
    pub name: Option<String>,
    /// The tag in the local layout `.kiln/oci` (default `latest`).
    pub tag: Option<String>,
}

/// `build:`: a native assembly (`base`, `layers`, `config`) or a Dockerfile build
/// (`dockerfile`, `context`), optionally preceded by a `run:` command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    /// A command run first in the project directory (a string is run by `sh -c`, a list
    /// is the argument vector); its failure stops the build.
    pub run: Option<RunCommand>,
    /// `scratch` (the default), `oci:PATH:TAG` or a registry reference.
    pub base: Option<String>,
    #[serde(default)]
    pub layers: Vec<LayerConfig>,
    pub config: Option<ImageConfigSection>,
    /// A Dockerfile or Containerfile, relative to the project directory, built by buildah.
    pub dockerfile: Option<PathBuf>,
    /// The Dockerfile build context (default: the project directory).
    pub context: Option<PathBuf>,
}

/// A command line: `sh -c STRING` or an argument vector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RunCommand {
    Shell(String),
    Argv(Vec<String>),
}

impl RunCommand {
    /// The argument vector to execute.
    pub fn argv(&self) -> Vec<String> {
        match self {
            RunCommand::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            RunCommand::Argv(v) => v.clone(),
        }
    }

    /// How it reads in messages.
    pub fn display(&self) -> String {
        match self {
            RunCommand::Shell(s) => s.clone(),
            RunCommand::Argv(v) => v.join(" "),
        }
    }
}

/// One layer: files and directories placed in the image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    pub files: Vec<FileConfig>,
}

/// A file or directory of the project placed in a layer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Relative to the project directory.
    pub src: PathBuf,
    /// The path in the image; ending in `/`, a file keeps its name under it.
    pub dest: String,
    /// Octal permission bits of the regular files (`"0755"`, or `755`); by default from
    /// the file's executable bit (0755 or 0644).
    pub mode: Option<Mode>,
    /// `"UID:GID"` or `UID` (then GID = UID); root by default.
    pub owner: Option<Owner>,
}

/// Octal permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawNumber")]
pub struct Mode(pub u32);

/// A numeric owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawNumber")]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawNumber {
    Int(u64),
    Str(String),
}

impl TryFrom<RawNumber> for Mode {
    type Error = String;
    fn try_from(raw: RawNumber) -> Result<Self, String> {
        // `mode: 0755` and `mode: 755` are both read as octal digits.
        let digits = match raw {
            RawNumber::Int(n) => n.to_string(),
            RawNumber::Str(s) => s.trim_start_matches("0o").to_string(),
        };
        match u32::from_str_radix(&digits, 8) {
            Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(Mode(m)),
            _ => Err(format!(
                "mode {digits:?} is not an octal permission (0000 to 7777)"
            )),
        }
    }
}

impl TryFrom<RawNumber> for Owner {
    type Error = String;
    fn try_from(raw: RawNumber) -> Result<Self, String> {
        let s = match raw {
            RawNumber::Int(n) => return Ok(Owner { uid: n, gid: n }),
            RawNumber::Str(s) => s,
        };
        let num = |p: &str| {
            p.parse::<u64>().map_err(|_| {
                format!("owner {s:?}: expected numeric UID:GID (names are not looked up)")
            })
        };
        match s.split_once(':') {
            Some((u, g)) => Ok(Owner {
                uid: num(u)?,
                gid: num(g)?,
            }),
            None => {
                let n = num(&s)?;
                Ok(Owner { uid: n, gid: n })
            }
        }
    }
}

/// `build.config`: the image configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ImageConfigSection {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Exposed ports, `PORT[/tcp|udp|sctp]`.
    #[serde(default)]
    pub ports: Vec<String>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    pub author: Option<String>,
}

/// `publish:`: where the image is pushed after it is built.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSection {
    /// `oci:PATH[:TAG]` or a registry reference.
    pub image: String,
}

/// serde_norway reports no position for an unknown field of the top-level mapping:
/// find the key at the start of a line without indentation.
fn locate_unknown_field(text: &str, message: &str) -> Option<(usize, usize)> {
    let field = message.strip_prefix("unknown field `")?.split('`').next()?;
    text.lines().enumerate().find_map(|(i, line)| {
        let key = line.strip_prefix(field)?;
        key.trim_start().starts_with(':').then_some((i + 1, 1))
    })
}

/// Reads a configuration file of at most [`MAX_CONFIG_BYTES`] (`kiln.yaml`, the server's).
pub(crate) fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// A YAML or schema error of the configuration `text` read from `path`, with its line
/// and column (found in the text when serde_norway gives none).
pub(crate) fn yaml_error(path: &Path, text: &str, e: serde_norway::Error) -> ConfigError {
    let mut message = e.to_string();
    let loc = e
        .location()
        .map(|l| (l.line(), l.column()))
        .or_else(|| locate_unknown_field(text, &message));
    if let Some((line, column)) = loc
        && !message.contains(" at line ")
    {
        message = format!("{message} at line {line} column {column}");
    }
    ConfigError::Parse {
        path: path.to_path_buf(),
        message,
        line: loc.map(|l| l.0),
        column: loc.map(|l| l.1),
    }
}

impl KilnConfig {
    /// Reads and checks the `kiln.yaml` at `path`.
    pub fn load(path: &Path) -> Result<KilnConfig, ConfigError> {
        let text = read_config_file(path)?;
        KilnConfig::parse(&text, path)
    }

    /// Parses and checks `kiln.yaml` text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<KilnConfig, ConfigError> {
        let config: KilnConfig = if text.trim().is_empty() {
            KilnConfig::default()
        } else {
            serde_norway::from_str(text).map_err(|e| yaml_error(path, text, e))?
        };
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: &str, reason: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            reason: reason.to_string(),
        };
        if let Some(b) = &self.build {
            if b.dockerfile.is_some() {
                for (set, field) in [
                    (b.base.is_some(), "build.base"),
                    (!b.layers.is_empty(), "build.layers"),
                    (b.config.is_some(), "build.config"),
                ] {
                    if set {
                        return Err(invalid(
                            field,
                            "not allowed with build.dockerfile (the Dockerfile describes the image)",
                        ));
                    }
                }
            } else if b.context.is_some() {
                return Err(invalid("build.context", "only used with build.dockerfile"));
            }
            if let Some(RunCommand::Argv(v)) = &b.run
                && v.is_empty()
            {
                return Err(invalid("build.run", "an empty command"));
            }
            for (i, l) in b.layers.iter().enumerate() {
                if l.files.is_empty() {
                    return Err(invalid(&format!("build.layers[{i}].files"), "is empty"));
                }
                for (j, f) in l.files.iter().enumerate() {
                    if f.src.is_absolute()
                        || f.src
                            .components()
                            .any(|c| c == std::path::Component::ParentDir)
                    {
                        return Err(invalid(
                            &format!("build.layers[{i}].files[{j}].src"),
                            "must be a path inside the project directory (relative, no '..')",
                        ));
                    }
                }
            }
        }
        if self.sbom.formats.is_empty() && self.attest.sbom {
            return Err(invalid(
                "sbom.formats",
                "is empty while attest.sbom is true (name spdx-json and/or cyclonedx-json)",
            ));
        }
        if self.sign.formats.is_empty() {
            return Err(invalid(
                "sign.formats",
                "is empty (name cosign and/or notation)",
            ));
        }
        if let Some(k) = &self.sign.key
            && k.trim().is_empty()
        {
            return Err(invalid("sign.key", "is empty"));
        }
        if let Some(w) = &self.notifications.webhook
            && !(w.starts_with("https://") || w.starts_with("http://"))
        {
            return Err(invalid("notifications.webhook", "must be an http(s) URL"));
        }
        if let Some(b) = &self.attest.builder_id
            && !b.contains(':')
        {
            return Err(invalid("attest.builder_id", "must be a URI"));
        }
        if let Some(tag) = &self.image.tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
                && !tag.starts_with(['.', '-']);
            if !ok {
                return Err(invalid(
                    "image.tag",
                    "a tag holds up to 128 letters, digits, '_', '.' and '-'",
                ));
            }
        }
        Ok(())
    }

    /// The tag of the built image in the local layout.
    pub fn local_tag(&self) -> &str {
        self.image.tag.as_deref().unwrap_or("latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KilnConfig, ConfigError> {
        KilnConfig::parse(text, Path::new("kiln.yaml"))
    }

    #[test]
    fn full_native_config() {
        let c = parse(
            r#"
image: { name: hello, tag: "1.0" }
build:
  run: ./make.sh
  base: scratch
  layers:
    - files:
        - { src: bin/hello, dest: /usr/local/bin/hello, mode: "0755", owner: "1000:1001" }
        - { src: site, dest: /srv, mode: 644, owner: 7 }
  config:
    entrypoint: [/usr/local/bin/hello]
    env: { GREETING: hi }
    ports: ["8080"]
publish: { image: "oci:/tmp/out:1" }
"#,
        )
        .unwrap();
        let b = c.build.as_ref().unwrap();
        assert_eq!(b.run.as_ref().unwrap().argv(), ["sh", "-c", "./make.sh"]);
        let f = &b.layers[0].files;
        assert_eq!(f[0].mode, Some(Mode(0o755)));
        assert_eq!(
            f[0].owner,
            Some(Owner {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(f[1].mode, Some(Mode(0o644)));
        assert_eq!(f[1].owner, Some(Owner { uid: 7, gid: 7 }));
        assert_eq!(c.local_tag(), "1.0");
        assert_eq!(c.publish.unwrap().image, "oci:/tmp/out:1");
    }

    #[test]
    fn unknown_field_names_field_line_and_column() {
        let err =
            parse("build:\n  layers:\n    - files:\n        - src: a\n          destination: /a\n")
                .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("destination"), "{msg}");
        assert!(msg.contains("line 5"), "{msg}");
        match err {
            ConfigError::Parse { line, .. } => assert_eq!(line, Some(5)),
            other => panic!("{other:?}"),
        }
        let msg = parse("bild: {}\n").unwrap_err().to_string();
        assert!(msg.contains("bild") && msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn bad_values_are_refused() {
        for (text, expect) in [
            (
                "build: { layers: [ { files: [ { src: a, dest: /a, mode: 0789 } ] } ] }",
                "mode",
            ),
            (
                "build: { layers: [ { files: [ { src: a, dest: /a, owner: root } ] } ] }",
                "owner",
            ),
            (
                "build: { dockerfile: Containerfile, base: scratch }",
                "build.base",
            ),
            ("build: { context: . }", "build.context"),
            (
                "build: { layers: [ { files: [ { src: ../x, dest: /a } ] } ] }",
                "src",
            ),
            ("build: { layers: [ { files: [] } ] }", "files"),
            ("image: { tag: 'a b' }", "image.tag"),
            ("build: [1, 2]", "build"),
        ] {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(expect), "{text}: {msg}");
        }
        assert_eq!(parse("").unwrap(), KilnConfig::default());
    }
}
