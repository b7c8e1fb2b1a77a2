//! NuGet order: `NuGet.Versioning` (up to four numeric parts, missing ones zero; release
//! labels after `-` compared part by part, numbers numerically and below words, words
//! case-insensitively; a release above its prereleases; metadata after `+` ignored).

use std::cmp::Ordering;

use super::VersionError;
use super::num::{cmp_digit_lists, cmp_digits, is_digits};

struct NuGet {
    numbers: Vec<String>,
    labels: Vec<String>,
}

fn parse(input: &str) -> Result<NuGet, VersionError> {
    let s = input.trim();
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let numbers: Vec<String> = core.split('.').map(str::to_string).collect();
    if numbers.is_empty() || numbers.iter().any(|n| !is_digits(n)) {
        return Err(VersionError::new(
            input,
            "a NuGet version is N[.N[.N[.N]]][-label][+metadata]",
        ));
    }
    let labels: Vec<String> = match pre {
        Some(p) => {
            let l: Vec<String> = p.split('.').map(str::to_lowercase).collect();
            if l.iter()
                .any(|x| x.is_empty() || !x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                return Err(VersionError::new(
                    input,
                    "a NuGet release label is dot-separated [0-9A-Za-z-]+",
                ));
            }
            l
        }
        None => Vec::new(),
    };
    Ok(NuGet { numbers, labels })
}

/// NuGet order; fails on strings NuGet does not parse.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (x, y) = (parse(a)?, parse(b)?);
    let o = cmp_digit_lists(&x.numbers, &y.numbers);
    if o != Ordering::Equal {
        return Ok(o);
    }
    Ok(match (x.labels.is_empty(), y.labels.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (p, q) in x.labels.iter().zip(&y.labels) {
                let o = match (is_digits(p), is_digits(q)) {
                    (true, true) => cmp_digits(p, q),
                    (false, false) => p.cmp(q),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                };
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            x.labels.len().cmp(&y.labels.len())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn nuget_versioning() {
        assert_eq!(compare("1.0", "1.0.0.0").unwrap(), Equal);
        assert_eq!(compare("1.0.0-BETA", "1.0.0-beta2").unwrap(), Less);
        assert_eq!(compare("1.0.0-beta+AA", "1.0.0+aa").unwrap(), Less);
        assert!(compare("1.x", "1.0").is_err());
    }
}
