//! The compact match index: for each (ecosystem, package name, advisory id), only what
//! matching needs (the affected entries' full ecosystem and name, `versions` lists and range events),
//! in a small length-prefixed binary form, so a scan reads and decodes that alone and parses
//! the full JSON record only for the advisories that match.

use crate::osv::{Affected, Event, Package, Range};

/// One affected entry of a record as stored in the index, with its position in the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Index into the record's `affected` list.
    pub index: u32,
    /// The entry with its package ecosystem, `versions` and `ranges` (no severity).
    pub affected: Affected,
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(u32::try_from(n).unwrap_or(u32::MAX)).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Encodes the affected entries `(index, entry)` of one record filed under one key.
pub fn encode<'a>(entries: impl IntoIterator<Item = (usize, &'a Affected)>) -> Vec<u8> {
    let entries: Vec<(usize, &Affected)> = entries.into_iter().collect();
    let mut out = Vec::with_capacity(64);
    put_u32(&mut out, entries.len());
    for (i, a) in entries {
        put_u32(&mut out, i);
        put_str(&mut out, &a.package.ecosystem);
        put_str(&mut out, &a.package.name);
        put_u32(&mut out, a.versions.len());
        for v in &a.versions {
            put_str(&mut out, v);
        }
        put_u32(&mut out, a.ranges.len());
        for r in &a.ranges {
            put_str(&mut out, &r.kind);
            let events: Vec<(u8, &str)> = r
                .events
                .iter()
                .filter_map(|e| {
                    e.introduced
                        .as_deref()
                        .map(|v| (0, v))
                        .or(e.fixed.as_deref().map(|v| (1, v)))
                        .or(e.last_affected.as_deref().map(|v| (2, v)))
                        .or(e.limit.as_deref().map(|v| (3, v)))
                })
                .collect();
            put_u32(&mut out, events.len());
            for (k, v) in events {
                out.push(k);
                put_str(&mut out, v);
            }
        }
    }
    out
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("match index entry truncated at byte {}", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.u32()?;
        let at = self.pos;
        std::str::from_utf8(self.take(n)?)
            .map(str::to_string)
            .map_err(|_| format!("match index entry: invalid UTF-8 at byte {at}"))
    }

    /// A count, bounded by the bytes left so corrupt data cannot ask for huge allocations.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()?;
        if n > self.bytes.len() - self.pos {
            return Err(format!("match index entry: count {n} exceeds its size"));
        }
        Ok(n)
    }
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut c = Cursor { bytes, pos: 0 };
    let n = c.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let index = c.u32()? as u32;
        let ecosystem = c.string()?;
        let name = c.string()?;
        let nv = c.count()?;
        let mut versions = Vec::with_capacity(nv);
        for _ in 0..nv {
            versions.push(c.string()?);
        }
        let nr = c.count()?;
        let mut ranges = Vec::with_capacity(nr);
        for _ in 0..nr {
            let kind = c.string()?;
            let ne = c.count()?;
            let mut events = Vec::with_capacity(ne);
            for _ in 0..ne {
                let k = c.u8()?;
                let v = Some(c.string()?);
                let mut e = Event::default();
                match k {
                    0 => e.introduced = v,
                    1 => e.fixed = v,
                    2 => e.last_affected = v,
                    3 => e.limit = v,
                    _ => return Err(format!("match index entry: unknown event kind {k}")),
                }
                events.push(e);
            }
            ranges.push(Range {
                kind,
                repo: None,
                events,
            });
        }
        out.push(Entry {
            index,
            affected: Affected {
                package: Package {
                    ecosystem,
                    name,
                    purl: None,
                },
                ranges,
                versions,
                ..Default::default()
            },
        });
    }
    if c.pos != bytes.len() {
        return Err(format!(
            "match index entry: {} trailing bytes",
            bytes.len() - c.pos
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_input() {
        let r = crate::osv::Record::from_json(
            br#"{"id":"X-1","affected":[{"package":{"ecosystem":"Debian:12","name":"a"},
            "versions":["1.0","1.1"],"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},
            {"fixed":"1.2"},{"last_affected":"1.5"},{"limit":"2"}]},{"type":"GIT","repo":"r",
            "events":[{"introduced":"abc"}]}]},{"package":{"ecosystem":"npm","name":"b"}}]}"#,
        )
        .unwrap();
        let bytes = encode(r.affected.iter().enumerate());
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].index, 1);
        let a = &back[0].affected;
        assert_eq!(a.package.ecosystem, "Debian:12");
        assert_eq!(a.versions, r.affected[0].versions);
        assert_eq!(a.ranges[0].events, r.affected[0].ranges[0].events);
        assert_eq!(a.ranges[1].kind, "GIT");
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        assert!(decode(&[255, 255, 255, 255]).is_err());
    }
}
