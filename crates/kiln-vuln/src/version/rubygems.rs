//! RubyGems order: `Gem::Version#<=>` (segments of digits or letters, `-` meaning `.pre.`,
//! trailing zeros dropped from the release and prerelease parts, letters below numbers).

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use super::VersionError;
use super::num::cmp_digits;

static VALID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[0-9][0-9A-Za-z.\-]*)?\s*$").expect("static regex"));
static SEGMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9]+|[a-zA-Z]+").expect("static regex"));

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(String),
    Str(String),
}

fn canonical_segments(input: &str) -> Result<Vec<Seg>, VersionError> {
    if !VALID.is_match(input) {
        return Err(VersionError::new(
            input,
            "a RubyGems version starts with a number and holds only letters, digits, '.' and '-'",
        ));
    }
    let s = input.trim().replace('-', ".pre.");
    let segs: Vec<Seg> = SEGMENT
        .find_iter(&s)
        .map(|m| {
            let t = m.as_str();
            if t.as_bytes()[0].is_ascii_digit() {
                let n = t.trim_start_matches('0');
                Seg::Num(if n.is_empty() { "0".into() } else { n.into() })
            } else {
                Seg::Str(t.to_string())
            }
        })
        .collect();
    let split = segs
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(segs.len());
    let (num, strs) = segs.split_at(split);
    let trim = |part: &[Seg]| {
        let mut v = part.to_vec();
        while v.last() == Some(&Seg::Num("0".into())) {
            v.pop();
        }
        v
    };
    let mut out = trim(num);
    out.extend(trim(strs));
    Ok(out)
}

/// RubyGems order; fails on strings Gem::Version rejects.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (x, y) = (canonical_segments(a)?, canonical_segments(b)?);
    let zero = Seg::Num("0".into());
    for i in 0..x.len().max(y.len()) {
        let l = x.get(i).unwrap_or(&zero);
        let r = y.get(i).unwrap_or(&zero);
        let o = match (l, r) {
            (Seg::Num(p), Seg::Num(q)) => cmp_digits(p, q),
            (Seg::Str(p), Seg::Str(q)) => p.cmp(q),
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn gem_version() {
        assert_eq!(compare("1.0.a10", "1.0.a.9").unwrap(), Greater);
        assert_eq!(compare("1.2.4.beta", "1.2.4").unwrap(), Less);
        assert_eq!(compare("1.0.0", "1").unwrap(), Equal);
        assert_eq!(compare("1.0-1", "1.0.pre.1").unwrap(), Equal);
        assert!(compare("x1", "1").is_err());
        assert!(compare("1 0", "1").is_err());
    }
}
