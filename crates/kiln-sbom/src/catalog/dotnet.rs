//! .NET: NuGet `packages.lock.json` and `*.deps.json` (package libraries only).

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
            } else if let Some(fws) = doc.get("dependencies").and_then(Value::as_object) {
                for deps in fws.values().filter_map(Value::as_object) {
                    for (n, d) in deps {
                        if d.get("type").and_then(Value::as_str) == Some("Project") {
                            continue;
                        }
                        if let Some(v) = d.get("resolved").and_then(Value::as_str) {
                            found.push((n.clone(), v.to_string()));
                        }
                    }
                }
            }
            found.sort();
            found.dedup();
            for (n, v) in found {
                cx.packages.push(new_package(
                    &format!("nuget:{}:{n}@{v}", f.path),
                    PackageType::Nuget,
                    &n,
                    &v,
                    purl::build(PackageType::Nuget, None, &n, &v, &[]),
                    f.location(),
                ));
            }
        }
    }
}
