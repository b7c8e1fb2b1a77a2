//! PyPI order: PEP 440 (epoch, release, pre, post, dev, local), with versions that are not
//! PEP 440 ordered by setuptools' legacy rules and always below PEP 440 versions, as
//! `packaging` did when it still accepted them.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use super::VersionError;
use super::num::{cmp_digit_lists, cmp_digits, is_digits};

static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*v?(?:(?:(?P<epoch>[0-9]+)!)?(?P<release>[0-9]+(?:\.[0-9]+)*)(?P<pre>[-_\.]?(?P<pre_l>alpha|beta|preview|pre|a|b|c|rc)[-_\.]?(?P<pre_n>[0-9]+)?)?(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?(?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?)(?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?\s*$",
    )
    .expect("static regex")
});
static LEGACY_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+|[a-z]+|\.|-").expect("static regex"));

/// A PyPI version: PEP 440 or legacy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyVersion {
    Pep440(Pep440),
    /// The legacy comparison key.
    Legacy(String),
}

/// A parsed PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    epoch: String,
    release: Vec<String>,
    /// (phase rank: a=0, b=1, rc=2; number)
    pre: Option<(u8, String)>,
    post: Option<String>,
    dev: Option<String>,
    local: Vec<String>,
}

/// Parses any string: PEP 440 when it is one, legacy otherwise (never fails).
pub fn parse(input: &str) -> PyVersion {
    // The common case, `N(.N)*`, without the regex.
    if !input.is_empty() && input.split('.').all(|p| !p.is_empty() && is_digits(p)) {
        return PyVersion::Pep440(Pep440 {
            epoch: "0".into(),
            release: input.split('.').map(str::to_string).collect(),
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        });
    }
    let s = input.to_lowercase();
    let Some(m) = PEP440.captures(&s) else {
        return PyVersion::Legacy(legacy_key(&s));
    };
    let get = |n: &str| m.name(n).map(|x| x.as_str().to_string());
    let num = |n: Option<String>| n.unwrap_or_else(|| "0".into());
    let pre = get("pre_l").map(|l| {
        let rank = match l.as_str() {
            "a" | "alpha" => 0,
            "b" | "beta" => 1,
            _ => 2,
        };
        (rank, num(get("pre_n")))
    });
    let post = match (get("post_l"), get("post_n1"), get("post_n2")) {
        (_, Some(n), _) => Some(n),
        (Some(_), None, n) => Some(num(n)),
        (None, None, _) => None,
    };
    let dev = get("dev_l").map(|_| num(get("dev_n")));
    let local = get("local")
        .map(|l| l.split(['.', '_', '-']).map(str::to_string).collect())
        .unwrap_or_default();
    PyVersion::Pep440(Pep440 {
        epoch: num(get("epoch")),
        release: get("release")
            .unwrap_or_default()
            .split('.')
            .map(str::to_string)
            .collect(),
        pre,
        post,
        dev,
        local,
    })
}

fn legacy_key(s: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let found = LEGACY_PART
        .find_iter(s)
        .map(|m| m.as_str())
        .chain(std::iter::once("final"));
    for part in found {
        if part.is_empty() || part == "." {
            continue;
        }
        let part = match part {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            p => p,
        };
        let part = if part.starts_with(|c: char| c.is_ascii_digit()) {
            format!("{part:0>8}")
        } else {
            format!("*{part}")
        };
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts.concat()
}

fn cmp_local(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => x.cmp(y),
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn cmp_opt_num(a: &Option<String>, b: &Option<String>, none_first: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => {
            if none_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Some(_), None) => {
            if none_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(x), Some(y)) => cmp_digits(x, y),
    }
}

fn cmp_pep440(a: &Pep440, b: &Pep440) -> Ordering {
    // 1.0.dev0 sorts before 1.0a0: a dev release with no pre or post has the lowest pre.
    let trick = |v: &Pep440| v.pre.is_none() && v.post.is_none() && v.dev.is_some();
    let pre = match (trick(a), trick(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => match (&a.pre, &b.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some((ra, na)), Some((rb, nb))) => ra.cmp(rb).then_with(|| cmp_digits(na, nb)),
        },
    };
    cmp_digits(&a.epoch, &b.epoch)
        .then_with(|| cmp_digit_lists(&a.release, &b.release))
        .then(pre)
        .then_with(|| cmp_opt_num(&a.post, &b.post, true))
        .then_with(|| cmp_opt_num(&a.dev, &b.dev, false))
        .then_with(|| cmp_local(&a.local, &b.local))
}

/// PyPI order; never fails (non-PEP 440 versions are legacy versions).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(match (parse(a), parse(b)) {
        (PyVersion::Pep440(x), PyVersion::Pep440(y)) => cmp_pep440(&x, &y),
        (PyVersion::Legacy(_), PyVersion::Pep440(_)) => Ordering::Less,
        (PyVersion::Pep440(_), PyVersion::Legacy(_)) => Ordering::Greater,
        (PyVersion::Legacy(x), PyVersion::Legacy(y)) => x.cmp(&y),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn pep440_order() {
        assert_eq!(compare("1.0.dev0", "1.0a0").unwrap(), Less);
        assert_eq!(compare("1.0-1", "1.0.post1").unwrap(), Equal);
        assert_eq!(compare("1!1.0", "2.0").unwrap(), Greater);
        assert_eq!(compare("1.0+local.a", "1.0+local.1").unwrap(), Less);
        assert_eq!(compare("1.0.0+local", "1.0.0").unwrap(), Greater);
        assert_eq!(compare("0.9-doduo", "0.1").unwrap(), Less);
    }
}
