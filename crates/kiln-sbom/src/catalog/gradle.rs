//! Gradle dependency locking: `gradle.lockfile` and `buildscript-gradle.lockfile` (one
//! `group:artifact:version=configuration,…` line per locked module; `empty=` lists
//! configurations without dependencies). Every locked module is a Maven package.

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::purl;

/// Reads Gradle lockfiles.
pub struct GradleLock;

/// One locked module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub group: String,
    pub artifact: String,
    pub version: String,
    /// The configurations it is locked in (`compileClasspath`, …).
    pub configurations: Vec<String>,
}

impl Cataloger for GradleLock {
    fn name(&self) -> &'static str {
        "gradle-lock"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "gradle.lockfile") || file_named(path, "buildscript-gradle.lockfile")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let (locked, bad) = parse(&f.text());
            if let Some(line) = bad {
                cx.warn(
                    &f.path,
                    format!("line {line} is not `group:artifact:version=configurations`"),
                );
            }
            for m in locked {
                cx.packages.push(new_package(
                    &format!("gradle:{}:{}:{}@{}", f.path, m.group, m.artifact, m.version),
                    PackageType::Maven,
                    &m.artifact,
                    &m.version,
                    purl::build(
                        PackageType::Maven,
                        Some(&m.group),
                        &m.artifact,
                        &m.version,
                        &[],
                    ),
                    f.location(),
                ));
            }
        }
    }
}

/// The locked modules, and the number of the first malformed line if any (the rest of the
/// file is still read).
pub fn parse(text: &str) -> (Vec<Locked>, Option<usize>) {
    let mut out = Vec::new();
    let mut bad = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("empty=") {
            continue;
        }
        let (coords, configs) = line.split_once('=').unwrap_or((line, ""));
        let parts: Vec<&str> = coords.split(':').collect();
        match parts.as_slice() {
            [g, a, v] if !g.is_empty() && !a.is_empty() && !v.is_empty() => out.push(Locked {
                group: g.to_string(),
                artifact: a.to_string(),
                version: v.to_string(),
                configurations: configs
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
            }),
            _ => {
                bad.get_or_insert(n + 1);
            }
        }
    }
    (out, bad)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines() {
        let (l, bad) = super::parse(
            "# This is a Gradle generated file for dependency locking.\n\
             com.google.guava:guava:31.1-jre=compileClasspath,runtimeClasspath\n\
             broken line\nempty=annotationProcessor\n",
        );
        assert_eq!(l.len(), 1);
        assert_eq!(
            l[0].configurations,
            vec!["compileClasspath", "runtimeClasspath"]
        );
        assert_eq!(bad, Some(3));
    }
}
