//! The image filesystem view over layers built here with the `tar` crate, compressed with
//! gzip or zstd (or not), stored in a temporary OCI layout with a manifest.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use kiln_oci::OciLayout;
use kiln_oci::fsview::{EntryKind, FsError, FsView, LayerBlob, Limits};
use kiln_oci::manifest::{Descriptor, ImageManifest, Manifest};
use kiln_oci::media_type::{OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD};

/// One tar entry to write; names and targets are raw bytes, written as they are.
enum T<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Raw(&'a [u8], &'a [u8]),
}

fn header(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(1000);
    h.set_gid(100);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h
}

fn tar_layer(entries: &[T]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (name, kind, data, link): (&[u8], _, &[u8], &[u8]) = match e {
            T::File(p, d) => (p.as_bytes(), tar::EntryType::Regular, d, b""),
            T::Raw(p, d) => (p, tar::EntryType::Regular, d, b""),
            T::Dir(p) => (p.as_bytes(), tar::EntryType::Directory, b"", b""),
            T::Symlink(p, t) => (p.as_bytes(), tar::EntryType::Symlink, b"", t.as_bytes()),
            T::Hardlink(p, t) => (p.as_bytes(), tar::EntryType::Link, b"", t.as_bytes()),
        };
        b.append(&header(name, kind, data.len() as u64, link), data)
            .unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// A temporary layout holding an image made of `layers` (media type, blob).
struct Image {
    _dir: tempfile::TempDir,
    layout: OciLayout,
    manifest: ImageManifest,
}

impl Image {
    fn new(layers: Vec<(&str, Vec<u8>)>) -> Image {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path().join("oci")).unwrap();
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config_desc = Descriptor::of(OCI_CONFIG, config);
        layout.write_blob(&config_desc.digest, config).unwrap();
        let mut descs = Vec::new();
        for (mt, blob) in layers {
            let d = Descriptor::of(mt, &blob);
            layout.write_blob(&d.digest, &blob).unwrap();
            descs.push(d);
        }
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(kiln_oci::media_type::OCI_MANIFEST.into()),
            artifact_type: None,
            config: config_desc,
            layers: descs,
            subject: None,
            annotations: None,
        };
        layout
            .put_manifest(&Manifest::from_image(&manifest), Some("test"))
            .unwrap();
        Image {
            _dir: dir,
            layout,
            manifest,
        }
    }

    fn view(&self) -> FsView {
        self.view_with(Limits::default()).unwrap()
    }

    fn view_with(&self, limits: Limits) -> Result<FsView, FsError> {
        FsView::from_layout(&self.layout, &self.manifest, limits)
    }
}

fn read(view: &FsView, path: &str) -> String {
    String::from_utf8(view.read(path).unwrap()).unwrap()
}

/// Every regular file of the merged tree with its content, through `visit_files`.
fn merged_contents(view: &FsView) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    view.visit_files::<FsError>(
        |_| true,
        |e, r| {
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            out.insert(e.path.clone(), s);
            Ok(())
        },
    )
    .unwrap();
    out
}

/// Every regular file of every layer: (layer, path, content, visible).
fn layer_contents(view: &FsView) -> Vec<(usize, String, String, bool)> {
    let mut out = Vec::new();
    view.visit_layer_files::<FsError>(
        |_| true,
        |f, r| {
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            out.push((f.entry.layer.index, f.entry.path.clone(), s, f.visible));
            Ok(())
        },
    )
    .unwrap();
    out
}

