//! Ruby: `Gemfile.lock` (the `specs:` of the `GEM` sections).

use super::{Cataloger, Context, FoundFile, file_named, new_package};
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
            for (name, version) in parse(&f.text()) {
                cx.packages.push(new_package(
                    &format!("gem:{}:{name}@{version}", f.path),
                    PackageType::Gem,
                    &name,
                    &version,
                    purl::build(PackageType::Gem, None, &name, &version, &[]),
                    f.location(),
                ));
            }
        }
    }
}

/// The `(name, version)` of each gem in the lockfile's GEM specs.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
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
        if in_specs && line.starts_with("    ") && !line.starts_with("     ") {
            let t = line.trim();
            if let Some((n, rest)) = t.split_once(" (") {
                let v = rest.trim_end_matches(')');
                out.push((n.to_string(), v.to_string()));
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
    }
}
