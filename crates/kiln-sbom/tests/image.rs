//! Image sources through the kiln-oci filesystem view: packages attributed to the layer that
//! added them, whiteouts honoured; the SPDX and CycloneDX outputs of this Debian-based image
//! validate with `pyspdxtools` and cyclonedx-python-lib's strict JSON validator; the
//! documents read back into the same packages.

mod common;

use std::process::Command;

use common::{Item, files_under, fixture, layer, make_image};
use kiln_sbom::format::{self, WriteOptions};
use kiln_sbom::source::image::ImageSource;
use kiln_sbom::{Catalog, PackageType};

/// A two-layer Debian image: the fixture rootfs, then a layer that installs one more
/// package (new status, new info/*.list), adds a Python package and deletes a node one.
fn debian_image(dir: &std::path::Path) -> (Catalog, Vec<String>) {
    let root = common::debian_root();
    let base: Vec<(String, Vec<u8>)> = files_under(root.path());
    let base_items: Vec<Item> = base.iter().map(|(p, d)| Item::File(p, d.clone())).collect();
    let mut status = std::fs::read(fixture("debian/var/lib/dpkg/status")).unwrap();
    status.extend_from_slice(
        b"\nPackage: hello\nStatus: install ok installed\nPriority: optional\nSection: devel\nInstalled-Size: 280\nMaintainer: Santiago Vila <sanvila@debian.org>\nArchitecture: amd64\nVersion: 2.10-3\nDepends: libc6 (>= 2.34)\nDescription: example package based on GNU hello\n",
    );
    let top = vec![
        Item::File("/var/lib/dpkg/status", status),
        Item::File(
            "/var/lib/dpkg/info/hello.list",
            b"/.\n/usr\n/usr/bin\n/usr/bin/hello\n".to_vec(),
        ),
        Item::File(
            "/usr/local/lib/python3.11/dist-packages/six-1.17.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: six\nVersion: 1.17.0\nLicense: MIT\n".to_vec(),
        ),
        Item::Whiteout("/usr/lib/node_modules/abbrev"),
    ];
    let layers = vec![layer(&base_items), layer(&top)];
    let digests = make_image(dir, "v1", &layers);
    let mut src = ImageSource::open_layout(&format!("oci:{}:v1", dir.display())).unwrap();
    let digest = src.digest().to_string();
    let out = kiln_sbom::catalog_source(&mut src, "oci:image").unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let mut c = out.catalog;
    c.image_digest = Some(digest);
    (c, digests)
}

#[test]
fn layers_and_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let (c, layers) = debian_image(t.path());
    let get = |k: PackageType, n: &str| c.packages.iter().find(|p| p.kind == k && p.name == n);
    let hello = get(PackageType::Deb, "hello").expect("hello");
    assert_eq!(
        hello.locations[0].layer.as_deref(),
        Some(layers[1].as_str())
    );
    let libc = get(PackageType::Deb, "libc6").unwrap();
    // The status file comes from layer 1, but libc6 has no info list in the fixture: the
    // status file's layer is the best known.
    assert_eq!(libc.locations[0].layer.as_deref(), Some(layers[1].as_str()));
    assert!(hello.depends_on.contains(&libc.id));
    let zlib = get(PackageType::Deb, "zlib1g").unwrap();
    assert_eq!(zlib.locations[0].layer.as_deref(), Some(layers[0].as_str()));
    assert_eq!(
        get(PackageType::Pypi, "six").unwrap().locations[0]
            .layer
            .as_deref(),
        Some(layers[1].as_str())
    );
    assert!(
        get(PackageType::Npm, "abbrev").is_none(),
        "whited-out package reported"
    );
    assert!(get(PackageType::Npm, "semver").is_some());
}

fn opts() -> WriteOptions {
    WriteOptions {
        created: 1_700_000_000,
        tool_version: "0.1.0".into(),
    }
}

