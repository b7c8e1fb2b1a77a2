//! OCI descriptors, image manifests, indexes and image configurations, and strict parsing
//! of untrusted manifest bytes.
//!
//! Kiln keeps its own serde types rather than oci-spec's: oci-spec holds annotations and
//! labels in `HashMap`s, whose serialization order changes from one process to the next,
//! and Kiln must write byte-identical manifests for the same inputs. Maps here are
//! `BTreeMap`s and fields serialize in the order the OCI spec lists them. Unknown fields
//! are ignored on read, as the spec requires; unknown media types are reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{OciError, Result};
use crate::media_type;

/// The largest manifest or index Kiln accepts (the distribution spec's 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// The largest image configuration Kiln accepts.
pub const MAX_CONFIG_BYTES: usize = 8 * 1024 * 1024;

/// Annotations and labels: sorted so that serialization is deterministic.
pub type Annotations = BTreeMap<String, String>;

/// A platform an image is built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor of `data` with `media_type`.
    pub fn of(media_type: &str, data: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::sha256(data), data.len() as u64)
    }

    /// A descriptor from its three required fields.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            data: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An image manifest (OCI 1.1, also Docker schema 2, which has the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

impl ImageManifest {
    /// The manifest's artifact type: `artifactType`, else the config media type.
    pub fn effective_artifact_type(&self) -> &str {
        self.artifact_type
            .as_deref()
            .unwrap_or(&self.config.media_type)
    }

    /// Serializes to the bytes Kiln stores (compact JSON, spec field order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serializes")
    }
}

/// An image index (OCI 1.1, also a Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn empty() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_string()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: None,
        }
    }

    /// Serializes to the bytes Kiln stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("index serializes")
    }
}

/// What a parsed manifest document is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one value per fetched manifest: boxing buys nothing
pub enum ManifestKind {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// A manifest or index as fetched: its exact bytes, digest, media type and parsed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
    pub kind: ManifestKind,
}

impl Manifest {
    /// Parses untrusted manifest bytes. `declared` is the media type the source claimed
    /// (a descriptor or a Content-Type header); `what` names the input in errors. The
    /// media type is taken from `declared`, else the document's `mediaType`, else the
    /// shape of the document; a media type that is not a manifest or index is an error.
    pub fn parse(bytes: Vec<u8>, declared: Option<&str>, what: &str) -> Result<Manifest> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(OciError::TooLarge {
                what: what.to_string(),
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_BYTES as u64,
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| OciError::malformed(what, e))?;
        let obj = value
            .as_object()
            .ok_or_else(|| OciError::malformed(what, "not a JSON object"))?;
        let inner = obj.get("mediaType").and_then(|v| v.as_str());
        let declared = declared
            .map(|d| d.split(';').next().unwrap_or(d).trim())
            .filter(|d| !d.is_empty() && *d != "application/json" && *d != "text/plain");
        let media_type = match (declared, inner) {
            (Some(d), Some(i)) if d != i => {
                return Err(OciError::malformed(
                    what,
                    format!("declared media type {d} but the document says {i}"),
                ));
            }
            (Some(d), _) => d.to_string(),
            (None, Some(i)) => i.to_string(),
            (None, None) if obj.contains_key("manifests") => media_type::OCI_INDEX.to_string(),
            (None, None) if obj.contains_key("config") => media_type::OCI_MANIFEST.to_string(),
            (None, None) => {
                return Err(OciError::malformed(
                    what,
                    "no mediaType and no manifest shape",
                ));
            }
        };
        match obj.get("schemaVersion").and_then(|v| v.as_u64()) {
            Some(2) => {}
            Some(n) => {
                return Err(OciError::malformed(
                    what,
                    format!("schemaVersion {n} is not supported (2 expected)"),
                ));
            }
            None => return Err(OciError::malformed(what, "schemaVersion missing")),
        }
        let kind = if media_type::is_image_manifest(&media_type) {
            ManifestKind::Image(
                serde_json::from_value(value).map_err(|e| OciError::malformed(what, e))?,
            )
        } else if media_type::is_index(&media_type) {
            ManifestKind::Index(
                serde_json::from_value(value).map_err(|e| OciError::malformed(what, e))?,
            )
        } else {
            return Err(OciError::UnknownMediaType {
                media_type,
                what: what.to_string(),
            });
        };
        let digest = Digest::sha256(&bytes);
        Ok(Manifest {
            bytes,
            digest,
            media_type,
            kind,
        })
    }

