//! Image references: `oci:PATH[:TAG|@DIGEST]` for an OCI image layout on disk, anything
//! else a registry reference in the Docker form (`[REGISTRY/]REPO[:TAG][@DIGEST]`).

use std::fmt;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::error::{OciError, Result};

/// The registry used when a reference names none, as Docker does.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// Where an image lives and which one it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// An OCI image layout directory.
    Layout {
        path: PathBuf,
        tag: Option<String>,
        digest: Option<Digest>,
    },
    /// A repository in a distribution registry.
    Registry {
        registry: String,
        repository: String,
        tag: Option<String>,
        digest: Option<Digest>,
    },
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
                })
                && part.as_bytes()[0].is_ascii_alphanumeric()
                && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
        })
}

impl ImageRef {
    /// Parses a reference as the CLI takes it.
    pub fn parse(input: &str) -> Result<ImageRef> {
        let bad = |reason: &str| OciError::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = input.strip_prefix("oci:") {
            let (rest, digest) = match rest.rsplit_once('@') {
                Some((p, d)) => (p, Some(Digest::parse(d)?)),
                None => (rest, None),
            };
            let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
            let (path, tag) = match rest[last_slash..].rfind(':') {
                Some(i) => {
                    let tag = &rest[last_slash + i + 1..];
                    if !valid_tag(tag) {
                        return Err(bad(
                            "the tag may hold only letters, digits, '_', '.' and '-'",
                        ));
                    }
                    (&rest[..last_slash + i], Some(tag.to_string()))
                }
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(bad("oci: needs a directory path"));
            }
            return Ok(ImageRef::Layout {
                path: PathBuf::from(path),
                tag,
                digest,
            });
        }
        let rest = input.strip_prefix("docker://").unwrap_or(input);
        let rest = rest.strip_prefix("registry:").unwrap_or(rest);
        let (name, digest) = match rest.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d)?)),
            None => (rest, None),
        };
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name[last_slash + i + 1..];
                if !valid_tag(tag) {
                    return Err(bad(
                        "the tag may hold only letters, digits, '_', '.' and '-'",
                    ));
                }
                (&name[..last_slash + i], Some(tag.to_string()))
            }
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ if name.contains('/') => (DEFAULT_REGISTRY.to_string(), name.to_string()),
            _ => (DEFAULT_REGISTRY.to_string(), format!("library/{name}")),
        };
        if !valid_repository(&repository) {
            return Err(bad(
                "the repository must be lowercase letters, digits and separators",
            ));
        }
        Ok(ImageRef::Registry {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ImageRef::Layout { tag, .. } | ImageRef::Registry { tag, .. } => tag.as_deref(),
        }
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            ImageRef::Layout { digest, .. } | ImageRef::Registry { digest, .. } => digest.as_ref(),
        }
    }

    /// What to resolve in the store: the digest if given, else the tag, else `latest`.
    pub fn selector(&self) -> String {
        match (self.digest(), self.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The same location with a digest in place of any tag.
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        let mut r = self.clone();
        match &mut r {
            ImageRef::Layout { tag, digest: d, .. } | ImageRef::Registry { tag, digest: d, .. } => {
                *tag = None;
                *d = Some(digest);
            }
        }
        r
    }

    /// The same location with `new_tag` and no digest.
    pub fn with_tag(&self, new_tag: &str) -> ImageRef {
        let mut r = self.clone();
        match &mut r {
            ImageRef::Layout { tag, digest, .. } | ImageRef::Registry { tag, digest, .. } => {
                *tag = Some(new_tag.to_string());
                *digest = None;
            }
        }
        r
    }

    /// The store part alone (`oci:PATH` or `REGISTRY/REPO`).
    pub fn location(&self) -> String {
        match self {
            ImageRef::Layout { path, .. } => format!("oci:{}", path.display()),
            ImageRef::Registry {
                registry,
                repository,
                ..
            } => format!("{registry}/{repository}"),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location())?;
        if let Some(t) = self.tag() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = self.digest() {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layout_references() {
        let d = Digest::sha256(b"x");
        assert_eq!(
            ImageRef::parse("oci:/tmp/lay:v1").unwrap(),
            ImageRef::Layout {
                path: "/tmp/lay".into(),
                tag: Some("v1".into()),
                digest: None
            }
        );
        assert_eq!(
            ImageRef::parse(&format!("oci:rel/dir@{d}")).unwrap(),
            ImageRef::Layout {
                path: "rel/dir".into(),
                tag: None,
                digest: Some(d)
            }
        );
        assert!(ImageRef::parse("oci:").is_err());
        assert!(ImageRef::parse("oci:/x:bad tag").is_err());
    }

    #[test]
    fn parses_registry_references() {
        let r = ImageRef::parse("127.0.0.1:5000/team/app:1.0").unwrap();
        assert_eq!(r.location(), "127.0.0.1:5000/team/app");
        assert_eq!(r.tag(), Some("1.0"));
        let r = ImageRef::parse("alpine").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        assert_eq!(r.selector(), "latest");
        let r = ImageRef::parse("localhost/app").unwrap();
        assert_eq!(r.location(), "localhost/app");
        assert!(ImageRef::parse("Registry.io/UPPER").is_err());
        assert!(ImageRef::parse("reg.io/app@sha256:zz").is_err());
    }
}
