//! The compact match index: one value per (ecosystem, package name) holding, for every
//! advisory filed under it, only what matching needs (each affected entry's full ecosystem,
//! `versions` list and `ECOSYSTEM`/`SEMVER` range events), in a small varint-prefixed binary
//! form. A scan reads one value per package and decodes it without copying; the full JSON
//! record is parsed only for the advisories that match.
//!
//! A value is a sequence of advisories sorted by id, each `id, blob` (both length-prefixed);
//! a blob holds one advisory's entries (see [`encode_entries`]).

use crate::osv::Affected;

/// The kind of a range event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

impl EventKind {
    fn code(self) -> u8 {
        match self {
            EventKind::Introduced => 0,
            EventKind::Fixed => 1,
            EventKind::LastAffected => 2,
            EventKind::Limit => 3,
        }
    }

    fn from_code(c: u8) -> Option<EventKind> {
        Some(match c {
            0 => EventKind::Introduced,
            1 => EventKind::Fixed,
            2 => EventKind::LastAffected,
            3 => EventKind::Limit,
            _ => return None,
        })
    }
}

/// A range, borrowed from an index value or a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRef<'a> {
    /// `true` for a `SEMVER` range (ordered by SemVer whatever the ecosystem).
    pub semver: bool,
    pub events: Vec<(EventKind, &'a str)>,
}

/// One affected entry, borrowed from an index value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Index into the record's `affected` list.
    pub index: u32,
    /// The entry's ecosystem as written (`Debian:12`, `Red Hat:enterprise_linux:9::baseos`).
    pub ecosystem: &'a str,
    pub versions: Vec<&'a str>,
    /// `ECOSYSTEM` and `SEMVER` ranges (`GIT` ranges name commits and are not stored).
    pub ranges: Vec<RangeRef<'a>>,
}

/// The ranges of an entry that version matching can evaluate, borrowed.
pub fn ranges_of(a: &Affected) -> Vec<RangeRef<'_>> {
    a.ranges
        .iter()
        .filter(|r| r.kind != "GIT")
        .map(|r| RangeRef {
            semver: r.kind == "SEMVER",
            events: r
                .events
                .iter()
                .filter_map(|e| {
                    e.introduced
                        .as_deref()
                        .map(|v| (EventKind::Introduced, v))
                        .or(e.fixed.as_deref().map(|v| (EventKind::Fixed, v)))
                        .or(e
                            .last_affected
                            .as_deref()
                            .map(|v| (EventKind::LastAffected, v)))
                        .or(e.limit.as_deref().map(|v| (EventKind::Limit, v)))
                })
                .collect(),
        })
        .collect()
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Encodes the affected entries `(index, entry)` of one advisory filed under one key.
pub fn encode_entries<'a>(entries: impl IntoIterator<Item = (usize, &'a Affected)>) -> Vec<u8> {
    let entries: Vec<(usize, &Affected)> = entries.into_iter().collect();
    let mut out = Vec::with_capacity(32);
    put_varint(&mut out, entries.len());
    for (i, a) in entries {
        put_varint(&mut out, i);
        put_str(&mut out, &a.package.ecosystem);
        put_varint(&mut out, a.versions.len());
        for v in &a.versions {
            put_str(&mut out, v);
        }
        let ranges = ranges_of(a);
        put_varint(&mut out, ranges.len());
        for r in ranges {
            out.push(u8::from(r.semver));
            put_varint(&mut out, r.events.len());
            for (k, v) in r.events {
                out.push(k.code());
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
    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("match index value truncated at byte {}", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<usize, String> {
        let mut n: usize = 0;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            n |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(format!(
            "match index value: bad number at byte {}",
            self.pos
        ))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<&'a str, String> {
        let at = self.pos;
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| format!("match index value: invalid UTF-8 at byte {at}"))
    }

    /// A count, bounded by the bytes left so corrupt data cannot ask for huge allocations.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        if n > self.bytes.len() - self.pos {
            return Err(format!("match index value: count {n} exceeds its size"));
        }
        Ok(n)
    }
}

/// Decodes one advisory's entries, borrowing from `blob`.
pub fn decode_entries(blob: &[u8]) -> Result<Vec<EntryRef<'_>>, String> {
    let mut c = Cursor {
        bytes: blob,
        pos: 0,
    };
    let n = c.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let index = u32::try_from(c.varint()?).map_err(|_| "entry index too large".to_string())?;
        let ecosystem = c.string()?;
        let nv = c.count()?;
        let mut versions = Vec::with_capacity(nv);
        for _ in 0..nv {
            versions.push(c.string()?);
        }
        let nr = c.count()?;
        let mut ranges = Vec::with_capacity(nr);
        for _ in 0..nr {
            let semver = match c.u8()? {
                0 => false,
                1 => true,
                k => return Err(format!("match index value: unknown range kind {k}")),
            };
            let ne = c.count()?;
            let mut events = Vec::with_capacity(ne);
            for _ in 0..ne {
                let k = c.u8()?;
                let kind = EventKind::from_code(k)
                    .ok_or_else(|| format!("match index value: unknown event kind {k}"))?;
                events.push((kind, c.string()?));
            }
            ranges.push(RangeRef { semver, events });
        }
        out.push(EntryRef {
            index,
            ecosystem,
            versions,
            ranges,
        });
    }
    if !c.done() {
        return Err(format!(
            "match index value: {} trailing bytes",
            blob.len() - c.pos
        ));
    }
    Ok(out)
}

