//! The image filesystem view checked against an independent implementation: umoci writes
//! an image of two layers (the second deletes a file and replaces a directory, so it
//! carries whiteouts), and the merged tree Kiln reads must equal the rootfs `umoci unpack`
//! extracts.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kiln_oci::OciLayout;
use kiln_oci::fsview::{EntryKind, FsError, FsView, Limits};

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("umoci")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run umoci");
    assert!(
        out.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a path is, comparable between the view and a directory on disk.
#[derive(Debug, PartialEq, Eq)]
enum What {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, What>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let rel = format!("/{}", p.strip_prefix(root).unwrap().to_str().unwrap());
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let what = if meta.is_dir() {
            walk(root, &p, out);
            What::Dir
        } else if meta.file_type().is_symlink() {
            What::Symlink(std::fs::read_link(&p).unwrap().to_str().unwrap().into())
        } else {
            What::File(std::fs::read(&p).unwrap())
        };
        out.insert(rel, what);
    }
}

#[test]
fn the_merged_tree_equals_umoci_unpack() {
    if kiln_testutil::program("umoci").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let rootfs = d.join("B/rootfs");
    run(d, &["init", "--layout", "L"]);
    run(d, &["new", "--image", "L:t"]);
    run(d, &["unpack", "--rootless", "--image", "L:t", "B"]);
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::create_dir_all(rootfs.join("d/sub")).unwrap();
    std::fs::create_dir_all(rootfs.join("usr/lib")).unwrap();
    std::fs::write(rootfs.join("etc/secret"), "API_KEY=abc").unwrap();
    std::fs::write(rootfs.join("d/sub/x"), "x").unwrap();
    std::fs::write(rootfs.join("keep"), "keep").unwrap();
    std::fs::write(rootfs.join("usr/lib/libz.so"), "elf").unwrap();
    std::os::unix::fs::symlink("/etc/../keep", rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink("usr/lib", rootfs.join("lib")).unwrap();
    std::fs::hard_link(rootfs.join("keep"), rootfs.join("hard")).unwrap();
    run(d, &["repack", "--image", "L:t", "B"]);
    // A second bundle on top of the first layer, for the second one.
    run(d, &["unpack", "--rootless", "--image", "L:t", "C"]);
    let rootfs = d.join("C/rootfs");
    std::fs::remove_file(rootfs.join("etc/secret")).unwrap();
    std::fs::remove_dir_all(rootfs.join("d")).unwrap();
    std::fs::create_dir(rootfs.join("d")).unwrap();
    std::fs::write(rootfs.join("d/y"), "y").unwrap();
    std::fs::write(rootfs.join("keep"), "kept, changed").unwrap();
    run(d, &["repack", "--image", "L:t", "C"]);
    run(d, &["unpack", "--rootless", "--image", "L:t", "R"]);

    let mut expected = BTreeMap::new();
    walk(&d.join("R/rootfs"), &d.join("R/rootfs"), &mut expected);

    let layout = OciLayout::open(d.join("L")).unwrap();
    let manifest = layout.resolve_sync("t").unwrap();
    let image = manifest.as_image().unwrap();
    assert_eq!(image.layers.len(), 2);
    let view = FsView::from_layout(&layout, image, Limits::default()).unwrap();

    let mut actual = BTreeMap::new();
    for e in view.entries().filter(|e| e.path != "/") {
        let what = match &e.kind {
            EntryKind::Dir => What::Dir,
            EntryKind::Symlink { target } => What::Symlink(target.clone()),
            _ if e.is_file() => What::File(view.read(&e.path).unwrap()),
            other => panic!("unexpected {other:?} at {}", e.path),
        };
        actual.insert(e.path.clone(), what);
    }
    assert_eq!(actual, expected);
    assert_eq!(view.read("/abs").unwrap(), b"kept, changed");
    assert_eq!(view.read("/lib/libz.so").unwrap(), b"elf");
    assert_eq!(view.entry("/keep").unwrap().layer.index, 1);
    assert_eq!(view.entry("/usr/lib/libz.so").unwrap().layer.index, 0);

    // The deleted and replaced versions are still in the image, and marked hidden.
    let mut hidden = BTreeMap::new();
    view.visit_layer_files::<FsError>(
        |f| !f.visible,
        |f, r| {
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            hidden.insert(f.entry.path.clone(), (f.entry.layer.index, s));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(hidden["/etc/secret"], (0, "API_KEY=abc".into()));
    assert_eq!(hidden["/d/sub/x"], (0, "x".into()));
    // /keep and /hard were one file in layer 0 (umoci stores the first as a file, the
    // other as a hard link to it); its old content is hidden.
    assert!(
        hidden.values().any(|v| *v == (0, "keep".into())),
        "{hidden:?}"
    );
}
