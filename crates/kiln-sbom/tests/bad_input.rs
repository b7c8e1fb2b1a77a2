//! Bad input: malformed and truncated databases and lockfiles, duplicate dpkg stanzas, a huge
//! file, a symlink loop. Each gives a warning naming the file, and the rest is still cataloged.

mod common;

use std::fs;

use common::catalog_dir;
use kiln_sbom::PackageType;

#[test]
fn warnings_name_the_file_and_the_rest_is_cataloged() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("var/lib/dpkg")).unwrap();
    fs::write(
        r.join("var/lib/dpkg/status"),
        "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\nSource: zlib\n\n\
         Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n\n\
         this line is garbage\nPackage: nover\n\n\
         Package: trunc\nVersion: 1.0\nDescription: cut off in the mid",
    )
    .unwrap();
    fs::create_dir_all(r.join("app")).unwrap();
    fs::write(
        r.join("app/package-lock.json"),
        "{\"lockfileVersion\": 3, \"packages\": {\"node_modules/a\": {\"vers",
    )
    .unwrap();
    fs::write(
        r.join("app/Cargo.lock"),
        "[[package]]\nname = \"x\"\nversion = ",
    )
    .unwrap();
    fs::write(r.join("app/requirements.txt"), "good==1.0\n").unwrap();
    // A 65 MiB sparse lockfile: over the size limit, skipped with a warning.
    let f = fs::File::create(r.join("app/yarn.lock")).unwrap();
    f.set_len(65 * 1024 * 1024).unwrap();
    // A symlink loop and a link out of the tree: never followed.
    std::os::unix::fs::symlink("../loop", r.join("app/loop")).unwrap();
    std::os::unix::fs::symlink("/", r.join("app/root")).unwrap();

    let out = catalog_dir(r);
    let w: Vec<String> = out.warnings.iter().map(|w| w.to_string()).collect();
    let has = |path: &str, word: &str| w.iter().any(|x| x.starts_with(path) && x.contains(word));
    assert!(
        has("/var/lib/dpkg/status", "duplicate stanza for zlib1g"),
        "{w:#?}"
    );
    assert!(has("/var/lib/dpkg/status", "line 12"), "{w:#?}");
    assert!(
        has("/var/lib/dpkg/status", "no Package or Version"),
        "{w:#?}"
    );
    assert!(has("/app/package-lock.json", "not valid JSON"), "{w:#?}");
    assert!(has("/app/Cargo.lock", "not a valid Cargo.lock"), "{w:#?}");
    assert!(has("/app/yarn.lock", "limit"), "{w:#?}");
    let pkgs = &out.catalog.packages;
    let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pkgs.iter().filter(|p| p.name == "zlib1g").count(), 1);
    assert!(names.contains(&"trunc"), "{names:?}");
    assert!(
        pkgs.iter()
            .any(|p| p.kind == PackageType::Pypi && p.name == "good")
    );
}

#[test]
fn truncated_tar_source_warns() {
    let t = tempfile::tempdir().unwrap();
    let layer = common::layer(&[common::Item::File(
        "/app/requirements.txt",
        b"a==1\n".to_vec(),
    )]);
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&layer[..]), &mut raw).unwrap();
    // Keep the first entry whole, cut the end-of-archive blocks and add a partial header.
    raw.truncate(1024);
    raw.extend_from_slice(&[b'x'; 100]);
    let p = t.path().join("fs.tar");
    fs::write(&p, &raw).unwrap();
    let mut src = kiln_sbom::source::tarball::TarSource::open(&p);
    let out = kiln_sbom::catalog_source(&mut src, "tar").unwrap();
    assert!(out.catalog.packages.iter().any(|p| p.name == "a"));
}
