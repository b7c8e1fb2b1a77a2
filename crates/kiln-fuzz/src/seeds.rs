//! Where each target's seeds come from besides `fuzz/corpus/TARGET/`: the crates' test
//! fixtures and examples (read in place, never copied), and `../shared/vectors` when that
//! folder exists (its files must not be copied into the project).

use std::path::{Path, PathBuf};

/// One seed source: a path relative to the workspace root (a file, or a directory whose
/// files are all taken, recursively), and whether it is optional (outside the project).
struct From {
    path: &'static str,
    optional: bool,
}

const fn p(path: &'static str) -> From {
    From {
        path,
        optional: false,
    }
}

const fn v(path: &'static str) -> From {
    From {
        path,
        optional: true,
    }
}

fn table(target: &str) -> Vec<From> {
    match target {
        "sbom-os-release" => vec![p("crates/kiln-sbom/tests/fixtures/debian/etc/os-release")],
        "sbom-dpkg-status" => vec![p(
            "crates/kiln-sbom/tests/fixtures/debian/var/lib/dpkg/status",
        )],
        "sbom-rpm-bdb" => vec![p("crates/kiln-sbom/tests/fixtures/rpm/Packages")],
        "sbom-rpm-ndb" => vec![p("crates/kiln-sbom/tests/fixtures/rpm/Packages.db")],
        "sbom-rpm-sqlite" => vec![p("crates/kiln-sbom/tests/fixtures/rpm/rpmdb.sqlite")],
        "sbom-cargo-lock" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/svc/Cargo.lock"),
            p("Cargo.lock"),
        ],
        "sbom-go-mod" => vec![p("crates/kiln-sbom/tests/fixtures/project/go/go.mod")],
        "sbom-go-binary" => vec![],
        "sbom-npm-lock" => vec![p(
            "crates/kiln-sbom/tests/fixtures/project/web/package-lock.json",
        )],
        "sbom-yarn-lock" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/web/yarn.lock"),
            p("crates/kiln-sbom/tests/fixtures/edges/yarn/yarn.lock"),
        ],
        "sbom-pnpm-lock" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/web/pnpm-lock.yaml"),
            p("crates/kiln-sbom/tests/fixtures/edges/pnpm/pnpm-lock.yaml"),
        ],
        "sbom-node-package" => vec![p("crates/kiln-sbom/tests/fixtures/npm-installed")],
        "sbom-python-metadata" => vec![
            p("crates/kiln-sbom/tests/fixtures/debian/usr/local/lib/python3.11/dist-packages"),
            p("crates/kiln-sbom/tests/fixtures/debian/usr/lib/python3/dist-packages"),
        ],
        "sbom-requirements" => vec![p(
            "crates/kiln-sbom/tests/fixtures/project/py/requirements.txt",
        )],
        "sbom-poetry-lock" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/py/poetry.lock"),
            p("crates/kiln-sbom/tests/fixtures/edges/poetry/poetry.lock"),
        ],
        "sbom-uv-lock" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/py/uv.lock"),
            p("crates/kiln-sbom/tests/fixtures/edges/uv/uv.lock"),
        ],
        "sbom-pipfile-lock" => vec![p("crates/kiln-sbom/tests/fixtures/project/py/Pipfile.lock")],
        "sbom-gemfile-lock" => vec![p("crates/kiln-sbom/tests/fixtures/project/rb/Gemfile.lock")],
        "sbom-gemspec" => vec![p("crates/kiln-sbom/tests/fixtures/gems")],
        "sbom-composer-lock" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/php/composer.lock"),
            p("crates/kiln-sbom/tests/fixtures/edges/composer/composer.lock"),
        ],
        "sbom-dotnet-deps" => vec![
            p("crates/kiln-sbom/tests/fixtures/project/net/packages.lock.json"),
            p("crates/kiln-sbom/tests/fixtures/edges/nuget/packages.lock.json"),
        ],
        "sbom-pom-xml" => vec![
            p("crates/kiln-sbom/tests/fixtures/java/pom.xml"),
            p("crates/kiln-sbom/tests/fixtures/java/app/pom.xml"),
            p("crates/kiln-sbom/tests/fixtures/java/lib/pom.xml"),
        ],
        "sbom-gradle-lock" => vec![p("crates/kiln-sbom/tests/fixtures/java/gradle-app")],
        "sbom-document" => vec![p("crates/kiln-sbom/tests/fixtures/auditable/dep-v0.json")],
        "osv-record" => vec![v("../shared/vectors/osv/samples")],
        "cosign-private-key" => vec![
            v("../shared/vectors/cosign/keys/cosign"),
            v("../shared/vectors/cosign/keys/sigstore-rs"),
        ],
        "cosign-public-key" => vec![
            v("../shared/vectors/cosign/keys/sigstore-rs/ECDSA_P256_ASN1_PUBLIC_PEM.pub"),
            v("../shared/vectors/cosign/keys/sigstore-rs/ECDSA_P256_ASN1_PUBLIC_DER.pub"),
        ],
        "dsse-envelope" => vec![],
        "intoto-statement" => vec![v("../shared/vectors/slsa")],
        "admission-review" => vec![v("../shared/vectors/k8s-admission")],
        "policy" => vec![p("examples/policy/policy.yaml")],
        "policy-tests" => vec![
            p("examples/policy/cases.json"),
            p("examples/policy/evidence-signed.json"),
        ],
        "kyverno" => vec![p("examples/policy/kyverno.yaml")],
        "gitleaks-config" => vec![v("../shared/vectors/gitleaks/gitleaks.toml")],
        "kiln-yaml" => vec![
            p("examples/hello/kiln.yaml"),
            p("examples/containerfile/kiln.yaml"),
        ],
        _ => vec![],
    }
}