#[test]
fn layers_merge_and_overwrites_are_attributed_to_the_right_layer() {
    let img = Image::new(vec![
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                T::Dir("etc/"),
                T::File("etc/os-release", b"ID=base"),
                T::File("./bin/sh", b"shell"),
            ])),
        ),
        (
            OCI_LAYER_ZSTD,
            zstd(&tar_layer(&[T::File("etc/os-release", b"ID=top")])),
        ),
        (OCI_LAYER_TAR, tar_layer(&[T::File("/app/main", b"main")])),
    ]);
    let view = img.view();
    let os = view.entry("/etc/os-release").unwrap();
    assert_eq!(os.layer.index, 1);
    assert_eq!(os.layer.digest, img.manifest.layers[1].digest);
    assert_eq!((os.mode, os.uid, os.gid, os.size), (0o644, 1000, 100, 6));
    assert_eq!(os.kind, EntryKind::File);
    assert_eq!(read(&view, "/etc/os-release"), "ID=top");
    assert_eq!(read(&view, "etc//./os-release"), "ID=top");
    assert_eq!(view.entry("/bin/sh").unwrap().layer.index, 0);
    // /bin had no entry of its own: it is implied.
    assert!(view.entry("/bin").unwrap().is_dir());
    assert_eq!(view.entry("/app/main").unwrap().layer.index, 2);
    let names: Vec<_> = view
        .read_dir("/etc")
        .unwrap()
        .iter()
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(names, ["/etc/os-release"]);

    let merged = merged_contents(&view);
    assert_eq!(merged["/etc/os-release"], "ID=top");
    assert_eq!(merged.len(), 3);

    let all = layer_contents(&view);
    assert!(all.contains(&(0, "/etc/os-release".into(), "ID=base".into(), false)));
    assert!(all.contains(&(1, "/etc/os-release".into(), "ID=top".into(), true)));
    assert!(all.contains(&(0, "/bin/sh".into(), "shell".into(), true)));
    assert_eq!(all.len(), 4);
}

#[test]
fn whiteouts_delete_but_the_all_layers_pass_still_sees_the_file() {
    let img = Image::new(vec![
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                T::File("secret.env", b"TOKEN=hunter2"),
                T::File("d/x", b"x"),
                T::File("d/y", b"y"),
                T::File("gone/deep/file", b"deep"),
            ])),
        ),
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                T::File(".wh.secret.env", b""),
                T::File("d/.wh.x", b""),
                T::File(".wh.gone", b""),
            ])),
        ),
    ]);
    let view = img.view();
    assert!(view.entry("/secret.env").is_none());
    assert!(view.entry("/d/x").is_none());
    assert!(view.entry("/gone").is_none());
    assert!(view.entry("/gone/deep/file").is_none());
    assert_eq!(read(&view, "/d/y"), "y");
    assert!(matches!(
        view.read("/secret.env"),
        Err(FsError::NotFound { .. })
    ));
    // No whiteout marker is in the tree.
    assert!(view.entries().all(|e| !e.path.contains(".wh.")));

    let all = layer_contents(&view);
    assert!(all.contains(&(0, "/secret.env".into(), "TOKEN=hunter2".into(), false)));
    assert!(all.contains(&(0, "/gone/deep/file".into(), "deep".into(), false)));
    assert!(all.contains(&(0, "/d/y".into(), "y".into(), true)));
    // Only hidden ones, by filter.
    let mut hidden = Vec::new();
    view.visit_layer_files::<FsError>(
        |f| !f.visible,
        |f, _| {
            hidden.push(f.entry.path.clone());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(hidden, ["/secret.env", "/d/x", "/gone/deep/file"]);
}

#[test]
fn opaque_directories_hide_lower_layers_only() {
    let img = Image::new(vec![
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                T::File("o/a", b"a"),
                T::File("o/sub/b", b"b"),
                T::File("keep", b"k"),
            ])),
        ),
        (
            OCI_LAYER_GZIP,
            // The marker after a file of the same layer must not hide that file.
            gzip(&tar_layer(&[
                T::Dir("o/"),
                T::File("o/c", b"c"),
                T::File("o/.wh..wh..opq", b""),
            ])),
        ),
    ]);
    let view = img.view();
    let names: Vec<_> = view
        .read_dir("/o")
        .unwrap()
        .iter()
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(names, ["/o/c"]);
    assert!(view.entry("/o/sub/b").is_none());
    assert_eq!(view.entry("/o").unwrap().layer.index, 1);
    assert_eq!(read(&view, "/keep"), "k");
    let all = layer_contents(&view);
    assert!(all.contains(&(0, "/o/sub/b".into(), "b".into(), false)));
    assert!(all.contains(&(1, "/o/c".into(), "c".into(), true)));
}

