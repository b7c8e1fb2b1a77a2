//! The catalogers added for issue 4's remaining list, on real-format inputs: a
//! cargo-auditable binary (`fixtures/auditable`, made by its `make.sh`), a Maven multi-module
//! tree and Gradle lockfiles (`fixtures/java`), gemspecs from Debian's Ruby packages
//! (`fixtures/gems`), and the dependency edges of yarn (made by yarn 1), pnpm (made by
//! pnpm 9), uv (made by uv), poetry, composer and NuGet lockfiles (`fixtures/edges`); the
//! SPDX and CycloneDX documents with those edges and CPEs validate with the independent
//! validators.

mod common;

use common::{catalog_dir, fixture};
use kiln_sbom::format::{self, WriteOptions};
use kiln_sbom::{Package, PackageType};

fn find<'a>(pkgs: &'a [Package], kind: PackageType, name: &str) -> &'a Package {
    pkgs.iter()
        .find(|p| p.kind == kind && p.name == name)
        .unwrap_or_else(|| {
            panic!(
                "{name} ({kind:?}) not found in {:?}",
                pkgs.iter().map(|p| &p.name).collect::<Vec<_>>()
            )
        })
}

/// The names `p` depends on, sorted.
fn deps_of(pkgs: &[Package], p: &Package) -> Vec<String> {
    let mut v: Vec<String> = p
        .depends_on
        .iter()
        .map(|d| {
            pkgs.iter()
                .find(|q| &q.id == d)
                .map(|q| q.name.clone())
                .unwrap_or_else(|| panic!("{} depends on unknown id {d}", p.name))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn cargo_auditable_binary() {
    let out = catalog_dir(&fixture("auditable"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let pkgs = &out.catalog.packages;
    let mut names: Vec<(&str, &str)> = pkgs
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    names.sort();
    // autocfg is a build-time dependency: not in the binary, not reported.
    assert_eq!(
        names,
        vec![
            ("hello-auditable", "0.1.0"),
            ("itoa", "1.0.14"),
            ("memchr", "2.7.4"),
            ("num-traits", "0.2.19"),
            ("regex-automata", "0.4.9"),
        ]
    );
    let itoa = find(pkgs, PackageType::Cargo, "itoa");
    assert_eq!(itoa.purl, "pkg:cargo/itoa@1.0.14");
    assert_eq!(itoa.locations[0].path, "/usr/local/bin/hello-auditable");
    assert!(itoa.cpes.is_empty());
    let root = find(pkgs, PackageType::Cargo, "hello-auditable");
    assert_eq!(deps_of(pkgs, root), vec!["itoa", "num-traits"]);
    let ra = find(pkgs, PackageType::Cargo, "regex-automata");
    assert_eq!(deps_of(pkgs, ra), vec!["memchr"]);
    assert!(
        find(pkgs, PackageType::Cargo, "num-traits")
            .depends_on
            .is_empty()
    );
}

#[test]
fn cargo_auditable_bad_binaries_warn() {
    let bin = std::fs::read(fixture("auditable/usr/local/bin/hello-auditable")).unwrap();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    // The section table is at the end of the file: cut there, and cut inside the section.
    std::fs::write(dir.join("cut"), &bin[..bin.len() - 200]).unwrap();
    let mut garbled = bin.clone();
    let at = garbled
        .windows(2)
        .position(|w| w == [0x78, 0xda])
        .expect("zlib header of the section");
    garbled[at + 2..at + 40].fill(0xff);
    std::fs::write(dir.join("garbled"), &garbled).unwrap();
    let out = catalog_dir(t.path());
    assert!(
        out.catalog.packages.is_empty(),
        "{:?}",
        out.catalog.packages
    );
    let msgs: Vec<String> = out.warnings.iter().map(|w| format!("{w:?}")).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("/bin/garbled") && m.contains(".dep-v0")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("/bin/cut")), "{msgs:?}");
}

#[test]
fn maven_poms_resolve_within_the_tree() {
    let out = catalog_dir(&fixture("java"));
    let pkgs: Vec<Package> = out
        .catalog
        .packages
        .iter()
        .filter(|p| p.locations.iter().any(|l| l.path.ends_with("pom.xml")))
        .cloned()
        .collect();
    let mut got: Vec<(&str, &str)> = pkgs
        .iter()
        .map(|p| (p.purl.as_str(), p.locations[0].path.as_str()))
        .collect();
    got.sort();
    let app = "/app/pom.xml";
    assert_eq!(
        got,
        vec![
            ("pkg:maven/com.example.shop/shop-app@1.4.0", app),
            ("pkg:maven/com.example.shop/shop-lib@1.4.0", app),
            ("pkg:maven/com.example.shop/shop-parent@1.4.0", "/pom.xml"),
            (
                "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.15.2",
                app
            ),
            ("pkg:maven/com.google.guava/guava@32.1.2-jre", app),
            ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", app),
            ("pkg:maven/org.junit.jupiter/junit-jupiter@5.10.0", app),
            ("pkg:maven/org.slf4j/slf4j-api@2.0.9", "/pom.xml"),
            ("pkg:maven/org.yaml/snakeyaml@2.2", "/lib/pom.xml"),
        ]
    );
    let shop_app = find(&pkgs, PackageType::Maven, "shop-app");
    assert_eq!(
        deps_of(&pkgs, shop_app),
        vec![
            "guava",
            "jackson-databind",
            "junit-jupiter",
            "log4j-core",
            "shop-lib"
        ]
    );
    // The library is both a dependency of the app and a project of the tree: one package.
    let lib = find(&pkgs, PackageType::Maven, "shop-lib");
    assert_eq!(lib.locations.len(), 2);
    assert_eq!(deps_of(&pkgs, lib), vec!["snakeyaml"]);
    assert_eq!(
        deps_of(&pkgs, find(&pkgs, PackageType::Maven, "shop-parent")),
        vec!["slf4j-api"]
    );
    // Unresolvable: a property defined nowhere, a version managed by a remote parent.
    let w: Vec<String> = out.warnings.iter().map(|w| format!("{w:?}")).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.iter().any(|m| m.contains("/app/pom.xml")
        && m.contains("org.apache.commons:commons-text")
        && m.contains("${commons-text.version}")));
    assert!(
        w.iter()
            .any(|m| m.contains("/lib/pom.xml") && m.contains("spring-boot-starter-web"))
    );
    // CPEs only for artifacts with a known NVD vendor and product.
    let cpe = |n: &str| find(&pkgs, PackageType::Maven, n).cpes.clone();
    assert_eq!(
        cpe("log4j-core"),
        vec!["cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"]
    );
    assert_eq!(
        cpe("jackson-databind"),
        vec!["cpe:2.3:a:fasterxml:jackson-databind:2.15.2:*:*:*:*:*:*:*"]
    );
    assert!(cpe("shop-lib").is_empty() && cpe("slf4j-api").is_empty());
}

#[test]
fn gradle_lockfiles() {
    let out = catalog_dir(&fixture("java/gradle-app"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let pkgs = &out.catalog.packages;
    assert_eq!(pkgs.len(), 9);
    let guava = find(pkgs, PackageType::Maven, "guava");
    assert_eq!(guava.purl, "pkg:maven/com.google.guava/guava@32.1.2-jre");
    assert_eq!(
        guava.cpes,
        vec!["cpe:2.3:a:google:guava:32.1.2-jre:*:*:*:*:*:*:*"]
    );
    let shadow = find(pkgs, PackageType::Maven, "shadow");
    assert_eq!(shadow.locations[0].path, "/buildscript-gradle.lockfile");
}

#[test]
fn installed_gemspecs() {
    let out = catalog_dir(&fixture("gems"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let pkgs = &out.catalog.packages;
    let mut names: Vec<(&str, &str)> = pkgs
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("irb", "1.4.1"),
            ("minitest", "5.15.0"),
            ("rake", "13.0.6"),
            ("rbs", "2.1.0"),
            ("reline", "0.3.0"),
        ]
    );
    let rbs = find(pkgs, PackageType::Gem, "rbs");
    assert_eq!(rbs.purl, "pkg:gem/rbs@2.1.0");
    assert_eq!(rbs.license.as_deref(), Some("BSD-2-Clause AND Ruby"));
    assert_eq!(
        rbs.locations[0].path,
        "/usr/lib/ruby/gems/3.1.0/specifications/rbs-2.1.0.gemspec"
    );
    let irb = find(pkgs, PackageType::Gem, "irb");
    assert_eq!(deps_of(pkgs, irb), vec!["reline"]);
    // minitest's development dependencies (rdoc, hoe) are not runtime edges.
    assert!(
        find(pkgs, PackageType::Gem, "minitest")
            .depends_on
            .is_empty()
    );
    assert_eq!(
        find(pkgs, PackageType::Gem, "rake").license.as_deref(),
        Some("MIT")
    );
}

#[test]
fn lockfile_dependency_edges() {
    // Each lockfile on its own (the same package in two lockfiles is one merged package).
    let deps = |dir: &str, name: &str| -> Vec<String> {
        let out = catalog_dir(&fixture(&format!("edges/{dir}")));
        assert!(out.warnings.is_empty(), "{dir}: {:?}", out.warnings);
        let pkgs = &out.catalog.packages;
        let p = pkgs
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} in {dir}"));
        deps_of(pkgs, p)
    };
    for dir in ["yarn", "pnpm"] {
        assert_eq!(
            deps(dir, "chalk"),
            vec!["ansi-styles", "escape-string-regexp", "supports-color"],
            "{dir}"
        );
        assert_eq!(deps(dir, "debug"), vec!["ms"], "{dir}");
        assert_eq!(deps(dir, "color-convert"), vec!["color-name"], "{dir}");
        assert!(deps(dir, "ms").is_empty());
    }
    let requests = vec!["certifi", "charset-normalizer", "idna", "urllib3"];
    assert_eq!(deps("uv", "requests"), requests);
    assert_eq!(deps("poetry", "requests"), requests);
    assert_eq!(deps("composer", "monolog/monolog"), vec!["psr/log"]);
    assert_eq!(deps("nuget", "Serilog.Sinks.Console"), vec!["Serilog"]);
    // Gemfile.lock of the project fixture: rack-test requires rack.
    let proj = catalog_dir(&fixture("project"));
    let rt = find(&proj.catalog.packages, PackageType::Gem, "rack-test");
    assert_eq!(deps_of(&proj.catalog.packages, rt), vec!["rack"]);
}

#[test]
fn documents_with_edges_and_cpes_validate() {
    let mut c = catalog_dir(&fixture("edges")).catalog;
    c.packages
        .extend(catalog_dir(&fixture("java")).catalog.packages);
    c.packages
        .extend(catalog_dir(&fixture("auditable")).catalog.packages);
    let opts = WriteOptions {
        created: 1_700_000_000,
        tool_version: "0.1.0".into(),
    };
    let spdx = format::spdx::write(&c, &opts);
    let cdx = format::cyclonedx::write(&c, &opts);
    let edges: usize = c.packages.iter().map(|p| p.depends_on.len()).sum();
    assert!(edges >= 20, "{edges}");
    assert_eq!(spdx.matches("\"DEPENDS_ON\"").count(), edges);
    assert!(spdx.contains("cpe:2.3:a:apache:log4j:2.14.1"));
    assert!(cdx.contains("\"dependsOn\""));
    for text in [&spdx, &cdx] {
        let back = format::read(text.as_bytes(), "doc").unwrap();
        let n: usize = back.packages.iter().map(|p| p.depends_on.len()).sum();
        assert_eq!(n, edges);
        let log4j = back
            .packages
            .iter()
            .find(|p| p.name == "log4j-core")
            .unwrap();
        assert_eq!(
            log4j.cpes,
            vec!["cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"]
        );
    }
    let Some(py) = kiln_testutil::python() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let sp = t.path().join("sbom.spdx.json");
    std::fs::write(&sp, &spdx).unwrap();
    kiln_testutil::assert_spdx_valid(&py, &sp);
    let cp = t.path().join("sbom.cdx.json");
    std::fs::write(&cp, &cdx).unwrap();
    kiln_testutil::assert_cyclonedx_valid(&py, &cp);
}

#[test]
fn bad_build_files_warn_and_the_rest_is_read() {
    let t = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| {
        let path = t.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let pom = std::fs::read_to_string(fixture("java/app/pom.xml")).unwrap();
    w("cut/pom.xml", &pom[..pom.len() / 2]);
    w("other/pom.xml", "<html><body>not a pom</body></html>");
    w(
        "g/gradle.lockfile",
        "com.google.guava:guava:32.1.2-jre=runtimeClasspath\nno-colons-here\n",
    );
    w(
        "gems/specifications/x-1.gemspec",
        "Gem::Specification.new do |s|\nend\n",
    );
    let out = catalog_dir(t.path());
    let msgs: Vec<String> = out.warnings.iter().map(|w| format!("{w:?}")).collect();
    for file in [
        "/cut/pom.xml",
        "/other/pom.xml",
        "/g/gradle.lockfile",
        "x-1.gemspec",
    ] {
        assert!(msgs.iter().any(|m| m.contains(file)), "{file}: {msgs:?}");
    }
    let names: Vec<&str> = out
        .catalog
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, vec!["guava"]);
}
