//! Targets for kiln-vuln: OSV records, VEX documents, package URLs and the version
//! orderings of every ecosystem.

use std::cmp::Ordering;

use kiln_vuln::version::Scheme;

/// An OSV record as the importer reads it.
pub fn osv_record(data: &[u8]) -> String {
    super::label(&kiln_vuln::osv::Record::from_json(data))
}

/// An OpenVEX or CycloneDX VEX document.
pub fn vex(data: &[u8]) -> String {
    super::label(&kiln_vuln::vex::read(data, "fuzz input"))
}

/// A package URL.
pub fn purl(data: &[u8]) -> String {
    let Some(s) = super::text(data) else {
        return "utf8".into();
    };
    match kiln_vuln::purl::parse(s) {
        Some(_) => "ok".into(),
        None => "none".into(),
    }
}

const SCHEMES: [Scheme; 12] = [
    Scheme::Semver,
    Scheme::Pub,
    Scheme::Pep440,
    Scheme::Maven,
    Scheme::RubyGems,
    Scheme::NuGet,
    Scheme::Composer,
    Scheme::Dpkg,
    Scheme::Rpm,
    Scheme::Apk,
    Scheme::Cran,
    Scheme::Hackage,
];

/// Two version strings of one ecosystem: the first byte picks the scheme, the rest is
/// `A\nB`. Comparison must be reflexive and antisymmetric whenever both parse.
pub fn version(data: &[u8]) -> String {
    let Some((&pick, rest)) = data.split_first() else {
        return "empty".into();
    };
    let scheme = SCHEMES[pick as usize % SCHEMES.len()];
    let Some(s) = super::text(rest) else {
        return "utf8".into();
    };
    let (a, b) = s.split_once('\n').unwrap_or((s, s));
    let ab = scheme.compare(a, b);
    let ba = scheme.compare(b, a);
    if let (Ok(x), Ok(y)) = (&ab, &ba) {
        assert_eq!(
            *x,
            y.reverse(),
            "{scheme:?}: compare({a:?}, {b:?}) = {x:?} but the reverse is {y:?}"
        );
        assert_eq!(
            scheme.compare(a, a).ok(),
            Some(Ordering::Equal),
            "{scheme:?}: {a:?} != itself"
        );
    }
    format!("{scheme:?} {}", super::label(&ab))
}
