//! One read of one layer blob: the compressed bytes hashed as they are read, decompressed
//! by the layer's media type, and every decompressed byte counted against the per-layer
//! and per-image limits (so a decompression bomb stops at the limit, not at the end).

use std::cell::RefCell;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use super::error::FsError;
use super::limits::Limits;
use super::source::LayerBlob;
use crate::digest::{Digest, Hasher};
use crate::error::OciError;
use crate::media_type::Compression;

/// Which limit a read went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Layer,
    Image,
}

/// Decompressed byte counts of one pass, shared by the layers it reads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    layer: u64,
    image: u64,
    exceeded: Option<Exceeded>,
}

/// Shared counters of one pass (single-threaded).
pub(crate) type SharedCounters = Rc<RefCell<Counters>>;

/// A new set of counters for one pass.
pub(crate) fn counters() -> SharedCounters {
    Rc::new(RefCell::new(Counters::default()))
}

/// The compressed bytes, hashed as they are read.
struct Hashing<'a> {
    inner: Box<dyn Read + 'a>,
    hasher: Rc<RefCell<Hasher>>,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

#[allow(clippy::large_enum_variant)] // one decoder per layer stream: boxing buys nothing
enum Decoder<'a> {
    Plain(Hashing<'a>),
    Gzip(MultiGzDecoder<Hashing<'a>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Hashing<'a>>>),
}

/// A decompressed layer stream (the tar bytes), limited and counted.
pub(crate) struct LayerStream<'a> {
    decoder: Decoder<'a>,
    hasher: Rc<RefCell<Hasher>>,
    counters: SharedCounters,
    limits: Limits,
    index: usize,
    blob: &'a LayerBlob,
}

impl<'a> LayerStream<'a> {
    /// Opens layer `index` from its start; the per-layer count starts again at 0.
    pub(crate) fn open(
        index: usize,
        blob: &'a LayerBlob,
        compression: Compression,
        limits: Limits,
        counters: SharedCounters,
    ) -> Result<LayerStream<'a>, FsError> {
        let digest = &blob.descriptor.digest;
        let inner = blob.open().map_err(|e| FsError::Blob {
            layer: index,
            digest: digest.clone(),
            source: OciError::io(format!("blob {digest}"), e),
        })?;
        let hasher = Rc::new(RefCell::new(digest.hasher()));
        let raw = Hashing {
            inner,
            hasher: hasher.clone(),
        };
        let decoder = match compression {
            Compression::None => Decoder::Plain(raw),
            Compression::Gzip => Decoder::Gzip(MultiGzDecoder::new(raw)),
            Compression::Zstd => {
                Decoder::Zstd(zstd::stream::read::Decoder::new(raw).map_err(|e| {
                    FsError::Corrupt {
                        layer: index,
                        digest: digest.clone(),
                        reason: format!("zstd decoder: {e}"),
                    }
                })?)
            }
        };
        counters.borrow_mut().layer = 0;
        Ok(LayerStream {
            decoder,
            hasher,
            counters,
            limits,
            index,
            blob,
        })
    }

    /// Turns an I/O error met while reading this stream into the error to report: the
    /// limit that was exceeded if any, else a corrupt layer.
    pub(crate) fn error(&self, e: &io::Error) -> FsError {
        error_for(&self.counters, self.index, self.blob, &self.limits, e)
    }

    /// Reads what is left (the tar end, padding, further compressed members) to the end
    /// of the blob and, when `verify`, checks the blob's digest and size.
    pub(crate) fn finish(mut self, verify: bool) -> Result<(), FsError> {
        if let Err(e) = io::copy(&mut self, &mut io::sink()) {
            return Err(self.error(&e));
        }
        let raw_rest = match &mut self.decoder {
            Decoder::Plain(r) => io::copy(r, &mut io::sink()),
            Decoder::Gzip(d) => io::copy(d.get_mut(), &mut io::sink()),
            Decoder::Zstd(d) => io::copy(d.get_mut(), &mut io::sink()),
        };
        if let Err(e) = raw_rest {
            return Err(self.error(&e));
        }
        if !verify {
            return Ok(());
        }
        let hasher = std::mem::replace(
            &mut *self.hasher.borrow_mut(),
            Hasher::new(self.blob.descriptor.digest.algorithm()),
        );
        let size = hasher.len();
        let actual: Digest = hasher.finish();
        let d = &self.blob.descriptor;
        if size != d.size {
            return Err(FsError::SizeMismatch {
                layer: self.index,
                digest: d.digest.clone(),
                expected: d.size,
                actual: size,
            });
        }
        if actual != d.digest {
            return Err(FsError::DigestMismatch {
                layer: self.index,
                expected: d.digest.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// The error for an I/O failure on layer `index`, given the pass counters.
pub(crate) fn error_for(
    counters: &SharedCounters,
    index: usize,
    blob: &LayerBlob,
    limits: &Limits,
    e: &io::Error,
) -> FsError {
    let digest = blob.descriptor.digest.clone();
    match counters.borrow().exceeded {
        Some(Exceeded::Layer) => FsError::LayerTooLarge {
            layer: index,
            digest,
            limit: limits.max_layer_bytes,
        },
        Some(Exceeded::Image) => FsError::ImageTooLarge {
            layer: index,
            digest,
            limit: limits.max_image_bytes,
        },
        None => FsError::Corrupt {
            layer: index,
            digest,
            reason: e.to_string(),
        },
    }
}

impl Read for LayerStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.counters.borrow().exceeded.is_some() {
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        let n = match &mut self.decoder {
            Decoder::Plain(r) => r.read(buf)?,
            Decoder::Gzip(d) => d.read(buf)?,
            Decoder::Zstd(d) => d.read(buf)?,
        };
        let mut c = self.counters.borrow_mut();
        c.layer += n as u64;
        c.image += n as u64;
        if c.layer > self.limits.max_layer_bytes {
            c.exceeded = Some(Exceeded::Layer);
        } else if c.image > self.limits.max_image_bytes {
            c.exceeded = Some(Exceeded::Image);
        }
        if c.exceeded.is_some() {
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        Ok(n)
    }
}
