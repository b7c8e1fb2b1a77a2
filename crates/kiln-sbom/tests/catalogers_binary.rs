//! The binary catalogers on real inputs: Go executables built here by the Go toolchain
//! (ELF, PE and Mach-O, with a module-cache dependency, a module replacement and a directory
//! replacement; checked against `go version -m`), and Java archives made by the JDK's `jar`
//! tool in real Maven and WAR layout.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::catalog_dir;
use kiln_sbom::catalog::go_binary;
use kiln_sbom::catalog::java::MAX_DEPTH as MAX;
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

fn write(path: &Path, data: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A module in a file-based GOPROXY (`.info`, `.mod`, `.zip` as the proxy protocol has them).
fn proxy_module(proxy: &Path, declared: &str, served: &str, version: &str, body: &str) {
    let dir = proxy.join(served).join("@v");
    write(&dir.join("list"), format!("{version}\n"));
    write(
        &dir.join(format!("{version}.info")),
        format!("{{\"Version\":\"{version}\",\"Time\":\"2024-01-01T00:00:00Z\"}}"),
    );
    let gomod = format!("module {declared}\n\ngo 1.19\n");
    write(&dir.join(format!("{version}.mod")), &gomod);
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let prefix = format!("{served}@{version}");
    z.start_file(format!("{prefix}/go.mod"), opts).expect("zip");
    z.write_all(gomod.as_bytes()).expect("zip");
    z.start_file(format!("{prefix}/x.go"), opts).expect("zip");
    z.write_all(body.as_bytes()).expect("zip");
    write(
        &dir.join(format!("{version}.zip")),
        z.finish().expect("zip").into_inner(),
    );
}

/// Builds `example.com/app` (deps: a proxy module, a module replaced by another, a module
/// replaced by a directory) for linux, windows and darwin; returns the three binaries.
fn build_go_app(go: &Path, work: &Path) -> Vec<(String, std::path::PathBuf)> {
    let proxy = work.join("proxy");
    proxy_module(
        &proxy,
        "example.com/dep",
        "example.com/dep",
        "v1.0.0",
        "package dep\n\nfunc A() int { return 1 }\n",
    );
    proxy_module(
        &proxy,
        "example.com/orig",
        "example.com/fork",
        "v1.1.0",
        "package orig\n\nfunc B() int { return 2 }\n",
    );
    write(
        &work.join("lib/go.mod"),
        "module example.com/lib\n\ngo 1.19\n",
    );
    write(
        &work.join("lib/lib.go"),
        "package lib\n\nfunc C() int { return 3 }\n",
    );
    write(
        &work.join("app/go.mod"),
        "module example.com/app\n\ngo 1.19\n\nrequire (\n\texample.com/dep v1.0.0\n\
         \texample.com/lib v1.2.3\n\texample.com/orig v0.1.0\n)\n\n\
         replace example.com/lib v1.2.3 => ../lib\n\n\
         replace example.com/orig => example.com/fork v1.1.0\n",
    );
    write(
        &work.join("app/main.go"),
        "package main\n\nimport (\n\t\"example.com/dep\"\n\t\"example.com/lib\"\n\
         \t\"example.com/orig\"\n)\n\nfunc main() { println(dep.A() + lib.C() + orig.B()) }\n",
    );
    let mut out = Vec::new();
    for (goos, name) in [
        ("linux", "app"),
        ("windows", "app.exe"),
        ("darwin", "app-mac"),
    ] {
        let bin = work.join("out").join(goos).join(name);
        run(Command::new(go)
            .current_dir(work.join("app"))
            .env("GOPROXY", format!("file://{}", proxy.display()))
            .env("GOSUMDB", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPATH", work.join("gopath"))
            .env("GOCACHE", work.join("gocache"))
            .env("GOOS", goos)
            .env("GOARCH", "amd64")
            .env("CGO_ENABLED", "0")
            .args(["build", "-buildvcs=false", "-trimpath", "-o"])
            .arg(&bin)
            .arg("."));
        out.push((goos.to_string(), bin));
    }
    out
}

#[test]
fn go_binaries_in_elf_pe_and_macho() {
    let Some(go) = kiln_testutil::program("go") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let bins = build_go_app(&go, work.path());
    let go_version = run(Command::new(&go).args(["env", "GOVERSION"]))
        .trim()
        .to_string();
    let root = tempfile::tempdir().expect("tempdir");
    let places = [
        ("linux", "usr/local/bin/app"),
        ("windows", "opt/app/bin/app.exe"),
        ("darwin", "opt/mac/bin/app-mac"),
    ];
    for (goos, bin) in &bins {
        let data = std::fs::read(bin).expect("read binary");
        // The independent reading: the Go toolchain's own `go version -m`.
        let m = run(Command::new(&go).arg("version").arg("-m").arg(bin));
        let info = go_binary::read(&data).unwrap_or_else(|e| panic!("{goos}: {e}"));
        assert_eq!(info.go_version, go_version, "{goos}");
        assert_eq!(info.path, "example.com/app");
        let main = info.main.as_ref().expect("main module");
        assert_eq!(
            (main.path.as_str(), main.version.as_str()),
            ("example.com/app", "(devel)")
        );
        let mut theirs: Vec<(String, String, String)> = Vec::new();
        for line in m.lines() {
            let f: Vec<&str> = line.trim_start().split('\t').collect();
            match f[0] {
                "dep" => theirs.push((
                    f[1].into(),
                    f[2].into(),
                    f.get(3).unwrap_or(&"").to_string(),
                )),
                "=>" if !f[1].starts_with('.') => {
                    let last = theirs.last_mut().expect("dep before =>");
                    *last = (
                        f[1].into(),
                        f[2].into(),
                        f.get(3).unwrap_or(&"").to_string(),
                    );
                }
                _ => {}
            }
        }
        let ours: Vec<(String, String, String)> = info
            .deps
            .iter()
            .map(|d| (d.path.clone(), d.version.clone(), d.sum.clone()))
            .collect();
        assert_eq!(ours, theirs, "{goos}");
        let dep = info
            .deps
            .iter()
            .find(|d| d.path == "example.com/dep")
            .expect("dep");
        assert!(dep.sum.starts_with("h1:"), "{dep:?}");
        let place = places.iter().find(|(g, _)| g == goos).expect("place").1;
        write(&root.path().join(place), &data);
    }
    // A non-Go executable and a truncated Go binary next to them.
    write(
        &root.path().join("usr/bin/sh"),
        std::fs::read("/bin/sh").expect("/bin/sh"),
    );
    let linux = std::fs::read(&bins[0].1).expect("read");
    write(&root.path().join("usr/bin/cut"), &linux[..linux.len() / 3]);

    let out = catalog_dir(root.path());
    let pkgs = &out.catalog.packages;
    let golang: Vec<_> = pkgs
        .iter()
        .filter(|p| p.kind == PackageType::Golang)
        .collect();
    let app: Vec<_> = golang
        .iter()
        .filter(|p| p.name == "example.com/app")
        .collect();
    // The same module in three binaries is one package found at three places.
    assert_eq!(app.len(), 1);
    let mut at: Vec<&str> = app[0].locations.iter().map(|l| l.path.as_str()).collect();
    at.sort();
    assert_eq!(
        at,
        [
            "/opt/app/bin/app.exe",
            "/opt/mac/bin/app-mac",
            "/usr/local/bin/app"
        ]
    );
    let dep = find(pkgs, PackageType::Golang, "example.com/dep");
    assert_eq!(dep.purl, "pkg:golang/example.com/dep@v1.0.0");
    let fork = find(pkgs, PackageType::Golang, "example.com/fork");
    assert_eq!(fork.version, "v1.1.0");
    assert!(!pkgs.iter().any(|p| p.name == "example.com/orig"));
    let lib = find(pkgs, PackageType::Golang, "example.com/lib");
    assert_eq!(lib.version, "v1.2.3");
    let std = find(pkgs, PackageType::Golang, "stdlib");
    assert_eq!(std.version, go_version);
    assert_eq!(
        std.purl,
        format!("pkg:golang/stdlib@{}", go_version.trim_start_matches("go"))
    );
    assert!(app[0].depends_on.contains(&dep.id));
    assert!(app[0].depends_on.contains(&std.id));
    assert!(
        !golang
            .iter()
            .any(|p| p.locations.iter().any(|l| l.path.starts_with("/usr/bin/"))),
        "nothing from /bin/sh or the truncated copy"
    );
    let warned: Vec<String> = out.warnings.iter().map(|w| format!("{w:?}")).collect();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("/usr/bin/cut") && w.contains("malformed")),
        "{warned:?}"
    );
    assert!(
        !warned.iter().any(|w| w.contains("/usr/bin/sh")),
        "{warned:?}"
    );
}