#[test]
fn symlink_chains_resolve_and_absolute_targets_stay_in_the_root() {
    let img = Image::new(vec![(
        OCI_LAYER_GZIP,
        gzip(&tar_layer(&[
            T::File("etc/passwd", b"root:x:0:0::/root:/bin/sh"),
            T::File("c/d", b"end of chain"),
            T::Symlink("a", "b"),
            T::Symlink("b", "/c/../c/d"),
            T::Symlink("escape", "/../../../../etc/passwd"),
            T::Symlink("usr/lib/rel", "../../../../../../etc/passwd"),
            T::Symlink("lib", "usr/lib"),
            T::Symlink("dangling", "/nowhere"),
        ])),
    )]);
    let view = img.view();
    assert_eq!(read(&view, "/a"), "end of chain");
    assert_eq!(view.resolve("/a").unwrap(), "/c/d");
    assert_eq!(
        view.entry("/a").unwrap().kind,
        EntryKind::Symlink { target: "b".into() }
    );
    assert_eq!(read(&view, "/escape"), "root:x:0:0::/root:/bin/sh");
    assert_eq!(view.resolve("/escape").unwrap(), "/etc/passwd");
    assert_eq!(read(&view, "/usr/lib/rel"), "root:x:0:0::/root:/bin/sh");
    assert_eq!(read(&view, "/lib/rel"), "root:x:0:0::/root:/bin/sh");
    assert_eq!(view.resolve("/../../lib/rel").unwrap(), "/etc/passwd");
    assert!(matches!(
        view.read("/dangling"),
        Err(FsError::NotFound { .. })
    ));
    // visit_files never follows symlinks: only real files are visited.
    let merged = merged_contents(&view);
    assert_eq!(merged.keys().collect::<Vec<_>>(), ["/c/d", "/etc/passwd"]);
}

#[test]
fn entries_below_a_symlinked_directory_land_in_its_target() {
    let img = Image::new(vec![
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                T::Dir("usr/lib/"),
                T::Symlink("lib", "/usr/lib"),
            ])),
        ),
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[T::File("lib/libc.so", b"elf")])),
        ),
    ]);
    let view = img.view();
    assert_eq!(view.entry("/usr/lib/libc.so").unwrap().layer.index, 1);
    assert!(view.entry("/lib").unwrap().is_symlink());
    assert_eq!(read(&view, "/lib/libc.so"), "elf");
}

#[test]
fn symlink_loops_are_an_error() {
    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[
            T::Symlink("l1", "l2"),
            T::Symlink("l2", "/l1"),
            T::Symlink("self", "./self"),
        ]),
    )]);
    let view = img.view();
    for p in ["/l1", "/self", "/l2/x"] {
        match view.read(p) {
            Err(FsError::SymlinkLoop { path, limit }) => {
                assert_eq!(path, p);
                assert_eq!(limit, 40);
            }
            other => panic!("{p}: {other:?}"),
        }
    }
    // An entry whose parent is a loop is refused while building, naming the problem.
    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[T::Symlink("l1", "l1"), T::File("l1/x", b"")]),
    )]);
    let err = img.view_with(Limits::default()).unwrap_err();
    assert!(matches!(err, FsError::BadPath { layer: 0, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("l1/x") && msg.contains("symbolic links"),
        "{msg}"
    );
}

#[test]
fn dot_dot_entries_are_normalized_inside_the_root_or_refused() {
    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[T::File("a/../b", b"b"), T::File("/abs/file", b"abs")]),
    )]);
    let view = img.view();
    assert_eq!(read(&view, "/b"), "b");
    assert_eq!(read(&view, "/abs/file"), "abs");
    assert!(view.entry("/a").is_none());

    for name in [&b"../evil"[..], b"x/../../evil", b"./../../etc/passwd"] {
        let img = Image::new(vec![
            (OCI_LAYER_TAR, tar_layer(&[T::File("ok", b"")])),
            (OCI_LAYER_GZIP, gzip(&tar_layer(&[T::Raw(name, b"pwned")]))),
        ]);
        let err = img.view_with(Limits::default()).unwrap_err();
        match &err {
            FsError::BadPath {
                layer,
                digest,
                entry,
                reason,
            } => {
                assert_eq!(*layer, 1);
                assert_eq!(digest, &img.manifest.layers[1].digest);
                assert_eq!(entry.as_bytes(), name);
                assert!(reason.contains("climbs out"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("layer 1") && msg.contains("evil") || msg.contains("passwd"));
    }
}

#[test]
fn non_utf8_names_are_refused_with_the_entry_named() {
    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[T::Raw(b"caf\xe9.txt", b"")]),
    )]);
    let err = img.view_with(Limits::default()).unwrap_err();
    assert!(matches!(err, FsError::BadPath { .. }), "{err}");
    assert!(err.to_string().contains("caf"), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn hardlinks_share_their_target_content() {
    let img = Image::new(vec![
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                T::File("bin/busybox", b"multicall"),
                T::Hardlink("bin/ls", "bin/busybox"),
            ])),
        ),
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[
                // A link in a later layer to a file of a lower one.
                T::Hardlink("usr/bin/cat", "/bin/busybox"),
            ])),
        ),
    ]);
    let view = img.view();
    let ls = view.entry("/bin/ls").unwrap();
    assert_eq!(
        ls.kind,
        EntryKind::Hardlink {
            target: "/bin/busybox".into()
        }
    );
    assert!(ls.is_file());
    assert_eq!(ls.size, 9);
    assert_eq!(read(&view, "/bin/ls"), "multicall");
    let cat = view.entry("/usr/bin/cat").unwrap();
    assert_eq!(cat.layer.index, 1);
    assert_eq!(read(&view, "/usr/bin/cat"), "multicall");
    let merged = merged_contents(&view);
    assert_eq!(merged.len(), 3);
    assert!(merged.values().all(|v| v == "multicall"));
    // The all-layers pass visits the content once, at the file itself.
    let all = layer_contents(&view);
    assert_eq!(all, [(0, "/bin/busybox".into(), "multicall".into(), true)]);

    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[T::Hardlink("h", "missing")]),
    )]);
    let err = img.view_with(Limits::default()).unwrap_err();
    assert!(matches!(err, FsError::BadHardlink { .. }), "{err}");
    assert!(err.to_string().contains("/missing"), "{err}");
}

