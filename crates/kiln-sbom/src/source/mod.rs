//! Sources: "a filesystem to catalog", named as syft names them (`dir:PATH`, `oci:PATH[:TAG]`,
//! `oci-dir:PATH`, `registry:REF`, a plain tar or tar.gz), and the one trait every source
//! implements: a single streaming pass that hands the walker's caller only the files it
//! selects, each with the image layer it came from.

pub mod archive;
pub mod dir;
pub mod image;
pub mod tarball;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::warning::Warning;

/// A file a source hands to the caller.
#[derive(Debug, Clone, Copy)]
pub struct FileMeta<'a> {
    /// The path inside the source, always starting with `/`.
    pub path: &'a str,
    /// The digest of the image layer the file comes from (image sources only).
    pub layer: Option<&'a str>,
    /// The size in bytes, as the source records it.
    pub size: u64,
}

/// The callback a source calls for each selected file; it reads what it needs.
pub type Sink<'s> = dyn FnMut(FileMeta<'_>, &mut dyn Read) + 's;

/// A filesystem to catalog.
pub trait Source {
    /// One pass over the files: `select(path)` decides which files are opened, `sink` gets
    /// them. Problems with single entries are returned as warnings; an error means the
    /// source as a whole could not be read.
    fn visit(
        &mut self,
        select: &dyn Fn(&str) -> bool,
        sink: &mut Sink<'_>,
    ) -> Result<Vec<Warning>, SourceError>;
}

/// A source that could not be opened or read at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{input}: {reason}")]
    Invalid { input: String, reason: String },
    #[error("{input}: {reason}")]
    Unsupported { input: String, reason: String },
}

/// What kind of source a CLI argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A directory (`dir:PATH`, or an existing directory that is not an OCI layout).
    Dir(PathBuf),
    /// An OCI image layout (`oci:PATH[:TAG]`, `oci-dir:PATH`, or a directory holding
    /// `oci-layout`); the string is the reference as `kiln_oci::ImageRef` parses it.
    Layout(String),
    /// An image in a registry (`registry:REF`).
    Registry(String),
    /// An OCI archive (`oci-archive:FILE`).
    OciArchive(PathBuf),
    /// A docker save archive (`docker-archive:FILE`).
    DockerArchive(PathBuf),
    /// A plain tar or tar.gz of a filesystem (`tar:FILE`, or a file given without prefix).
    Tar(PathBuf),
}

impl SourceSpec {
    /// Parses a source argument; without a scheme, looks at what the path is.
    pub fn parse(input: &str) -> Result<SourceSpec, SourceError> {
        let bad = |reason: &str| SourceError::Invalid {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if let Some((scheme, rest)) = input.split_once(':') {
            let nonempty = |r: &str| {
                if r.is_empty() {
                    Err(bad("the source names no path or reference"))
                } else {
                    Ok(())
                }
            };
            match scheme {
                "dir" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::Dir(PathBuf::from(rest)));
                }
                "oci" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::Layout(input.to_string()));
                }
                "oci-dir" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::Layout(format!("oci:{rest}")));
                }
                "registry" | "docker" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::Registry(
                        rest.trim_start_matches("//").to_string(),
                    ));
                }
                "oci-archive" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::OciArchive(PathBuf::from(rest)));
                }
                "docker-archive" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::DockerArchive(PathBuf::from(rest)));
                }
                "tar" | "file" => {
                    nonempty(rest)?;
                    return Ok(SourceSpec::Tar(PathBuf::from(rest)));
                }
                _ => {}
            }
        }
        let path = Path::new(input);
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                if path.join("oci-layout").is_file() {
                    Ok(SourceSpec::Layout(format!("oci:{input}")))
                } else {
                    Ok(SourceSpec::Dir(path.to_path_buf()))
                }
            }
            Ok(_) => Ok(detect_archive(path)),
            Err(_) if input.contains(':') || input.contains('/') && !path.exists() => {
                Ok(SourceSpec::Registry(input.to_string()))
            }
            Err(e) => Err(SourceError::Io {
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }
}

/// Tells an OCI archive (`oci-layout` at its root) and a docker archive (`manifest.json`
/// with only JSON and tar files beside it at the top) from a plain filesystem tar by their
/// top-level entries; headers only, content is skipped by seeking. Anything else,
/// including compressed files, is a plain tar.
fn detect_archive(path: &Path) -> SourceSpec {
    let plain = SourceSpec::Tar(path.to_path_buf());
    let Ok(f) = std::fs::File::open(path) else {
        return plain;
    };
    let mut ar = tar::Archive::new(f);
    let Ok(entries) = ar.entries_with_seek() else {
        return plain;
    };
    let (mut oci, mut manifest, mut other_top) = (false, false, false);
    for e in entries.take(100_000) {
        let Ok(e) = e else { return plain };
        let is_file = e.header().entry_type().is_file();
        let Ok(p) = e.path() else { continue };
        let name = clean_path(&p.to_string_lossy());
        match name.as_str() {
            "/oci-layout" => oci = true,
            "/manifest.json" => manifest = true,
            n if is_file && n.matches('/').count() == 1 && n != "/repositories" => {
                other_top |= !n.ends_with(".json") && !n.ends_with(".tar");
            }
            _ => {}
        }
    }
    if oci {
        SourceSpec::OciArchive(path.to_path_buf())
    } else if manifest && !other_top {
        SourceSpec::DockerArchive(path.to_path_buf())
    } else {
        plain
    }
}

/// Normalizes a path inside a source to the `/a/b` form (no `.`, no `..` above the root,
/// no doubled slashes). Tar paths are never trusted.
pub fn clean_path(raw: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes() {
        assert_eq!(
            SourceSpec::parse("dir:/x").unwrap(),
            SourceSpec::Dir("/x".into())
        );
        assert_eq!(
            SourceSpec::parse("oci-dir:/l").unwrap(),
            SourceSpec::Layout("oci:/l".into())
        );
        assert_eq!(
            SourceSpec::parse("oci:/l:v1").unwrap(),
            SourceSpec::Layout("oci:/l:v1".into())
        );
        assert_eq!(
            SourceSpec::parse("registry:127.0.0.1:5000/a:b").unwrap(),
            SourceSpec::Registry("127.0.0.1:5000/a:b".into())
        );
        assert!(SourceSpec::parse("dir:").is_err());
    }

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path("./a//b/../c"), "/a/c");
        assert_eq!(clean_path("../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean_path(""), "/");
    }
}
