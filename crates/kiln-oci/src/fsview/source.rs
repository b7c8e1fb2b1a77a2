//! [`LayerBlob`]: a layer's descriptor plus where its compressed bytes can be read from,
//! any number of times (one read per pass): a file (an OCI layout blob, an extracted
//! `docker-archive` member), bytes in memory, or a private temporary copy of a stream.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use tempfile::NamedTempFile;

use super::error::{FsError, FsResult};
use crate::manifest::Descriptor;

/// One layer blob: its descriptor (media type, digest, size) and its bytes.
///
/// The bytes are checked against the descriptor's digest and size while the view is
/// built, as they are decompressed (no separate read).
#[derive(Debug)]
pub struct LayerBlob {
    /// The layer's descriptor; its media type selects the decompressor.
    pub descriptor: Descriptor,
    pub(crate) source: Source,
}

#[derive(Debug)]
pub(crate) enum Source {
    /// A file read in place (re-opened for each pass).
    Path(PathBuf),
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
    /// A private temporary copy, deleted with the view.
    Temp(NamedTempFile),
}

impl LayerBlob {
    /// A layer read from a file, streaming (for example `OciLayout::blob_path`).
    pub fn from_path(descriptor: Descriptor, path: impl Into<PathBuf>) -> LayerBlob {
        LayerBlob {
            descriptor,
            source: Source::Path(path.into()),
        }
    }

    /// A layer whose compressed bytes are in memory.
    pub fn from_bytes(descriptor: Descriptor, bytes: impl Into<Arc<[u8]>>) -> LayerBlob {
        LayerBlob {
            descriptor,
            source: Source::Bytes(bytes.into()),
        }
    }

    /// A layer read once from `reader` into a private temporary file (the compressed
    /// blob, not its content), so that passes can read it again.
    pub fn from_reader(descriptor: Descriptor, mut reader: impl Read) -> FsResult<LayerBlob> {
        let spool = |source| FsError::Spool {
            digest: descriptor.digest.clone(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".kiln-layer-")
            .tempfile()
            .map_err(spool)?;
        io::copy(&mut reader, tmp.as_file_mut()).map_err(spool)?;
        Ok(LayerBlob {
            descriptor,
            source: Source::Temp(tmp),
        })
    }

    /// Opens the compressed bytes from their start.
    pub(crate) fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(match &self.source {
            Source::Path(p) => Box::new(io::BufReader::with_capacity(64 * 1024, File::open(p)?)),
            Source::Bytes(b) => Box::new(&b[..]),
            Source::Temp(t) => Box::new(io::BufReader::with_capacity(
                64 * 1024,
                File::open(t.path())?,
            )),
        })
    }
}
