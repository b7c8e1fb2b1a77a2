//! Whether a version is affected, by the OSV schema's evaluation: the explicit `versions`
//! list, then each `ECOSYSTEM` or `SEMVER` range's events ordered by version (introduced,
//! fixed, last_affected, limit). `GIT` ranges name commits, which package versions cannot
//! be placed against; only their `versions` list counts.
//!
//! The state at a version is set by the greatest event that applies to it (an
//! `introduced`, `fixed` or `limit` at or below it, a `last_affected` below it), so each
//! event's version is compared with the checked version once and only the applicable
//! events with each other: no full sort.

use std::cmp::Ordering;

use crate::matchidx::{EventKind, RangeRef, ranges_of};
use crate::osv::Affected;
use crate::version::{Scheme, VersionError};

/// The result of checking one version against one affected entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub affected: bool,
    /// Fixed versions of the matching ranges that are above the checked version.
    pub fixed: Vec<String>,
    /// Events skipped because their version does not parse.
    pub problems: Vec<String>,
}

fn cmp(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    if a == b {
        return Ok(Ordering::Equal);
    }
    match (a == "0", b == "0") {
        (true, _) => Ok(Ordering::Less),
        (_, true) => Ok(Ordering::Greater),
        _ => scheme.compare(a, b),
    }
}

/// Checks `version` (already known to parse) against one range. Each event's version is
/// compared with `version` once; an event whose version does not parse is skipped and
/// reported.
pub fn range_affects(
    scheme: Scheme,
    range: &RangeRef<'_>,
    version: &str,
    verdict: &mut Verdict,
) -> bool {
    let scheme = if range.semver { Scheme::Semver } else { scheme };
    // The greatest applicable event by (version, kind).
    let mut last: Option<(EventKind, &str)> = None;
    let mut fixed_above: Vec<&str> = Vec::new();
    for &(k, v) in &range.events {
        let o = match cmp(scheme, version, v) {
            Ok(o) => o,
            Err(err) => {
                verdict.problems.push(format!("{k:?} event: {err}"));
                continue;
            }
        };
        if k == EventKind::Fixed && o == Ordering::Less {
            fixed_above.push(v);
        }
        let applies = match k {
            EventKind::LastAffected => o == Ordering::Greater,
            _ => o != Ordering::Less,
        };
        if !applies {
            continue;
        }
        last = match last {
            Some((lk, lv))
                if cmp(scheme, v, lv)
                    .unwrap_or(Ordering::Equal)
                    .then(k.cmp(&lk))
                    != Ordering::Greater =>
            {
                Some((lk, lv))
            }
            _ => Some((k, v)),
        };
    }
    let affected = matches!(last, Some((EventKind::Introduced, _)));
    if affected {
        verdict
            .fixed
            .extend(fixed_above.into_iter().map(str::to_string));
    }
    affected
}

/// Checks `version` against an affected entry of the given scheme.
pub fn evaluate(scheme: Scheme, affected: &Affected, version: &str) -> Verdict {
    let versions: Vec<&str> = affected.versions.iter().map(String::as_str).collect();
    evaluate_parts(scheme, &versions, &ranges_of(affected), version, false)
}