/// Runs the JDK's `jar` tool: `jar --create --file OUT -C DIR .` (plus a manifest).
fn jar(tool: &Path, out: &Path, dir: &Path, manifest: Option<&Path>) {
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let mut c = Command::new(tool);
    c.arg("--create").arg("--file").arg(out);
    match manifest {
        Some(m) => c.arg("--manifest").arg(m),
        None => c.arg("--no-manifest"),
    };
    run(c.arg("-C").arg(dir).arg("."));
}

#[test]
fn java_archives_with_maven_metadata_manifests_and_nesting() {
    let Some(tool) = kiln_testutil::program("jar") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    // A library with Maven metadata, as maven-archiver writes it.
    write(
        &w.join("guava/META-INF/maven/com.google.guava/guava/pom.properties"),
        "#Created by Apache Maven 3.8.6\nversion=32.1.2-jre\ngroupId=com.google.guava\n\
         artifactId=guava\n",
    );
    write(
        &w.join("guava/com/google/common/Base.class"),
        b"\xca\xfe\xba\xbe",
    );
    jar(
        &tool,
        &w.join("jars/guava-32.1.2-jre.jar"),
        &w.join("guava"),
        None,
    );
    // A bundle with only a manifest (OSGi headers, a continuation line).
    write(&w.join("osgi/org/Thing.class"), b"\xca\xfe\xba\xbe");
    write(
        &w.join("osgi.mf"),
        "Implementation-Title: Thing Library\nImplementation-Version: 2.4.1\n\
         Bundle-SymbolicName: org.example.thi\n ng;singleton:=true\n",
    );
    jar(
        &tool,
        &w.join("jars/thing-2.4.1.jar"),
        &w.join("osgi"),
        Some(&w.join("osgi.mf")),
    );
    // A web application holding both in WEB-INF/lib, with its own Maven metadata.
    write(
        &w.join("war/META-INF/maven/org.example/shop/pom.properties"),
        "groupId=org.example\nartifactId=shop\nversion=1.0.0\n",
    );
    write(&w.join("war/WEB-INF/web.xml"), "<web-app/>");
    for j in ["guava-32.1.2-jre.jar", "thing-2.4.1.jar"] {
        write(
            &w.join("war/WEB-INF/lib").join(j),
            std::fs::read(w.join("jars").join(j)).expect("read jar"),
        );
    }
    let root = tempfile::tempdir().expect("tempdir");
    jar(
        &tool,
        &root.path().join("srv/shop.war"),
        &w.join("war"),
        None,
    );

    let out = catalog_dir(root.path());
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let pkgs = &out.catalog.packages;
    let shop = find(pkgs, PackageType::Maven, "shop");
    assert_eq!(shop.purl, "pkg:maven/org.example/shop@1.0.0");
    let guava = find(pkgs, PackageType::Maven, "guava");
    assert_eq!(guava.purl, "pkg:maven/com.google.guava/guava@32.1.2-jre");
    assert_eq!(guava.locations[0].path, "/srv/shop.war");
    let thing = find(pkgs, PackageType::Maven, "thing");
    assert_eq!(thing.purl, "pkg:maven/org.example/thing@2.4.1");
    assert_eq!(
        pkgs.iter().filter(|p| p.kind == PackageType::Maven).count(),
        3
    );
}

