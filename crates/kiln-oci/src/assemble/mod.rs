//! Reproducible image assembly: a base (`scratch` or any image in an [`ImageStore`]) plus
//! layers made from host files and directories ([`layer`]) and the image configuration
//! ([`config`]), written into an [`OciLayout`]. The same inputs give a byte-identical
//! manifest on any machine and from any checkout path.

pub mod config;
pub mod error;
pub mod layer;

use std::path::PathBuf;

pub use config::ConfigSpec;
pub use error::AssembleError;
pub use layer::{BuiltLayer, LayerEntry, LayerSpec, Owner};

use error::Result;

use crate::digest::Digest;
use crate::layout::OciLayout;
use crate::manifest::{
    Annotations, Descriptor, ImageConfig, ImageManifest, Manifest, ManifestKind,
};
use crate::media_type;
use crate::store::ImageStore;

/// The annotation naming the base image's manifest digest (OCI pre-defined key).
pub const BASE_DIGEST_ANNOTATION: &str = "org.opencontainers.image.base.digest";

/// What to build on top of the base.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageSpec {
    pub layers: Vec<LayerSpec>,
    pub config: ConfigSpec,
    /// Every time in the image (file mtimes, `created`, history): `SOURCE_DATE_EPOCH` or 0.
    pub source_date_epoch: u64,
    /// Host paths never put into a layer (the project's `.kiln` directory, say).
    pub exclude: Vec<PathBuf>,
    /// Annotations of the manifest.
    pub annotations: Annotations,
}

/// The image to build on: a store and the tag or digest in it.
pub struct BaseImage<'a> {
    pub store: &'a dyn ImageStore,
    pub selector: String,
}

/// An image written into a layout (untagged; the caller tags it).
#[derive(Debug, Clone)]
pub struct Assembled {
    pub manifest: Manifest,
    pub config: ImageConfig,
    /// The base's manifest digest, when there was a base.
    pub base: Option<Digest>,
    /// The layers Kiln added (after the base's).
    pub added: Vec<BuiltLayer>,
}

struct ResolvedBase {
    digest: Digest,
    config: ImageConfig,
    layers: Vec<Descriptor>,
}

