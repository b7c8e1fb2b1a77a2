//! `rpmdb.sqlite` (rpm >= 4.16): the header blobs of table `Packages(hnum, blob)`, read from
//! the file's bytes in memory by a small read-only reader of the SQLite file format (the
//! schema table, table b-trees, overflow pages, records). rusqlite 0.32 can open bytes in
//! memory only through `unsafe` code, which Kiln does not allow; the format is documented
//! and stable (sqlite.org/fileformat2.html), and only table traversal is needed. A WAL file
//! beside the database is not read (rpm checkpoints it when it closes the database).

use std::collections::HashSet;

use super::{Blobs, DbError};

const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Interior and leaf table b-tree page types.
const TABLE_INTERIOR: u8 = 5;
const TABLE_LEAF: u8 = 13;

struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
    pages: usize,
}

/// A column value of a record (only what the reader uses).
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Other,
}

fn be_uint(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

/// A SQLite varint at `at`: the value and its length.
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at + i)?;
        if i == 8 {
            return Some(((v << 8) | byte as u64, 9));
        }
        v = (v << 7) | (byte & 0x7f) as u64;
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

impl<'a> Db<'a> {
    fn open(data: &'a [u8]) -> Result<Self, DbError> {
        if data.len() < 100 || &data[..16] != MAGIC {
            return Err(DbError::new("not an SQLite 3 database (bad header)"));
        }
        let page_size = match be_uint(&data[16..18]) {
            1 => 65536,
            n if (512..=32768).contains(&n) && n.is_power_of_two() => n as usize,
            n => return Err(DbError::new(format!("invalid page size {n}"))),
        };
        let reserved = data[20] as usize;
        let usable = page_size.saturating_sub(reserved);
        if usable < 480 {
            return Err(DbError::new(format!(
                "usable page size {usable} is too small"
            )));
        }
        Ok(Db {
            data,
            page_size,
            usable,
            pages: data.len() / page_size,
        })
    }

    fn page(&self, n: u64) -> Result<&'a [u8], DbError> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n == 0 || n > self.pages {
            return Err(DbError::new(format!(
                "page {n} is outside the file ({} pages; truncated?)",
                self.pages
            )));
        }
        let start = (n - 1) * self.page_size;
        Ok(&self.data[start..start + self.page_size])
    }

    /// Every (rowid, payload) of the table b-tree rooted at `root`, in order.
    fn table(&self, root: u64) -> Result<Vec<(i64, Vec<u8>)>, DbError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                return Err(DbError::new(format!(
                    "b-tree page {n} is reached twice (loop)"
                )));
            }
            let page = self.page(n)?;
            let hdr = if n == 1 { 100 } else { 0 };
            let kind = page[hdr];
            let cells = be_uint(&page[hdr + 3..hdr + 5]) as usize;
            let (ptrs, interior) = match kind {
                TABLE_LEAF => (hdr + 8, false),
                TABLE_INTERIOR => (hdr + 12, true),
                k => {
                    return Err(DbError::new(format!(
                        "page {n}: type {k} is not a table b-tree page"
                    )));
                }
            };
            if ptrs + cells * 2 > self.usable {
                return Err(DbError::new(format!("page {n}: {cells} cells do not fit")));
            }
            let cell_at = |i: usize| be_uint(&page[ptrs + i * 2..ptrs + i * 2 + 2]) as usize;
            if interior {
                // Children are pushed in reverse so they pop in key order.
                stack.push(be_uint(&page[hdr + 8..hdr + 12]));
                for i in (0..cells).rev() {
                    let at = cell_at(i);
                    let child = page
                        .get(at..at + 4)
                        .ok_or_else(|| DbError::new(format!("page {n}: cell {i} is outside")))?;
                    stack.push(be_uint(child));
                }
            } else {
                for i in 0..cells {
                    out.push(self.leaf_cell(page, n, cell_at(i))?);
                }
            }
        }
        Ok(out)
    }

    /// A table leaf cell: payload size, rowid, local payload, then overflow pages.
    fn leaf_cell(&self, page: &[u8], n: u64, at: usize) -> Result<(i64, Vec<u8>), DbError> {
        let bad = || DbError::new(format!("page {n}: cell at {at} is corrupt"));
        let (size, l1) = varint(page, at).ok_or_else(bad)?;
        let (rowid, l2) = varint(page, at + l1).ok_or_else(bad)?;
        let size = usize::try_from(size).map_err(|_| bad())?;
        if size > self.data.len() {
            return Err(bad());
        }
        let u = self.usable;
        let x = u - 35;
        let local = if size <= x {
            size
        } else {
            let m = ((u - 12) * 32 / 255) - 23;
            let k = m + ((size - m) % (u - 4));
            if k <= x { k } else { m }
        };
        let start = at + l1 + l2;
        let mut payload = page.get(start..start + local).ok_or_else(bad)?.to_vec();
        if local < size {
            let ptr = page.get(start + local..start + local + 4).ok_or_else(bad)?;
            let mut next = be_uint(ptr);
            let mut hops = 0usize;
            while payload.len() < size {
                hops += 1;
                if next == 0 || hops > self.pages {
                    return Err(DbError::new(format!(
                        "page {n}: overflow chain ends early or loops"
                    )));
                }
                let ov = self.page(next)?;
                next = be_uint(&ov[..4]);
                let take = (size - payload.len()).min(u - 4);
                payload.extend_from_slice(&ov[4..4 + take]);
            }
        }
        Ok((rowid as i64, payload))
    }
}

