//! Every case of osv-scalibr's version-ordering fixtures (`../shared/vectors/osv-version-compare`),
//! in both directions.

use std::cmp::Ordering;

use kiln_vuln::version::Scheme;

fn run(file: &str, ecosystems: &[&str]) {
    let Some(dir) = kiln_testutil::shared_vectors("osv-version-compare") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join(file)).expect("fixture readable");
    let mut failures = Vec::new();
    let mut cases = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with("# ")
            || line.starts_with("// ")
            || line == "#"
            || line == "//"
        {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{file}:{}: malformed case {line:?}", n + 1);
        let want = match parts[1] {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            op => panic!("{file}:{}: unknown op {op}", n + 1),
        };
        for eco in ecosystems {
            let scheme = Scheme::for_ecosystem(eco).expect("known ecosystem");
            cases += 1;
            let got = scheme.compare(parts[0], parts[2]);
            let back = scheme.compare(parts[2], parts[0]);
            if got != Ok(want) || back != Ok(want.reverse()) {
                failures.push(format!(
                    "{file}:{} [{eco}] {line}: got {got:?} / reverse {back:?}",
                    n + 1
                ));
            }
        }
    }
    assert!(cases > 0, "{file} has no cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn semver() {
    run("semver-versions.txt", &["npm", "crates.io", "Go", "Hex"]);
}
#[test]
fn pypi() {
    run("pypi-versions.txt", &["PyPI"]);
}
#[test]
fn maven() {
    run("maven-versions.txt", &["Maven"]);
}
#[test]
fn rubygems() {
    run("rubygems-versions.txt", &["RubyGems"]);
}
#[test]
fn nuget() {
    run("nuget-versions.txt", &["NuGet"]);
}
#[test]
fn packagist() {
    run("packagist-versions.txt", &["Packagist"]);
}
#[test]
fn debian() {
    run("debian-versions.txt", &["Debian", "Ubuntu"]);
}
#[test]
fn redhat() {
    run(
        "redhat-versions.txt",
        &["Red Hat", "AlmaLinux", "Rocky Linux", "SUSE"],
    );
}
#[test]
fn alpine() {
    run("alpine-versions.txt", &["Alpine"]);
}
#[test]
fn cran() {
    run("cran-versions.txt", &["CRAN"]);
}
#[test]
fn hackage() {
    run("hackage-versions.txt", &["Hackage"]);
}
#[test]
fn pub_dart() {
    run("pub-versions.txt", &["Pub"]);
}
