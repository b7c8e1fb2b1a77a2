//! CPE 2.3 names, only where they can be derived correctly.
//!
//! A CPE is what NVD keys its vulnerability records by; a wrong one (a guessed vendor, a
//! product name that happens to match something else) produces false matches, and a
//! missing one only means the package is matched by its PURL instead. So the rule is:
//!
//! - **OS packages** (deb, apk, rpm): no CPE. Their vulnerabilities come from the
//!   distribution's own data (Debian, Alpine, Red Hat), matched by PURL and source package;
//!   NVD CPEs name the upstream project and would report fixes the distribution backported.
//! - **Language packages** (npm, PyPI, gems, crates, Go modules, NuGet, Composer): no CPE.
//!   OSV/GHSA data is keyed by the ecosystem's own name (the PURL), and the vendor part of a
//!   CPE cannot be derived from a package name (syft guesses `name:name`, which is what makes
//!   grype's CPE matches noisy).
//! - **The Go toolchain** (`stdlib` of a Go binary): `cpe:2.3:a:golang:go:VERSION:-:…`, the
//!   product NVD records Go's own vulnerabilities under (as syft emits it).
//! - **Java (Maven) packages** whose `groupId:artifactId` is in [`KNOWN_MAVEN`], a short
//!   table of artifacts with the vendor and product NVD uses for them; other Java packages
//!   get none.
//!
//! Values are written in the CPE 2.3 formatted-string binding (NISTIR 7695 §6.2): lower
//! case, and every character other than letters, digits, `-`, `.` and `_` escaped with `\`.

use crate::package::{Package, PackageType};

/// Maven `groupId`, `artifactId` (`*`: any artifact of the group) → NVD vendor, product
/// (an artifact NVD has recorded under two vendors over time has a line for each).
pub const KNOWN_MAVEN: &[(&str, &str, &str, &str)] = &[
    ("org.apache.logging.log4j", "log4j-core", "apache", "log4j"),
    ("log4j", "log4j", "apache", "log4j"),
    (
        "com.fasterxml.jackson.core",
        "jackson-databind",
        "fasterxml",
        "jackson-databind",
    ),
    ("com.google.guava", "guava", "google", "guava"),
    ("org.yaml", "snakeyaml", "snakeyaml_project", "snakeyaml"),
    (
        "org.apache.commons",
        "commons-text",
        "apache",
        "commons_text",
    ),
    (
        "commons-collections",
        "commons-collections",
        "apache",
        "commons_collections",
    ),
    (
        "org.apache.tomcat.embed",
        "tomcat-embed-core",
        "apache",
        "tomcat",
    ),
    ("org.apache.struts", "struts2-core", "apache", "struts"),
    ("com.h2database", "h2", "h2database", "h2"),
    ("ch.qos.logback", "logback-classic", "qos", "logback"),
    ("ch.qos.logback", "logback-core", "qos", "logback"),
    (
        "org.springframework",
        "spring-core",
        "vmware",
        "spring_framework",
    ),
    (
        "org.springframework",
        "spring-web",
        "vmware",
        "spring_framework",
    ),
    (
        "org.springframework",
        "spring-webmvc",
        "vmware",
        "spring_framework",
    ),
    // Spring Framework records before VMware's: Pivotal.
    (
        "org.springframework",
        "spring-core",
        "pivotal_software",
        "spring_framework",
    ),
    (
        "org.springframework",
        "spring-web",
        "pivotal_software",
        "spring_framework",
    ),
    (
        "org.springframework",
        "spring-webmvc",
        "pivotal_software",
        "spring_framework",
    ),
];

/// The CPEs of `p` under the rule in the module documentation (often none).
pub fn derive(p: &Package) -> Vec<String> {
    if p.version.is_empty() {
        return Vec::new();
    }
    match p.kind {
        PackageType::Golang if p.name == "stdlib" => {
            let v = p.version.strip_prefix("go").unwrap_or(&p.version);
            // `go1.22.1 X:boringcrypto` and devel toolchains have no NVD version.
            if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) || v.contains(' ') {
                return Vec::new();
            }
            vec![format_cpe("golang", "go", v, "-")]
        }
        PackageType::Maven => {
            let Some(g) = maven_group(&p.purl) else {
                return Vec::new();
            };
            KNOWN_MAVEN
                .iter()
                .filter(|(kg, ka, _, _)| *kg == g && (*ka == "*" || *ka == p.name))
                .map(|(_, _, vendor, product)| format_cpe(vendor, product, &p.version, "*"))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The Maven group from a `pkg:maven/GROUP/ARTIFACT@…` PURL.
fn maven_group(purl: &str) -> Option<&str> {
    let rest = purl.strip_prefix("pkg:maven/")?;
    let (g, _) = rest.split_once('/')?;
    Some(g)
}

/// `cpe:2.3:a:VENDOR:PRODUCT:VERSION:UPDATE:*:*:*:*:*:*`, each value escaped.
pub fn format_cpe(vendor: &str, product: &str, version: &str, update: &str) -> String {
    let update = match update {
        "*" | "-" => update.to_string(),
        u => escape(u),
    };
    format!(
        "cpe:2.3:a:{}:{}:{}:{update}:*:*:*:*:*:*",
        escape(vendor),
        escape(product),
        escape(version)
    )
}

/// Escapes one attribute value for the formatted-string binding.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
            out.push(c);
        } else if c.is_ascii_graphic() {
            out.push('\\');
            out.push(c);
        } else {
            // Not representable in a CPE value (spaces, non-ASCII): drop it rather than
            // emit an invalid name.
            out.push('_');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::new_package;
    use crate::package::Location;
    use crate::purl;

    fn pkg(kind: PackageType, ns: Option<&str>, name: &str, v: &str) -> Package {
        new_package(
            name,
            kind,
            name,
            v,
            purl::build(kind, ns, name, v, &[]),
            Location {
                path: "/x".into(),
                layer: None,
            },
        )
    }

    #[test]
    fn only_where_derivable() {
        assert_eq!(
            derive(&pkg(PackageType::Golang, None, "stdlib", "go1.22.1")),
            vec!["cpe:2.3:a:golang:go:1.22.1:-:*:*:*:*:*:*"]
        );
        assert_eq!(
            derive(&pkg(
                PackageType::Maven,
                Some("org.apache.logging.log4j"),
                "log4j-core",
                "2.14.1"
            )),
            vec!["cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"]
        );
        assert!(
            derive(&pkg(
                PackageType::Maven,
                Some("org.example"),
                "log4j-core",
                "1"
            ))
            .is_empty()
        );
        assert!(
            derive(&pkg(
                PackageType::Deb,
                Some("debian"),
                "openssl",
                "3.0.11-1"
            ))
            .is_empty()
        );
        assert!(derive(&pkg(PackageType::Npm, None, "lodash", "4.17.20")).is_empty());
        assert!(
            derive(&pkg(
                PackageType::Golang,
                None,
                "stdlib",
                "devel go1.23-abc"
            ))
            .is_empty()
        );
        assert_eq!(
            derive(&pkg(
                PackageType::Maven,
                Some("org.springframework"),
                "spring-web",
                "5.3.20"
            ))
            .len(),
            2
        );
        assert_eq!(escape("1.0+build:1 x"), "1.0\\+build\\:1_x");
    }
}