/// Checks `version` against an entry's `versions` list and ranges; `validated` says the
/// caller already knows `version` parses in `scheme`.
pub fn evaluate_parts(
    scheme: Scheme,
    versions: &[&str],
    ranges: &[RangeRef<'_>],
    version: &str,
    validated: bool,
) -> Verdict {
    let mut verdict = Verdict::default();
    if !validated && let Err(e) = scheme.validate(version) {
        verdict.problems.push(e.to_string());
        verdict.affected = versions.contains(&version);
        return verdict;
    }
    if versions
        .iter()
        .any(|v| *v == version || scheme.compare(v, version) == Ok(Ordering::Equal))
    {
        verdict.affected = true;
    }
    for r in ranges {
        if range_affects(scheme, r, version, &mut verdict) {
            verdict.affected = true;
        }
    }
    if verdict.fixed.len() > 1 {
        verdict
            .fixed
            .sort_by(|a, b| scheme.compare(a, b).unwrap_or(Ordering::Equal));
        verdict.fixed.dedup();
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::{Event, Range};

    fn ev(k: &str, v: &str) -> Event {
        let mut e = Event::default();
        let s = Some(v.to_string());
        match k {
            "i" => e.introduced = s,
            "f" => e.fixed = s,
            "l" => e.last_affected = s,
            _ => e.limit = s,
        }
        e
    }

    fn aff(events: Vec<Event>) -> Affected {
        Affected {
            ranges: vec![Range {
                kind: "ECOSYSTEM".into(),
                repo: None,
                events,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn events() {
        let a = aff(vec![
            ev("i", "0"),
            ev("f", "1.2.7"),
            ev("i", "1.3"),
            ev("f", "1.3.1"),
        ]);
        let s = Scheme::Pep440;
        assert!(evaluate(s, &a, "1.2").affected);
        assert_eq!(evaluate(s, &a, "1.2").fixed, vec!["1.2.7", "1.3.1"]);
        assert!(!evaluate(s, &a, "1.2.7").affected);
        assert!(evaluate(s, &a, "1.3").affected);
        assert!(!evaluate(s, &a, "1.4").affected);
        let b = aff(vec![ev("i", "1.0"), ev("l", "2.3")]);
        assert!(evaluate(Scheme::Maven, &b, "2.3").affected);
        assert!(!evaluate(Scheme::Maven, &b, "2.3.1").affected);
        let c = aff(vec![ev("i", "1.0")]);
        assert!(evaluate(Scheme::Semver, &c, "99.0.0").affected);
        let d = aff(vec![ev("i", "0"), ev("limit", "2.0.0")]);
        assert!(!evaluate(Scheme::Semver, &d, "2.0.0").affected);
        assert!(evaluate(Scheme::Semver, &d, "1.0.0").affected);
    }

    #[test]
    fn versions_list_and_bad_input() {
        let mut a = aff(vec![ev("i", "not-a-version"), ev("f", "2.0.0")]);
        a.versions = vec!["1.5.0".into()];
        let v = evaluate(Scheme::Semver, &a, "1.5.0");
        assert!(v.affected);
        assert_eq!(v.problems.len(), 1);
        let v = evaluate(Scheme::Semver, &a, "garbage");
        assert!(!v.affected);
        assert!(!v.problems.is_empty());
    }

    /// The schema's evaluation as written: sort all events, apply those at or below the
    /// version in order. The no-sort evaluation must agree with it everywhere.
    fn by_sorting(events: &[(EventKind, &str)], version: &str) -> bool {
        let s = Scheme::Semver;
        let mut sorted = events.to_vec();
        sorted.sort_by(|a, b| cmp(s, a.1, b.1).unwrap().then(a.0.cmp(&b.0)));
        let mut affected = false;
        for (k, v) in sorted {
            let o = cmp(s, version, v).unwrap();
            match k {
                EventKind::Introduced if o != Ordering::Less => affected = true,
                EventKind::Fixed if o != Ordering::Less => affected = false,
                EventKind::LastAffected if o == Ordering::Greater => affected = false,
                EventKind::Limit if o != Ordering::Less => affected = false,
                _ => {}
            }
        }
        affected
    }

    #[test]
    fn agrees_with_sorted_evaluation() {
        let versions = ["0", "1.0.0", "1.5.0", "2.0.0", "3.0.0"];
        let kinds = [
            EventKind::Introduced,
            EventKind::Fixed,
            EventKind::LastAffected,
            EventKind::Limit,
        ];
        let all: Vec<(EventKind, &str)> = kinds
            .iter()
            .flat_map(|k| versions.iter().map(move |v| (*k, *v)))
            .collect();
        let mut checked = 0;
        // Every list of up to three events (in every order), at every version.
        for a in 0..all.len() {
            for b in 0..=all.len() {
                for c in 0..=all.len() {
                    let mut events = vec![all[a]];
                    events.extend(all.get(b).copied());
                    events.extend(all.get(c).copied());
                    let r = RangeRef {
                        semver: true,
                        events: events.clone(),
                    };
                    for v in [
                        "0.5.0", "1.0.0", "1.2.0", "1.5.0", "2.0.0", "2.5.0", "3.0.0", "4.0.0",
                    ] {
                        let mut verdict = Verdict::default();
                        assert_eq!(
                            range_affects(Scheme::Semver, &r, v, &mut verdict),
                            by_sorting(&events, v),
                            "{events:?} at {v}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }
}
