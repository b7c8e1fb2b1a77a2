//! Red Hat family and SUSE order: `rpmvercmp` over `[epoch:]version[-release]` (`~` sorts
//! before everything, `^` after the end of a string but before anything else).

use std::cmp::Ordering;

use super::VersionError;

fn trimmed(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && c != b'~' && c != b'^'
}

/// `rpmvercmp`, as osv-scalibr applies it to each of epoch, version and release.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    match (a.is_empty(), b.is_empty()) {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && trimmed(a[i]) {
            i += 1;
        }
        while j < b.len() && trimmed(b[j]) {
            j += 1;
        }
        let (at, bt) = (a.get(i) == Some(&b'~'), b.get(j) == Some(&b'~'));
        if at && bt {
            i += 1;
            j += 1;
            continue;
        }
        if at {
            return Ordering::Less;
        }
        if bt {
            return Ordering::Greater;
        }
        let (ac, bc) = (a.get(i) == Some(&b'^'), b.get(j) == Some(&b'^'));
        if ac && bc {
            i += 1;
            j += 1;
            continue;
        }
        if ac {
            return if j == b.len() {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if bc {
            return if i == a.len() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if i == a.len() || j == b.len() {
            break;
        }
        let digit = a[i].is_ascii_digit();
        let run = |s: &[u8], mut k: usize| {
            let st = k;
            while k < s.len()
                && (if digit {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                })
            {
                k += 1;
            }
            (st, k)
        };
        let (sa, ea) = run(a, i);
        let (sb, eb) = run(b, j);
        i = ea;
        j = eb;
        if sb == eb {
            return if digit {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut x, mut y) = (&a[sa..ea], &b[sb..eb]);
        if digit {
            while x.first() == Some(&b'0') {
                x = &x[1..];
            }
            while y.first() == Some(&b'0') {
                y = &y[1..];
            }
            let o = x.len().cmp(&y.len());
            if o != Ordering::Equal {
                return o;
            }
        }
        let o = x.cmp(y);
        if o != Ordering::Equal {
            return o;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// Splits `[epoch:]version[-release]`; the epoch defaults to 0.
pub fn split_evr(s: &str) -> (String, String, String) {
    let (epoch, vr) = match s.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
        _ => ("", s),
    };
    let (version, release) = match vr.split_once('-') {
        Some((v, r)) => (v.to_string(), format!("-{r}")),
        None => (vr.to_string(), String::new()),
    };
    (
        if epoch.is_empty() {
            "0".into()
        } else {
            epoch.into()
        },
        version,
        release,
    )
}

/// RPM order; never fails (rpm compares any string).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (x, y) = (split_evr(a), split_evr(b));
    Ok(rpmvercmp(&x.0, &y.0)
        .then_with(|| rpmvercmp(&x.1, &y.1))
        .then_with(|| rpmvercmp(&x.2, &y.2)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpm_order() {
        assert_eq!(compare("1.0~rc1", "1.0").unwrap(), Less);
        assert_eq!(compare("1.0^post", "1.0").unwrap(), Greater);
        assert_eq!(compare("5.5p1", "5.5p10").unwrap(), Less);
        assert_eq!(compare("1:1.0", "2.0").unwrap(), Greater);
        assert_eq!(compare("2.0.1a", "2.0.1").unwrap(), Greater);
    }
}
