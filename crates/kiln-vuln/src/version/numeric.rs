//! Orders made of numeric components only: CRAN (`package_version`: numbers separated by
//! `.` or `-`) and Hackage (the Haskell PVP: numbers separated by `.`; `1.0 < 1.0.0`).

use std::cmp::Ordering;

use super::VersionError;
use super::num::{cmp_digits, is_digits};

fn components<'a>(input: &'a str, seps: &[char], what: &str) -> Result<Vec<&'a str>, VersionError> {
    let parts: Vec<&str> = input.trim().split(seps).collect();
    if parts.iter().any(|p| !is_digits(p)) {
        return Err(VersionError::new(
            input,
            &format!("a {what} version is numbers separated by {seps:?}"),
        ));
    }
    Ok(parts)
}

fn cmp_lists(a: &[&str], b: &[&str]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// CRAN order: components numerically, a longer version above its prefix.
pub fn compare_cran(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(cmp_lists(
        &components(a, &['.', '-'], "CRAN")?,
        &components(b, &['.', '-'], "CRAN")?,
    ))
}

/// Hackage order: components numerically, a longer version above its prefix.
pub fn compare_hackage(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(cmp_lists(
        &components(a, &['.'], "Hackage")?,
        &components(b, &['.'], "Hackage")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn numeric_orders() {
        assert_eq!(compare_cran("0.01.0", "0.1-0").unwrap(), Equal);
        assert_eq!(compare_cran("0.1.0", "0.1.0.0").unwrap(), Less);
        assert_eq!(compare_hackage("1.0.0", "1.0").unwrap(), Greater);
        assert!(compare_hackage("1.x", "1").is_err());
    }
}
