//! PHP: `composer.lock` and the installed `vendor/composer/installed.json`, with each
//! package's `require` as edges to the packages of the same file (platform requirements
//! such as `php` and `ext-*` are not packages and draw no edge).

use serde_json::Value;

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::{license, purl};

/// Reads Composer's lock and installed files.
pub struct Composer;

impl Cataloger for Composer {
    fn name(&self) -> &'static str {
        "composer"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "composer.lock") || path.ends_with("/vendor/composer/installed.json")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let doc: Value = match serde_json::from_slice(&f.data) {
                Ok(v) => v,
                Err(e) => {
                    cx.warn(&f.path, format!("not valid JSON: {e}"));
                    continue;
                }
            };
            let mut list: Vec<&Value> = Vec::new();
            if let Some(a) = doc.as_array() {
                list.extend(a);
            }
            for k in ["packages", "packages-dev"] {
                if let Some(a) = doc.get(k).and_then(Value::as_array) {
                    list.extend(a);
                }
            }
            let key = |name: &str| format!("composer:{}:{name}", f.path);
            let names: std::collections::HashSet<String> = list
                .iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect();
            for p in list {
                let (Some(name), Some(version)) = (
                    p.get("name").and_then(Value::as_str),
                    p.get("version").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let mut pkg = new_package(
                    &key(&name.to_ascii_lowercase()),
                    PackageType::Composer,
                    name,
                    version,
                    purl::slashed(PackageType::Composer, name, version),
                    f.location(),
                );
                pkg.license = p
                    .get("license")
                    .and_then(Value::as_array)
                    .and_then(|a| license::join(a.iter().filter_map(Value::as_str)));
                if let Some(req) = p.get("require").and_then(Value::as_object) {
                    for dep in req.keys().map(|d| d.to_ascii_lowercase()) {
                        if names.contains(&dep) {
                            pkg.depends_on.push(super::package_id(&key(&dep)));
                        }
                    }
                }
                cx.packages.push(pkg);
            }
        }
    }
}
