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
//! ```

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

impl KilnConfig {
    /// Reads and checks the `kiln.yaml` at `path`.
    pub fn load(path: &Path) -> Result<KilnConfig, ConfigError> {
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
        KilnConfig::parse(&text, path)
    }

    /// Parses and checks `kiln.yaml` text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<KilnConfig, ConfigError> {
        let config: KilnConfig = if text.trim().is_empty() {
            KilnConfig::default()
        } else {
            serde_norway::from_str(text).map_err(|e| {
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
            })?
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
