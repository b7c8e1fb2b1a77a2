//! Debian and Ubuntu order: dpkg's `verrevcmp` over `[epoch:]upstream[-revision]` (letters
//! before non-letters, `~` before everything, even the end of the string).

use std::cmp::Ordering;

use super::VersionError;
use super::num::cmp_digits;

/// A parsed Debian version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion {
    pub epoch: String,
    pub upstream: String,
    pub revision: String,
}

/// Parses `[epoch:]upstream[-revision]` as dpkg does.
pub fn parse(input: &str) -> Result<DebVersion, VersionError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(VersionError::new(input, "version string is empty"));
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) => {
            if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                return Err(VersionError::new(input, "epoch in version is not a number"));
            }
            (e.to_string(), r)
        }
        None => ("0".to_string(), s),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(VersionError::new(
            input,
            "nothing after colon in version number",
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || ".+~-:".contains(c);
    if !upstream.chars().all(ok) || !revision.chars().all(|c| c != ':' && ok(c)) {
        return Err(VersionError::new(
            input,
            "invalid character in version number",
        ));
    }
    Ok(DebVersion {
        epoch,
        upstream: upstream.to_string(),
        revision: revision.to_string(),
    })
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

/// dpkg's `verrevcmp`.
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Both slices are ASCII digits, so from_utf8 cannot fail.
        let x = std::str::from_utf8(&a[si..i]).unwrap_or("");
        let y = std::str::from_utf8(&b[sj..j]).unwrap_or("");
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Compares parsed versions.
pub fn compare_parsed(a: &DebVersion, b: &DebVersion) -> Ordering {
    cmp_digits(&a.epoch, &b.epoch)
        .then_with(|| verrevcmp(&a.upstream, &b.upstream))
        .then_with(|| verrevcmp(&a.revision, &b.revision))
}

/// Debian order; fails where `dpkg --compare-versions` rejects a version.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(compare_parsed(&parse(a)?, &parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_order() {
        assert_eq!(compare("1.0~rc1", "1.0").unwrap(), Less);
        assert_eq!(compare("1:0.1", "2.0").unwrap(), Greater);
        assert_eq!(compare("1.2.3-1~deb7u1", "1.2.3-1").unwrap(), Less);
        assert_eq!(compare("0.0.0", "0.0.0-0").unwrap(), Equal);
        assert!(compare("a:1", "1").is_err());
        assert!(compare("", "1").is_err());
    }
}
