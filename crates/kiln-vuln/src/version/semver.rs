//! Semantic Versioning 2.0 order, as npm, crates.io, Go and Hex use it, read leniently
//! (a leading `v`, any number of numeric components, unbounded numbers). Components after
//! the third become part of the build string. `Pub` orders the same way except that build
//! metadata counts (Dart's `pub_semver`), which [`compare_pub`] implements.

use std::cmp::Ordering;

use super::VersionError;
use super::num::{cmp_digit_lists, cmp_digits, is_digits};

/// A parsed semver-like version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemverLike {
    /// Numeric components (at most three), as digit strings.
    pub components: Vec<String>,
    /// Everything after the numeric components (`-pre`, `+build`, extra components).
    pub rest: String,
}

/// Parses a semver-like version: `v?N(.N)*` followed by anything.
pub fn parse(input: &str) -> Result<SemverLike, VersionError> {
    let s = input.strip_prefix('v').unwrap_or(input);
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(VersionError::new(
            input,
            "a semantic version starts with a number",
        ));
    }
    let mut comps: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut rest = String::new();
    let mut in_rest = false;
    for c in s.chars() {
        if in_rest {
            rest.push(c);
        } else if c.is_ascii_digit() {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                comps.push(std::mem::take(&mut cur));
            }
            if c != '.' {
                in_rest = true;
                rest.push(c);
            }
        }
    }
    if !in_rest && !cur.is_empty() {
        comps.push(cur);
    }
    if comps.len() > 3 {
        let extra: Vec<String> = comps.split_off(3);
        let mut build = rest;
        for e in extra {
            build.push('.');
            let t = e.trim_start_matches('0');
            build.push_str(if t.is_empty() { "0" } else { t });
        }
        rest = build;
    }
    Ok(SemverLike {
        components: comps,
        rest,
    })
}

/// Compares dot-separated identifiers as semver precedence does: numbers numerically and
/// below words, words in ASCII order, a longer list above its prefix.
pub fn cmp_identifiers(a: &str, b: &str) -> Ordering {
    let xa: Vec<&str> = a.split('.').collect();
    let xb: Vec<&str> = b.split('.').collect();
    for (x, y) in xa.iter().zip(xb.iter()) {
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => x.cmp(y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    xa.len().cmp(&xb.len())
}

fn split_pre_build(rest: &str) -> (&str, Option<&str>) {
    let (pre, build) = match rest.split_once('+') {
        Some((p, b)) => (p, Some(b)),
        None => (rest, None),
    };
    (pre.strip_prefix('-').unwrap_or(pre), build)
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => cmp_identifiers(a, b),
    }
}

/// Semver order (build metadata ignored).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (va, vb) = (parse(a)?, parse(b)?);
    let o = cmp_digit_lists(&va.components, &vb.components);
    if o != Ordering::Equal {
        return Ok(o);
    }
    let (pa, _) = split_pre_build(&va.rest);
    let (pb, _) = split_pre_build(&vb.rest);
    Ok(cmp_pre(pa, pb))
}

/// Pub order: semver, then build metadata (absent < present, identifiers compared).
pub fn compare_pub(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (va, vb) = (parse(a)?, parse(b)?);
    let o = cmp_digit_lists(&va.components, &vb.components);
    if o != Ordering::Equal {
        return Ok(o);
    }
    let (pa, ba) = split_pre_build(&va.rest);
    let (pb, bb) = split_pre_build(&vb.rest);
    let o = cmp_pre(pa, pb);
    if o != Ordering::Equal {
        return Ok(o);
    }
    Ok(match (ba, bb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp_identifiers(x, y),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn semver_precedence() {
        assert_eq!(compare("1.0.0-alpha", "1.0.0-alpha.1").unwrap(), Less);
        assert_eq!(compare("1.0.0-rc.1", "1.0.0").unwrap(), Less);
        assert_eq!(compare("v1.2.3+build", "1.2.3+other").unwrap(), Equal);
        assert_eq!(compare("1.2", "1.2.0").unwrap(), Equal);
        assert_eq!(compare("1.2.3-r100", "1.2.3-r2").unwrap(), Less);
        assert!(compare("abc", "1.0.0").is_err());
    }

    #[test]
    fn pub_counts_build() {
        assert_eq!(compare_pub("1.0.0", "1.0.0+build").unwrap(), Less);
        assert_eq!(compare_pub("1.2.3+9a", "1.2.3+1z").unwrap(), Greater);
    }
}
