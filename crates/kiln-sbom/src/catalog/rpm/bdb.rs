//! Berkeley DB `Packages` (rpm <= 4.15): the header blobs stored as the data items of a hash
//! (or btree) database keyed by the 4-byte header number. The reader checks the metadata
//! page (magic, byte order, page size), then visits every page in file order: on hash pages
//! and btree leaf pages it takes the key/data pairs, following overflow ("big item") page
//! chains. Page layouts from Berkeley DB's db_page.h: a 26-byte page header (LSN, page number,
//! previous/next page, entry count, free-area offset, level, type), then the entry offsets.

use std::collections::HashSet;

use super::{Blobs, DbError};

const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;
/// Page types.
const P_HASH_UNSORTED: u8 = 2;
const P_LBTREE: u8 = 5;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
/// Item types (hash `H_*`, btree `B_*`: the same numbers).
const KEYDATA: u8 = 1;
const OFFPAGE: u8 = 3;
/// The page header size.
const PAGE_HEADER: usize = 26;

struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    little: bool,
}

impl<'a> Db<'a> {
    fn u16_at(&self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at + 2)?;
        Some(if self.little {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        })
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    fn page(&self, n: u32) -> Option<&'a [u8]> {
        let start = (n as usize).checked_mul(self.page_size)?;
        self.data.get(start..start.checked_add(self.page_size)?)
    }

    /// The bytes of an overflow chain starting at page `first`, `len` bytes long.
    fn overflow(&self, first: u32, len: usize) -> Result<Vec<u8>, String> {
        if len > self.data.len() {
            return Err(format!("big item of {len} bytes is larger than the file"));
        }
        let mut out = Vec::with_capacity(len);
        let mut next = first;
        let mut seen = HashSet::new();
        while out.len() < len {
            if next == 0 || !seen.insert(next) {
                return Err(format!(
                    "overflow chain at page {first} ends early or loops"
                ));
            }
            let page = self
                .page(next)
                .ok_or_else(|| format!("overflow page {next} is outside the file (truncated?)"))?;
            if page[25] != P_OVERFLOW {
                return Err(format!("page {next} is not an overflow page"));
            }
            // On overflow pages the free-area offset field holds the bytes used.
            let used = self.u16_at(page, 22).unwrap_or(0) as usize;
            let chunk = page
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .ok_or_else(|| format!("overflow page {next}: length {used} is too large"))?;
            out.extend_from_slice(chunk);
            next = self.u32_at(page, 16).unwrap_or(0);
        }
        out.truncate(len);
        Ok(out)
    }

    /// The item at entry `i` of a hash page: inline bytes or an overflow chain.
    fn hash_item(&self, page: &[u8], i: usize) -> Result<Vec<u8>, String> {
        let off = self.entry_offset(page, i)?;
        let end = match i {
            0 => self.page_size,
            _ => self.entry_offset(page, i - 1)?,
        };
        if off >= end || end > self.page_size {
            return Err(format!("entry {i}: offsets {off}..{end} are out of order"));
        }
        match page[off] {
            KEYDATA => Ok(page[off + 1..end].to_vec()),
            OFFPAGE => {
                // HOFFPAGE: type, 3 unused bytes, first page, total length.
                let first = self.u32_at(page, off + 4).ok_or("short off-page item")?;
                let len = self.u32_at(page, off + 8).ok_or("short off-page item")?;
                self.overflow(first, len as usize)
            }
            t => Err(format!("entry {i}: unsupported hash item type {t}")),
        }
    }

    /// The item at entry `i` of a btree leaf page.
    fn btree_item(&self, page: &[u8], i: usize) -> Result<Vec<u8>, String> {
        let off = self.entry_offset(page, i)?;
        // BKEYDATA: length (u16), type, data; BOVERFLOW: unused (u16), type, unused, page, length.
        let len = self.u16_at(page, off).ok_or("short item")? as usize;
        let kind = *page.get(off + 2).ok_or("short item")? & 0x7f;
        match kind {
            KEYDATA => page
                .get(off + 3..off + 3 + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("entry {i}: {len} bytes overrun the page")),
            OFFPAGE => {
                let first = self.u32_at(page, off + 4).ok_or("short overflow item")?;
                let len = self.u32_at(page, off + 8).ok_or("short overflow item")?;
                self.overflow(first, len as usize)
            }
            t => Err(format!("entry {i}: unsupported btree item type {t}")),
        }
    }

    fn entry_offset(&self, page: &[u8], i: usize) -> Result<usize, String> {
        let off = self
            .u16_at(page, PAGE_HEADER + 2 * i)
            .ok_or_else(|| format!("entry {i}: offset is outside the page"))?
            as usize;
        if off < PAGE_HEADER || off >= self.page_size {
            return Err(format!("entry {i}: offset {off} is outside the page"));
        }
        Ok(off)
    }
}

