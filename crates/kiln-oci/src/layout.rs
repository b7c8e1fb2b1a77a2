//! The OCI image layout store (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): Kiln's
//! default registry, under `.kiln/oci` of the project being built.
//!
//! Blobs are written to a temporary file in the layout and renamed into place only after
//! their digest checks; `index.json` is rewritten through a temporary file and a rename
//! under a lock, so a reader never sees a half-written layout. Tags are index entries with
//! the `org.opencontainers.image.ref.name` annotation. Referrers use the referrers tag
//! schema (an index at tag `sha256-<hex>`), as on a registry without the referrers API.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tempfile::NamedTempFile;

use crate::digest::{Digest, Hasher};
use crate::error::{OciError, Result};
use crate::manifest::{Descriptor, ImageIndex, MAX_MANIFEST_BYTES, Manifest, ManifestKind};
use crate::media_type;
use crate::store::{self, ImageStore};

/// The annotation that names a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const LOCK_FILE: &str = ".kiln-index.lock";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout; an error if `root` is not one.
    pub fn open(root: impl Into<PathBuf>) -> Result<OciLayout> {
        let root = root.into();
        let marker = root.join(LAYOUT_FILE);
        let text = fs::read(&marker).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => OciError::NotFound(format!(
                "{} is not an OCI image layout (no oci-layout file)",
                root.display()
            )),
            _ => OciError::io(&marker, e),
        })?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| OciError::malformed(marker.display().to_string(), e))?;
        match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some("1.0.0") => Ok(OciLayout { root }),
            other => Err(OciError::malformed(
                marker.display().to_string(),
                format!("imageLayoutVersion {other:?} is not 1.0.0"),
            )),
        }
    }

    /// Opens the layout at `root`, creating an empty one if the directory has none.
    pub fn create(root: impl Into<PathBuf>) -> Result<OciLayout> {
        let root = root.into();
        if root.join(LAYOUT_FILE).exists() {
            return OciLayout::open(root);
        }
        fs::create_dir_all(root.join("blobs/sha256")).map_err(|e| OciError::io(&root, e))?;
        let layout = OciLayout { root };
        if !layout.root.join("index.json").exists() {
            layout.write_index(&ImageIndex::empty())?;
        }
        write_atomically(&layout.root.join(LAYOUT_FILE), LAYOUT_CONTENT)?;
        Ok(layout)
    }

    /// The layout's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Whether the blob is present.
    pub fn contains_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a blob, checking size and digest.
    pub fn read_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>> {
        let path = self.blob_path(&descriptor.digest);
        let data = read_existing(&path, &descriptor.digest)?;
        if data.len() as u64 != descriptor.size {
            return Err(OciError::SizeMismatch {
                what: format!("blob {}", path.display()),
                expected: descriptor.size,
                actual: data.len() as u64,
            });
        }
        descriptor
            .digest
            .verify(&data, &format!("blob {}", path.display()))?;
        Ok(data)
    }

    /// Writes a blob whose expected digest is known; nothing is written on mismatch.
    pub fn write_blob(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        digest.verify(data, "blob to store")?;
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        write_atomically(&path, data)
    }

    /// A writer that streams a blob into the layout, hashing as it goes.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.root.join("blobs/sha256");
        fs::create_dir_all(&dir).map_err(|e| OciError::io(&dir, e))?;
        let file = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| OciError::io(&dir, e))?;
        Ok(BlobWriter {
            layout: self.clone(),
            file: std::io::BufWriter::new(file),
            hasher: Hasher::new(crate::digest::Algorithm::Sha256),
        })
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = fs::read(&path).map_err(|e| OciError::io(&path, e))?;
        if bytes.len() > MAX_MANIFEST_BYTES * 4 {
            return Err(OciError::TooLarge {
                what: path.display().to_string(),
                size: bytes.len() as u64,
                limit: (MAX_MANIFEST_BYTES * 4) as u64,
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| OciError::malformed(path.display().to_string(), e))
    }

    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        write_atomically(&self.root.join("index.json"), &index.to_bytes())
    }

    /// Runs `f` on `index.json` under the layout's lock and writes the result.
    fn update_index(&self, f: impl FnOnce(&mut ImageIndex)) -> Result<()> {
        let lock_path = self.root.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| OciError::io(&lock_path, e))?;
        lock.lock().map_err(|e| OciError::io(&lock_path, e))?;
        let mut index = self.index()?;
        f(&mut index);
        let result = self.write_index(&index);
        let _ = lock.unlock();
        result
    }

    /// Stores a manifest and optionally tags it (replacing the tag's previous target).
    pub fn put_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<()> {
        self.check_children_present(manifest)?;
        self.write_blob(&manifest.digest, &manifest.bytes)?;
        if let Some(tag) = tag {
            let mut desc = Descriptor::new(
                &manifest.media_type,
                manifest.digest.clone(),
                manifest.bytes.len() as u64,
            );
            desc.annotations = Some([(REF_NAME.to_string(), tag.to_string())].into());
            self.update_index(|index| {
                index
                    .manifests
                    .retain(|d| d.annotation(REF_NAME) != Some(tag));
                index.manifests.push(desc);
            })?;
        }
        Ok(())
    }

    fn check_children_present(&self, manifest: &Manifest) -> Result<()> {
        let children: Vec<&Descriptor> = match &manifest.kind {
            ManifestKind::Image(m) => std::iter::once(&m.config).chain(m.layers.iter()).collect(),
            ManifestKind::Index(i) => i.manifests.iter().collect(),
        };
        for d in children {
            if !self.contains_blob(&d.digest) {
                return Err(OciError::NotFound(format!(
                    "manifest {} names blob {} which is not in {}",
                    manifest.digest,
                    d.digest,
                    self.root.display()
                )));
            }
        }
        Ok(())
    }

    /// Resolves a tag or digest to its manifest.
    pub fn resolve_sync(&self, selector: &str) -> Result<Manifest> {
        let (digest, declared) = if selector.contains(':') {
            (Digest::parse(selector)?, None)
        } else {
            let index = self.index()?;
            let d = index
                .manifests
                .iter()
                .rev()
                .find(|d| d.annotation(REF_NAME) == Some(selector))
                .ok_or_else(|| {
                    OciError::NotFound(format!("tag {selector} in oci:{}", self.root.display()))
                })?;
            (d.digest.clone(), Some(d.media_type.clone()))
        };
        let path = self.blob_path(&digest);
        let bytes = read_existing(&path, &digest)?;
        digest.verify(&bytes, &format!("manifest {}", path.display()))?;
        Manifest::parse(bytes, declared.as_deref(), &format!("manifest {digest}"))
    }

    /// The tags in `index.json`, sorted.
    pub fn tag_list(&self) -> Result<Vec<String>> {
        let mut tags: Vec<String> = self
            .index()?
            .manifests
            .iter()
            .filter_map(|d| d.annotation(REF_NAME).map(str::to_string))
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

fn read_existing(path: &Path, digest: &Digest) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => OciError::NotFound(format!("blob {digest}")),
        _ => OciError::io(path, e),
    })
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| OciError::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| OciError::io(dir, e))?;
    tmp.write_all(data).map_err(|e| OciError::io(path, e))?;
    tmp.persist(path).map_err(|e| OciError::io(path, e.error))?;
    Ok(())
}