#[test]
fn a_file_over_a_directory_replaces_its_subtree() {
    let img = Image::new(vec![
        (
            OCI_LAYER_TAR,
            tar_layer(&[T::File("d/x", b"x"), T::File("d/y/z", b"z")]),
        ),
        (OCI_LAYER_TAR, tar_layer(&[T::File("d", b"now a file")])),
    ]);
    let view = img.view();
    assert_eq!(read(&view, "/d"), "now a file");
    assert!(view.entry("/d/x").is_none() && view.entry("/d/y/z").is_none());
    assert!(matches!(
        view.read("/d/x"),
        Err(FsError::NotADirectory { .. }) | Err(FsError::NotFound { .. })
    ));
    assert!(matches!(view.read("/"), Err(FsError::NotAFile { .. })));
}

/// A tar of one file of `size` zero bytes, written straight into `out`.
fn zeros_tar<W: Write>(out: W, size: u64) -> W {
    let mut b = tar::Builder::new(out);
    let h = header(b"zeros", tar::EntryType::Regular, size, b"");
    b.append(&h, std::io::repeat(0).take(size)).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn a_decompression_bomb_stops_at_the_layer_limit() {
    // 1 GiB of zeros: about 1 MiB of gzip, a few dozen KiB of zstd.
    let gz = zeros_tar(
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best()),
        1 << 30,
    );
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 4 << 20);
    let img = Image::new(vec![(OCI_LAYER_GZIP, gz)]);
    let limits = Limits {
        max_layer_bytes: 64 << 20,
        ..Limits::default()
    };
    match img.view_with(limits) {
        Err(FsError::LayerTooLarge { layer, limit, .. }) => {
            assert_eq!((layer, limit), (0, 64 << 20))
        }
        other => panic!("{other:?}"),
    }
    // With room enough it reads (and the single-file read limit then applies).
    let limits = Limits {
        max_layer_bytes: 2 << 30,
        ..Limits::default()
    };
    let view = img.view_with(limits).unwrap();
    assert_eq!(view.entry("/zeros").unwrap().size, 1 << 30);
    assert!(matches!(
        view.read("/zeros"),
        Err(FsError::FileTooLarge { .. })
    ));
}