/// The advisories of one index value: `(id, blob)` in id order, or an error for a corrupt
/// value (after which iteration stops).
pub struct Advisories<'a> {
    cursor: Cursor<'a>,
    failed: bool,
}

impl<'a> Iterator for Advisories<'a> {
    type Item = Result<(&'a str, &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cursor.done() {
            return None;
        }
        let item = self
            .cursor
            .string()
            .and_then(|id| Ok((id, self.cursor.bytes()?)));
        self.failed = item.is_err();
        Some(item)
    }
}

/// Iterates over the advisories of an index value.
pub fn advisories(value: &[u8]) -> Advisories<'_> {
    Advisories {
        cursor: Cursor {
            bytes: value,
            pos: 0,
        },
        failed: false,
    }
}

/// `value` with advisory `id` removed and, when `blob` is given, (re)inserted in id order.
pub fn put(value: &[u8], id: &str, blob: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(value.len() + id.len() + blob.map_or(0, <[u8]>::len) + 4);
    let mut pending = blob;
    for item in advisories(value) {
        let (other, other_blob) = item?;
        if other == id {
            continue;
        }
        if other > id
            && let Some(b) = pending.take()
        {
            put_str(&mut out, id);
            put_varint(&mut out, b.len());
            out.extend_from_slice(b);
        }
        put_str(&mut out, other);
        put_varint(&mut out, other_blob.len());
        out.extend_from_slice(other_blob);
    }
    if let Some(b) = pending {
        put_str(&mut out, id);
        put_varint(&mut out, b.len());
        out.extend_from_slice(b);
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
            "events":[{"introduced":"abc"}]},{"type":"SEMVER","events":[{"introduced":"1.0.0"}]}]},
            {"package":{"ecosystem":"npm","name":"b"}}]}"#,
        )
        .unwrap();
        let blob = encode_entries(r.affected.iter().enumerate());
        let back = decode_entries(&blob).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].index, 1);
        assert_eq!(back[1].ecosystem, "npm");
        let a = &back[0];
        assert_eq!(a.ecosystem, "Debian:12");
        assert_eq!(a.versions, ["1.0", "1.1"]);
        assert_eq!(a.ranges, ranges_of(&r.affected[0]));
        assert_eq!(a.ranges.len(), 2, "the GIT range is left out");
        assert_eq!(
            a.ranges[0].events,
            [
                (EventKind::Introduced, "0"),
                (EventKind::Fixed, "1.2"),
                (EventKind::LastAffected, "1.5"),
                (EventKind::Limit, "2")
            ]
        );
        assert!(a.ranges[1].semver);
        for cut in 0..blob.len() {
            assert!(decode_entries(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = blob.clone();
        extra.push(0);
        assert!(decode_entries(&extra).is_err());
        assert!(decode_entries(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn values_keep_advisories_sorted_and_replace_by_id() {
        let v = put(&[], "B", Some(b"bb")).unwrap();
        let v = put(&v, "A", Some(b"a")).unwrap();
        let v = put(&v, "C", Some(b"")).unwrap();
        let v = put(&v, "B", Some(b"new")).unwrap();
        let got: Vec<(&str, &[u8])> = advisories(&v).map(Result::unwrap).collect();
        assert_eq!(got, [("A", &b"a"[..]), ("B", &b"new"[..]), ("C", &b""[..])]);
        let v = put(&v, "A", None).unwrap();
        let v = put(&v, "Z", None).unwrap();
        let ids: Vec<&str> = advisories(&v).map(|x| x.unwrap().0).collect();
        assert_eq!(ids, ["B", "C"]);
        assert!(put(&v, "A", None).unwrap() == v);
        let cut = &v[..v.len() - 1];
        assert!(advisories(cut).any(|x| x.is_err()));
        assert!(put(cut, "Q", Some(b"q")).is_err());
    }
}
