//! `kiln image copy|inspect|ls` end to end, against the real distribution registry of
//! `scripts/test`, with skopeo as the independent reader and writer.

use std::path::Path;
use std::process::{Command, Output};

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{Digest, Manifest, OciLayout, media_type};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("run kiln")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("kiln-cli-test/{prefix}-{}-{nanos}", std::process::id())
}

/// A layout holding one image (a real gzip tar layer) at tag `v1`, and an artifact
/// whose subject is that image.
fn build_layout(dir: &Path) -> (OciLayout, Manifest, Manifest) {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello.txt"), "hello from kiln\n").unwrap();
    let tar = dir.join("layer.tar");
    run(Command::new("tar")
        .args([
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
        ])
        .arg(&tar)
        .arg("-C")
        .arg(&files)
        .arg("hello.txt"));
    let diff_id = Digest::sha256(&std::fs::read(&tar).unwrap());
    run(Command::new("gzip").arg("-n").arg(&tar));
    let layer = std::fs::read(dir.join("layer.tar.gz")).unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/hello"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
    )
    .into_bytes();
    let layout = OciLayout::create(dir.join("layout")).unwrap();
    for b in [&config, &layer] {
        layout.write_blob(&Digest::sha256(b), b).unwrap();
    }
    let image = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(media_type::OCI_CONFIG, &config),
        layers: vec![Descriptor::of(media_type::OCI_LAYER_GZIP, &layer)],
        subject: None,
        annotations: None,
    });
    layout.put_manifest(&image, Some("v1")).unwrap();
    let payload = b"a signature, for the test";
    layout.write_blob(&Digest::sha256(b"{}"), b"{}").unwrap();
    layout
        .write_blob(&Digest::sha256(payload), payload)
        .unwrap();
    let art = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: Some("application/vnd.kiln.test.sig".into()),
        config: Descriptor::of(media_type::OCI_EMPTY, b"{}"),
        layers: vec![Descriptor::of("application/vnd.kiln.test.payload", payload)],
        subject: Some(image.descriptor()),
        annotations: None,
    });
    layout.put_manifest(&art, None).unwrap();
    (layout, image, art)
}