/// A jar nested in a jar nested in ... deeper than the bound, next to a good jar.
fn nested_bomb(depth: usize) -> Vec<u8> {
    let opts = zip::write::SimpleFileOptions::default();
    let mut inner: Vec<u8> = Vec::new();
    for level in 0..depth {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file(
            format!("META-INF/maven/org.bomb/level{level}/pom.properties"),
            opts,
        )
        .expect("zip");
        write!(z, "groupId=org.bomb\nartifactId=level{level}\nversion=1\n").expect("zip");
        if !inner.is_empty() {
            z.start_file("BOOT-INF/lib/inner.jar", opts).expect("zip");
            z.write_all(&inner).expect("zip");
        }
        inner = z.finish().expect("zip").into_inner();
    }
    inner
}

#[test]
fn java_bad_archives_warn_and_the_rest_continues() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    write(&r.join("app/bomb.jar"), nested_bomb(MAX + 3));
    write(
        &r.join("app/broken.jar"),
        b"PK\x03\x04 this is not really a zip",
    );
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file(
        "META-INF/maven/org.good/good/pom.properties",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("zip");
    z.write_all(b"groupId=org.good\nartifactId=good\nversion=3\n")
        .expect("zip");
    write(
        &r.join("app/good.jar"),
        z.finish().expect("zip").into_inner(),
    );

    let out = catalog_dir(r);
    let pkgs = &out.catalog.packages;
    assert_eq!(find(pkgs, PackageType::Maven, "good").version, "3");
    // Levels count from the innermost (level0); the outermost and every level down to the
    // depth bound are read, the ones past it are not.
    let n = MAX + 3;
    find(pkgs, PackageType::Maven, &format!("level{}", n - 1));
    find(pkgs, PackageType::Maven, &format!("level{}", n - 1 - MAX));
    for skipped in 0..n - 1 - MAX {
        assert!(!pkgs.iter().any(|p| p.name == format!("level{skipped}")));
    }
    let texts: Vec<String> = out.warnings.iter().map(|w| format!("{w:?}")).collect();
    assert!(
        texts
            .iter()
            .any(|w| w.contains("bomb.jar") && w.contains("nested deeper")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|w| w.contains("broken.jar")), "{texts:?}");
}
