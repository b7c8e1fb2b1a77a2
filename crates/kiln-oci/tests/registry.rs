//! The registry client against the real CNCF distribution registry (2.8, no referrers
//! API) of `scripts/test` (`KILN_TEST_REGISTRY`): push and pull round trips, the
//! referrers tag schema fallback, and cross-repository mounts.

use std::sync::Mutex;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::registry::{RegistryOptions, RegistryStore};
use kiln_oci::store::{BlobAction, CopyEvent, ImageStore, copy_image, copy_image_with_progress};
use kiln_oci::{Digest, Manifest, ManifestKind, OciLayout, media_type};

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("kiln-oci-test/{prefix}-{}-{nanos}", std::process::id())
}

fn image_in(layout: &OciLayout, seed: &str) -> Manifest {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"author":"{seed}"}}"#
    )
    .into_bytes();
    let layer = format!("layer of {seed}").repeat(100).into_bytes();
    for b in [&config, &layer] {
        layout.write_blob(&Digest::sha256(b), b).unwrap();
    }
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(media_type::OCI_CONFIG, &config),
        layers: vec![Descriptor::of(media_type::OCI_LAYER_GZIP, &layer)],
        subject: None,
        annotations: None,
    });
    layout.put_manifest(&m, Some("v1")).unwrap();
    m
}

fn artifact(subject: &Manifest, artifact_type: &str, payload: &[u8]) -> (Manifest, Vec<Vec<u8>>) {
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: Some(artifact_type.into()),
        config: Descriptor::of(media_type::OCI_EMPTY, b"{}"),
        layers: vec![Descriptor::of("application/vnd.kiln.test.payload", payload)],
        subject: Some(subject.descriptor()),
        annotations: None,
    });
    (m, vec![b"{}".to_vec(), payload.to_vec()])
}

#[tokio::test]
async fn push_pull_referrers_and_mount_against_distribution() {
    let Some(reg) = kiln_testutil::registry() else {
        return;
    };
    let opts = RegistryOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let src = OciLayout::create(dir.path().join("src")).unwrap();
    let img = image_in(&src, "push-pull");
    let repo_a = unique("a");
    let a = RegistryStore::new(&reg, &repo_a, &opts).unwrap();

    // Push, then read back by tag and digest.
    let pushed = copy_image(&src, "v1", &a, Some("v1")).await.unwrap();
    assert_eq!(pushed.digest, img.digest);
    let back = a.resolve("v1").await.unwrap();
    assert_eq!(back.digest, img.digest);
    assert_eq!(back.bytes, img.bytes);
    assert_eq!(
        a.fetch_manifest(&img.digest).await.unwrap().bytes,
        img.bytes
    );
    assert_eq!(a.tags().await.unwrap(), vec!["v1".to_string()]);
    let ManifestKind::Image(m) = &back.kind else {
        panic!("not an image")
    };
    let layer = a.fetch_blob(&m.layers[0]).await.unwrap();
    assert_eq!(Digest::sha256(&layer), m.layers[0].digest);
    assert!(matches!(
        a.resolve("no-such-tag").await,
        Err(kiln_oci::OciError::NotFound(_))
    ));

    // Pull into a fresh layout.
    let out = OciLayout::create(dir.path().join("out")).unwrap();
    copy_image(&a, "v1", &out, Some("v1")).await.unwrap();
    assert_eq!(out.resolve_sync("v1").unwrap().digest, img.digest);

    // Referrers through the tag schema (distribution 2.8 has no referrers API).
    assert!(a.referrers(&img.digest, None).await.unwrap().is_empty());
    let (sig, blobs) = artifact(&img, "application/vnd.kiln.test.sig", b"signature one");
    let (sbom, blobs2) = artifact(&img, "application/vnd.kiln.test.sbom", b"an sbom");
    for (m, bs) in [(&sig, blobs), (&sbom, blobs2)] {
        for b in bs {
            a.push_blob(&Digest::sha256(&b), &b).await.unwrap();
        }
        a.push_manifest(m, None).await.unwrap();
    }
    let all = a.referrers(&img.digest, None).await.unwrap();
    let digests: Vec<&Digest> = all.iter().map(|d| &d.digest).collect();
    assert_eq!(digests, vec![&sig.digest, &sbom.digest]);
    assert_eq!(
        all[0].artifact_type.as_deref(),
        Some("application/vnd.kiln.test.sig")
    );
    let only = a
        .referrers(&img.digest, Some("application/vnd.kiln.test.sbom"))
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].digest, sbom.digest);
    assert!(a.tags().await.unwrap().contains(&img.digest.tag_form()));
    // Pushing the same referrer again does not duplicate it.
    a.push_manifest(&sig, None).await.unwrap();
    assert_eq!(a.referrers(&img.digest, None).await.unwrap().len(), 2);

    // Registry to registry in the same registry: the blobs are mounted.
    let repo_b = unique("b");
    let b = RegistryStore::new(&reg, &repo_b, &opts).unwrap();
    let actions = Mutex::new(Vec::new());
    let record = |e: CopyEvent<'_>| {
        if let CopyEvent::Blob { action, .. } = e {
            actions.lock().unwrap().push(action);
        }
    };
    let copied = copy_image_with_progress(&a, "v1", &b, Some("v2"), Some(&record))
        .await
        .unwrap();
    assert_eq!(copied.digest, img.digest);
    assert_eq!(
        *actions.lock().unwrap(),
        vec![BlobAction::Mounted, BlobAction::Mounted]
    );
    assert_eq!(b.resolve("v2").await.unwrap().digest, img.digest);
    // Copying again finds everything present.
    actions.lock().unwrap().clear();
    copy_image_with_progress(&a, "v1", &b, Some("v2"), Some(&record))
        .await
        .unwrap();
    assert_eq!(
        *actions.lock().unwrap(),
        vec![BlobAction::Present, BlobAction::Present]
    );
}

#[tokio::test]
async fn a_manifest_naming_missing_blobs_is_refused_by_the_registry() {
    let Some(reg) = kiln_testutil::registry() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = OciLayout::create(dir.path()).unwrap();
    let img = image_in(&src, "missing");
    let repo = unique("missing");
    let s = RegistryStore::new(&reg, &repo, &RegistryOptions::default()).unwrap();
    let err = s
        .push_manifest(&img, Some("v1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("PUT manifest") && err.contains("400"), "{err}");
    assert!(matches!(
        s.resolve("v1").await,
        Err(kiln_oci::OciError::NotFound(_))
    ));
}
