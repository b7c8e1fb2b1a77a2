//! Storing signatures and attestations beside an image, in any [`ImageStore`]: cosign's
//! tag scheme (`sha256-<hex>.sig` / `.att`, one layer per entry, appended) and OCI 1.1
//! referrers (a manifest whose `subject` is the image).

use kiln_oci::manifest::{Annotations, Descriptor, ImageManifest};
use kiln_oci::{Digest, ImageStore, Manifest, ManifestKind, OciError, media_type};

/// The most layers Kiln reads from one signature or attestation manifest.
pub const MAX_LAYERS: usize = 512;

/// The cosign tag for `suffix` (`sig` or `att`) of `image`.
pub fn cosign_tag(image: &Digest, suffix: &str) -> String {
    format!("{}.{suffix}", image.tag_form())
}

/// cosign's image configuration for signature images: an empty config whose rootfs lists
/// the layers, so that the manifest is a valid image.
fn config_for(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    }))
    .unwrap_or_default()
}

/// Appends a layer (`blob` with media type and annotations) to the manifest at the cosign
/// tag `image.suffix`, creating it if absent. An identical layer is not added twice.
/// Blobs are pushed before the manifest, the manifest with its tag in one step.
pub async fn append_layer(
    store: &dyn ImageStore,
    image: &Digest,
    suffix: &str,
    media_type: &str,
    blob: &[u8],
    annotations: Annotations,
) -> Result<Manifest, OciError> {
    let tag = cosign_tag(image, suffix);
    let mut layers = match store.resolve(&tag).await {
        Ok(m) => match m.kind {
            ManifestKind::Image(im) => im.layers,
            ManifestKind::Index(_) => {
                return Err(OciError::malformed(
                    format!("{tag} in {}", store.name()),
                    "is an index, not a manifest",
                ));
            }
        },
        Err(OciError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut layer = Descriptor::of(media_type, blob);
    layer.annotations = Some(annotations);
    if layers.iter().any(|l| l == &layer) {
        return store.resolve(&tag).await;
    }
    if !store.has_blob(&layer.digest).await? {
        store.push_blob(&layer.digest, blob).await?;
    }
    layers.push(layer);
    let config = config_for(&layers);
    let config_desc = Descriptor::of(media_type::OCI_CONFIG, &config);
    if !store.has_blob(&config_desc.digest).await? {
        store.push_blob(&config_desc.digest, &config).await?;
    }
    let manifest = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: None,
        annotations: None,
    });
    store.push_manifest(&manifest, Some(&tag)).await?;
    Ok(manifest)
}

/// The layers (descriptor and verified bytes) at the cosign tag `image.suffix`; none when
/// the tag is absent.
pub async fn read_layers(
    store: &dyn ImageStore,
    image: &Digest,
    suffix: &str,
) -> Result<Vec<(Descriptor, Vec<u8>)>, OciError> {
    let tag = cosign_tag(image, suffix);
    let manifest = match store.resolve(&tag).await {
        Ok(m) => m,
        Err(OciError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let ManifestKind::Image(im) = manifest.kind else {
        return Err(OciError::malformed(
            format!("{tag} in {}", store.name()),
            "is an index, not a manifest",
        ));
    };
    if im.layers.len() > MAX_LAYERS {
        return Err(OciError::malformed(
            format!("{tag} in {}", store.name()),
            format!("{} layers (limit {MAX_LAYERS})", im.layers.len()),
        ));
    }
    let mut out = Vec::with_capacity(im.layers.len());
    for l in im.layers {
        let data = store.fetch_blob(&l).await?;
        out.push((l, data));
    }
    Ok(out)
}

/// Pushes an artifact referring to `subject`: empty config, one layer (`blob`), artifact
/// type `artifact_type`. Returns the referrer manifest.
pub async fn push_referrer(
    store: &dyn ImageStore,
    subject: &Manifest,
    artifact_type: &str,
    blob: &[u8],
    annotations: Annotations,
) -> Result<Manifest, OciError> {
    let layer = Descriptor::of(artifact_type, blob);
    if !store.has_blob(&layer.digest).await? {
        store.push_blob(&layer.digest, blob).await?;
    }
    let empty = Descriptor::of(media_type::OCI_EMPTY, b"{}");
    if !store.has_blob(&empty.digest).await? {
        store.push_blob(&empty.digest, b"{}").await?;
    }
    let manifest = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: Some(artifact_type.to_string()),
        config: empty,
        layers: vec![layer],
        subject: Some(Descriptor::new(
            &subject.media_type,
            subject.digest.clone(),
            subject.bytes.len() as u64,
        )),
        annotations: if annotations.is_empty() {
            None
        } else {
            Some(annotations)
        },
    });
    store.push_manifest(&manifest, None).await?;
    Ok(manifest)
}

/// The blobs of `subject`'s referrers of `artifact_type` (each referrer's single layer of
/// that media type).
pub async fn read_referrers(
    store: &dyn ImageStore,
    subject: &Digest,
    artifact_type: &str,
) -> Result<Vec<(Digest, Vec<u8>)>, OciError> {
    let mut out = Vec::new();
    let list = store.referrers(subject, Some(artifact_type)).await?;
    for d in list.into_iter().take(MAX_LAYERS) {
        let m = store.fetch_manifest(&d.digest).await?;
        let ManifestKind::Image(im) = &m.kind else {
            continue;
        };
        if im.subject.as_ref().map(|s| &s.digest) != Some(subject) {
            continue;
        }
        if let Some(layer) = im.layers.iter().find(|l| l.media_type == artifact_type) {
            out.push((m.digest.clone(), store.fetch_blob(layer).await?));
        }
    }
    Ok(out)
}
