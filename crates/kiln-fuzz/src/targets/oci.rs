//! Targets for kiln-oci: manifests, indexes, image configs, references, and layers through
//! the image filesystem view (plain tar, tar+gzip, and raw gzip/zstd streams).

use std::io::Write;

use kiln_oci::fsview::{FsError, FsView, LayerBlob, Limits};
use kiln_oci::manifest::{Descriptor, ImageConfig, Manifest, ManifestKind};
use kiln_oci::{ImageRef, media_type};

use super::label;

/// Manifest or index; a parsed document re-serialises to bytes that parse to the same
/// document and serialise to the same bytes again.
pub fn manifest(data: &[u8]) -> String {
    let r = Manifest::parse(data.to_vec(), None, "fuzz input");
    if let Ok(m) = &r {
        let again = match &m.kind {
            ManifestKind::Image(im) => im.to_bytes(),
            ManifestKind::Index(ix) => ix.to_bytes(),
        };
        let reparsed = Manifest::parse(again.clone(), Some(&m.media_type), "re-serialised")
            .expect("a re-serialised manifest parses");
        let third = match &reparsed.kind {
            ManifestKind::Image(im) => im.to_bytes(),
            ManifestKind::Index(ix) => ix.to_bytes(),
        };
        assert_eq!(again, third, "manifest serialisation is not stable");
        assert_eq!(m.digest, kiln_oci::Digest::sha256(data));
    }
    label(&r)
}

/// Image configuration; round trip as for manifests.
pub fn config(data: &[u8]) -> String {
    let r = ImageConfig::parse(data, "fuzz input");
    if let Ok(c) = &r {
        let again = c.to_bytes();
        let reparsed =
            ImageConfig::parse(&again, "re-serialised").expect("re-serialised config parses");
        assert_eq!(
            again,
            reparsed.to_bytes(),
            "config serialisation is not stable"
        );
    }
    label(&r)
}

/// Image references (`oci:PATH[:TAG|@DIGEST]` and registry references).
pub fn reference(data: &[u8]) -> String {
    let Some(s) = super::text(data) else {
        return "utf8".into();
    };
    label(&ImageRef::parse(s))
}

fn limits() -> Limits {
    Limits {
        max_entries: 10_000,
        max_path_len: 4096,
        max_layer_bytes: 64 << 20,
        max_image_bytes: 64 << 20,
        max_file_read: 4 << 20,
        max_symlink_hops: 40,
    }
}

/// An error of a content pass: the view's, or reading a file's content.
#[derive(Debug)]
enum PassError {
    Fs(FsError),
    Io(std::io::Error),
}

impl From<FsError> for PassError {
    fn from(e: FsError) -> Self {
        PassError::Fs(e)
    }
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::Fs(e) => e.fmt(f),
            PassError::Io(e) => write!(f, "reading content: {e}"),
        }
    }
}

/// Builds a one-layer view of `blob` with media type `mt` and runs every pass over it.
fn view(mt: &str, blob: Vec<u8>) -> String {
    let desc = Descriptor::of(mt, &blob);
    let view = match FsView::from_layers(vec![LayerBlob::from_bytes(desc, blob)], limits()) {
        Ok(v) => v,
        Err(e) => return super::error_label(&e.to_string()),
    };
    let paths: Vec<(String, bool)> = view
        .entries()
        .map(|e| (e.path.clone(), e.is_file()))
        .collect();
    for (p, is_file) in &paths {
        let _ = view.resolve(p);
        if *is_file {
            let _ = view.read(p);
        }
        let _ = view.read_dir(p);
    }
    let r: Result<(), PassError> = view.visit_files(
        |_| true,
        |e, r| {
            let mut n = 0u64;
            let mut buf = [0u8; 8192];
            loop {
                let k = r.read(&mut buf).map_err(PassError::Io)?;
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
            assert_eq!(
                n, e.size,
                "{}: content pass gave {n} bytes, header said {}",
                e.path, e.size
            );
            Ok(())
        },
    );
    let r2: Result<(), FsError> = view.visit_layer_files(
        |_| true,
        |_, r| {
            let _ = std::io::copy(r, &mut std::io::sink());
            Ok(())
        },
    );
    format!(
        "entries:{} {} {}",
        paths.len().min(8),
        label(&r),
        label(&r2)
    )
}

/// The input is an uncompressed tar layer.
pub fn layer_tar(data: &[u8]) -> String {
    view(media_type::OCI_LAYER_TAR, data.to_vec())
}

/// The input is a tar layer, gzip-compressed before it is handed over.
pub fn layer_tar_gzip(data: &[u8]) -> String {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("writing to memory");
    view(
        media_type::OCI_LAYER_GZIP,
        enc.finish().expect("writing to memory"),
    )
}

/// The input is a raw gzip stream (header, deflate data, trailer all fuzzed).
pub fn layer_gzip(data: &[u8]) -> String {
    view(media_type::OCI_LAYER_GZIP, data.to_vec())
}

/// The input is a raw zstd stream.
pub fn layer_zstd(data: &[u8]) -> String {
    view(media_type::OCI_LAYER_ZSTD, data.to_vec())
}
