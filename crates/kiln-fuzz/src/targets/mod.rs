//! The table of fuzz targets, one per parser of untrusted input, and the helpers they share.

mod admit;
mod config;
mod oci;
mod sbom;
mod server;
mod sign;
mod vuln;

/// One fuzz target: a name (also its corpus directory), the function, and dictionary
/// tokens of its format that the mutator splices in.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]) -> String,
    pub dict: &'static [&'static [u8]],
}

/// Finds a target by name.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

const JSON: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"{}",
    b"[]",
    b"\"\"",
];
const YAML: &[&[u8]] = &[
    b": ",
    b"- ",
    b"\n",
    b"  ",
    b"---\n",
    b"&a ",
    b"*a",
    b"!!str ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"~",
    b"|\n",
    b">\n",
    b"'",
    b"\"",
    b"null",
    b"<<: *a\n",
    b"? ",
];
const TOML: &[&[u8]] = &[
    b"[[package]]\n",
    b"[",
    b"]",
    b" = ",
    b"\"",
    b"'''",
    b"\n",
    b"name",
    b"version",
    b"{",
    b"}",
    b"dependencies = [",
    b"1979-05-27T07:32:00Z",
];
const LINES: &[&[u8]] = &[
    b"\n", b"\n\n", b": ", b" ", b"\t", b"=", b"@", b"#", b"\r\n", b"/", b",",
];
const TAR: &[&[u8]] = &[
    b".wh.",
    b".wh..wh..opq",
    b"../",
    b"/",
    b"./",
    b"ustar\x0000",
    b"ustar  \x00",
    b"././@LongLink",
    b"\x00",
    b"0000644\x00",
    b"0000755\x00",
    b"00000000000\x00",
    b"77777777777\x00",
];

macro_rules! t {
    ($name:literal, $f:path, $dict:expr) => {
        Target {
            name: $name,
            run: $f,
            dict: $dict,
        }
    };
}

