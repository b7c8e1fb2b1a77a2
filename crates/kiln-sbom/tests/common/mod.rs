//! Helpers shared by kiln-sbom's integration tests: fixtures, an OCI layout built from tar
//! layers made in the test, and the validators' Python.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use kiln_oci::media_type::{OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use kiln_oci::{Digest, Manifest, OciLayout};
use kiln_sbom::Outcome;
use kiln_sbom::source::dir::DirSource;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn catalog_dir(path: &Path) -> Outcome {
    let mut src = DirSource::open(path).expect("open dir");
    kiln_sbom::catalog_source(&mut src, &format!("dir:{}", path.display())).expect("catalog")
}

/// One tar entry of a test layer.
pub enum Item<'a> {
    File(&'a str, Vec<u8>),
    Whiteout(&'a str),
}

/// A gzip tar layer from `items`.
pub fn layer(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for it in items {
        let (path, data) = match it {
            Item::File(p, d) => (p.to_string(), d.clone()),
            Item::Whiteout(p) => {
                let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
                (format!("{dir}/.wh.{name}"), Vec::new())
            }
        };
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, path.trim_start_matches('/'), &data[..])
            .unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// Writes an image of `layers` (gzip tars) into a new layout under `dir`, tagged `tag`.
/// Returns the layer digests.
pub fn make_image(dir: &Path, tag: &str, layers: &[Vec<u8>]) -> Vec<String> {
    let layout = OciLayout::create(dir).unwrap();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = Digest::sha256(l);
        layout.write_blob(&d, l).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&l[..]), &mut raw).unwrap();
        diff_ids.push(Digest::sha256(&raw).to_string());
        descs.push(serde_json::json!({"mediaType": OCI_LAYER_GZIP, "digest": d.to_string(), "size": l.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    }))
    .unwrap();
    let cd = Digest::sha256(&config);
    layout.write_blob(&cd, &config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd.to_string(), "size": config.len()},
        "layers": descs
    }))
    .unwrap();
    let md = Digest::sha256(&manifest);
    layout.write_blob(&md, &manifest).unwrap();
    let m = Manifest::parse(manifest, Some(OCI_MANIFEST), "test manifest").unwrap();
    layout.put_manifest(&m, Some(tag)).unwrap();
    layers
        .iter()
        .map(|l| Digest::sha256(l).to_string())
        .collect()
}

/// Every file under `root` (relative path, content), for building layers from fixtures.
pub fn files_under(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((format!("/{rel}"), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The Debian fixture rootfs copied into a temporary directory, with the installed npm
/// packages of `fixtures/npm-installed` placed under `/usr/lib/node_modules` (kept apart in
/// the repository because `node_modules/` is git-ignored).
pub fn debian_root() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for (rel, data) in files_under(&fixture("debian")) {
        let p = t.path().join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    for (rel, data) in files_under(&fixture("npm-installed")) {
        let p = t
            .path()
            .join("usr/lib/node_modules")
            .join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    t
}
