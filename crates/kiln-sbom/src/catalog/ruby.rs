//! Ruby: `Gemfile.lock` (the `specs:` of the `GEM` sections, with each gem's dependencies
//! as edges to the gems locked in the same file).

use std::collections::HashMap;

use super::{Cataloger, Context, FoundFile, file_named, new_package, package_id};
use crate::package::PackageType;
use crate::purl;

/// Reads Gemfile.lock files.
pub struct GemfileLock;

impl Cataloger for GemfileLock {
    fn name(&self) -> &'static str {
        "gemfile-lock"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "Gemfile.lock")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let specs = parse_specs(&f.text());
            let key = |n: &str, v: &str| format!("gem:{}:{n}@{v}", f.path);
            let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
            for s in &specs {
                by_name.entry(&s.name).or_default().push(&s.version);
            }
            for s in &specs {
                let mut p = new_package(
                    &key(&s.name, &s.version),
                    PackageType::Gem,
                    &s.name,
                    &s.version,
                    purl::build(PackageType::Gem, None, &s.name, &s.version, &[]),
                    f.location(),
                );
                // A dependency names a gem, not a version: it is the locked one, when the
                // lockfile holds a single version of it (platform variants share a name).
                for d in &s.dependencies {
                    if let Some(vs) = by_name.get(d.as_str())
                        && vs.len() == 1
                    {
                        p.depends_on.push(package_id(&key(d, vs[0])));
                    }
                }
                cx.packages.push(p);
            }
        }
    }
}

/// One locked gem and the names of the gems it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub dependencies: Vec<String>,
}

/// The `(name, version)` of each gem in the lockfile's GEM specs.
pub fn parse(text: &str) -> Vec<(String, String)> {
    parse_specs(text)
        .into_iter()
        .map(|s| (s.name, s.version))
        .collect()
}

/// The gems of the lockfile's GEM specs (4-space lines) with their dependencies (6-space
/// lines under them).
pub fn parse_specs(text: &str) -> Vec<Spec> {
    let mut out: Vec<Spec> = Vec::new();
    let mut in_gem = false;
    let mut in_specs = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_gem = line.trim() == "GEM";
            in_specs = false;
            continue;
        }
        if line.trim() == "specs:" {
            in_specs = in_gem;
            continue;
        }
        if !in_specs {
            continue;
        }
        let t = line.trim();
        if line.starts_with("    ") && !line.starts_with("     ") {
            if let Some((n, rest)) = t.split_once(" (") {
                out.push(Spec {
                    name: n.to_string(),
                    version: rest.trim_end_matches(')').to_string(),
                    dependencies: Vec::new(),
                });
            }
        } else if line.starts_with("      ")
            && !line.starts_with("       ")
            && let Some(last) = out.last_mut()
        {
            let n = t.split(" (").next().unwrap_or(t).trim();
            if !n.is_empty() {
                last.dependencies.push(n.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn gem_specs() {
        let t = "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.8)\n    rails (7.1.0)\n      rack (>= 2)\n\nPLATFORMS\n  ruby\n";
        assert_eq!(super::parse(t).len(), 2);
        let s = super::parse_specs(t);
        assert_eq!(s[1].dependencies, vec!["rack"]);
    }
}
