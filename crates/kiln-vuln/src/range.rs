//! Whether a version is affected, by the OSV schema's evaluation: the explicit `versions`
//! list, then each `ECOSYSTEM` or `SEMVER` range's events sorted by version (introduced,
//! fixed, last_affected, limit). `GIT` ranges name commits, which package versions cannot
//! be placed against; only their `versions` list counts.

use std::cmp::Ordering;

use crate::osv::{Affected, Event, Range};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

fn event_kind(e: &Event) -> Option<(Kind, &str)> {
    if let Some(v) = &e.introduced {
        return Some((Kind::Introduced, v));
    }
    if let Some(v) = &e.fixed {
        return Some((Kind::Fixed, v));
    }
    if let Some(v) = &e.last_affected {
        return Some((Kind::LastAffected, v));
    }
    e.limit.as_deref().map(|v| (Kind::Limit, v))
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
pub fn range_affects(scheme: Scheme, range: &Range, version: &str, verdict: &mut Verdict) -> bool {
    let scheme = if range.kind == "SEMVER" {
        Scheme::Semver
    } else {
        scheme
    };
    // (kind, event version, how `version` compares with it)
    let mut events: Vec<(Kind, &str, Ordering)> = Vec::with_capacity(range.events.len());
    for e in &range.events {
        let Some((k, v)) = event_kind(e) else {
            continue;
        };
        match cmp(scheme, version, v) {
            Ok(o) => events.push((k, v, o)),
            Err(err) => verdict.problems.push(format!("{k:?} event: {err}")),
        }
    }
    if events.len() > 1 {
        events.sort_by(|a, b| {
            cmp(scheme, a.1, b.1)
                .unwrap_or(Ordering::Equal)
                .then(a.0.cmp(&b.0))
        });
    }
    let mut affected = false;
    for (k, _, o) in &events {
        match k {
            Kind::Introduced if *o != Ordering::Less => affected = true,
            Kind::Fixed if *o != Ordering::Less => affected = false,
            Kind::LastAffected if *o == Ordering::Greater => affected = false,
            Kind::Limit if *o != Ordering::Less => affected = false,
            _ => {}
        }
    }
    if affected {
        for (k, v, o) in &events {
            if *k == Kind::Fixed && *o == Ordering::Less {
                verdict.fixed.push(v.to_string());
            }
        }
    }
    affected
}

/// Checks `version` against an affected entry of the given scheme.
pub fn evaluate(scheme: Scheme, affected: &Affected, version: &str) -> Verdict {
    let mut verdict = Verdict::default();
    if let Err(e) = scheme.validate(version) {
        verdict.problems.push(e.to_string());
        verdict.affected = affected.versions.iter().any(|v| v == version);
        return verdict;
    }
    if affected
        .versions
        .iter()
        .any(|v| v == version || scheme.compare(v, version) == Ok(Ordering::Equal))
    {
        verdict.affected = true;
    }
    for r in &affected.ranges {
        if r.kind == "GIT" {
            continue;
        }
        if range_affects(scheme, r, version, &mut verdict) {
            verdict.affected = true;
        }
    }
    verdict
        .fixed
        .sort_by(|a, b| scheme.compare(a, b).unwrap_or(Ordering::Equal));
    verdict.fixed.dedup();
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
