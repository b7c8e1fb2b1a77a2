//! .NET: NuGet `packages.lock.json` and `*.deps.json` (package libraries only), with the
//! dependencies each records (`dependencies` of a lock entry, of a deps.json target) as
//! edges to the packages of the same file.

use serde_json::Value;

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::purl;

/// Reads .NET lock and deps files.
pub struct Dotnet;

impl Cataloger for Dotnet {
    fn name(&self) -> &'static str {
        "dotnet"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "packages.lock.json") || path.ends_with(".deps.json")
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
            let mut found: Vec<(String, String)> = Vec::new();
            // (name, version) → names of its dependencies.
            let mut deps_of: std::collections::BTreeMap<(String, String), Vec<String>> =
                Default::default();
            if f.path.ends_with(".deps.json") {
                if let Some(libs) = doc.get("libraries").and_then(Value::as_object) {
                    for (k, v) in libs {
                        if v.get("type").and_then(Value::as_str) == Some("package")
                            && let Some((n, ver)) = k.split_once('/')
                        {
                            found.push((n.to_string(), ver.to_string()));
                        }
                    }
                }
                for target in doc
                    .get("targets")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|t| t.values())
                    .filter_map(Value::as_object)
                {
                    for (k, v) in target {
                        if let (Some((n, ver)), Some(d)) = (
                            k.split_once('/'),
                            v.get("dependencies").and_then(Value::as_object),
                        ) {
                            deps_of
                                .entry((n.to_string(), ver.to_string()))
                                .or_default()
                                .extend(d.keys().cloned());
                        }
                    }
                }
            } else if let Some(fws) = doc.get("dependencies").and_then(Value::as_object) {
                for deps in fws.values().filter_map(Value::as_object) {
                    for (n, d) in deps {
                        if d.get("type").and_then(Value::as_str) == Some("Project") {
                            continue;
                        }
                        if let Some(v) = d.get("resolved").and_then(Value::as_str) {
                            found.push((n.clone(), v.to_string()));
                            if let Some(dd) = d.get("dependencies").and_then(Value::as_object) {
                                deps_of
                                    .entry((n.clone(), v.to_string()))
                                    .or_default()
                                    .extend(dd.keys().cloned());
                            }
                        }
                    }
                }
            }
            found.sort();
            found.dedup();
            let key = |n: &str, v: &str| format!("nuget:{}:{n}@{v}", f.path);
            // NuGet ids are case-insensitive; an edge needs one locked version of the id.
            let mut by_id: std::collections::HashMap<String, Vec<(&str, &str)>> =
                Default::default();
            for (n, v) in &found {
                by_id
                    .entry(n.to_ascii_lowercase())
                    .or_default()
                    .push((n, v));
            }
            for (n, v) in &found {
                let mut p = new_package(
                    &key(n, v),
                    PackageType::Nuget,
                    n,
                    v,
                    purl::build(PackageType::Nuget, None, n, v, &[]),
                    f.location(),
                );
                for d in deps_of.get(&(n.clone(), v.clone())).into_iter().flatten() {
                    if let Some([(dn, dv)]) = by_id.get(&d.to_ascii_lowercase()).map(Vec::as_slice)
                    {
                        p.depends_on.push(super::package_id(&key(dn, dv)));
                    }
                }
                cx.packages.push(p);
            }
        }
    }
}
