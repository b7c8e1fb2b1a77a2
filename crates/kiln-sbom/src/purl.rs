//! Package URLs built with the `packageurl` crate, and the small naming rules each ecosystem
//! has (npm scopes, Go module paths, PyPI name normalization).

use packageurl::PackageUrl;

use crate::package::PackageType;

/// Builds `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`; qualifiers with empty values are
/// left out. Falls back to a plain `generic` PURL if the parts are not valid for the type.
pub fn build(
    kind: PackageType,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let make = || -> Result<String, packageurl::Error> {
        let mut p = PackageUrl::new(kind.purl_type(), name)?;
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            p.with_namespace(ns);
        }
        if !version.is_empty() {
            p.with_version(version);
        }
        let mut qs: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
        qs.sort();
        for (k, v) in qs {
            p.add_qualifier(*k, *v)?;
        }
        Ok(p.to_string())
    };
    make().unwrap_or_else(|_| format!("pkg:generic/{}@{}", encode(name), encode(version)))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The namespace and name of an npm package (`@scope/name` has namespace `@scope`).
pub fn npm(name: &str, version: &str) -> String {
    match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
        Some((scope, n)) => build(
            PackageType::Npm,
            Some(&format!("@{scope}")),
            n,
            version,
            &[],
        ),
        None => build(PackageType::Npm, None, name, version, &[]),
    }
}

/// A Go module PURL: the last path element is the name, the rest the namespace.
pub fn golang(module: &str, version: &str) -> String {
    match module.rsplit_once('/') {
        Some((ns, n)) => build(PackageType::Golang, Some(ns), n, version, &[]),
        None => build(PackageType::Golang, None, module, version, &[]),
    }
}

/// PyPI names are compared normalized (PEP 503): lower case, runs of `-_.` as `-`.
pub fn pypi_normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A PyPI PURL with the normalized name.
pub fn pypi(name: &str, version: &str) -> String {
    build(PackageType::Pypi, None, &pypi_normalize(name), version, &[])
}

/// A `vendor/name` PURL (Composer) or a plain one.
pub fn slashed(kind: PackageType, name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((ns, n)) => build(kind, Some(ns), n, version, &[]),
        None => build(kind, None, name, version, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_purl_like_syft() {
        let p = build(
            PackageType::Deb,
            Some("debian"),
            "libc6",
            "2.36-9+deb12u4",
            &[
                ("arch", "amd64"),
                ("upstream", "glibc"),
                ("distro", "debian-12"),
            ],
        );
        assert_eq!(
            p,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
    }

    #[test]
    fn npm_scope_and_go() {
        assert_eq!(npm("@babel/core", "7.0.0"), "pkg:npm/%40babel/core@7.0.0");
        assert_eq!(
            golang("github.com/pkg/errors", "v0.9.1"),
            "pkg:golang/github.com/pkg/errors@v0.9.1"
        );
        assert_eq!(pypi_normalize("Foo.Bar__baz"), "foo-bar-baz");
    }
}
