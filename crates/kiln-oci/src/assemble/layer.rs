//! Reproducible filesystem layers: files and directories of the host placed at chosen
//! destinations, written as a sorted, normalized tar stream (every mtime the same fixed
//! time, owners numeric, no user or group names, no access or change times, modes from the
//! executable bit unless set), gzip-compressed with a fixed level and an empty header,
//! and streamed straight into a layout: the compressed bytes give the blob digest, the
//! uncompressed ones the diff id.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use super::error::{AssembleError, Result};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::layout::OciLayout;
use crate::manifest::Descriptor;
use crate::media_type;

/// The gzip level every Kiln layer is written with.
const GZIP_LEVEL: u32 = 6;
/// The longest destination path accepted in a layer.
const MAX_PATH_BYTES: usize = 4096;

/// The owner of entries in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

/// One file or directory of the host placed into a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// The file or directory on the host. A directory's contents go under `dest`.
    pub src: PathBuf,
    /// Where it goes in the image (absolute or relative to `/`). A destination ending in
    /// `/` receives a file under its own name.
    pub dest: String,
    /// The permission bits of the regular files (directories are always 0755, symbolic
    /// links 0777); by default 0755 when the owner may execute the file, else 0644.
    pub mode: Option<u32>,
    /// The owner of everything this entry adds; root (0:0) by default.
    pub owner: Option<Owner>,
}

/// A layer: entries added in order (a later entry replaces an earlier file at the same
/// path), with the history line that describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerSpec {
    pub entries: Vec<LayerEntry>,
    /// `created_by` in the image history; must not name machine-specific paths if the
    /// image is to be reproducible.
    pub created_by: Option<String>,
}

/// A layer written into a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLayer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    /// How many tar entries it holds.
    pub entries: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir {
        owner: Owner,
    },
    File {
        src: PathBuf,
        mode: u32,
        owner: Owner,
    },
    Symlink {
        target: PathBuf,
        owner: Owner,
    },
}

/// The tree a layer will hold: path (relative, `/`-separated, no trailing slash) to node.
/// A `BTreeMap` sorts by bytes, so a directory always precedes what it holds.
#[derive(Debug, Default)]
struct Tree {
    nodes: BTreeMap<String, Node>,
}

/// Normalizes a destination into its components, refusing `..`.
fn dest_components(dest: &str) -> Result<Vec<String>> {
    let bad = |reason: &str| AssembleError::Destination {
        dest: dest.to_string(),
        reason: reason.to_string(),
    };
    if dest.len() > MAX_PATH_BYTES {
        return Err(bad("path too long"));
    }
    if dest.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let mut out = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(bad("'..' is not allowed in a destination")),
            p => out.push(p.to_string()),
        }
    }
    Ok(out)
}

