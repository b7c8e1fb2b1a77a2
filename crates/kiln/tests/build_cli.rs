//! End-to-end tests of `kiln build`: reproducibility across checkouts, independent readers
//! of the layout (skopeo, umoci), Dockerfile builds through buildah, publishing, and the
//! bad-input cases (wrong field in kiln.yaml, failing `run:`, missing layer source,
//! buildah absent).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");
/// The digest of examples/hello with SOURCE_DATE_EPOCH unset.
const HELLO_DIGEST: &str =
    "sha256:6feda5278431be91fbbe3b95c1801e86123f12fcac6bf51aeff9896985ee6c4d";

fn example(name: &str) -> PathBuf {
    kiln_testutil::workspace_root().join("examples").join(name)
}

/// Copies `src` to `dst` (modes kept), leaving out any `.kiln` directory.
fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_name() == ".kiln" {
            continue;
        }
        let to = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&e.path(), &to);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &to).unwrap();
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn kiln(dir: &Path, args: &[&str]) -> Output {
    Command::new(KILN)
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `kiln build --format json` in `dir` and returns the JSON document.
fn build_json(dir: &Path) -> serde_json::Value {
    let out = kiln(dir, &["build", "--format", "json"]);
    assert!(
        out.status.success(),
        "kiln build failed in {}: {}",
        dir.display(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tags(layout: &Path) -> Vec<String> {
    let Ok(bytes) = fs::read(layout.join("index.json")) else {
        return Vec::new();
    };
    let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(str::to_string)
        .collect()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn hello_is_reproducible_across_checkouts_and_sensitive_to_one_byte() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let pa = a.path().join("hello");
    let pb = b.path().join("some/deeper/checkout");
    copy_tree(&example("hello"), &pa);
    copy_tree(&example("hello"), &pb);
    // Different host modes and times must not matter: only the executable bit does.
    fs::set_permissions(pb.join("www/style.css"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(pb.join("hello.sh"), fs::Permissions::from_mode(0o700)).unwrap();

    let ja = build_json(&pa);
    // The other copy is built from elsewhere, with --dir and table output.
    let out = kiln(a.path(), &["build", "--dir", pb.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let digest = ja["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{ja}");
    assert_eq!(
        table.trim(),
        format!("oci:{}/.kiln/oci:0.1.0 {digest}", pb.display()),
        "same digest from another path"
    );
    assert_eq!(ja["reference"], "oci:.kiln/oci:0.1.0");
    // Pinned: any machine, any checkout path, any umask gives this digest. If you changed
    // examples/hello, put the new digest here (after checking the change was meant).
    assert_eq!(
        digest, HELLO_DIGEST,
        "examples/hello built to another digest"
    );
    assert_eq!(
        ja["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(ja["layers"].as_array().unwrap().len(), 2);
    assert_eq!(tags(&pa.join(".kiln/oci")), ["0.1.0"]);

    // Building again changes nothing.
    assert_eq!(build_json(&pa)["digest"], ja["digest"]);

    // One byte changed in one input: another digest.
    let css = pb.join("www/style.css");
    let mut bytes = fs::read(&css).unwrap();
    bytes[0] ^= 1;
    fs::write(&css, bytes).unwrap();
    assert_ne!(build_json(&pb)["digest"], ja["digest"]);

    // SOURCE_DATE_EPOCH changes every time in the image, hence the digest.
    let out = Command::new(KILN)
        .args(["build", "--format", "json"])
        .current_dir(&pa)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(j["digest"], ja["digest"]);
}

#[test]
fn skopeo_and_umoci_read_the_layout() {
    let (Some(skopeo), Some(umoci)) = (
        kiln_testutil::program("skopeo"),
        kiln_testutil::program("umoci"),
    ) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("hello");
    copy_tree(&example("hello"), &p);
    let j = build_json(&p);
    let digest = j["digest"].as_str().unwrap();
    let layout = p.join(".kiln/oci");

    let inspect =
        run_ok(Command::new(&skopeo).args(["inspect", &format!("oci:{}:0.1.0", layout.display())]));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Digest"], digest);
    assert_eq!(inspect["Architecture"], "amd64");
    let copy = t.path().join("copy");
    run_ok(Command::new(&skopeo).args([
        "copy",
        &format!("oci:{}:0.1.0", layout.display()),
        &format!("oci:{}:t", copy.display()),
    ]));
    let copied = run_ok(Command::new(&skopeo).args([
        "inspect",
        "--raw",
        &format!("oci:{}:t", copy.display()),
    ]));
    let kiln_manifest = fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    assert_eq!(
        copied.as_bytes(),
        kiln_manifest,
        "skopeo copied the manifest unchanged"
    );

    let bundle = t.path().join("bundle");
    run_ok(Command::new(&umoci).args([
        "unpack",
        "--rootless",
        "--image",
        &format!("{}:0.1.0", layout.display()),
        bundle.to_str().unwrap(),
    ]));
    let rootfs = bundle.join("rootfs");
    let mode = |p: &str| fs::metadata(rootfs.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        fs::read(rootfs.join("usr/local/bin/hello")).unwrap(),
        fs::read(p.join("hello.sh")).unwrap()
    );
    assert_eq!(mode("usr/local/bin/hello"), 0o755);
    assert_eq!(mode("srv/www/index.html"), 0o640);
    assert_eq!(mode("srv/www/style.css"), 0o644);
    assert_eq!(
        fs::read(rootfs.join("srv/www/style.css")).unwrap(),
        fs::read(p.join("www/style.css")).unwrap()
    );
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"][0], "/usr/local/bin/hello");
    assert_eq!(config["process"]["cwd"], "/srv/www");
    let env = config["process"]["env"].as_array().unwrap();
    assert!(
        env.iter().any(|e| e == "GREETING=Hello from Kiln"),
        "{env:?}"
    );
}

#[test]
fn containerfile_with_run_step_builds_through_buildah() {
    let (Some(_), Some(busybox), Some(umoci)) = (
        kiln_testutil::program("buildah"),
        kiln_testutil::program("busybox"),
        kiln_testutil::program("umoci"),
    ) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("cf");
    copy_tree(&example("containerfile"), &p);
    run_ok(Command::new(p.join("make-base.sh")).env("BUSYBOX", &busybox));
    let j = build_json(&p);
    let digest = j["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"));
    let layout = p.join(".kiln/oci");
    assert_eq!(tags(&layout), ["0.1.0"]);
    let bundle = t.path().join("bundle");
    run_ok(Command::new(&umoci).args([
        "unpack",
        "--rootless",
        "--image",
        &format!("{}:0.1.0", layout.display()),
        bundle.to_str().unwrap(),
    ]));
    assert_eq!(
        fs::read_to_string(bundle.join("rootfs/out/GREETING.txt")).unwrap(),
        "HELLO FROM A CONTAINERFILE\n",
        "the RUN step ran"
    );
    assert!(
        !bundle.join("rootfs/.kiln").exists(),
        ".kiln stays out of the context"
    );
    // buildah's fixed timestamp: the same Containerfile gives the same image again.
    assert_eq!(build_json(&p)["digest"], digest);
}

#[test]
fn missing_buildah_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("cf");
    copy_tree(&example("containerfile"), &p);
    let out = Command::new(KILN)
        .arg("build")
        .current_dir(&p)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("buildah is not installed"), "{err}");
}

fn project(yaml: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("kiln.yaml"), yaml).unwrap();
    fs::write(t.path().join("a.txt"), "a\n").unwrap();
    t
}

#[test]
fn wrong_field_in_kiln_yaml_names_line_and_field() {
    let t = project(
        "build:\n  layers:\n    - files:\n        - src: a.txt\n          destination: /a.txt\n",
    );
    let out = kiln(t.path(), &["build"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("kiln.yaml"), "{err}");
    assert!(err.contains("unknown field `destination`"), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(!t.path().join(".kiln").exists(), "nothing written");
}

#[test]
fn failing_run_command_stops_the_build_and_tags_nothing() {
    let t = project(
        "build:\n  run: echo compiling; echo broken >&2; exit 7\n  layers:\n    - files: [ { src: a.txt, dest: /a.txt } ]\n",
    );
    let out = kiln(t.path(), &["build", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("compiling") && err.contains("broken"),
        "output shown: {err}"
    );
    assert!(err.contains("failed") && err.contains('7'), "{err}");
    assert!(out.stdout.is_empty());
    assert!(tags(&t.path().join(".kiln/oci")).is_empty());

    // A run that succeeds produces inputs for the layers.
    let t = project(
        "build:\n  run: [sh, -c, 'mkdir -p out && echo made > out/x']\n  layers:\n    - files: [ { src: out/x, dest: /x } ]\n",
    );
    let out = kiln(t.path(), &["build"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(tags(&t.path().join(".kiln/oci")), ["latest"]);
}

#[test]
fn missing_layer_source_is_a_clear_error() {
    let t = project("build:\n  layers:\n    - files: [ { src: nope.txt, dest: /nope.txt } ]\n");
    let out = kiln(t.path(), &["build"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("nope.txt") && err.contains("does not exist"),
        "{err}"
    );
    assert!(tags(&t.path().join(".kiln/oci")).is_empty());
}

#[test]
fn builds_on_a_layout_base_and_publishes_to_a_layout() {
    let base = project(
        "image: { tag: base }\nbuild:\n  layers:\n    - files: [ { src: a.txt, dest: /etc/a.txt } ]\n  config: { env: { A: '1' }, cmd: [/bin/true] }\n",
    );
    let out = kiln(base.path(), &["build"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pub_dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "image: {{ tag: app }}\nbuild:\n  base: oci:{}/.kiln/oci:base\n  layers:\n    - files: [ {{ src: a.txt, dest: /b.txt }} ]\n  config: {{ env: {{ B: '2' }} }}\npublish: {{ image: 'oci:{}/out:v1' }}\n",
        base.path().display(),
        pub_dir.path().display()
    );
    let app = project(&yaml);
    let j = build_json(app.path());
    assert_eq!(j["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        j["published"],
        format!(
            "oci:{}/out:v1@{}",
            pub_dir.path().display(),
            j["digest"].as_str().unwrap()
        )
    );
    assert_eq!(tags(&pub_dir.path().join("out")), ["v1"]);

    // A base that is not there is named in the error.
    let bad = project("build:\n  base: oci:missing-layout:x\n  layers: []\n");
    let out = kiln(bad.path(), &["build"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("build.base") && err.contains("missing-layout"),
        "{err}"
    );
}

#[test]
fn publishes_to_a_registry() {
    let (Some(registry), Some(skopeo)) =
        (kiln_testutil::registry(), kiln_testutil::program("skopeo"))
    else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("hello");
    copy_tree(&example("hello"), &p);
    let yaml = fs::read_to_string(p.join("kiln.yaml")).unwrap();
    fs::write(
        p.join("kiln.yaml"),
        format!("{yaml}publish:\n  image: {registry}/kiln-build-test/hello:0.1.0\n"),
    )
    .unwrap();
    let j = build_json(&p);
    let digest = j["digest"].as_str().unwrap();
    let inspect = run_ok(Command::new(&skopeo).args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{registry}/kiln-build-test/hello:0.1.0"),
    ]));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Digest"], digest);
    let copy = t.path().join("copy");
    run_ok(Command::new(&skopeo).args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{registry}/kiln-build-test/hello:0.1.0"),
        &format!("oci:{}:t", copy.display()),
    ]));
    let copied =
        run_ok(Command::new(&skopeo).args(["inspect", &format!("oci:{}:t", copy.display())]));
    let copied: serde_json::Value = serde_json::from_str(&copied).unwrap();
    assert_eq!(copied["Digest"], digest, "skopeo copy kept the digest");

    // The published image serves as the base of another build, pulled from the registry.
    let app = project(&format!(
        "build:\n  base: {registry}/kiln-build-test/hello:0.1.0\n  layers:\n    - files: [ {{ src: a.txt, dest: /a.txt }} ]\n"
    ));
    let j = build_json(app.path());
    let layers = j["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let app_layout = app.path().join(".kiln/oci");
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(
            app_layout
                .join("blobs/sha256")
                .join(&j["digest"].as_str().unwrap()[7..]),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.digest"],
        digest
    );
}