#[test]
fn the_image_limit_counts_all_layers() {
    let zst = |n| {
        zeros_tar(zstd::Encoder::new(Vec::new(), 3).unwrap(), n)
            .finish()
            .unwrap()
    };
    let img = Image::new(vec![
        (OCI_LAYER_ZSTD, zst(10 << 20)),
        (OCI_LAYER_ZSTD, zst(10 << 20)),
    ]);
    let limits = Limits {
        max_image_bytes: 15 << 20,
        ..Limits::default()
    };
    match img.view_with(limits) {
        Err(FsError::ImageTooLarge { layer, limit, .. }) => {
            assert_eq!((layer, limit), (1, 15 << 20))
        }
        other => panic!("{other:?}"),
    }
    assert!(img.view_with(Limits::default()).is_ok());
}

#[test]
fn too_many_entries_and_too_long_paths_are_refused() {
    let names: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    let entries: Vec<T> = names.iter().map(|n| T::File(n, b"")).collect();
    let img = Image::new(vec![
        (OCI_LAYER_TAR, tar_layer(&entries[..5])),
        (OCI_LAYER_TAR, tar_layer(&entries)),
    ]);
    let limits = Limits {
        max_entries: 20,
        ..Limits::default()
    };
    match img.view_with(limits) {
        Err(FsError::TooManyEntries { layer, limit, .. }) => assert_eq!((layer, limit), (1, 20)),
        other => panic!("{other:?}"),
    }

    // A long name (GNU long-name extension) within and over the limit.
    let long = format!("{}/file", "d".repeat(300));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, &long, &b"hi"[..]).unwrap();
    let img = Image::new(vec![(OCI_LAYER_TAR, b.into_inner().unwrap())]);
    assert_eq!(read(&img.view(), &long), "hi");
    let limits = Limits {
        max_path_len: 100,
        ..Limits::default()
    };
    match img.view_with(limits) {
        Err(FsError::PathTooLong { len, limit, .. }) => assert_eq!((len, limit), (305, 100)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_media_types_are_refused_before_reading() {
    let img = Image::new(vec![
        (OCI_LAYER_TAR, tar_layer(&[T::File("a", b"")])),
        ("application/vnd.example.layer+bzip2", b"BZh9".to_vec()),
    ]);
    let err = img.view_with(Limits::default()).unwrap_err();
    match &err {
        FsError::UnknownMediaType {
            layer, media_type, ..
        } => {
            assert_eq!(*layer, 1);
            assert_eq!(media_type, "application/vnd.example.layer+bzip2");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("bzip2"));
}

#[test]
fn corrupt_and_truncated_layers_are_clear_errors() {
    let good = gzip(&tar_layer(&[T::File("a", &[7u8; 10_000])]));
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    let truncated = good[..good.len() - 20].to_vec();
    for (what, blob, mt) in [
        ("flipped", flipped, OCI_LAYER_GZIP),
        ("truncated", truncated, OCI_LAYER_GZIP),
        ("not gzip", b"definitely not gzip".to_vec(), OCI_LAYER_GZIP),
        ("not zstd", good.clone(), OCI_LAYER_ZSTD),
        ("not tar", b"x".repeat(700), OCI_LAYER_TAR),
    ] {
        let img = Image::new(vec![(mt, blob)]);
        match img.view_with(Limits::default()) {
            Err(FsError::Corrupt {
                layer,
                digest,
                reason,
            }) => {
                assert_eq!(layer, 0, "{what}");
                assert_eq!(digest, img.manifest.layers[0].digest, "{what}");
                assert!(!reason.is_empty());
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn blob_digest_and_size_are_checked() {
    let blob = gzip(&tar_layer(&[T::File("a", b"a")]));
    let mut d = Descriptor::of(OCI_LAYER_GZIP, &blob);
    d.digest = kiln_oci::Digest::sha256(b"something else");
    let err = FsView::from_layers(
        vec![LayerBlob::from_bytes(d, blob.clone())],
        Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, FsError::DigestMismatch { layer: 0, .. }),
        "{err}"
    );

    let mut d = Descriptor::of(OCI_LAYER_GZIP, &blob);
    d.size += 1;
    let err = FsView::from_layers(
        vec![LayerBlob::from_reader(d, &blob[..]).unwrap()],
        Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, FsError::SizeMismatch { .. }), "{err}");
}

#[test]
fn passes_read_only_the_layers_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let l0 = gzip(&tar_layer(&[T::File("base", b"base")]));
    let l1 = zstd(&tar_layer(&[
        T::File("one", b"1"),
        T::File("two", b"2"),
        T::File("three", b"3"),
    ]));
    let p0 = dir.path().join("l0");
    std::fs::write(&p0, &l0).unwrap();
    let view = FsView::from_layers(
        vec![
            LayerBlob::from_path(Descriptor::of(OCI_LAYER_GZIP, &l0), &p0),
            LayerBlob::from_bytes(Descriptor::of(OCI_LAYER_ZSTD, &l1), l1.clone()),
        ],
        Limits::default(),
    )
    .unwrap();
    // Layer 0's blob is gone: a pass that does not need it still works.
    std::fs::remove_file(&p0).unwrap();
    let mut seen = Vec::new();
    view.visit_files::<FsError>(
        |e| e.path == "/two",
        |e, r| {
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            seen.push((e.path.clone(), s));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, [("/two".to_string(), "2".to_string())]);
    assert_eq!(read(&view, "/three"), "3");
    // One that needs it reports the missing blob.
    let err = view.read("/base").unwrap_err();
    assert!(matches!(err, FsError::Blob { layer: 0, .. }), "{err}");
}

#[test]
fn visitor_errors_stop_the_pass() {
    #[derive(Debug)]
    enum MyErr {
        Fs,
        Stop(String),
    }
    impl From<FsError> for MyErr {
        fn from(_: FsError) -> Self {
            MyErr::Fs
        }
    }
    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[T::File("a", b"a"), T::File("b", b"b")]),
    )]);
    let view = img.view();
    let mut count = 0;
    let r = view.visit_files(
        |_| true,
        |e, _| {
            count += 1;
            Err(MyErr::Stop(e.path.clone()))
        },
    );
    assert!(matches!(&r, Err(MyErr::Stop(p)) if p == "/a"), "{r:?}");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_view_from_any_store() {
    let img = Image::new(vec![
        (
            OCI_LAYER_GZIP,
            gzip(&tar_layer(&[T::File("etc/hostname", b"kiln")])),
        ),
        (
            OCI_LAYER_ZSTD,
            zstd(&tar_layer(&[T::File(".wh.nothing", b"")])),
        ),
    ]);
    let store: &dyn kiln_oci::ImageStore = &img.layout;
    let manifest = store.resolve("test").await.unwrap();
    let view = FsView::from_store(store, manifest.as_image().unwrap(), Limits::default())
        .await
        .unwrap();
    assert_eq!(read(&view, "/etc/hostname"), "kiln");
    assert_eq!(view.layers().len(), 2);
}

#[test]
fn a_view_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<FsView>();
    let img = Image::new(vec![(OCI_LAYER_TAR, tar_layer(&[T::File("a", b"a")]))]);
    let view = img.view();
    std::thread::scope(|s| {
        let a = s.spawn(|| view.read("/a").unwrap());
        let b = s.spawn(|| view.read("/a").unwrap());
        assert_eq!(a.join().unwrap(), b.join().unwrap());
    });
}

#[test]
fn empty_images_and_layers_have_only_a_root() {
    let view = FsView::from_layers(Vec::new(), Limits::default()).unwrap();
    assert!(view.is_empty());
    assert!(view.lookup("/").unwrap().is_dir());
    assert!(view.read_dir("/").unwrap().is_empty());

    let img = Image::new(vec![(OCI_LAYER_GZIP, gzip(&tar_layer(&[])))]);
    let view = img.view();
    assert_eq!(view.len(), 1);
    assert_eq!(layer_contents(&view), []);
}

#[test]
fn special_bits_and_nameless_whiteouts() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(b"usr/bin/sudo", tar::EntryType::Regular, 1, b"");
    h.set_mode(0o104755);
    h.set_cksum();
    b.append(&h, &b"s"[..]).unwrap();
    let img = Image::new(vec![(OCI_LAYER_TAR, b.into_inner().unwrap())]);
    assert_eq!(img.view().entry("/usr/bin/sudo").unwrap().mode, 0o4755);

    let img = Image::new(vec![(
        OCI_LAYER_TAR,
        tar_layer(&[T::File("etc/.wh.", b"")]),
    )]);
    let err = img.view_with(Limits::default()).unwrap_err();
    assert!(matches!(err, FsError::BadPath { .. }), "{err}");
    assert!(err.to_string().contains("etc/.wh."), "{err}");
}