impl Tree {
    fn add_parents(&mut self, path: &str, dest: &str) -> Result<()> {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match self.nodes.get(&prefix) {
                None => {
                    self.nodes.insert(
                        prefix.clone(),
                        Node::Dir {
                            owner: Owner::default(),
                        },
                    );
                }
                Some(Node::Dir { .. }) => {}
                Some(_) => {
                    return Err(AssembleError::Destination {
                        dest: dest.to_string(),
                        reason: format!("/{prefix} is already a file in this layer"),
                    });
                }
            }
        }
        Ok(())
    }

    fn insert(&mut self, path: String, node: Node, dest: &str) -> Result<()> {
        if path.is_empty() {
            // The root itself: nothing to record.
            return match node {
                Node::Dir { .. } => Ok(()),
                _ => Err(AssembleError::Destination {
                    dest: dest.to_string(),
                    reason: "a file cannot replace /".into(),
                }),
            };
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(AssembleError::Destination {
                dest: dest.to_string(),
                reason: format!("/{path} is too long"),
            });
        }
        self.add_parents(&path, dest)?;
        let is_dir = matches!(node, Node::Dir { .. });
        match self.nodes.get(&path) {
            Some(Node::Dir { .. }) if !is_dir => {
                return Err(AssembleError::Destination {
                    dest: dest.to_string(),
                    reason: format!("/{path} is already a directory in this layer"),
                });
            }
            Some(Node::File { .. } | Node::Symlink { .. }) if is_dir => {
                return Err(AssembleError::Destination {
                    dest: dest.to_string(),
                    reason: format!("/{path} is already a file in this layer"),
                });
            }
            _ => {}
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    fn add_entry(&mut self, entry: &LayerEntry, exclude: &[PathBuf]) -> Result<()> {
        let meta = fs::metadata(&entry.src).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => AssembleError::MissingSource(entry.src.clone()),
            _ => AssembleError::Source {
                path: entry.src.clone(),
                source: e,
            },
        })?;
        let mut parts = dest_components(&entry.dest)?;
        let owner = entry.owner.unwrap_or_default();
        if meta.is_dir() {
            let base = parts.join("/");
            self.insert(base.clone(), Node::Dir { owner }, &entry.dest)?;
            self.walk(&entry.src, &base, entry, owner, exclude)
        } else if meta.is_file() {
            if entry.dest.ends_with('/') || parts.is_empty() {
                let name = entry
                    .src
                    .file_name()
                    .ok_or_else(|| AssembleError::Destination {
                        dest: entry.dest.clone(),
                        reason: "the source has no file name".into(),
                    })?;
                let name = utf8_name(&entry.src, name)?;
                parts.push(name.to_string());
            }
            let node = Node::File {
                src: entry.src.clone(),
                mode: file_mode(entry.mode, meta.permissions().mode()),
                owner,
            };
            self.insert(parts.join("/"), node, &entry.dest)
        } else {
            Err(AssembleError::UnsupportedFile {
                path: entry.src.clone(),
                kind: file_kind(&meta.file_type()),
            })
        }
    }

    fn walk(
        &mut self,
        dir: &Path,
        base: &str,
        entry: &LayerEntry,
        owner: Owner,
        exclude: &[PathBuf],
    ) -> Result<()> {
        let io_err = |path: &Path, e: io::Error| AssembleError::Source {
            path: path.to_path_buf(),
            source: e,
        };
        let read = fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
        for child in read {
            let child = child.map_err(|e| io_err(dir, e))?;
            let path = child.path();
            if exclude.iter().any(|x| x == &path) {
                continue;
            }
            let name = utf8_name(&path, &child.file_name())?.to_string();
            let rel = if base.is_empty() {
                name
            } else {
                format!("{base}/{name}")
            };
            let meta = fs::symlink_metadata(&path).map_err(|e| io_err(&path, e))?;
            let ft = meta.file_type();
            if ft.is_dir() {
                self.insert(rel.clone(), Node::Dir { owner }, &entry.dest)?;
                self.walk(&path, &rel, entry, owner, exclude)?;
            } else if ft.is_file() {
                let node = Node::File {
                    src: path.clone(),
                    mode: file_mode(entry.mode, meta.permissions().mode()),
                    owner,
                };
                self.insert(rel, node, &entry.dest)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(|e| io_err(&path, e))?;
                self.insert(rel, Node::Symlink { target, owner }, &entry.dest)?;
            } else {
                return Err(AssembleError::UnsupportedFile {
                    path,
                    kind: file_kind(&ft),
                });
            }
        }
        Ok(())
    }
}

fn utf8_name<'a>(path: &Path, name: &'a std::ffi::OsStr) -> Result<&'a str> {
    name.to_str().ok_or_else(|| AssembleError::Source {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "the file name is not UTF-8"),
    })
}

fn file_kind(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "named pipe"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "unknown"
    }
}

/// The mode a regular file gets: the one asked for, else 0755 when its owner may execute
/// it, else 0644.
pub fn file_mode(asked: Option<u32>, host_mode: u32) -> u32 {
    match asked {
        Some(m) => m & 0o7777,
        None if host_mode & 0o100 != 0 => 0o755,
        None => 0o644,
    }
}

/// Passes bytes through to `inner` while hashing them (the diff id of the tar stream).
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads exactly `len` bytes of a file, failing if it ends early (the file shrank).
struct ExactReader {
    file: io::Take<fs::File>,
    remaining: u64,
    path: PathBuf,
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} changed size while it was being read",
                    self.path.display()
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn header(kind: tar::EntryType, mode: u32, owner: Owner, mtime: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner.uid);
    h.set_gid(owner.gid);
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

/// Writes the layer described by `spec` into `layout` (gzip, `mtime` for every entry),
/// skipping the host paths in `exclude`. Nothing is left in the layout on error.
pub fn write_layer(
    layout: &OciLayout,
    spec: &LayerSpec,
    mtime: u64,
    exclude: &[PathBuf],
) -> Result<BuiltLayer> {
    let mut tree = Tree::default();
    for entry in &spec.entries {
        tree.add_entry(entry, exclude)?;
    }
    let blob = layout.blob_writer()?;
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(blob, Compression::new(GZIP_LEVEL));
    let mut builder = tar::Builder::new(HashingWriter {
        inner: gz,
        hasher: Hasher::new(Algorithm::Sha256),
    });
    let count = tree.nodes.len();
    for (path, node) in &tree.nodes {
        append_node(&mut builder, path, node, mtime)?;
    }
    let hashing = builder.into_inner().map_err(AssembleError::Write)?;
    let diff_id = hashing.hasher.finish();
    let blob = hashing.inner.finish().map_err(AssembleError::Write)?;
    let (digest, size) = blob.commit(None)?;
    Ok(BuiltLayer {
        descriptor: Descriptor::new(media_type::OCI_LAYER_GZIP, digest, size),
        diff_id,
        entries: count,
    })
}

