//! The rpm header blob as every rpmdb backend stores it: a count of index entries and the
//! data length (both big-endian u32), the 16-byte index entries (tag, type, offset, count),
//! then the data store. Only the tags the cataloger needs are decoded; every read is
//! bounds-checked against the blob.

use thiserror::Error;

/// Tag numbers (rpmtag.h).
pub mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SIZE: u32 = 1009;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const SOURCERPM: u32 = 1044;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIRENAME: u32 = 1049;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const LONGSIZE: u32 = 5009;
}

/// Entry data types (rpmTagType).
mod kind {
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// rpm refuses headers with more entries or data than this (header.c); so do we.
const MAX_ENTRIES: usize = 0xffff;
const MAX_DATA: usize = 256 * 1024 * 1024;

/// Why a header blob cannot be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("header blob of {0} bytes is too short")]
    Short(usize),
    #[error(
        "header declares {entries} entries and {data} data bytes, which do not fit its {len} bytes"
    )]
    Size {
        entries: usize,
        data: usize,
        len: usize,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
    count: usize,
}

/// A parsed header: its index and data store, borrowed from the blob.
#[derive(Debug)]
pub struct Header<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    /// Parses a header blob (as stored in the database, without the lead magic).
    pub fn parse(blob: &'a [u8]) -> Result<Self, HeaderError> {
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(HeaderError::Short(blob.len()));
        };
        let (il, dl) = (il as usize, dl as usize);
        let index_end = il.checked_mul(16).and_then(|n| n.checked_add(8));
        let total = index_end.and_then(|n| n.checked_add(dl));
        if il == 0 || il > MAX_ENTRIES || dl > MAX_DATA || total.is_none_or(|t| t > blob.len()) {
            return Err(HeaderError::Size {
                entries: il,
                data: dl,
                len: blob.len(),
            });
        }
        let index_end = 8 + il * 16;
        let data = &blob[index_end..index_end + dl];
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 8 + i * 16;
            let field = |k: usize| be32(blob, at + k * 4).unwrap_or(0);
            entries.push(Entry {
                tag: field(0),
                kind: field(1),
                offset: field(2) as usize,
                count: field(3) as usize,
            });
        }
        Ok(Header { entries, data })
    }

    fn entry(&self, tag: u32) -> Option<Entry> {
        self.entries.iter().copied().find(|e| e.tag == tag)
    }

    /// NUL-terminated strings starting at `offset`, at most `count` of them.
    fn strings_at(&self, offset: usize, count: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut pos = offset;
        while out.len() < count && pos < self.data.len() {
            let rest = &self.data[pos..];
            let Some(end) = rest.iter().position(|&b| b == 0) else {
                break;
            };
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            pos += end + 1;
        }
        out
    }

    /// A string tag (STRING, or the first of an I18NSTRING / STRING_ARRAY).
    pub fn string(&self, tag: u32) -> Option<String> {
        let e = self.entry(tag)?;
        match e.kind {
            kind::STRING | kind::I18NSTRING | kind::STRING_ARRAY => {
                self.strings_at(e.offset, 1).pop()
            }
            _ => None,
        }
    }

    /// A string-array tag (empty when absent or of another type).
    pub fn strings(&self, tag: u32) -> Vec<String> {
        match self.entry(tag) {
            Some(e) if matches!(e.kind, kind::STRING_ARRAY | kind::STRING | kind::I18NSTRING) => {
                // A count larger than the data store could hold is clamped by the data.
                self.strings_at(e.offset, e.count.min(self.data.len()))
            }
            _ => Vec::new(),
        }
    }

    /// An INT32 (or INT64) array tag as i64 values.
    pub fn ints(&self, tag: u32) -> Vec<i64> {
        let Some(e) = self.entry(tag) else {
            return Vec::new();
        };
        let width = match e.kind {
            kind::INT32 => 4,
            kind::INT64 => 8,
            _ => return Vec::new(),
        };
        let avail = self.data.len().saturating_sub(e.offset) / width;
        (0..e.count.min(avail))
            .filter_map(|i| {
                let at = e.offset + i * width;
                let b = self.data.get(at..at + width)?;
                Some(match width {
                    4 => i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64,
                    _ => i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                })
            })
            .collect()
    }

    /// The first value of an integer tag.
    pub fn int(&self, tag: u32) -> Option<i64> {
        self.ints(tag).first().copied()
    }
}