/// The columns of a record.
fn record(payload: &[u8]) -> Option<Vec<Value<'_>>> {
    let (hlen, l) = varint(payload, 0)?;
    let hlen = usize::try_from(hlen).ok()?;
    if hlen > payload.len() {
        return None;
    }
    let mut types = Vec::new();
    let mut pos = l;
    while pos < hlen {
        let (t, l) = varint(payload, pos)?;
        types.push(t);
        pos += l;
    }
    let mut body = hlen;
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let len = match t {
            0 | 8 | 9 => 0,
            1..=4 => t as usize,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return None,
            n => ((n - 12) / 2) as usize,
        };
        let bytes = payload.get(body..body.checked_add(len)?)?;
        body += len;
        out.push(match t {
            0 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => {
                let v = be_uint(bytes);
                let shift = 64 - 8 * len as u32;
                Value::Int(((v << shift) as i64) >> shift)
            }
            7 => Value::Other,
            n if n % 2 == 0 => Value::Blob(bytes),
            _ => Value::Text(bytes),
        });
    }
    Some(out)
}

/// The header blobs of `Packages`, keyed by `hnum`.
pub fn read(data: &[u8]) -> Result<Blobs, DbError> {
    let db = Db::open(data)?;
    let mut root = None;
    for (_, payload) in db.table(1)? {
        let Some(cols) = record(&payload) else {
            continue;
        };
        if let [
            Value::Text(b"table"),
            Value::Text(b"Packages"),
            _,
            Value::Int(r),
            ..,
        ] = cols.as_slice()
        {
            root = Some(*r);
        }
    }
    let root = root.ok_or_else(|| DbError::new("no Packages table"))?;
    let root = u64::try_from(root).map_err(|_| DbError::new("bad Packages root page"))?;
    let mut blobs = Blobs::default();
    for (rowid, payload) in db.table(root)? {
        match record(&payload).as_deref() {
            Some([_, Value::Blob(b)]) => blobs.blobs.push((rowid as u64, b.to_vec())),
            _ => blobs
                .problems
                .push(format!("Packages row {rowid}: not a (hnum, blob) record")),
        }
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05], 0), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00], 0), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9], 0), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81], 0), None);
    }

    #[test]
    fn records() {
        // header: size 3, types NULL and 2-byte blob (16); body: the blob
        let r = record(&[3, 0, 16, 0xab, 0xcd]).unwrap();
        assert_eq!(r, vec![Value::Null, Value::Blob(&[0xab, 0xcd])]);
        let r = record(&[2, 1, 0xff]).unwrap();
        assert_eq!(r, vec![Value::Int(-1)]);
        assert!(record(&[3, 0, 16, 0xab]).is_none());
    }

    #[test]
    fn rejects_non_sqlite() {
        assert!(read(b"hello").is_err());
        let mut d = vec![0u8; 4096];
        d[..16].copy_from_slice(MAGIC);
        d[16] = 0x03; // 768: not a power of two
        assert!(read(&d).is_err());
    }
}
