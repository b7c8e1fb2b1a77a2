//! NDB `Packages.db` (rpm >= 4.16's own format, SUSE's default): a 32-byte file header
//! (`RpmP`, version, generation, number of 4 KiB slot pages), then 16-byte slots (`Slot`,
//! package index, block offset, block count) filling the slot pages, and blobs in 16-byte
//! blocks: a 16-byte blob header (`BlbS`, package index, generation, length), the header blob,
//! and a trailer. All little-endian, as rpm's lib/backend/ndb/rpmpkg.c writes it.

use super::{Blobs, DbError};

const FILE_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_MAGIC: &[u8; 4] = b"BlbS";
const PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;
/// The file header takes the first two slot positions.
const HEADER_SLOTS: usize = 2;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The header blobs of an NDB `Packages.db`.
pub fn read(data: &[u8]) -> Result<Blobs, DbError> {
    if data.len() < 32 || &data[..4] != FILE_MAGIC {
        return Err(DbError::new("not an rpm NDB Packages.db (bad magic)"));
    }
    let version = le32(data, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(DbError::new(format!("unsupported NDB version {version}")));
    }
    let slot_pages = le32(data, 12).unwrap_or(0) as usize;
    if slot_pages == 0 || slot_pages > 2048 {
        return Err(DbError::new(format!(
            "invalid slot page count {slot_pages}"
        )));
    }
    let mut blobs = Blobs::default();
    let slots_end = slot_pages * PAGE_SIZE;
    if slots_end > data.len() {
        blobs.problems.push(format!(
            "slot area of {slots_end} bytes is longer than the file ({} bytes; truncated?)",
            data.len()
        ));
    }
    let slots_end = slots_end.min(data.len());
    for at in (HEADER_SLOTS * SLOT_SIZE..slots_end).step_by(SLOT_SIZE) {
        let Some(slot) = data.get(at..at + SLOT_SIZE) else {
            break;
        };
        if &slot[..4] != SLOT_MAGIC {
            blobs.problems.push(format!(
                "slot at byte {at} has a bad magic; slots after it skipped"
            ));
            break;
        }
        let (idx, off, cnt) = (
            le32(slot, 4).unwrap_or(0),
            le32(slot, 8).unwrap_or(0) as usize,
            le32(slot, 12).unwrap_or(0) as usize,
        );
        if idx == 0 {
            continue; // a free slot
        }
        match blob(data, idx, off, cnt) {
            Ok(b) => blobs.blobs.push((idx as u64, b.to_vec())),
            Err(e) => blobs.problems.push(format!("package {idx}: {e}")),
        }
    }
    blobs.blobs.sort_by_key(|(k, _)| *k);
    Ok(blobs)
}

/// The header blob a slot points at, checked against the slot.
fn blob(data: &[u8], idx: u32, blk_off: usize, blk_cnt: usize) -> Result<&[u8], String> {
    let start = blk_off
        .checked_mul(BLOCK_SIZE)
        .ok_or("block offset overflows")?;
    let room = blk_cnt
        .checked_mul(BLOCK_SIZE)
        .ok_or("block count overflows")?;
    let head = data
        .get(start..start + 16)
        .ok_or_else(|| format!("blob at byte {start} is outside the file (truncated?)"))?;
    if &head[..4] != BLOB_MAGIC {
        return Err(format!("blob at byte {start} has a bad magic"));
    }
    let owner = le32(head, 4).unwrap_or(0);
    if owner != idx {
        return Err(format!("blob at byte {start} belongs to package {owner}"));
    }
    let len = le32(head, 12).unwrap_or(0) as usize;
    if len + 16 > room {
        return Err(format!("blob length {len} exceeds its {blk_cnt} blocks"));
    }
    data.get(start + 16..start + 16 + len)
        .ok_or_else(|| format!("blob of {len} bytes at byte {start} is cut off (truncated?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(blob_data: &[u8], idx: u32) -> Vec<u8> {
        let mut d = vec![0u8; PAGE_SIZE];
        d[..4].copy_from_slice(FILE_MAGIC);
        d[12..16].copy_from_slice(&1u32.to_le_bytes());
        for s in (32..PAGE_SIZE).step_by(16) {
            d[s..s + 4].copy_from_slice(SLOT_MAGIC);
        }
        let blocks = (16 + blob_data.len() + 12).div_ceil(16);
        d[36..40].copy_from_slice(&idx.to_le_bytes());
        d[40..44].copy_from_slice(&((PAGE_SIZE / 16) as u32).to_le_bytes());
        d[44..48].copy_from_slice(&(blocks as u32).to_le_bytes());
        d.extend_from_slice(BLOB_MAGIC);
        d.extend_from_slice(&idx.to_le_bytes());
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&(blob_data.len() as u32).to_le_bytes());
        d.extend_from_slice(blob_data);
        d.resize(PAGE_SIZE + blocks * 16, 0);
        d
    }

    #[test]
    fn reads_a_slot_and_its_blob() {
        let d = file(b"hello header", 7);
        let b = read(&d).unwrap();
        assert_eq!(b.blobs, vec![(7, b"hello header".to_vec())]);
        assert!(b.problems.is_empty());
    }

    #[test]
    fn truncation_is_a_problem_not_a_panic() {
        let d = file(b"hello header", 7);
        for cut in 0..d.len() {
            if let Ok(b) = read(&d[..cut]) {
                assert!(b.blobs.is_empty() || cut >= PAGE_SIZE + 16 + 12);
            }
        }
        let b = read(&d[..PAGE_SIZE + 20]).unwrap();
        assert!(b.blobs.is_empty());
        assert_eq!(b.problems.len(), 1, "{:?}", b.problems);
    }
}