/// Every target.
pub static TARGETS: &[Target] = &[
    t!("oci-manifest", oci::manifest, JSON),
    t!("oci-config", oci::config, JSON),
    t!(
        "oci-reference",
        oci::reference,
        &[
            b"oci:",
            b"@sha256:",
            b":",
            b"/",
            b"localhost:5000",
            b"docker.io"
        ]
    ),
    t!("layer-tar", oci::layer_tar, TAR),
    t!("layer-tar-gzip", oci::layer_tar_gzip, TAR),
    t!(
        "layer-gzip",
        oci::layer_gzip,
        &[b"\x1f\x8b\x08\x00", b"\x00\x00\x00\x00"]
    ),
    t!(
        "layer-zstd",
        oci::layer_zstd,
        &[b"\x28\xb5\x2f\xfd", b"\x00\x00\x00\x00"]
    ),
    t!("sbom-os-release", sbom::os_release, LINES),
    t!("sbom-dpkg-status", sbom::dpkg_status, LINES),
    t!("sbom-apk-installed", sbom::apk_installed, LINES),
    t!(
        "sbom-rpm-bdb",
        sbom::rpm_bdb,
        &[
            b"\x00\x00\x00\x00",
            b"\xff\xff\xff\xff",
            b"\x00\x06\x15\x61"
        ]
    ),
    t!(
        "sbom-rpm-ndb",
        sbom::rpm_ndb,
        &[
            b"RpmP",
            b"BlkO",
            b"SlOt",
            b"\x00\x00\x00\x00",
            b"\xff\xff\xff\xff"
        ]
    ),
    t!(
        "sbom-rpm-sqlite",
        sbom::rpm_sqlite,
        &[
            b"SQLite format 3\x00",
            b"\x00\x00\x00\x00",
            b"\xff\xff\xff\xff"
        ]
    ),
    t!("sbom-cargo-lock", sbom::cargo_lock, TOML),
    t!(
        "sbom-go-mod",
        sbom::go_mod,
        &[
            b"require (",
            b")",
            b"replace ",
            b" => ",
            b"module ",
            b"\n",
            b"// indirect"
        ]
    ),
    t!(
        "sbom-go-binary",
        sbom::go_binary,
        &[
            b"\xff Go buildinf:",
            b"\x7fELF",
            b"go1.22",
            b"\tdep\t",
            b"\n"
        ]
    ),
    t!("sbom-npm-lock", sbom::npm_lock, JSON),
    t!(
        "sbom-yarn-lock",
        sbom::yarn_lock,
        &[
            b"__metadata:",
            b"  version ",
            b"\"",
            b":\n",
            b"@npm:",
            b", ",
            b"  resolved ",
            b"\n"
        ]
    ),
    t!("sbom-pnpm-lock", sbom::pnpm_lock, YAML),
    t!("sbom-node-package", sbom::node_package, JSON),
    t!(
        "sbom-python-metadata",
        sbom::python_metadata,
        &[
            b"Name: ",
            b"Version: ",
            b"License: ",
            b"Requires-Dist: ",
            b"\n",
            b"\n        "
        ]
    ),
    t!(
        "sbom-requirements",
        sbom::requirements,
        &[
            b"==", b">=", b"-r ", b"--hash=", b" ; ", b"[", b"]", b"\\\n", b"#"
        ]
    ),
    t!("sbom-poetry-lock", sbom::poetry_lock, TOML),
    t!("sbom-uv-lock", sbom::uv_lock, TOML),
    t!("sbom-pipfile-lock", sbom::pipfile_lock, JSON),
    t!(
        "sbom-gemfile-lock",
        sbom::gemfile_lock,
        &[
            b"GEM\n",
            b"  specs:\n",
            b"    ",
            b"      ",
            b" (",
            b")",
            b"DEPENDENCIES\n",
            b"\n"
        ]
    ),
    t!(
        "sbom-gemspec",
        sbom::gemspec,
        &[
            b"Gem::Specification.new",
            b"s.name = ",
            b"s.version = ",
            b"\"",
            b"\n",
            b"end"
        ]
    ),
    t!("sbom-composer-lock", sbom::composer_lock, JSON),
    t!("sbom-dotnet-deps", sbom::dotnet_deps, JSON),
    t!(
        "sbom-jar",
        sbom::jar,
        &[
            b"PK\x03\x04",
            b"PK\x01\x02",
            b"PK\x05\x06",
            b"META-INF/MANIFEST.MF",
            b"pom.properties",
            b".jar"
        ]
    ),
    t!(
        "sbom-jar-manifest",
        sbom::jar_manifest,
        &[
            b"Manifest-Version: ",
            b"Implementation-Version: ",
            b"Bundle-SymbolicName: ",
            b"\n ",
            b"\r\n"
        ]
    ),
    t!(
        "sbom-pom-xml",
        sbom::pom_xml,
        &[
            b"<project>",
            b"</project>",
            b"<dependency>",
            b"<version>",
            b"${",
            b"}",
            b"<parent>",
            b"&amp;",
            b"<!DOCTYPE"
        ]
    ),
    t!(
        "sbom-gradle-lock",
        sbom::gradle_lock,
        &[b":", b"=", b",", b"\n", b"empty="]
    ),
    t!("sbom-document", sbom::document, JSON),
    t!("osv-record", vuln::osv_record, JSON),
    t!("vex", vuln::vex, JSON),
    t!(
        "purl",
        vuln::purl,
        &[b"pkg:", b"@", b"?", b"#", b"%", b"/", b"=", b"&"]
    ),
    t!(
        "version",
        vuln::version,
        &[
            b"\n",
            b".",
            b"-",
            b"~",
            b"+",
            b":",
            b"^",
            b"_",
            b"0",
            b"99999999999999999999",
            b"alpha",
            b"rc",
            b"p",
            b"r"
        ]
    ),
    t!(
        "cosign-private-key",
        sign::private_key,
        &[
            b"-----BEGIN ",
            b"-----END ",
            b"-----\n",
            b"PRIVATE KEY",
            b"ENCRYPTED SIGSTORE PRIVATE KEY",
            b"\x30\x82"
        ]
    ),
    t!(
        "cosign-public-key",
        sign::public_key,
        &[
            b"-----BEGIN PUBLIC KEY-----\n",
            b"-----END PUBLIC KEY-----\n",
            b"\x30\x82"
        ]
    ),
    t!("cosign-bundle", sign::bundle, JSON),
    t!("cosign-payload", sign::payload, JSON),
    t!("dsse-envelope", sign::dsse, JSON),
    t!("intoto-statement", sign::statement, JSON),
    t!("notation-jws", sign::notation_jws, JSON),
    t!(
        "notation-certs",
        sign::notation_certs,
        &[
            b"-----BEGIN CERTIFICATE-----\n",
            b"-----END CERTIFICATE-----\n",
            b"\x30\x82"
        ]
    ),
    t!("notation-trust-policy", sign::trust_policy, JSON),
    t!("admission-review", admit::review, JSON),
    t!("policy", config::policy, YAML),
    t!("policy-tests", config::policy_tests, YAML),
    t!("kyverno", config::kyverno, YAML),
    t!("gitleaks-config", config::gitleaks, TOML),
    t!("kiln-yaml", config::kiln_yaml, YAML),
    t!("forge-push", server::push, JSON),
];

/// A short label of an outcome: `ok`, or the first words of the error with digits folded,
/// so one error shape is one behaviour however the input varied.
pub fn label<T, E: std::fmt::Display>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => error_label(&e.to_string()),
    }
}

/// The label of an error message.
pub fn error_label(msg: &str) -> String {
    let mut out = String::from("err:");
    for c in msg.chars().take(40) {
        out.push(if c.is_ascii_digit() { '#' } else { c });
    }
    out
}

/// The input as text, the way the CLI reads a file (invalid UTF-8 is refused there).
pub(crate) fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
    }

    #[test]
    fn labels_fold_digits() {
        assert_eq!(error_label("line 12: bad"), "err:line ##: bad");
    }
}