/// Streams a blob into a layout; [`BlobWriter::commit`] renames it into place.
pub struct BlobWriter {
    layout: OciLayout,
    file: std::io::BufWriter<NamedTempFile>,
    hasher: Hasher,
}

impl BlobWriter {
    /// Finishes the blob: checks it against `expected` when given, renames it into place
    /// and returns its digest and size. On error the temporary file is removed.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let dir = self.layout.root.join("blobs/sha256");
        self.file.flush().map_err(|e| OciError::io(&dir, e))?;
        let size = self.hasher.len();
        let digest = self.hasher.finish();
        if let Some(exp) = expected
            && exp != &digest
        {
            return Err(OciError::DigestMismatch {
                what: "streamed blob".into(),
                expected: exp.to_string(),
                actual: digest.to_string(),
            });
        }
        let file = self
            .file
            .into_inner()
            .map_err(|e| OciError::io(&dir, e.into_error()))?;
        let path = self.layout.blob_path(&digest);
        file.persist(&path)
            .map_err(|e| OciError::io(&path, e.error))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[async_trait]
impl ImageStore for OciLayout {
    fn name(&self) -> String {
        format!("oci:{}", self.root.display())
    }

    async fn resolve(&self, selector: &str) -> Result<Manifest> {
        self.resolve_sync(selector)
    }

