//! JavaScript: `package-lock.json` (v1, v2, v3), `yarn.lock` (v1 and berry),
//! `pnpm-lock.yaml` (v5 to v9) and installed `node_modules/**/package.json`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Cataloger, Context, FoundFile, file_named, new_package, package_id};
use crate::package::{Package, PackageType};
use crate::{license, purl};

fn npm_pkg(key: &str, name: &str, version: &str, f: &FoundFile) -> Package {
    new_package(
        key,
        PackageType::Npm,
        name,
        version,
        purl::npm(name, version),
        f.location(),
    )
}

fn license_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => license::to_spdx(s),
        Value::Object(o) => o
            .get("type")
            .and_then(Value::as_str)
            .and_then(license::to_spdx),
        Value::Array(a) => license::join(
            a.iter()
                .filter_map(|x| x.as_str().or_else(|| x.get("type").and_then(Value::as_str))),
        ),
        _ => None,
    }
}

/// Reads package-lock.json (and npm-shrinkwrap.json).
pub struct PackageLock;

impl Cataloger for PackageLock {
    fn name(&self) -> &'static str {
        "npm-lock"
    }
    fn wants(&self, path: &str) -> bool {
        (file_named(path, "package-lock.json") || file_named(path, "npm-shrinkwrap.json"))
            && !path.contains("/node_modules/")
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
            if let Some(pkgs) = doc.get("packages").and_then(Value::as_object) {
                lock_v2(f, pkgs, cx);
            } else if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
                let mut out = Vec::new();
                lock_v1(f, deps, &mut out);
                cx.packages.extend(out);
            } else {
                cx.warn(
                    &f.path,
                    "neither \"packages\" nor \"dependencies\": not a package-lock",
                );
            }
        }
    }
}

fn lock_v2(f: &FoundFile, pkgs: &serde_json::Map<String, Value>, cx: &mut Context) {
    let key = |path: &str| format!("npm-lock:{}:{path}", f.path);
    for (path, p) in pkgs {
        // The root entry ("") is the project itself, reported as syft does when it is named.
        if p.get("link").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                path.rsplit_once("node_modules/")
                    .map(|(_, n)| n.to_string())
            });
        let (Some(name), Some(version)) = (name, p.get("version").and_then(Value::as_str)) else {
            continue;
        };
        let mut pkg = npm_pkg(&key(path), &name, version, f);
        pkg.license = license_of(p.get("license"));
        // Resolve each dependency the way node does: nearest node_modules upwards.
        for field in ["dependencies", "optionalDependencies", "peerDependencies"] {
            if let Some(d) = p.get(field).and_then(Value::as_object) {
                for dep in d.keys() {
                    let mut base = path.as_str();
                    loop {
                        let cand = if base.is_empty() {
                            format!("node_modules/{dep}")
                        } else {
                            format!("{base}/node_modules/{dep}")
                        };
                        if pkgs.contains_key(&cand) {
                            pkg.depends_on.push(package_id(&key(&cand)));
                            break;
                        }
                        if base.is_empty() {
                            break;
                        }
                        base = match base.rfind("/node_modules/") {
                            Some(i) => &base[..i],
                            None => "",
                        };
                    }
                }
            }
        }
        cx.packages.push(pkg);
    }
}

fn lock_v1(f: &FoundFile, deps: &serde_json::Map<String, Value>, out: &mut Vec<Package>) {
    for (name, d) in deps {
        if let Some(version) = d.get("version").and_then(Value::as_str)
            && !version.starts_with("file:")
            && !version.starts_with("link:")
        {
            out.push(npm_pkg(
                &format!("npm-lock:{}:{name}@{version}", f.path),
                name,
                version,
                f,
            ));
        }
        if let Some(nested) = d.get("dependencies").and_then(Value::as_object) {
            lock_v1(f, nested, out);
        }
    }
}

/// Reads yarn.lock, classic (v1) and berry (v2+).
pub struct YarnLock;

impl Cataloger for YarnLock {
    fn name(&self) -> &'static str {
        "yarn-lock"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "yarn.lock") && !path.contains("/node_modules/")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let entries = parse_yarn(&f.text());
            if entries.is_empty() && !f.data.is_empty() {
                cx.warn(&f.path, "no package entries found: not a yarn.lock");
            }
            for (name, version) in entries {
                cx.packages.push(npm_pkg(
                    &format!("yarn:{}:{name}@{version}", f.path),
                    &name,
                    &version,
                    f,
                ));
            }
        }
    }
}

/// The `(name, version)` pairs of a yarn.lock (both formats), without workspace entries.
pub fn parse_yarn(text: &str) -> Vec<(String, String)> {
    let mut out = BTreeMap::new();
    let mut header: Option<String> = None;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            header = line.strip_suffix(':').map(str::to_string);
            continue;
        }
        let t = line.trim();
        let version = t
            .strip_prefix("version: ")
            .or_else(|| t.strip_prefix("version "))
            .map(|v| v.trim_matches('"').to_string());
        if let (Some(h), Some(v)) = (&header, version)
            && line.starts_with("  ")
            && !line.starts_with("    ")
        {
            let first = h.split(", ").next().unwrap_or(h).trim_matches('"');
            if first.contains("@workspace:") || first.contains("@link:") || first == "__metadata" {
                continue;
            }
            if let Some(at) = name_end(first) {
                out.insert((first[..at].to_string(), v), ());
            }
        }
    }
    out.into_keys().collect()
}

