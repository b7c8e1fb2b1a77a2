//! The database as an OCI artifact, so an air-gapped site mirrors it through its registry:
//! an image manifest with `artifactType` [`ARTIFACT_TYPE`], the empty config, and one layer
//! holding the database file.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageStore, Manifest, media_type};

use crate::db::{Database, DbError};

/// The artifact type of a Kiln vulnerability database.
pub const ARTIFACT_TYPE: &str = "application/vnd.kiln.vuln-db.v1";
/// The media type of the layer holding the database file.
pub const LAYER_TYPE: &str = "application/vnd.kiln.vuln-db.v1.redb";

/// Errors moving the database through a store.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Oci(#[from] kiln_oci::OciError),
    #[error("{0}")]
    Io(String),
    #[error("{reference} is not a Kiln vulnerability database (artifact type {found:?})")]
    WrongType { reference: String, found: String },
}

/// Pushes the database file; returns the manifest digest.
pub async fn push(
    db_path: &Path,
    store: &dyn ImageStore,
    tag: Option<&str>,
) -> Result<String, ArtifactError> {
    let status = Database::open(db_path)?.status()?;
    let data = std::fs::read(db_path)
        .map_err(|e| ArtifactError::Io(format!("reading {}: {e}", db_path.display())))?;
    let config_bytes = b"{}".to_vec();
    let config = Descriptor::of(media_type::OCI_EMPTY, &config_bytes);
    let mut layer = Descriptor::of(LAYER_TYPE, &data);
    layer.annotations = Some(BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        "vuln.db".to_string(),
    )]));
    let mut annotations = BTreeMap::from([
        (
            "dev.kiln.vuln-db.schema-version".to_string(),
            status.schema_version.to_string(),
        ),
        (
            "dev.kiln.vuln-db.advisories".to_string(),
            status.advisories.to_string(),
        ),
    ]);
    if let Some(m) = &status.data_modified {
        annotations.insert("dev.kiln.vuln-db.data-modified".to_string(), m.clone());
    }
    store.push_blob(&config.digest, &config_bytes).await?;
    store.push_blob(&layer.digest, &data).await?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        config,
        layers: vec![layer],
        subject: None,
        annotations: Some(annotations),
    };
    let m = Manifest::from_image(&manifest);
    store.push_manifest(&m, tag).await?;
    Ok(m.descriptor().digest.to_string())
}

/// Pulls the database named by `selector` to `dest`, replacing it only once the downloaded
/// file is checked (digest by the store, then opened as a database of a supported schema).
pub async fn pull(
    store: &dyn ImageStore,
    selector: &str,
    dest: &Path,
) -> Result<crate::db::Status, ArtifactError> {
    let m = store.resolve(selector).await?;
    let image = m.as_image()?;
    let found = image.effective_artifact_type().to_string();
    let layer = image.layers.iter().find(|l| l.media_type == LAYER_TYPE);
    let (true, Some(layer)) = (found == ARTIFACT_TYPE, layer) else {
        return Err(ArtifactError::WrongType {
            reference: selector.to_string(),
            found,
        });
    };
    let data = store.fetch_blob(layer).await?;
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| ArtifactError::Io(format!("creating {}: {e}", dir.display())))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ArtifactError::Io(format!("{}: {e}", dir.display())))?;
    std::fs::write(tmp.path(), &data)
        .map_err(|e| ArtifactError::Io(format!("{}: {e}", tmp.path().display())))?;
    let status = {
        let db = Database::open(tmp.path())?;
        db.status()?
    };
    tmp.persist(dest)
        .map_err(|e| ArtifactError::Io(format!("{}: {e}", dest.display())))?;
    Ok(crate::db::Status {
        path: dest.display().to_string(),
        ..status
    })
}
