//! Alpine order: apk's `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}`, with
//! the suffix order `alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p`, leading
//! zeros compared as strings after the first component, and strings that do not follow
//! the format compared the way osv-scalibr does (what is left over sorts lower; two
//! malformed versions compare as strings).

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use super::VersionError;
use super::num::cmp_digits;

static NUMBERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((\d+)\.?)*").expect("static regex"));
static SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)").expect("static regex")
});
static HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^~([0-9a-f]+)").expect("static regex"));
static BUILD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^-r(\d*)").expect("static regex"));

#[derive(Debug, Clone)]
struct Apk {
    original: String,
    invalid: bool,
    remainder: String,
    /// (digits as written, position)
    components: Vec<(String, usize)>,
    letter: Option<char>,
    /// (weight, number)
    suffixes: Vec<(u8, String)>,
    build: Option<String>,
}

fn suffix_weight(s: &str) -> u8 {
    match s {
        "alpha" => 0,
        "beta" => 1,
        "pre" => 2,
        "rc" => 3,
        "cvs" => 5,
        "svn" => 6,
        "git" => 7,
        "hg" => 8,
        _ => 9,
    }
}

fn parse(input: &str) -> Apk {
    let mut v = Apk {
        original: input.to_string(),
        invalid: false,
        remainder: String::new(),
        components: Vec::new(),
        letter: None,
        suffixes: Vec::new(),
        build: Some("0".into()),
    };
    let mut s = input;
    let nums = NUMBERS.find(s).map(|m| m.as_str()).unwrap_or("");
    if !nums.is_empty() {
        for (i, d) in nums.split('.').enumerate() {
            // a dot not followed by a digit ends the numbers (apk accepts it)
            if d.is_empty() {
                break;
            }
            v.components.push((d.to_string(), i));
        }
        s = &s[nums.len()..];
    }
    if let Some(c) = s.chars().next().filter(char::is_ascii_lowercase) {
        v.letter = Some(c);
        s = &s[1..];
    }
    let mut rest = s.to_string();
    for m in SUFFIX.captures_iter(s) {
        let n = m.get(2).map_or("", |x| x.as_str());
        v.suffixes.push((
            suffix_weight(&m[1]),
            if n.is_empty() { "0".into() } else { n.into() },
        ));
        if let Some(r) = rest.strip_prefix(&m[0]) {
            rest = r.to_string();
        }
    }
    let mut s = rest.as_str();
    if let Some(m) = HASH.find(s) {
        s = &s[m.end()..];
    }
    if !s.is_empty() {
        match BUILD.captures(s) {
            None => v.invalid = true,
            Some(c) => {
                let n = c.get(1).map_or("", |x| x.as_str());
                v.build = Some(if n.is_empty() { "0".into() } else { n.into() });
                s = &s[c[0].len()..];
            }
        }
    }
    v.remainder = s.to_string();
    v
}

fn cmp_component(a: &(String, usize), b: &(String, usize)) -> Ordering {
    if a.1 != 0 && b.1 != 0 && (a.0.starts_with('0') || b.0.starts_with('0')) {
        return a.0.cmp(&b.0);
    }
    cmp_digits(&a.0, &b.0)
}

fn cmp(v: &Apk, w: &Apk) -> Ordering {
    if v.invalid && w.invalid {
        return v.original.cmp(&w.original);
    }
    let zero = ("0".to_string(), 0usize);
    for i in 0..v.components.len().max(w.components.len()) {
        let o = cmp_component(
            v.components.get(i).unwrap_or(&zero),
            w.components.get(i).unwrap_or(&zero),
        );
        if o != Ordering::Equal {
            return o;
        }
    }
    let o = match (v.letter, w.letter) {
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (a, b) => a.cmp(&b),
    };
    if o != Ordering::Equal {
        return o;
    }
    let none = (4u8, "0".to_string());
    for i in 0..v.suffixes.len().max(w.suffixes.len()) {
        let (a, b) = (
            v.suffixes.get(i).unwrap_or(&none),
            w.suffixes.get(i).unwrap_or(&none),
        );
        let o = a.0.cmp(&b.0).then_with(|| cmp_digits(&a.1, &b.1));
        if o != Ordering::Equal {
            return o;
        }
    }
    if let (Some(a), Some(b)) = (&v.build, &w.build) {
        let o = cmp_digits(a, b);
        if o != Ordering::Equal {
            return o;
        }
    }
    match (v.remainder.is_empty(), w.remainder.is_empty()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => Ordering::Equal,
    }
}

/// Alpine order; never fails (malformed versions are ordered as apk does, leniently).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(cmp(&parse(a), &parse(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn apk_order() {
        assert_eq!(compare("1.2_rc1", "1.2").unwrap(), Less);
        assert_eq!(compare("1.2_p1", "1.2").unwrap(), Greater);
        assert_eq!(compare("1.0.4-r3", "1.0.4-r4").unwrap(), Less);
        assert_eq!(compare("1.2.3b", "1.2.0d").unwrap(), Greater);
        assert_eq!(compare("1.01", "1.1").unwrap(), Less);
    }
}
