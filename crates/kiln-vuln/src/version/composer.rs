//! Packagist order: PHP's `version_compare` as Composer applies it (a leading `v` dropped,
//! `-`, `_`, `+` read as `.`, a `.` inserted between digits and letters; special forms
//! `dev < alpha = a < beta = b < RC = rc < # < pl = p`, any other word below `dev`).

use std::cmp::Ordering;

use super::VersionError;
use super::num::{cmp_digits, is_digits};

fn canonicalize(v: &str) -> Vec<String> {
    let v = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v);
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in v.chars() {
        let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
        if let Some(p) = prev
            && p != '.'
            && c != '.'
            && (p.is_ascii_digit() != c.is_ascii_digit())
        {
            out.push('.');
        }
        out.push(c);
        prev = Some(c);
    }
    out.split('.').map(str::to_string).collect()
}

fn weight(form: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(f, _)| form.starts_with(f))
        .map_or(-6, |(_, w)| *w)
}

fn cmp_parts(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => weight(x).cmp(&weight(y)),
            (true, false) => weight("#").cmp(&weight(y)),
            (false, true) => weight(x).cmp(&weight("#")),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    let hash = ["#".to_string()];
    if a.len() > b.len() {
        if is_digits(&a[b.len()]) {
            return Ordering::Greater;
        }
        return cmp_parts(&a[b.len()..], &hash);
    }
    if a.len() < b.len() {
        if is_digits(&b[a.len()]) {
            return Ordering::Less;
        }
        return cmp_parts(&hash, &b[a.len()..]);
    }
    Ordering::Equal
}

/// Packagist order; never fails (version_compare accepts every string).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(cmp_parts(&canonicalize(a), &canonicalize(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn version_compare() {
        assert_eq!(compare("1.0-dev", "1.0a1").unwrap(), Less);
        assert_eq!(compare("1.0rc1", "1.0RC1").unwrap(), Equal);
        assert_eq!(compare("1.0", "1.0pl1").unwrap(), Less);
        assert_eq!(compare("dev-foo", "1.26.0").unwrap(), Less);
        assert_eq!(compare("1.2.3.#.beta", "1.2.3").unwrap(), Less);
    }
}