/// Picks the image manifest of `base` for the platform `spec` asks for, copies its layers
/// into `layout` and returns its configuration.
async fn resolve_base(
    layout: &OciLayout,
    base: &BaseImage<'_>,
    spec: &ConfigSpec,
) -> Result<ResolvedBase> {
    let name = format!("{} ({})", base.store.name(), base.selector);
    let fail = |reason: String| AssembleError::Base {
        name: name.clone(),
        reason,
    };
    let mut manifest = base.store.resolve(&base.selector).await?;
    if let ManifestKind::Index(index) = &manifest.kind {
        let (os, arch, variant) = spec.platform(None);
        let pick = index
            .manifests
            .iter()
            .filter(|d| media_type::is_image_manifest(&d.media_type))
            .find(|d| match &d.platform {
                Some(p) => {
                    p.os == os
                        && p.architecture == arch
                        && (variant.is_none() || p.variant == variant)
                }
                None => false,
            })
            .ok_or_else(|| {
                let have: Vec<String> = index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    .map(|p| format!("{}/{}", p.os, p.architecture))
                    .collect();
                fail(format!(
                    "no image for {os}/{arch} in its index (it has: {})",
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ))
            })?;
        manifest = base.store.fetch_manifest(&pick.digest).await?;
    }
    let image = manifest.as_image()?.clone();
    if !media_type::is_image_config(&image.config.media_type) {
        return Err(fail(format!(
            "its config has media type {}, not an image configuration",
            image.config.media_type
        )));
    }
    let bytes = base.store.fetch_blob(&image.config).await?;
    let config = ImageConfig::parse(&bytes, &format!("config of {name}"))?;
    if config.rootfs.diff_ids.len() != image.layers.len() {
        return Err(fail(format!(
            "its manifest has {} layers but its config {} diff ids",
            image.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    for d in &image.layers {
        if media_type::layer_compression(&d.media_type).is_none() {
            return Err(AssembleError::Oci(
                crate::error::OciError::UnknownMediaType {
                    media_type: d.media_type.clone(),
                    what: format!("layer {} of {name}", d.digest),
                },
            ));
        }
        if !layout.contains_blob(&d.digest) {
            let data = base.store.fetch_blob(d).await?;
            layout.write_blob(&d.digest, &data)?;
        }
    }
    Ok(ResolvedBase {
        digest: manifest.digest,
        config,
        layers: image.layers,
    })
}

/// Assembles the image `spec` describes on `base` (or `scratch` when `None`) into
/// `layout` and returns it. Blobs are written before the manifest; nothing is tagged.
pub async fn assemble(
    layout: &OciLayout,
    base: Option<BaseImage<'_>>,
    spec: &ImageSpec,
) -> Result<Assembled> {
    let base = match &base {
        Some(b) => Some(resolve_base(layout, b, &spec.config).await?),
        None => None,
    };
    let mut added = Vec::with_capacity(spec.layers.len());
    for l in &spec.layers {
        added.push(layer::write_layer(
            layout,
            l,
            spec.source_date_epoch,
            &spec.exclude,
        )?);
    }
    let history: Vec<(Digest, String)> = spec
        .layers
        .iter()
        .zip(&added)
        .enumerate()
        .map(|(i, (l, b))| {
            let by = l
                .created_by
                .clone()
                .unwrap_or_else(|| format!("kiln: layer {}", i + 1));
            (b.diff_id.clone(), by)
        })
        .collect();
    let config = config::build_config(
        base.as_ref().map(|b| &b.config),
        &spec.config,
        &history,
        spec.source_date_epoch,
    )?;
    let config_bytes = config.to_bytes();
    let config_desc = Descriptor::of(media_type::OCI_CONFIG, &config_bytes);
    layout.write_blob(&config_desc.digest, &config_bytes)?;

    let mut layers = base.as_ref().map(|b| b.layers.clone()).unwrap_or_default();
    layers.extend(added.iter().map(|b| b.descriptor.clone()));
    let mut annotations = spec.annotations.clone();
    if let Some(b) = &base {
        annotations.insert(BASE_DIGEST_ANNOTATION.into(), b.digest.to_string());
    }
    let manifest = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: None,
        annotations: if annotations.is_empty() {
            None
        } else {
            Some(annotations)
        },
    });
    layout.put_manifest(&manifest, None)?;
    Ok(Assembled {
        manifest,
        config,
        base: base.map(|b| b.digest),
        added,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn spec(dir: &std::path::Path) -> ImageSpec {
        ImageSpec {
            layers: vec![LayerSpec {
                entries: vec![LayerEntry {
                    src: dir.join("app"),
                    dest: "/app".into(),
                    mode: None,
                    owner: None,
                }],
                created_by: Some("kiln: app -> /app".into()),
            }],
            config: ConfigSpec {
                cmd: Some(vec!["/app/run".into()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn scratch_and_layout_bases_are_reproducible() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for d in [a.path(), b.path()] {
            fs::create_dir_all(d.join("app")).unwrap();
            fs::write(d.join("app/run"), b"#!/bin/sh\n").unwrap();
        }
        let la = OciLayout::create(a.path().join("oci")).unwrap();
        let lb = OciLayout::create(b.path().join("oci")).unwrap();
        let x = assemble(&la, None, &spec(a.path())).await.unwrap();
        let y = assemble(&lb, None, &spec(b.path())).await.unwrap();
        assert_eq!(x.manifest.bytes, y.manifest.bytes);
        assert_eq!(x.config.rootfs.diff_ids, vec![x.added[0].diff_id.clone()]);

        // On a base from another layout: the base's layers come first and are copied.
        la.put_manifest(&x.manifest, Some("base")).unwrap();
        let other = OciLayout::create(a.path().join("other")).unwrap();
        let base = BaseImage {
            store: &la,
            selector: "base".into(),
        };
        let z = assemble(&other, Some(base), &spec(a.path())).await.unwrap();
        let m = z.manifest.as_image().unwrap();
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[0], x.manifest.as_image().unwrap().layers[0]);
        assert!(other.contains_blob(&m.layers[0].digest));
        assert_eq!(z.base.as_ref(), Some(&x.manifest.digest));
        assert_eq!(
            m.annotations.as_ref().unwrap()[BASE_DIGEST_ANNOTATION],
            x.manifest.digest.to_string()
        );
        assert_eq!(z.config.history.len(), 2);

        // A missing base tag is a clear error.
        let base = BaseImage {
            store: &la,
            selector: "nope".into(),
        };
        let err = assemble(&other, Some(base), &spec(a.path()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
