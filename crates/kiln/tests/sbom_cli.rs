//! `kiln sbom` end to end: a directory, an image in a local OCI layout (built by buildah
//! from a Debian fixture rootfs), the same image in a registry (pushed by skopeo), every
//! output format, warnings on bad input and errors on a bad source.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run kiln")
}

fn fixture(name: &str) -> PathBuf {
    kiln_testutil::workspace_root()
        .join("crates/kiln-sbom/tests/fixtures")
        .join(name)
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kiln failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn directory_in_every_format() {
    let dir = fixture("debian");
    let src = format!("dir:{}", dir.display());
    let table = ok(&kiln(&["sbom", &src]));
    assert!(table.starts_with("NAME"));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("libc6 ") && l.ends_with("deb")),
        "{table}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&ok(&kiln(&["sbom", &src, "--format", "json"]))).unwrap();
    assert_eq!(json["distro"]["id"], "debian");
    assert!(
        json["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "idna" && p["type"] == "pypi")
    );

    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("sbom.spdx.json");
    let o = kiln(&[
        "sbom",
        &src,
        "--format",
        "spdx-json",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(ok(&o).is_empty(), "data went to stdout with --output");
    let spdx: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert_eq!(spdx["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    // Same input, same SOURCE_DATE_EPOCH: the same bytes.
    let a = ok(&kiln(&["sbom", &src, "--format", "cyclonedx-json"]));
    let b = ok(&kiln(&["sbom", &src, "--format", "cyclonedx-json"]));
    assert_eq!(a, b);
    let cdx: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(cdx["specVersion"], "1.6");
}

#[test]
fn bad_input_warns_and_bad_source_fails() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("app")).unwrap();
    std::fs::write(t.path().join("app/package-lock.json"), "{ truncated").unwrap();
    std::fs::write(t.path().join("app/requirements.txt"), "six==1.16.0\n").unwrap();
    let o = kiln(&["sbom", t.path().to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(json["packages"][0]["name"], "six");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: /app/package-lock.json: not valid JSON"),
        "{err}"
    );

    let o = kiln(&["sbom", "dir:/nonexistent/kiln-sbom-test"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/kiln-sbom-test"));
}

/// Builds a one-layer image of the Debian fixture with buildah into `layout` (tag `v1`).
fn build_image(work: &Path, layout: &Path) -> Option<()> {
    let buildah = kiln_testutil::program("buildah")?;
    let root = work.join("storage");
    let run = work.join("run");
    let b = |args: &[&str]| {
        let o = Command::new(&buildah)
            .arg("--root")
            .arg(&root)
            .arg("--runroot")
            .arg(&run)
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("run buildah");
        assert!(
            o.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let c = b(&["from", "scratch"]);
    b(&[
        "copy",
        &c,
        &format!("{}/", fixture("debian").display()),
        "/",
    ]);
    b(&[
        "commit",
        "-q",
        "--timestamp",
        "0",
        &c,
        "localhost/kiln-sbom-test:1",
    ]);
    b(&[
        "push",
        "-q",
        "localhost/kiln-sbom-test:1",
        &format!("oci:{}:v1", layout.display()),
    ]);
    b(&["rm", &c]);
    Some(())
}

#[test]
fn image_in_layout_and_registry() {
    let t = tempfile::tempdir().unwrap();
    let layout = t.path().join("layout");
    if build_image(t.path(), &layout).is_none() {
        return;
    }
    let src = format!("oci:{}:v1", layout.display());
    let cdx: serde_json::Value =
        serde_json::from_str(&ok(&kiln(&["sbom", &src, "--format", "cyclonedx-json"]))).unwrap();
    assert_eq!(cdx["metadata"]["component"]["type"], "container");
    let comps = cdx["components"].as_array().unwrap();
    let libc = comps.iter().find(|c| c["name"] == "libc6").expect("libc6");
    assert!(
        libc["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "kiln:location:0:layer"
                && p["value"].as_str().unwrap().starts_with("sha256:"))
    );
    assert!(
        comps
            .iter()
            .any(|c| c["type"] == "operating-system" && c["name"] == "debian")
    );

    // The same image as a docker-archive written by skopeo.
    let from_layout: serde_json::Value =
        serde_json::from_str(&ok(&kiln(&["sbom", &src, "--format", "json"]))).unwrap();
    let Some(skopeo) = kiln_testutil::program("skopeo") else {
        return;
    };
    let docker = t.path().join("docker.tar");
    let o = Command::new(&skopeo)
        .args(["copy", "-q"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker-archive:{}:kiln/test:v1", docker.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let from_docker: serde_json::Value = serde_json::from_str(&ok(&kiln(&[
        "sbom",
        // No prefix: detected as a docker archive by its entries.
        docker.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    let purls = |v: &serde_json::Value| -> Vec<String> {
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["purl"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(purls(&from_docker), purls(&from_layout));

    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let o = Command::new(skopeo)
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{registry}/kiln-sbom-cli:v1"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let from_registry: serde_json::Value = serde_json::from_str(&ok(&kiln(&[
        "sbom",
        &format!("registry:{registry}/kiln-sbom-cli:v1"),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(from_registry["packages"], from_layout["packages"]);
    assert_eq!(from_registry["image_digest"], from_layout["image_digest"]);
}
