//! `kiln sbom` on a directory holding an rpm database (the fixtures of
//! crates/kiln-sbom/tests/fixtures/rpm, made by scripts/fixtures/make-rpmdb.sh): the rpm
//! packages are listed in every format, the SPDX and CycloneDX documents validate with the
//! independent validators, and a corrupt database is a warning, not a failure.

use std::fs;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run kiln")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kiln failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A root with Fedora's os-release and the fixture `file` (or `data`) at `at`.
fn root(file: &str, at: &str, data: Option<&[u8]>) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::write(r.join("etc/os-release"), "ID=fedora\nVERSION_ID=40\n").unwrap();
    let dest = r.join(at);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let bytes = match data {
        Some(d) => d.to_vec(),
        None => fs::read(
            kiln_testutil::workspace_root()
                .join("crates/kiln-sbom/tests/fixtures/rpm")
                .join(file),
        )
        .unwrap(),
    };
    fs::write(dest, bytes).unwrap();
    t
}

#[test]
fn lists_rpm_packages_in_every_format() {
    for (file, at) in [
        ("rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite"),
        ("Packages", "var/lib/rpm/Packages"),
        ("Packages.db", "usr/lib/sysimage/rpm/Packages.db"),
    ] {
        let t = root(file, at, None);
        let src = format!("dir:{}", t.path().display());
        let table = ok(&kiln(&["sbom", &src]));
        for name in ["kiln-app ", "kiln-app-data ", "kiln-base ", "kiln-big "] {
            assert!(
                table
                    .lines()
                    .any(|l| l.starts_with(name) && l.trim_end().ends_with("rpm")),
                "{file}: {name} missing in\n{table}"
            );
        }
        let json: serde_json::Value =
            serde_json::from_str(&ok(&kiln(&["sbom", &src, "--format", "json"]))).unwrap();
        let app = json["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "kiln-app")
            .unwrap();
        assert_eq!(app["version"], "2:2.3.4-5.fc40");
        assert_eq!(
            app["purl"],
            "pkg:rpm/fedora/kiln-app@2.3.4-5.fc40?arch=noarch&distro=fedora-40&epoch=2&upstream=kiln-app-2.3.4-5.fc40.src.rpm"
        );
        assert_eq!(app["source_name"], "kiln-app");
    }
}

#[test]
fn spdx_and_cyclonedx_validate() {
    let t = root("rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite", None);
    let src = format!("dir:{}", t.path().display());
    let spdx = ok(&kiln(&["sbom", &src, "--format", "spdx-json"]));
    let cdx = ok(&kiln(&["sbom", &src, "--format", "cyclonedx-json"]));
    assert!(spdx.contains("pkg:rpm/fedora/kiln-base@1.0-1"), "{spdx}");
    assert!(cdx.contains("pkg:rpm/fedora/kiln-base@1.0-1"), "{cdx}");
    let Some(py) = kiln_testutil::python() else {
        return;
    };
    let sp = t.path().join("sbom.spdx.json");
    fs::write(&sp, &spdx).unwrap();
    kiln_testutil::assert_spdx_valid(&py, &sp);
    let cp = t.path().join("sbom.cdx.json");
    fs::write(&cp, &cdx).unwrap();
    kiln_testutil::assert_cyclonedx_valid(&py, &cp);
}

#[test]
fn corrupt_database_is_a_warning() {
    let t = root(
        "Packages.db",
        "usr/lib/sysimage/rpm/Packages.db",
        Some(b"RpmP garbage"),
    );
    let dpkg = t.path().join("var/lib/dpkg");
    fs::create_dir_all(&dpkg).unwrap();
    fs::write(
        dpkg.join("status"),
        "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.2\n",
    )
    .unwrap();
    let o = kiln(&["sbom", &format!("dir:{}", t.path().display())]);
    let table = ok(&o);
    assert!(table.lines().any(|l| l.starts_with("zlib1g ")), "{table}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: /usr/lib/sysimage/rpm/Packages.db: unreadable rpm database"),
        "{err}"
    );
}