    /// Wraps a manifest Kiln built.
    pub fn from_image(manifest: &ImageManifest) -> Manifest {
        let bytes = manifest.to_bytes();
        Manifest {
            digest: Digest::sha256(&bytes),
            media_type: manifest
                .media_type
                .clone()
                .unwrap_or_else(|| media_type::OCI_MANIFEST.to_string()),
            kind: ManifestKind::Image(manifest.clone()),
            bytes,
        }
    }

    /// Wraps an index Kiln built.
    pub fn from_index(index: &ImageIndex) -> Manifest {
        let bytes = index.to_bytes();
        Manifest {
            digest: Digest::sha256(&bytes),
            media_type: index
                .media_type
                .clone()
                .unwrap_or_else(|| media_type::OCI_INDEX.to_string()),
            kind: ManifestKind::Index(index.clone()),
            bytes,
        }
    }

    /// A descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(
            &self.media_type,
            self.digest.clone(),
            self.bytes.len() as u64,
        );
        match &self.kind {
            ManifestKind::Image(m) => {
                d.artifact_type = m.artifact_type.clone();
                if d.artifact_type.is_none() && !media_type::is_image_config(&m.config.media_type) {
                    d.artifact_type = Some(m.config.media_type.clone());
                }
                d.annotations = m.annotations.clone();
            }
            ManifestKind::Index(i) => {
                d.artifact_type = i.artifact_type.clone();
                d.annotations = i.annotations.clone();
            }
        }
        d
    }

    /// The `subject` this manifest refers to, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match &self.kind {
            ManifestKind::Image(m) => m.subject.as_ref(),
            ManifestKind::Index(i) => i.subject.as_ref(),
        }
    }

    /// The image manifest, or an error naming `what` when this is an index.
    pub fn as_image(&self) -> Result<&ImageManifest> {
        match &self.kind {
            ManifestKind::Image(m) => Ok(m),
            ManifestKind::Index(_) => Err(OciError::malformed(
                format!("manifest {}", self.digest),
                "is an index, not an image manifest",
            )),
        }
    }
}

/// The parts of an image configuration Kiln reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RuntimeConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// Parses untrusted configuration bytes.
    pub fn parse(bytes: &[u8], what: &str) -> Result<ImageConfig> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(OciError::TooLarge {
                what: what.to_string(),
                size: bytes.len() as u64,
                limit: MAX_CONFIG_BYTES as u64,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| OciError::malformed(what, e))
    }

    /// Serializes to the bytes Kiln stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("config serializes")
    }
}

/// The runtime part of an image configuration (`config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Annotations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The layer diff ids of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

/// One history entry of an image configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"b":"2","a":"1"},"unknownField":true}"#;

    #[test]
    fn parses_and_reserializes_deterministically() {
        let m = Manifest::parse(MANIFEST.as_bytes().to_vec(), None, "test").unwrap();
        assert_eq!(m.media_type, media_type::OCI_MANIFEST);
        assert_eq!(m.digest, Digest::sha256(MANIFEST.as_bytes()));
        let img = m.as_image().unwrap();
        let out = String::from_utf8(img.to_bytes()).unwrap();
        assert!(out.contains(r#""annotations":{"a":"1","b":"2"}"#), "{out}");
    }

    #[test]
    fn refuses_bad_manifests() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("[]", None, "not a JSON object"),
            ("{", None, "malformed"),
            (
                r#"{"schemaVersion":1,"config":{}}"#,
                None,
                "schemaVersion 1",
            ),
            (
                r#"{"schemaVersion":2,"mediaType":"application/vnd.foo"}"#,
                None,
                "unknown media type",
            ),
            (MANIFEST, Some(media_type::OCI_INDEX), "declared media type"),
            (
                r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:00","size":1},"layers":[]}"#,
                None,
                "invalid digest",
            ),
        ];
        for (doc, declared, expect) in cases {
            let err = Manifest::parse(doc.as_bytes().to_vec(), *declared, "input.json")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{doc}: {err}");
        }
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(
            Manifest::parse(huge, None, "big"),
            Err(OciError::TooLarge { .. })
        ));
    }
}