    async fn fetch_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>> {
        self.read_blob(descriptor)
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.contains_blob(digest))
    }

    async fn push_blob(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        self.write_blob(digest, data)
    }

    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<()> {
        self.put_manifest(manifest, tag)?;
        if let Some(subject) = manifest.subject() {
            store::add_to_referrers_tag(self, &subject.digest, manifest.descriptor()).await?;
        }
        Ok(())
    }

    async fn tags(&self) -> Result<Vec<String>> {
        self.tag_list()
    }

    async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let index = store::read_referrers_tag(self, subject).await?;
        Ok(store::filter_referrers(index.manifests, artifact_type))
    }
}

/// Media types a layout's `index.json` may point at.
pub fn is_manifest_media_type(mt: &str) -> bool {
    media_type::is_image_manifest(mt) || media_type::is_index(mt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ImageManifest;

    fn sample_manifest(layout: &OciLayout, subject: Option<Descriptor>) -> Manifest {
        let config = b"{}".to_vec();
        let layer = b"layer-bytes".to_vec();
        let cd = Descriptor::of(media_type::OCI_EMPTY, &config);
        let ld = Descriptor::of("application/octet-stream", &layer);
        layout.write_blob(&cd.digest, &config).unwrap();
        layout.write_blob(&ld.digest, &layer).unwrap();
        Manifest::from_image(&ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.into()),
            artifact_type: Some("application/vnd.kiln.test".into()),
            config: cd,
            layers: vec![ld],
            subject,
            annotations: None,
        })
    }

    #[tokio::test]
    async fn round_trip_tags_and_referrers() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path().join("l")).unwrap();
        let m = sample_manifest(&layout, None);
        layout.push_manifest(&m, Some("v1")).await.unwrap();
        assert_eq!(layout.resolve("v1").await.unwrap().digest, m.digest);
        assert_eq!(layout.tags().await.unwrap(), vec!["v1".to_string()]);

        let r = sample_manifest(&layout, Some(m.descriptor()));
        let r = Manifest::from_image(&{
            let mut x = r.as_image().unwrap().clone();
            x.annotations = Some([("k".to_string(), "v".to_string())].into());
            x
        });
        layout.push_manifest(&r, None).await.unwrap();
        let refs = layout.referrers(&m.digest, None).await.unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].digest, r.digest);
        assert_eq!(
            refs[0].artifact_type.as_deref(),
            Some("application/vnd.kiln.test")
        );
        assert!(
            layout
                .referrers(&m.digest, Some("other/type"))
                .await
                .unwrap()
                .is_empty()
        );
        // Pushing again does not duplicate the entry.
        layout.push_manifest(&r, None).await.unwrap();
        assert_eq!(layout.referrers(&m.digest, None).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refuses_corrupt_and_missing_content() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let d = Digest::sha256(b"abc");
        assert!(layout.write_blob(&d, b"abd").is_err());
        assert!(!layout.contains_blob(&d));
        // A manifest naming a missing blob is refused and the tag is not written.
        let missing = Descriptor::of("application/octet-stream", b"nope");
        let m = Manifest::from_image(&ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.into()),
            artifact_type: None,
            config: missing.clone(),
            layers: vec![],
            subject: None,
            annotations: None,
        });
        assert!(layout.push_manifest(&m, Some("t")).await.is_err());
        assert!(layout.tags().await.unwrap().is_empty());
        // A blob corrupted on disk is detected on read.
        layout.write_blob(&d, b"abc").unwrap();
        fs::write(layout.blob_path(&d), b"abd").unwrap();
        let err = layout
            .read_blob(&Descriptor::new("x", d.clone(), 3))
            .unwrap_err();
        assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
        assert!(matches!(
            layout.resolve("nosuchtag").await,
            Err(OciError::NotFound(_))
        ));
        assert!(OciLayout::open(dir.path().join("nothing")).is_err());
    }

    #[test]
    fn blob_writer_streams_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (d, n) = w.commit(None).unwrap();
        assert_eq!(n, 11);
        assert_eq!(d, Digest::sha256(b"hello world"));
        assert!(layout.contains_blob(&d));
        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"x").unwrap();
        assert!(w.commit(Some(&d)).is_err());
        let leftovers = fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