fn append_node<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    node: &Node,
    mtime: u64,
) -> Result<()> {
    match node {
        Node::Dir { owner } => {
            let mut h = header(tar::EntryType::Directory, 0o755, *owner, mtime, 0);
            builder
                .append_data(&mut h, format!("{path}/"), io::empty())
                .map_err(AssembleError::Write)
        }
        Node::Symlink { target, owner } => {
            let mut h = header(tar::EntryType::Symlink, 0o777, *owner, mtime, 0);
            builder
                .append_link(&mut h, path, target)
                .map_err(|e| AssembleError::Source {
                    path: target.clone(),
                    source: e,
                })
        }
        Node::File { src, mode, owner } => {
            let io_err = |e| AssembleError::Source {
                path: src.clone(),
                source: e,
            };
            let file = fs::File::open(src).map_err(io_err)?;
            let len = file.metadata().map_err(io_err)?.len();
            let mut h = header(tar::EntryType::Regular, *mode, *owner, mtime, len);
            let reader = ExactReader {
                file: file.take(len),
                remaining: len,
                path: src.clone(),
            };
            builder.append_data(&mut h, path, reader).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    AssembleError::Changed(src.clone())
                } else {
                    AssembleError::Write(e)
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(
        layout: &OciLayout,
        layer: &BuiltLayer,
    ) -> Vec<(String, u32, u64, u64, u64, Vec<u8>)> {
        let data = layout.read_blob(&layer.descriptor).unwrap();
        let gz = flate2::read::GzDecoder::new(&data[..]);
        let mut tar_bytes = Vec::new();
        { gz }.read_to_end(&mut tar_bytes).unwrap();
        assert_eq!(Digest::sha256(&tar_bytes), layer.diff_id);
        let mut ar = tar::Archive::new(&tar_bytes[..]);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                assert!(h.username().unwrap().unwrap_or("").is_empty());
                assert!(h.groupname().unwrap().unwrap_or("").is_empty());
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                (
                    String::from_utf8(e.path_bytes().to_vec()).unwrap(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mtime().unwrap(),
                    body,
                )
            })
            .collect()
    }

    fn project(dir: &Path) {
        fs::create_dir_all(dir.join("site/css")).unwrap();
        fs::write(dir.join("site/index.html"), b"<h1>hi</h1>").unwrap();
        fs::write(dir.join("site/css/a.css"), b"body{}").unwrap();
        fs::write(dir.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
        fs::set_permissions(dir.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(
            dir.join("site/index.html"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::os::unix::fs::symlink("index.html", dir.join("site/home.html")).unwrap();
    }

    fn spec(dir: &Path) -> LayerSpec {
        LayerSpec {
            entries: vec![
                LayerEntry {
                    src: dir.join("site"),
                    dest: "/srv/www".into(),
                    mode: None,
                    owner: Some(Owner {
                        uid: 1000,
                        gid: 1001,
                    }),
                },
                LayerEntry {
                    src: dir.join("run.sh"),
                    dest: "/usr/local/bin/".into(),
                    mode: None,
                    owner: None,
                },
            ],
            created_by: None,
        }
    }

    #[test]
    fn layer_is_sorted_normalized_and_reproducible() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        project(a.path());
        project(b.path());
        let la = OciLayout::create(a.path().join("oci")).unwrap();
        let lb = OciLayout::create(b.path().join("oci")).unwrap();
        let x = write_layer(&la, &spec(a.path()), 0, &[]).unwrap();
        let y = write_layer(&lb, &spec(b.path()), 0, &[]).unwrap();
        assert_eq!(x, y, "same inputs at different paths give the same layer");

        let got = entries(&la, &x);
        let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "srv/",
                "srv/www/",
                "srv/www/css/",
                "srv/www/css/a.css",
                "srv/www/home.html",
                "srv/www/index.html",
                "usr/",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/run.sh",
            ]
        );
        let by = |n: &str| got.iter().find(|e| e.0 == n).unwrap().clone();
        assert_eq!(by("srv/www/index.html").1, 0o644);
        assert_eq!(by("srv/www/index.html").2, 1000);
        assert_eq!(by("srv/www/index.html").3, 1001);
        assert_eq!(by("srv/www/index.html").5, b"<h1>hi</h1>");
        assert_eq!(by("usr/local/bin/run.sh").1, 0o755);
        assert_eq!(by("usr/local/bin/run.sh").2, 0);
        assert_eq!(by("srv/").1, 0o755);
        assert!(got.iter().all(|e| e.4 == 0));

        // The gzip header carries no name and no time.
        let blob = la.read_blob(&x.descriptor).unwrap();
        assert_eq!(&blob[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);

        // One byte changed: another layer.
        fs::write(b.path().join("site/css/a.css"), b"body{ }").unwrap();
        let z = write_layer(&lb, &spec(b.path()), 0, &[]).unwrap();
        assert_ne!(x.descriptor.digest, z.descriptor.digest);
        // Another time: another layer, with that mtime everywhere.
        let t = write_layer(&la, &spec(a.path()), 1_700_000_000, &[]).unwrap();
        assert_ne!(x.descriptor.digest, t.descriptor.digest);
        assert!(entries(&la, &t).iter().all(|e| e.4 == 1_700_000_000));
    }

    /// The bytes of a layer must never change with the machine or a dependency's build
    /// options (a flate2 backend switched by feature unification, say): pinned here.
    #[test]
    fn layer_bytes_are_pinned() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), b"kiln\n").unwrap();
        let layout = OciLayout::create(d.path().join("oci")).unwrap();
        let spec = LayerSpec {
            entries: vec![LayerEntry {
                src: d.path().join("f"),
                dest: "/etc/f".into(),
                mode: Some(0o644),
                owner: None,
            }],
            created_by: None,
        };
        let l = write_layer(&layout, &spec, 0, &[]).unwrap();
        assert_eq!(
            l.diff_id.to_string(),
            "sha256:81a40c4692aca6622b4be9dad27ef866ac1fca7b574f02e1ff5ac2d8afb15e9d"
        );
        assert_eq!(
            l.descriptor.digest.to_string(),
            "sha256:1f3c47206f61963c62c889108f66943631830ba246de8d58896ca9b7d24d447d"
        );
    }

    #[test]
    fn explicit_mode_exclusions_and_long_paths() {
        let d = tempfile::tempdir().unwrap();
        project(d.path());
        let long = "d".repeat(120);
        fs::create_dir_all(d.path().join("site").join(&long)).unwrap();
        fs::write(d.path().join("site").join(&long).join("f"), b"x").unwrap();
        let layout = OciLayout::create(d.path().join("oci")).unwrap();
        let mut s = spec(d.path());
        s.entries[0].mode = Some(0o600);
        let l = write_layer(&layout, &s, 0, &[d.path().join("site/css")]).unwrap();
        let got = entries(&layout, &l);
        assert!(!got.iter().any(|e| e.0.contains("css")));
        let f = got.iter().find(|e| e.0.ends_with("/f")).unwrap();
        assert_eq!(f.0, format!("srv/www/{long}/f"));
        assert_eq!(f.1, 0o600);
    }

    #[test]
    fn bad_sources_and_destinations_are_clear_errors() {
        let d = tempfile::tempdir().unwrap();
        project(d.path());
        let layout = OciLayout::create(d.path().join("oci")).unwrap();
        let one = |src: PathBuf, dest: &str| LayerSpec {
            entries: vec![LayerEntry {
                src,
                dest: dest.into(),
                mode: None,
                owner: None,
            }],
            created_by: None,
        };
        let err = write_layer(&layout, &one(d.path().join("nope"), "/x"), 0, &[]).unwrap_err();
        assert!(matches!(err, AssembleError::MissingSource(_)), "{err}");
        assert!(err.to_string().contains("nope"), "{err}");
        let err =
            write_layer(&layout, &one(d.path().join("run.sh"), "/../etc/x"), 0, &[]).unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
        let err = write_layer(&layout, &one(d.path().join("run.sh"), "/"), 0, &[]);
        assert!(err.is_ok(), "a file into / keeps its name");
        let mut s = one(d.path().join("run.sh"), "/a");
        s.entries.push(LayerEntry {
            src: d.path().join("site"),
            dest: "/a".into(),
            mode: None,
            owner: None,
        });
        let err = write_layer(&layout, &s, 0, &[]).unwrap_err();
        assert!(err.to_string().contains("already a file"), "{err}");
        // Nothing half-written stays in the layout.
        let tmp = fs::read_dir(layout.root().join("blobs/sha256"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp")
            })
            .count();
        assert_eq!(tmp, 0);
    }
}