/// The `version` target's seeds from the OSV comparison vectors: each `A op B` line becomes
/// `[scheme byte] A \n B`.
fn version_vectors(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    const FILES: [(&str, u8); 12] = [
        ("semver-versions.txt", 0),
        ("pub-versions.txt", 1),
        ("pypi-versions.txt", 2),
        ("maven-versions.txt", 3),
        ("rubygems-versions.txt", 4),
        ("nuget-versions.txt", 5),
        ("packagist-versions.txt", 6),
        ("debian-versions.txt", 7),
        ("redhat-versions.txt", 8),
        ("alpine-versions.txt", 9),
        ("cran-versions.txt", 10),
        ("hackage-versions.txt", 11),
    ];
    let dir = root.join("../shared/vectors/osv-version-compare");
    let mut out = Vec::new();
    for (file, scheme) in FILES {
        let path = dir.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("# ") && !l.starts_with("// "))
        {
            let mut parts = line.split(' ');
            let (Some(a), Some(_), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let mut seed = vec![scheme];
            seed.extend_from_slice(format!("{a}\n{b}").as_bytes());
            out.push((path.clone(), seed));
        }
    }
    out
}

fn files_under(path: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    if path.is_file() {
        if let Ok(b) = std::fs::read(path) {
            out.push((path.to_path_buf(), b));
        }
        return;
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.file_name().is_some_and(|n| n == "LICENSE") {
            continue;
        }
        files_under(&p, out);
    }
}

/// The extra seeds of `target` under the workspace `root`, with a list of project paths
/// that were expected but missing (a fixture moved: the caller decides if that is fatal).
pub fn extra(root: &Path, target: &str) -> (Vec<(PathBuf, Vec<u8>)>, Vec<PathBuf>) {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for f in table(target) {
        let path = root.join(f.path);
        if !path.exists() {
            if !f.optional {
                missing.push(path);
            }
            continue;
        }
        files_under(&path, &mut out);
    }
    if target == "version" {
        out.extend(version_vectors(root));
    }
    (out, missing)
}
