//! Image archives: `oci-archive:FILE` (a tar of an OCI image layout) and
//! `docker-archive:FILE` (`docker save` output: `manifest.json` and layer tars). The archive
//! is read twice, streaming: once to hash every entry and keep the small JSON documents,
//! once to hand the layers to the kiln-oci filesystem view (which spools each compressed
//! layer to a private temporary file and checks its digest). Nothing is extracted.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use kiln_oci::fsview::{FsView, LayerBlob, Limits};
use kiln_oci::manifest::{Descriptor, ImageIndex, ImageManifest};
use kiln_oci::media_type::{DOCKER_LAYER_GZIP, OCI_LAYER_TAR};
use kiln_oci::{Digest, Manifest, ManifestKind};
use sha2::{Digest as _, Sha256};

use super::image::ImageSource;
use super::{SourceError, clean_path};

/// Which archive layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Oci,
    Docker,
}

/// JSON documents larger than this are not kept from the first pass.
const MAX_DOC: u64 = 8 * 1024 * 1024;

struct Seen {
    digest: String,
    size: u64,
    gzip: bool,
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> SourceError {
    SourceError::Invalid {
        input: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn entries_of(path: &Path) -> Result<tar::Archive<BufReader<File>>, SourceError> {
    let f = File::open(path).map_err(|e| SourceError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(tar::Archive::new(BufReader::with_capacity(256 * 1024, f)))
}

/// Opens the image in an archive.
pub fn open(path: &Path, kind: ArchiveKind) -> Result<ImageSource, SourceError> {
    // Pass 1: hash everything, keep the documents.
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut docs: HashMap<String, Vec<u8>> = HashMap::new();
    let mut ar = entries_of(path)?;
    for entry in ar
        .entries()
        .map_err(|e| bad(path, format!("not a tar archive: {e}")))?
    {
        let mut entry =
            entry.map_err(|e| bad(path, format!("archive truncated or corrupt: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = match entry.path() {
            Ok(p) => clean_path(&p.to_string_lossy()),
            Err(_) => continue,
        };
        let size = entry.size();
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut keep = Vec::new();
        let mut first = [0u8; 2];
        let mut total = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| bad(path, format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            if total == 0 && n >= 2 {
                first.copy_from_slice(&buf[..2]);
            }
            total += n as u64;
            h.update(&buf[..n]);
            if size <= MAX_DOC {
                keep.extend_from_slice(&buf[..n]);
            }
        }
        if size <= MAX_DOC {
            docs.insert(name.clone(), keep);
        }
        seen.insert(
            name,
            Seen {
                digest: format!("sha256:{}", hex::encode(h.finalize())),
                size: total,
                gzip: first == [0x1f, 0x8b],
            },
        );
    }
    let doc = |p: &str| {
        docs.get(p)
            .ok_or_else(|| bad(path, format!("{p} is missing from the archive")))
    };
    let (image_digest, layers): (String, Vec<(String, Descriptor)>) = match kind {
        ArchiveKind::Oci => {
            let index: ImageIndex = serde_json::from_slice(doc("/index.json")?)
                .map_err(|e| bad(path, format!("index.json: {e}")))?;
            let blob = |d: &Digest| format!("/blobs/{}/{}", d.algorithm().as_str(), d.hex());
            let mut desc = index
                .manifests
                .first()
                .cloned()
                .ok_or_else(|| bad(path, "index.json names no image"))?;
            let manifest = loop {
                let bytes = doc(&blob(&desc.digest))?.clone();
                desc.digest
                    .verify(&bytes, "manifest")
                    .map_err(|e| bad(path, e))?;
                let m = Manifest::parse(bytes, Some(&desc.media_type), "manifest in the archive")
                    .map_err(|e| bad(path, e))?;
                match m.kind {
                    ManifestKind::Image(i) => break (m.digest.to_string(), i),
                    ManifestKind::Index(ix) => {
                        desc = ix
                            .manifests
                            .first()
                            .cloned()
                            .ok_or_else(|| bad(path, "an index names no image"))?;
                    }
                }
            };
            let (digest, image): (String, ImageManifest) = manifest;
            (
                digest,
                image
                    .layers
                    .iter()
                    .map(|d| (blob(&d.digest), d.clone()))
                    .collect(),
            )
        }
        ArchiveKind::Docker => {
            let m: serde_json::Value = serde_json::from_slice(doc("/manifest.json")?)
                .map_err(|e| bad(path, format!("manifest.json: {e}")))?;
            let first = m
                .get(0)
                .ok_or_else(|| bad(path, "manifest.json lists no image"))?;
            let config = first.get("Config").and_then(|c| c.as_str()).unwrap_or("");
            let config_digest = seen
                .get(&clean_path(config))
                .map(|s| s.digest.clone())
                .unwrap_or_default();
            let mut layers = Vec::new();
            for l in first
                .get("Layers")
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten()
            {
                let p = clean_path(l.as_str().unwrap_or(""));
                let s = seen
                    .get(&p)
                    .ok_or_else(|| bad(path, format!("layer {p} is missing from the archive")))?;
                let d: Descriptor = serde_json::from_value(serde_json::json!({
                    "mediaType": if s.gzip { DOCKER_LAYER_GZIP } else { OCI_LAYER_TAR },
                    "digest": s.digest,
                    "size": s.size,
                }))
                .map_err(|e| bad(path, e))?;
                layers.push((p, d));
            }
            (config_digest, layers)
        }
    };
    // Pass 2: spool the layers for the view.
    let mut blobs: HashMap<String, LayerBlob> = HashMap::new();
    let wanted: HashMap<&str, &Descriptor> = layers.iter().map(|(p, d)| (p.as_str(), d)).collect();
    let mut ar = entries_of(path)?;
    for entry in ar.entries().map_err(|e| bad(path, e))? {
        let entry = entry.map_err(|e| bad(path, format!("archive truncated or corrupt: {e}")))?;
        let name = match entry.path() {
            Ok(p) => clean_path(&p.to_string_lossy()),
            Err(_) => continue,
        };
        if let Some(d) = wanted.get(name.as_str())
            && !blobs.contains_key(&name)
        {
            let b = LayerBlob::from_reader((*d).clone(), entry).map_err(|e| bad(path, e))?;
            blobs.insert(name, b);
        }
    }
    let mut ordered = Vec::new();
    for (p, _) in &layers {
        ordered.push(
            blobs
                .remove(p)
                .ok_or_else(|| bad(path, format!("layer {p} is missing from the archive")))?,
        );
    }
    let view = FsView::from_layers(ordered, Limits::default()).map_err(|e| bad(path, e))?;
    Ok(ImageSource::from_view(view, image_digest))
}