#[test]
fn copy_inspect_ls_with_registry_and_skopeo() {
    let Some(reg) = kiln_testutil::registry() else {
        return;
    };
    let Some(_) = kiln_testutil::program("skopeo") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (layout, image, art) = build_layout(dir.path());
    let src = format!("oci:{}:v1", layout.root().display());
    let repo = format!("{reg}/{}", unique("app"));

    // Layout -> registry: the digest is printed and skopeo reads the same bytes.
    let out = ok(
        kiln(&["image", "copy", &src, &format!("{repo}:v1")]),
        "copy",
    );
    assert_eq!(out.trim(), image.digest.to_string());
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repo}:v1"),
    ]));
    assert_eq!(Digest::sha256(&raw), image.digest);

    // skopeo copies it from the registry into a layout: same digest; kiln reads that.
    let sk = dir.path().join("skopeo-out");
    run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{repo}:v1"),
        &format!("oci:{}:v1", sk.display()),
    ]));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sk.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], image.digest.to_string());
    let ls: serde_json::Value = serde_json::from_str(&ok(
        kiln(&[
            "image",
            "ls",
            &format!("oci:{}", sk.display()),
            "--format",
            "json",
        ]),
        "ls layout",
    ))
    .unwrap();
    assert_eq!(ls[0]["tag"], "v1");
    assert_eq!(ls[0]["digest"], image.digest.to_string());

    // skopeo reads Kiln's layout and pushes from it.
    let repo2 = format!("{reg}/{}", unique("from-skopeo"));
    run(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &src,
        &format!("docker://{repo2}:v1"),
    ]));
    let insp: serde_json::Value = serde_json::from_str(&ok(
        kiln(&[
            "image",
            "inspect",
            &format!("{repo2}:v1"),
            "--format",
            "json",
        ]),
        "inspect",
    ))
    .unwrap();
    assert_eq!(insp["digest"], image.digest.to_string());
    assert_eq!(insp["mediaType"], media_type::OCI_MANIFEST);
    assert_eq!(insp["config"]["os"], "linux");
    assert_eq!(insp["layers"][0]["mediaType"], media_type::OCI_LAYER_GZIP);
    assert_eq!(insp["manifest"]["schemaVersion"], 2);

    // The artifact with a subject, copied by digest, is listed among the referrers
    // through the tag fallback; skopeo sees the referrers index at the tag.
    let out = ok(
        kiln(&[
            "image",
            "copy",
            &format!("oci:{}@{}", layout.root().display(), art.digest),
            &repo,
        ]),
        "copy artifact",
    );
    assert_eq!(out.trim(), art.digest.to_string());
    let insp: serde_json::Value = serde_json::from_str(&ok(
        kiln(&[
            "image",
            "inspect",
            &format!("{repo}:v1"),
            "--format",
            "json",
        ]),
        "inspect referrers",
    ))
    .unwrap();
    let refs = insp["referrers"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{insp}");
    assert_eq!(refs[0]["digest"], art.digest.to_string());
    assert_eq!(refs[0]["artifactType"], "application/vnd.kiln.test.sig");
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repo}:{}", image.digest.tag_form()),
    ]));
    let tag_index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(tag_index["mediaType"], media_type::OCI_INDEX);
    assert_eq!(tag_index["manifests"][0]["digest"], art.digest.to_string());
    let table = ok(kiln(&["image", "inspect", &format!("{repo}:v1")]), "table");
    assert!(
        table.contains(&art.digest.to_string()) && table.contains("Referrers (1)"),
        "{table}"
    );

    // ls of the repository: the tag and the referrers tag, with digests.
    let ls: serde_json::Value = serde_json::from_str(&ok(
        kiln(&["image", "ls", &repo, "--format", "json"]),
        "ls registry",
    ))
    .unwrap();
    let tags: Vec<(&str, &str)> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["tag"].as_str().unwrap(), r["digest"].as_str().unwrap()))
        .collect();
    assert!(
        tags.contains(&("v1", image.digest.to_string().as_str())),
        "{ls}"
    );
    assert!(
        tags.iter().any(|(t, _)| *t == image.digest.tag_form()),
        "{ls}"
    );

    // Registry -> layout and registry -> registry keep the tag.
    let back = dir.path().join("back");
    let out = ok(
        kiln(&[
            "image",
            "copy",
            &format!("{repo}:v1"),
            &format!("oci:{}", back.display()),
        ]),
        "pull",
    );
    assert_eq!(out.trim(), image.digest.to_string());
    assert_eq!(
        OciLayout::open(&back)
            .unwrap()
            .resolve_sync("v1")
            .unwrap()
            .digest,
        image.digest
    );
    let repo3 = format!("{reg}/{}", unique("r2r"));
    let out = ok(
        kiln(&["image", "copy", &format!("{repo}:v1"), &repo3]),
        "r2r",
    );
    assert_eq!(out.trim(), image.digest.to_string());
    let out = ok(kiln(&["image", "ls", &repo3]), "ls table");
    assert!(
        out.contains("v1") && out.contains(&image.digest.to_string()),
        "{out}"
    );
}

#[test]
fn layout_to_layout_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, image, _) = build_layout(dir.path());
    let dst = dir.path().join("copy");
    let out = ok(
        kiln(&[
            "image",
            "copy",
            &format!("oci:{}:v1", layout.root().display()),
            &format!("oci:{}:renamed", dst.display()),
        ]),
        "layout copy",
    );
    assert_eq!(out.trim(), image.digest.to_string());
    assert_eq!(
        OciLayout::open(&dst)
            .unwrap()
            .resolve_sync("renamed")
            .unwrap()
            .digest,
        image.digest
    );

    // A missing source layout is an error naming it, and creates nothing.
    let missing = dir.path().join("nope");
    let out = kiln(&["image", "inspect", &format!("oci:{}:v1", missing.display())]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope") && err.contains("not an OCI image layout"),
        "{err}"
    );
    assert!(!missing.exists());

    // An unknown tag, a bad reference, a digest as destination.
    let out = kiln(&[
        "image",
        "inspect",
        &format!("oci:{}:v9", layout.root().display()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("v9"));
    let out = kiln(&["image", "ls", "Registry.example/UPPER"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid image reference"));
    let out = kiln(&[
        "image",
        "copy",
        &format!("oci:{}:v1", layout.root().display()),
        &format!("oci:{}@{}", dst.display(), image.digest),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a digest"));

    // A registry that is not there: a clear error naming it, after bounded retries.
    let out = kiln(&["image", "ls", "127.0.0.1:1/app"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("127.0.0.1:1") && err.contains("attempts"),
        "{err}"
    );
}
