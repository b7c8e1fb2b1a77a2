//! Each cataloger on real-format inputs: a Debian root filesystem (dpkg stanzas copied from a
//! Debian 12 machine, real dist-info and node package.json files) and a source tree with the
//! lockfiles of every ecosystem.

mod common;

use common::{catalog_dir, fixture};
use kiln_sbom::{Package, PackageType};

fn find<'a>(pkgs: &'a [Package], kind: PackageType, name: &str) -> &'a Package {
    pkgs.iter()
        .find(|p| p.kind == kind && p.name == name)
        .unwrap_or_else(|| {
            panic!(
                "{name} ({kind:?}) not found in {:?}",
                pkgs.iter().map(|p| &p.name).collect::<Vec<_>>()
            )
        })
}

#[test]
fn debian_rootfs() {
    let root = common::debian_root();
    let out = catalog_dir(root.path());
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let c = &out.catalog;
    let d = c.distro.as_ref().expect("distro");
    assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
    let debs: Vec<_> = c
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Deb)
        .collect();
    assert_eq!(debs.len(), 10);
    let libc = find(&c.packages, PackageType::Deb, "libc6");
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert!(
        libc.purl.starts_with(&format!(
            "pkg:deb/debian/libc6@{}?arch=amd64&distro=debian-12&upstream=glibc",
            libc.version.replace('+', "%2B")
        )),
        "{}",
        libc.purl
    );
    assert_eq!(libc.locations[0].path, "/var/lib/dpkg/status");
    // bash depends on base-files and debconf, both present.
    let bash = find(&c.packages, PackageType::Deb, "bash");
    let base = find(&c.packages, PackageType::Deb, "base-files");
    // Licenses from the packages' copyright files (machine-readable and prose references).
    let bash_l = bash.license.as_deref().unwrap_or("");
    assert!(
        bash_l.contains("GPL-3.0-or-later") && bash_l.contains("GPL-2.0-or-later"),
        "{bash_l}"
    );
    assert_eq!(
        find(&c.packages, PackageType::Deb, "zlib1g")
            .license
            .as_deref(),
        Some("Zlib")
    );
    assert!(bash.depends_on.contains(&base.id));
    // six is installed by python3-six (dpkg owns its egg-info): not reported again.
    assert!(
        !c.packages
            .iter()
            .any(|p| p.kind == PackageType::Pypi && p.name == "six")
    );
    let idna = find(&c.packages, PackageType::Pypi, "idna");
    assert_eq!(idna.license.as_deref(), Some("BSD-3-Clause"));
    assert_eq!(idna.purl, "pkg:pypi/idna@3.20");
    find(&c.packages, PackageType::Pypi, "attrs");
    let semver = find(&c.packages, PackageType::Npm, "semver");
    assert_eq!(semver.license.as_deref(), Some("ISC"));
    find(&c.packages, PackageType::Npm, "abbrev");
}

#[test]
fn lockfiles_of_every_ecosystem() {
    let out = catalog_dir(&fixture("project"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let p = &out.catalog.packages;
    let purls: Vec<&str> = p.iter().map(|p| p.purl.as_str()).collect();
    for want in [
        "pkg:npm/debug@4.3.4",
        "pkg:npm/ms@2.1.2",
        "pkg:npm/web@1.0.0",
        "pkg:npm/%40types/node@20.11.5",
        "pkg:npm/undici-types@5.26.5",
        "pkg:npm/chalk@5.3.0",
        "pkg:cargo/serde_json@1.0.117",
        "pkg:cargo/svc@0.1.0",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/golang.org/x/sys@v0.20.0",
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/urllib3@2.2.1",
        "pkg:pypi/certifi@2024.2.2",
        "pkg:pypi/charset-normalizer@3.3.2",
        "pkg:pypi/idna@3.7",
        "pkg:pypi/pytest@8.2.0",
        "pkg:pypi/click@8.1.7",
        "pkg:gem/rack@3.0.8",
        "pkg:gem/rack-test@2.1.0",
        "pkg:composer/monolog/monolog@3.5.0",
        "pkg:composer/psr/log@3.0.0",
        "pkg:nuget/Newtonsoft.Json@13.0.3",
    ] {
        assert!(purls.contains(&want), "{want} missing from {purls:#?}");
    }
    // Not pinned, the uv project itself, a .NET project reference: not packages.
    assert!(
        !p.iter()
            .any(|p| p.name == "flask" || p.name == "app" || p.name == "App.Core")
    );
    let serde_json = find(p, PackageType::Cargo, "serde_json");
    let serde = find(p, PackageType::Cargo, "serde");
    assert!(serde_json.depends_on.contains(&serde.id));
    let debug = find(p, PackageType::Npm, "debug");
    let ms = find(p, PackageType::Npm, "ms");
    assert!(debug.depends_on.contains(&ms.id));
    assert_eq!(debug.license.as_deref(), Some("MIT"));
    let mono = find(p, PackageType::Composer, "monolog/monolog");
    assert_eq!(mono.license.as_deref(), Some("MIT"));
}

#[test]
fn same_input_same_catalog() {
    let a = catalog_dir(&fixture("project")).catalog;
    let b = catalog_dir(&fixture("project")).catalog;
    assert_eq!(a, b);
}