/// What the cataloger takes from one installed package's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmInfo {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<i64>,
    pub arch: String,
    pub source_rpm: String,
    pub license: String,
    pub vendor: String,
    pub size: Option<i64>,
    /// Absolute paths of the files the package owns.
    pub files: Vec<String>,
    pub requires: Vec<String>,
    pub provides: Vec<String>,
}

impl RpmInfo {
    /// Reads the cataloger's fields from a header blob.
    pub fn from_blob(blob: &[u8]) -> Result<Self, HeaderError> {
        let h = Header::parse(blob)?;
        let s = |t| h.string(t).unwrap_or_default();
        let mut files = h.strings(tag::OLDFILENAMES);
        let basenames = h.strings(tag::BASENAMES);
        if !basenames.is_empty() {
            let dirs = h.strings(tag::DIRNAMES);
            let idx = h.ints(tag::DIRINDEXES);
            for (i, base) in basenames.iter().enumerate() {
                let dir = idx
                    .get(i)
                    .and_then(|&d| usize::try_from(d).ok())
                    .and_then(|d| dirs.get(d));
                if let Some(dir) = dir {
                    files.push(format!("{dir}{base}"));
                }
            }
        }
        Ok(RpmInfo {
            name: s(tag::NAME),
            version: s(tag::VERSION),
            release: s(tag::RELEASE),
            epoch: h.int(tag::EPOCH),
            arch: s(tag::ARCH),
            source_rpm: s(tag::SOURCERPM),
            license: s(tag::LICENSE),
            vendor: s(tag::VENDOR),
            size: h.int(tag::LONGSIZE).or_else(|| h.int(tag::SIZE)),
            files,
            requires: h.strings(tag::REQUIRENAME),
            provides: h.strings(tag::PROVIDENAME),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header blob from (tag, type, count, data) entries.
    fn blob(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (t, k, c, d) in entries {
            while k == &kind::INT32 && data.len() % 4 != 0 {
                data.push(0);
            }
            for v in [*t, *k, data.len() as u32, *c] {
                index.extend_from_slice(&v.to_be_bytes());
            }
            data.extend_from_slice(d);
        }
        let mut out = (entries.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn reads_strings_ints_and_files() {
        let b = blob(&[
            (tag::NAME, kind::STRING, 1, b"bash\0".to_vec()),
            (tag::VERSION, kind::STRING, 1, b"5.2\0".to_vec()),
            (tag::EPOCH, kind::INT32, 1, 1u32.to_be_bytes().to_vec()),
            (
                tag::BASENAMES,
                kind::STRING_ARRAY,
                2,
                b"bash\0sh\0".to_vec(),
            ),
            (
                tag::DIRNAMES,
                kind::STRING_ARRAY,
                1,
                b"/usr/bin/\0".to_vec(),
            ),
            (tag::DIRINDEXES, kind::INT32, 2, [0u8; 8].to_vec()),
        ]);
        let info = RpmInfo::from_blob(&b).unwrap();
        assert_eq!(info.name, "bash");
        assert_eq!(info.version, "5.2");
        assert_eq!(info.epoch, Some(1));
        assert_eq!(info.files, vec!["/usr/bin/bash", "/usr/bin/sh"]);
    }

    #[test]
    fn corrupt_headers_are_errors_not_panics() {
        assert_eq!(
            Header::parse(&[0, 0, 0]).unwrap_err(),
            HeaderError::Short(3)
        );
        let mut b = blob(&[(tag::NAME, kind::STRING, 1, b"x\0".to_vec())]);
        b.truncate(b.len() - 1);
        assert!(matches!(Header::parse(&b), Err(HeaderError::Size { .. })));
        // Offsets and counts pointing past the data store yield nothing, never a panic.
        let b = blob(&[
            (tag::NAME, kind::STRING, 1, b"x".to_vec()),
            (tag::DIRINDEXES, kind::INT32, 1_000_000, vec![0, 0]),
            (
                tag::BASENAMES,
                kind::STRING_ARRAY,
                1_000_000,
                b"a\0".to_vec(),
            ),
        ]);
        let info = RpmInfo::from_blob(&b).unwrap();
        assert_eq!(info.name, "x");
        assert!(info.files.is_empty());
        for cut in 0..b.len() {
            let _ = RpmInfo::from_blob(&b[..cut]);
        }
    }
}
