//! Test helpers shared by Kiln's crates (a dev-dependency only).
//!
//! `scripts/test` installs and starts what the tests need and exports where it is:
//! `KILN_TEST_REGISTRY` (a distribution registry on loopback), `KILN_TEST_PYTHON` (a
//! Python with the independent validators), `KILN_TEST_NODE_MODULES`, and
//! `KILN_REQUIRE_SERVICES=1`, which turns a missing service into a test failure instead
//! of a skip. A plain `cargo test` skips those tests with a message naming what is missing.

pub mod fault;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// Whether the test script asked for every service to be present.
pub fn services_required() -> bool {
    std::env::var("KILN_REQUIRE_SERVICES").as_deref() == Ok("1")
}

fn missing(what: &str) -> Option<PathBuf> {
    if services_required() {
        panic!("{what} is required (KILN_REQUIRE_SERVICES=1) but missing");
    }
    eprintln!("skipping: {what} is missing (run scripts/test to provide it)");
    None
}

/// `../shared/vectors/<sub>` beside the project, or `None` (with a message) when the
/// shared folder is absent, as in a user's clone.
pub fn shared_vectors(sub: &str) -> Option<PathBuf> {
    let p = workspace_root().join("../shared/vectors").join(sub);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} is absent (the shared test vectors are not beside this clone)",
            p.display()
        );
        None
    }
}

/// `../shared/<sub>` beside the project, or `None` with a message.
pub fn shared(sub: &str) -> Option<PathBuf> {
    let p = workspace_root().join("../shared").join(sub);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

/// The `HOST:PORT` of the test registry.
pub fn registry() -> Option<String> {
    match std::env::var("KILN_TEST_REGISTRY") {
        Ok(r) if !r.is_empty() => Some(r),
        _ => missing("a test registry (KILN_TEST_REGISTRY)").map(|_| String::new()),
    }
}

/// The base URL of the test PostgreSQL server (`KILN_TEST_POSTGRES`).
pub fn postgres() -> Option<String> {
    match std::env::var("KILN_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => missing("a test PostgreSQL (KILN_TEST_POSTGRES)").map(|_| String::new()),
    }
}

/// Copies a project directory (an example) to `to`, leaving out its `.kiln/` state.
pub fn copy_project(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() == ".kiln" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_project(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A Python interpreter with the validators of scripts/requirements-test.txt.
pub fn python() -> Option<PathBuf> {
    match std::env::var("KILN_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => missing("the validators' Python (KILN_TEST_PYTHON)"),
    }
}

/// A `node_modules` directory with the npm packages of scripts/node.
pub fn node_modules() -> Option<PathBuf> {
    match std::env::var("KILN_TEST_NODE_MODULES") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => missing("the npm test packages (KILN_TEST_NODE_MODULES)"),
    }
}

/// Whether a program is on PATH; if not, a skip (or a failure under the test script).
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    missing(&format!("the program {name}"))
}

/// The path of the built `kiln` binary for CLI tests in the `kiln` crate
/// (pass `env!("CARGO_BIN_EXE_kiln")`); kept here so other helpers can grow around it.
pub fn bin(path: &str) -> PathBuf {
    PathBuf::from(path)
}

/// Validates the SPDX JSON file at `path` with `pyspdxtools -i` from the test venv of
/// `python` (see [`python`]); panics with the tool's output unless it passes silently.
pub fn assert_spdx_valid(python: &Path, path: &Path) {
    let o = std::process::Command::new(
        python
            .parent()
            .unwrap_or(Path::new("."))
            .join("pyspdxtools"),
    )
    .arg("-i")
    .arg(path)
    .output()
    .expect("run pyspdxtools");
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "pyspdxtools: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Validates the CycloneDX JSON file at `path` with cyclonedx-python-lib's strict JSON
/// validator, for the spec version the document declares; panics with its errors.
pub fn assert_cyclonedx_valid(python: &Path, path: &Path) {
    let script = "import json,sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\ntext=open(sys.argv[1]).read()\nerr=JsonStrictValidator(SchemaVersion.from_version(json.loads(text)['specVersion'])).validate_str(text)\nprint(err or 'valid')\nsys.exit(1 if err else 0)\n";
    let o = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("run python");
    assert!(
        o.status.success(),
        "CycloneDX validator: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
