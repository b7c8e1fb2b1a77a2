//! Rust: `Cargo.lock` (every `[[package]]`, with its recorded dependencies).

use std::collections::HashMap;

use serde::Deserialize;

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::purl;

/// Reads Cargo.lock files.
pub struct CargoLock;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPkg>,
}

#[derive(Deserialize)]
struct LockPkg {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

impl Cataloger for CargoLock {
    fn name(&self) -> &'static str {
        "cargo-lock"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "Cargo.lock")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let lock: Lock = match toml::from_str(&f.text()) {
                Ok(l) => l,
                Err(e) => {
                    cx.warn(&f.path, format!("not a valid Cargo.lock: {}", e.message()));
                    continue;
                }
            };
            let key = |n: &str, v: &str| format!("cargo:{}:{n}@{v}", f.path);
            let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
            for p in &lock.package {
                by_name.entry(&p.name).or_default().push(&p.version);
            }
            for p in &lock.package {
                let mut pkg = new_package(
                    &key(&p.name, &p.version),
                    PackageType::Cargo,
                    &p.name,
                    &p.version,
                    purl::build(PackageType::Cargo, None, &p.name, &p.version, &[]),
                    f.location(),
                );
                let _ = &p.source;
                for d in &p.dependencies {
                    let mut it = d.split_whitespace();
                    let n = it.next().unwrap_or("");
                    let v = match it.next() {
                        Some(v) => Some(v),
                        None => by_name.get(n).and_then(|vs| (vs.len() == 1).then(|| vs[0])),
                    };
                    if let Some(v) = v {
                        pkg.depends_on.push(super::package_id(&key(n, v)));
                    }
                }
                cx.packages.push(pkg);
            }
        }
    }
}