/// Where the package name ends in `name@spec` (the first `@` after the first character, so
/// `@scope/name@1` splits after `name`).
fn name_end(s: &str) -> Option<usize> {
    s.char_indices()
        .skip(1)
        .find(|(_, c)| *c == '@')
        .map(|(i, _)| i)
}

/// Reads pnpm-lock.yaml (the `packages:` section), line by line.
pub struct PnpmLock;

impl Cataloger for PnpmLock {
    fn name(&self) -> &'static str {
        "pnpm-lock"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "pnpm-lock.yaml") && !path.contains("/node_modules/")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let text = f.text();
            if !text.lines().any(|l| l.starts_with("lockfileVersion")) {
                cx.warn(&f.path, "no lockfileVersion: not a pnpm-lock.yaml");
                continue;
            }
            for (name, version) in parse_pnpm(&text) {
                cx.packages.push(npm_pkg(
                    &format!("pnpm:{}:{name}@{version}", f.path),
                    &name,
                    &version,
                    f,
                ));
            }
        }
    }
}

/// The `(name, version)` pairs in the `packages:` section of a pnpm lockfile.
pub fn parse_pnpm(text: &str) -> Vec<(String, String)> {
    let mut out = BTreeMap::new();
    let mut in_packages = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if !in_packages || !line.starts_with("  ") || line.starts_with("   ") {
            continue;
        }
        let Some(k) = line.trim().strip_suffix(':') else {
            continue;
        };
        let k = k.trim_matches('\'').trim_matches('"');
        let k = k.strip_prefix('/').unwrap_or(k);
        let k = k.split('(').next().unwrap_or(k);
        // v6+: name@version; v5: name/version (scoped: @s/name/version), peers after '_'.
        let pair = match name_end(k) {
            Some(i) => Some((k[..i].to_string(), k[i + 1..].to_string())),
            None => k
                .rsplit_once('/')
                .map(|(n, v)| (n.to_string(), v.to_string())),
        };
        if let Some((n, v)) = pair {
            let v = v.split('_').next().unwrap_or(&v).to_string();
            if !n.is_empty() && !v.is_empty() {
                out.insert((n, v), ());
            }
        }
    }
    out.into_keys().collect()
}

/// Reads installed packages: `node_modules/NAME/package.json`, `node_modules/@S/N/package.json`.
pub struct NodeModules;

impl Cataloger for NodeModules {
    fn name(&self) -> &'static str {
        "node-modules"
    }
    fn wants(&self, path: &str) -> bool {
        let Some((_, rest)) = path.rsplit_once("/node_modules/") else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        matches!(parts.as_slice(), [n, "package.json"] if !n.starts_with('@') && !n.starts_with('.'))
            || matches!(parts.as_slice(), [s, _, "package.json"] if s.starts_with('@'))
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
            let name = doc.get("name").and_then(Value::as_str);
            let version = doc.get("version").and_then(Value::as_str);
            let (Some(name), Some(version)) = (name, version) else {
                continue;
            };
            let mut pkg = npm_pkg(&format!("node:{}", f.path), name, version, f);
            pkg.license =
                license_of(doc.get("license")).or_else(|| license_of(doc.get("licenses")));
            cx.packages.push(pkg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yarn_both_formats() {
        let v1 = "# yarn lockfile v1\n\n\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\":\n  version \"7.12.13\"\n  resolved \"https://x\"\n  dependencies:\n    \"@babel/highlight\" \"^7.10.4\"\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n";
        assert_eq!(
            parse_yarn(v1),
            vec![
                ("@babel/code-frame".to_string(), "7.12.13".to_string()),
                ("left-pad".to_string(), "1.3.0".to_string())
            ]
        );
        let berry = "__metadata:\n  version: 6\n  cacheKey: 8\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n\n\"left-pad@npm:^1.3.0\":\n  version: 1.3.0\n  resolution: \"left-pad@npm:1.3.0\"\n";
        assert_eq!(
            parse_yarn(berry),
            vec![("left-pad".to_string(), "1.3.0".to_string())]
        );
    }

    #[test]
    fn pnpm_versions() {
        let v9 = "lockfileVersion: '9.0'\n\npackages:\n\n  '@types/node@20.1.0':\n    resolution: {integrity: sha512-x}\n\n  ms@2.1.3:\n    resolution: {integrity: sha512-y}\n\nsnapshots:\n\n  ms@2.1.3: {}\n";
        assert_eq!(
            parse_pnpm(v9),
            vec![
                ("@types/node".to_string(), "20.1.0".to_string()),
                ("ms".to_string(), "2.1.3".to_string())
            ]
        );
        let v5 = "lockfileVersion: 5.4\npackages:\n  /ms/2.1.3:\n    resolution: {}\n  /@babel/core/7.0.0_x:\n    dev: true\n";
        assert_eq!(parse_pnpm(v5).len(), 2);
    }
}
