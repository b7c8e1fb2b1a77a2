//! `kiln init`: writes a commented `kiln.yaml` for a repository. A `Dockerfile` or
//! `Containerfile` gives a buildah build; otherwise a native build skeleton (the first
//! executable file at the top of the project, on `scratch`). An existing file is never
//! overwritten.

use std::path::{Path, PathBuf};

/// Why `kiln init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} exists; kiln init never overwrites it", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What kind of build `kiln init` chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// A Dockerfile or Containerfile (its name).
    Dockerfile(String),
    /// A native build of this executable (when one was found).
    Native(Option<String>),
}

/// What `kiln init` wrote.
#[derive(Debug, Clone)]
pub struct Initialized {
    pub path: PathBuf,
    pub detected: Detected,
}

/// Looks at the project directory.
pub fn detect(dir: &Path) -> Detected {
    for name in ["Containerfile", "Dockerfile"] {
        if dir.join(name).is_file() {
            return Detected::Dockerfile(name.to_string());
        }
    }
    let mut executables: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| is_executable(&e.path()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    executables.sort();
    Detected::Native(executables.into_iter().next())
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// A YAML scalar safe to place unquoted or quoted as needed.
fn scalar(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !s.is_empty()
    {
        s.to_string()
    } else {
        format!("{:?}", s)
    }
}

/// The text of the `kiln.yaml` for a project named `name`.
pub fn render(name: &str, detected: &Detected) -> String {
    let name = scalar(name);
    let build = match detected {
        Detected::Dockerfile(file) => format!(
            "# Built by buildah from {file} (install buildah: apt-get install buildah).\n\
             build:\n  dockerfile: {file}\n  context: .\n",
            file = scalar(file)
        ),
        Detected::Native(exe) => {
            let src = exe.as_deref().unwrap_or("bin/app");
            let todo = if exe.is_some() {
                ""
            } else {
                "   # TODO: the file to ship"
            };
            format!(
                "# A native, reproducible build: the files below placed on `scratch` (or a base\n\
                 # image: oci:PATH:TAG or a registry reference). No daemon, no network.\n\
                 build:\n\
                 \x20 # run: make              # a command run first (its failure stops the run)\n\
                 \x20 base: scratch\n\
                 \x20 layers:\n\
                 \x20   - files:\n\
                 \x20       - src: {src}{todo}\n\
                 \x20         dest: /usr/local/bin/\n\
                 \x20 config:\n\
                 \x20   entrypoint: [/usr/local/bin/{base}]\n",
                src = scalar(src),
                base = scalar(src.rsplit('/').next().unwrap_or(src)),
            )
        }
    };
    format!(
        "# kiln.yaml: the factory for this repository. `kiln run` takes it through every gate:\n\
         # secrets -> build -> sbom -> vuln -> sign -> attest -> push. Unknown fields are errors.\n\
         \n\
         image:\n  name: {name}\n  tag: latest             # the tag in the local layout .kiln/oci\n\
         \n\
         {build}\
         \n\
         # Push the signed image to a registry (default: it stays in .kiln/oci).\n\
         # publish:\n#   image: registry.example.com/{name}:latest\n\
         \n\
         secrets:\n\
         \x20 enabled: true\n\
         \x20 history: since-last-run  # or full, none (the working tree is always scanned)\n\
         \x20 # config: .gitleaks.toml  # gitleaks-format rules (default: the built-in rules)\n\
         \x20 # baseline: .kiln/secrets-baseline.json\n\
         \n\
         sbom:\n  formats: [spdx-json, cyclonedx-json]\n\
         \n\
         vuln:\n\
         \x20 # db: ~/.local/share/kiln/vuln.db   # get one with `kiln db update`\n\
         \x20 fail_on: high             # stop at a finding this severe (critical, high, medium, low)\n\
         \x20 # vex: [vex.openvex.json]\n\
         \x20 max_db_age: 7             # days\n\
         \x20 require_db: false         # true: no database fails the run instead of skipping\n\
         \n\
         sign:\n\
         \x20 key: .kiln/keys/cosign.key   # made on the first run; or awskms://..., pkcs11:...\n\
         \x20 formats: [cosign]        # and/or notation\n\
         \n\
         attest:\n  sbom: true\n  provenance: true         # SLSA provenance v1\n  vuln: true\n\
         \n\
         evidence:\n  store: .kiln/evidence    # or s3://BUCKET/PREFIX; encrypted at rest\n\
         \n\
         ledger:\n  url: sqlite://.kiln/ledger.db   # or postgres://...\n\
         \n\
         # notifications:\n#   webhook: https://hooks.example.com/kiln\n"
    )
}

/// Writes `DIR/kiln.yaml`, refusing to overwrite one.
pub fn init(dir: &Path) -> Result<Initialized, InitError> {
    let path = dir.join("kiln.yaml");
    if path.exists() {
        return Err(InitError::Exists(path));
    }
    let canonical = std::fs::canonicalize(dir).map_err(|source| InitError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| {
            n.to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "app".to_string());
    let detected = detect(dir);
    let text = render(&name, &detected);
    // create_new: a file that appeared meanwhile is not overwritten either.
    use std::io::Write as _;
    let io = |source| InitError::Io {
        path: path.clone(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                InitError::Exists(path.clone())
            } else {
                io(e)
            }
        })?;
    if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(&path);
        return Err(io(e));
    }
    Ok(Initialized { path, detected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KilnConfig;

    #[test]
    fn rendered_files_parse() {
        for d in [
            Detected::Dockerfile("Containerfile".into()),
            Detected::Native(Some("hello.sh".into())),
            Detected::Native(None),
        ] {
            let text = render("my app", &d);
            let c = KilnConfig::parse(&text, Path::new("kiln.yaml"))
                .unwrap_or_else(|e| panic!("{d:?}: {e}\n{text}"));
            assert_eq!(c.image.name.as_deref(), Some("my app"));
            let b = c.build.unwrap();
            match d {
                Detected::Dockerfile(_) => assert!(b.dockerfile.is_some()),
                Detected::Native(_) => assert_eq!(b.layers.len(), 1),
            }
        }
    }

    #[test]
    fn detects_and_refuses_to_overwrite() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let done = init(t.path()).unwrap();
        assert_eq!(done.detected, Detected::Dockerfile("Dockerfile".into()));
        let before = std::fs::read(&done.path).unwrap();
        assert!(matches!(init(t.path()), Err(InitError::Exists(_))));
        assert_eq!(std::fs::read(&done.path).unwrap(), before);
    }
}
