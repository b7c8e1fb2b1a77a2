//! Targets for kiln-sbom: every cataloger, each fed one file at the path it reads, through
//! the same cataloging pass a real source goes through; and the SBOM document readers.

use std::io::Read;

use kiln_sbom::source::{FileMeta, Sink, Source, SourceError};
use kiln_sbom::{Warning, catalog_source};

/// A source holding one file.
struct OneFile<'a> {
    path: &'a str,
    data: &'a [u8],
}

impl Source for OneFile<'_> {
    fn visit(
        &mut self,
        select: &dyn Fn(&str) -> bool,
        sink: &mut Sink<'_>,
    ) -> Result<Vec<Warning>, SourceError> {
        if select(self.path) {
            let mut reader: &[u8] = self.data;
            sink(
                FileMeta {
                    path: self.path,
                    layer: None,
                    size: self.data.len() as u64,
                },
                &mut reader as &mut dyn Read,
            );
        }
        Ok(Vec::new())
    }
}

/// Catalogs `data` placed at `path`.
fn at(path: &str, data: &[u8]) -> String {
    match catalog_source(&mut OneFile { path, data }, "fuzz") {
        Ok(out) => {
            for p in &out.catalog.packages {
                assert!(!p.id.is_empty(), "package without an id from {path}");
            }
            format!(
                "pkgs:{} warns:{}",
                out.catalog.packages.len().min(4),
                out.warnings.len().min(4)
            )
        }
        Err(e) => super::error_label(&e.to_string()),
    }
}

macro_rules! at {
    ($fn:ident, $path:literal) => {
        #[doc = concat!("The input as `", $path, "`.")]
        pub fn $fn(data: &[u8]) -> String {
            at($path, data)
        }
    };
}

at!(os_release, "/etc/os-release");
at!(dpkg_status, "/var/lib/dpkg/status");
at!(apk_installed, "/lib/apk/db/installed");
at!(rpm_bdb, "/var/lib/rpm/Packages");
at!(rpm_ndb, "/var/lib/rpm/Packages.db");
at!(rpm_sqlite, "/var/lib/rpm/rpmdb.sqlite");
at!(cargo_lock, "/src/Cargo.lock");
at!(go_mod, "/src/go.mod");
at!(go_binary, "/usr/bin/app");
at!(npm_lock, "/src/package-lock.json");
at!(yarn_lock, "/src/yarn.lock");
at!(pnpm_lock, "/src/pnpm-lock.yaml");
at!(node_package, "/app/node_modules/pkg/package.json");
at!(
    python_metadata,
    "/usr/lib/python3/site-packages/pkg-1.0.dist-info/METADATA"
);
at!(requirements, "/src/requirements.txt");
at!(poetry_lock, "/src/poetry.lock");
at!(uv_lock, "/src/uv.lock");
at!(pipfile_lock, "/src/Pipfile.lock");
at!(gemfile_lock, "/src/Gemfile.lock");
at!(
    gemspec,
    "/usr/lib/ruby/gems/3.2.0/specifications/pkg-1.0.gemspec"
);
at!(composer_lock, "/src/composer.lock");
at!(dotnet_deps, "/app/app.deps.json");
at!(jar, "/app/lib/app.jar");
at!(pom_xml, "/src/pom.xml");
at!(gradle_lock, "/src/gradle.lockfile");

/// JAR `META-INF/MANIFEST.MF` text and `pom.properties`.
pub fn jar_manifest(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let m = kiln_sbom::catalog::java::parse_manifest(&text);
    let p = kiln_sbom::catalog::java::parse_properties(&text);
    format!("keys:{} props:{}", m.len().min(4), p.len().min(4))
}

/// An SBOM document (SPDX 2.3, CycloneDX or Kiln JSON), as `kiln vuln scan sbom:` reads it.
pub fn document(data: &[u8]) -> String {
    super::label(&kiln_sbom::format::read(data, "fuzz input"))
}