#[test]
fn spdx_and_cyclonedx_validate_and_read_back() {
    let t = tempfile::tempdir().unwrap();
    let (c, _) = debian_image(&t.path().join("layout"));
    let spdx = format::spdx::write(&c, &opts());
    let cdx = format::cyclonedx::write(&c, &opts());
    assert_eq!(
        spdx,
        format::spdx::write(&c, &opts()),
        "SPDX output is not deterministic"
    );
    assert_eq!(
        cdx,
        format::cyclonedx::write(&c, &opts()),
        "CycloneDX output is not deterministic"
    );
    for text in [&spdx, &cdx] {
        let back = format::read(text.as_bytes(), "doc").unwrap();
        assert_eq!(back.distro.as_ref().map(|d| d.id.as_str()), Some("debian"));
        let mut a: Vec<(&str, &str, PackageType)> = c
            .packages
            .iter()
            .map(|p| (p.purl.as_str(), p.version.as_str(), p.kind))
            .collect();
        let mut b: Vec<(&str, &str, PackageType)> = back
            .packages
            .iter()
            .map(|p| (p.purl.as_str(), p.version.as_str(), p.kind))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let libc = back.packages.iter().find(|p| p.name == "libc6").unwrap();
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        let hello = back.packages.iter().find(|p| p.name == "hello").unwrap();
        assert!(hello.depends_on.contains(&libc.id));
    }
    let kiln = format::kiln::write(&c, &[]);
    assert_eq!(format::read(kiln.as_bytes(), "kiln").unwrap(), c);

    let Some(py) = kiln_testutil::python() else {
        return;
    };
    let sp = t.path().join("sbom.spdx.json");
    std::fs::write(&sp, &spdx).unwrap();
    kiln_testutil::assert_spdx_valid(&py, &sp);
    let cp = t.path().join("sbom.cdx.json");
    std::fs::write(&cp, &cdx).unwrap();
    kiln_testutil::assert_cyclonedx_valid(&py, &cp);
}

#[test]
fn reads_syft_documents() {
    let Some(py) = kiln_testutil::python() else {
        return;
    };
    let syft = py.parent().unwrap().join("syft");
    let t = tempfile::tempdir().unwrap();
    let spdx = t.path().join("s.spdx.json");
    let cdx = t.path().join("s.cdx.json");
    let o = Command::new(&syft)
        .arg(format!("dir:{}", fixture("debian").display()))
        .arg("-o")
        .arg(format!("spdx-json={}", spdx.display()))
        .arg("-o")
        .arg(format!("cyclonedx-json={}", cdx.display()))
        .arg("-q")
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .expect("run syft");
    assert!(
        o.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for p in [spdx, cdx] {
        let c = format::read(&std::fs::read(&p).unwrap(), "syft").unwrap();
        let libc = c
            .packages
            .iter()
            .find(|p| p.name == "libc6")
            .expect("libc6 in syft's SBOM");
        assert_eq!(libc.kind, PackageType::Deb);
        assert_eq!(
            libc.source_name.as_deref(),
            Some("glibc"),
            "{}",
            p.display()
        );
        assert_eq!(c.distro.as_ref().map(|d| d.id.as_str()), Some("debian"));
        assert_eq!(
            c.packages
                .iter()
                .filter(|p| p.kind == PackageType::Deb)
                .count(),
            10
        );
    }
}

#[test]
fn oci_archive_matches_the_layout() {
    let t = tempfile::tempdir().unwrap();
    let layout = t.path().join("layout");
    let (from_layout, _) = debian_image(&layout);
    let archive = t.path().join("image.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &layout).unwrap();
    b.finish().unwrap();
    drop(b);
    let mut src =
        kiln_sbom::source::archive::open(&archive, kiln_sbom::source::archive::ArchiveKind::Oci)
            .unwrap();
    assert_eq!(Some(src.digest()), from_layout.image_digest.as_deref());
    let out = kiln_sbom::catalog_source(&mut src, "oci:image").unwrap();
    assert_eq!(out.catalog.packages, from_layout.packages);

    // A truncated archive is an error naming the file, not a panic.
    let bytes = std::fs::read(&archive).unwrap();
    let cut = t.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = kiln_sbom::source::archive::open(&cut, kiln_sbom::source::archive::ArchiveKind::Oci)
        .err()
        .expect("error");
    assert!(err.to_string().contains("cut.tar"), "{err}");
}