/// The header blobs of a Berkeley DB `Packages` file.
pub fn read(data: &[u8]) -> Result<Blobs, DbError> {
    if data.len() < 512 {
        return Err(DbError::new(format!(
            "{} bytes is too short for a Berkeley DB file",
            data.len()
        )));
    }
    let magic_le = u32::from_le_bytes([data[12], data[13], data[14], data[15]]);
    let magic_be = u32::from_be_bytes([data[12], data[13], data[14], data[15]]);
    let little = match (magic_le, magic_be) {
        (HASH_MAGIC | BTREE_MAGIC, _) => true,
        (_, HASH_MAGIC | BTREE_MAGIC) => false,
        _ => return Err(DbError::new("not a Berkeley DB hash or btree database")),
    };
    let mut db = Db {
        data,
        page_size: 0,
        little,
    };
    let page_size = db.u32_at(data, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(DbError::new(format!("invalid page size {page_size}")));
    }
    // Byte 24 is the encryption algorithm: encrypted databases cannot be read.
    if data[24] != 0 {
        return Err(DbError::new(
            "encrypted Berkeley DB databases are not supported",
        ));
    }
    db.page_size = page_size;
    let mut blobs = Blobs::default();
    let pages = data.len() / page_size;
    if !data.len().is_multiple_of(page_size) {
        blobs.problems.push(format!(
            "file size {} is not a multiple of the page size {page_size} (truncated?)",
            data.len()
        ));
    }
    for n in 1..pages {
        let Some(page) = db.page(n as u32) else {
            break;
        };
        let kind = page[25];
        let hash = matches!(kind, P_HASH | P_HASH_UNSORTED);
        if !hash && kind != P_LBTREE {
            continue;
        }
        let entries = db.u16_at(page, 20).unwrap_or(0) as usize;
        if PAGE_HEADER + entries * 2 > page_size {
            blobs
                .problems
                .push(format!("page {n}: {entries} entries do not fit; skipped"));
            continue;
        }
        for pair in 0..entries / 2 {
            let (k, v) = (pair * 2, pair * 2 + 1);
            let item = |i| match hash {
                true => db.hash_item(page, i),
                false => db.btree_item(page, i),
            };
            match (item(k), item(v)) {
                (Ok(key), Ok(value)) => {
                    let Some(key) = db.u32_at(&key, 0).filter(|_| key.len() == 4) else {
                        blobs
                            .problems
                            .push(format!("page {n}: a key is not 4 bytes"));
                        continue;
                    };
                    // Key 0 holds rpm's next-header-number counter, not a header.
                    if key != 0 {
                        blobs.blobs.push((key as u64, value));
                    }
                }
                (Err(e), _) | (_, Err(e)) => blobs.problems.push(format!("page {n}: {e}")),
            }
        }
    }
    blobs.blobs.sort_by_key(|(k, _)| *k);
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_files() {
        assert!(read(&[0u8; 100]).is_err());
        assert!(read(&[0u8; 4096]).is_err());
        let mut d = vec![0u8; 4096];
        d[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        d[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(read(&d).is_err());
        d[20..24].copy_from_slice(&1024u32.to_le_bytes());
        assert!(read(&d).unwrap().blobs.is_empty());
    }
}
