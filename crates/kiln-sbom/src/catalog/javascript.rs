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
            let entries = yarn_entries(&f.text());
            if entries.is_empty() && !f.data.is_empty() {
                cx.warn(&f.path, "no package entries found: not a yarn.lock");
            }
            let key = |n: &str, v: &str| format!("yarn:{}:{n}@{v}", f.path);
            // Each dependency names a descriptor (`name@range`) some entry's header lists.
            let mut by_descriptor: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
            for e in &entries {
                for d in &e.descriptors {
                    by_descriptor.insert(d, (&e.name, &e.version));
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            for e in &entries {
                if !seen.insert((&e.name, &e.version)) {
                    continue;
                }
                let mut pkg = npm_pkg(&key(&e.name, &e.version), &e.name, &e.version, f);
                for d in &e.dependencies {
                    if let Some((n, v)) = by_descriptor.get(d.as_str()) {
                        pkg.depends_on.push(package_id(&key(n, v)));
                    }
                }
                cx.packages.push(pkg);
            }
        }
    }
}

/// One resolved entry of a yarn.lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YarnEntry {
    pub name: String,
    pub version: String,
    /// The `name@range` descriptors the entry's header lists (quotes removed).
    pub descriptors: Vec<String>,
    /// The descriptors of its `dependencies` and `optionalDependencies`.
    pub dependencies: Vec<String>,
}

/// The `(name, version)` pairs of a yarn.lock (both formats), without workspace entries.
pub fn parse_yarn(text: &str) -> Vec<(String, String)> {
    let out: std::collections::BTreeSet<(String, String)> = yarn_entries(text)
        .into_iter()
        .map(|e| (e.name, e.version))
        .collect();
    out.into_iter().collect()
}

/// The entries of a yarn.lock, classic (`dep "range"`) or berry (`dep: "npm:range"`), with
/// their dependency descriptors; workspace and link entries left out.
pub fn yarn_entries(text: &str) -> Vec<YarnEntry> {
    let mut out: Vec<YarnEntry> = Vec::new();
    let mut current: Option<YarnEntry> = None;
    let mut in_deps = false;
    let finish = |cur: &mut Option<YarnEntry>, out: &mut Vec<YarnEntry>| {
        if let Some(e) = cur.take()
            && !e.version.is_empty()
        {
            out.push(e);
        }
    };
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            finish(&mut current, &mut out);
            in_deps = false;
            let Some(h) = line.strip_suffix(':') else {
                continue;
            };
            let descriptors: Vec<String> = h
                .split(", ")
                .map(|d| d.trim().trim_matches('"').to_string())
                .collect();
            let first = descriptors.first().map(String::as_str).unwrap_or("");
            if first.contains("@workspace:") || first.contains("@link:") || first == "__metadata" {
                continue;
            }
            if let Some(at) = name_end(first) {
                current = Some(YarnEntry {
                    name: first[..at].to_string(),
                    version: String::new(),
                    descriptors,
                    dependencies: Vec::new(),
                });
            }
            continue;
        }
        let Some(e) = current.as_mut() else {
            continue;
        };
        let t = line.trim();
        if line.starts_with("  ") && !line.starts_with("   ") {
            in_deps = matches!(t, "dependencies:" | "optionalDependencies:");
            if let Some(v) = t
                .strip_prefix("version: ")
                .or_else(|| t.strip_prefix("version "))
            {
                e.version = v.trim_matches('"').to_string();
            }
        } else if in_deps && line.starts_with("    ") && !line.starts_with("     ") {
            // classic: `name "range"`; berry: `name: "npm:range"` (names may be quoted).
            let (n, r) = match t.split_once(": ") {
                Some((n, r)) if !t.starts_with('"') || n.ends_with('"') => (n, r),
                _ => match t.rsplit_once(' ') {
                    Some(p) => p,
                    None => continue,
                },
            };
            let n = n.trim_matches('"');
            let r = r.trim().trim_matches('"');
            e.dependencies.push(format!("{n}@{r}"));
        }
    }
    finish(&mut current, &mut out);
    out
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
            let key = |n: &str, v: &str| format!("pnpm:{}:{n}@{v}", f.path);
            let edges = match pnpm_edges(&text) {
                Ok(e) => e,
                Err(e) => {
                    cx.warn(
                        &f.path,
                        format!("dependencies not read: not valid YAML: {e}"),
                    );
                    BTreeMap::new()
                }
            };
            for (name, version) in parse_pnpm(&text) {
                let mut pkg = npm_pkg(&key(&name, &version), &name, &version, f);
                if let Some(deps) = edges.get(&(name.clone(), version.clone())) {
                    pkg.depends_on = deps.iter().map(|(n, v)| package_id(&key(n, v))).collect();
                }
                cx.packages.push(pkg);
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
        // v6+: name@version; v5: name/version (scoped: @s/name/version), peers after '_'.
        if let Some(pair) = pnpm_key(k) {
            out.insert(pair, ());
        }
    }
    out.into_keys().collect()
}

/// The `name@version` (v6+) or `/name/version` (v5) key of a pnpm package, peer suffixes
/// (`(peer@1)`, `_peer@1`) removed.
fn pnpm_key(k: &str) -> Option<(String, String)> {
    let k = k.strip_prefix('/').unwrap_or(k);
    let k = k.split('(').next().unwrap_or(k);
    // v5 `name/1.0.0_peer@2` (the last segment starts with a digit), else `name@1.0.0`.
    let v5 = k
        .rsplit_once('/')
        .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()));
    let (n, v) = match (v5, name_end(k)) {
        (Some(p), _) => p,
        (None, Some(i)) => (&k[..i], &k[i + 1..]),
        (None, None) => return None,
    };
    let v = v.split('_').next().unwrap_or(v);
    (!n.is_empty() && !v.is_empty()).then(|| (n.to_string(), v.to_string()))
}

/// `(name, version)` of a package → the `(name, version)` of each package it depends on.
pub type Edges = BTreeMap<(String, String), Vec<(String, String)>>;

/// The dependency edges of a pnpm lockfile: for each `(name, version)` package, the
/// `(name, version)` of what it depends on, from `snapshots:` (v9) or `packages:` (v5–v8).
pub fn pnpm_edges(text: &str) -> Result<Edges, String> {
    use serde_norway::Value as Y;
    let doc: Y = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Edges::new();
    for section in ["packages", "snapshots"] {
        let Some(map) = doc.get(section).and_then(Y::as_mapping) else {
            continue;
        };
        for (k, entry) in map {
            let Some(from) = k.as_str().and_then(pnpm_key) else {
                continue;
            };
            for field in ["dependencies", "optionalDependencies"] {
                let Some(deps) = entry.get(field).and_then(Y::as_mapping) else {
                    continue;
                };
                for (dn, dv) in deps {
                    let (Some(dn), Some(dv)) = (dn.as_str(), dv.as_str()) else {
                        continue;
                    };
                    if dv.starts_with("link:") || dv.starts_with("file:") {
                        continue;
                    }
                    // An alias (`npm:real@1.0.0` or `real@1.0.0`), a v5 path (`/real/1.0.0`)
                    // or a plain version.
                    let dv = dv.strip_prefix("npm:").unwrap_or(dv);
                    let to = match dv.starts_with(|c: char| c.is_ascii_digit()) {
                        true => pnpm_key(&format!("{dn}@{dv}")),
                        false => pnpm_key(dv),
                    };
                    if let Some(to) = to {
                        let list = out.entry(from.clone()).or_default();
                        if !list.contains(&to) {
                            list.push(to);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
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
        let berry_deps = "\"debug@npm:^4.3.4\":\n  version: 4.3.4\n  dependencies:\n    ms: \"npm:2.1.2\"\n  checksum: abc\n\n\"ms@npm:2.1.2\":\n  version: 2.1.2\n";
        let e = yarn_entries(berry_deps);
        assert_eq!(e[0].dependencies, vec!["ms@npm:2.1.2"]);
        assert_eq!(e[1].descriptors, vec!["ms@npm:2.1.2"]);
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
        assert_eq!(
            pnpm_key("/react-dom/17.0.2_react@17.0.2"),
            Some(("react-dom".to_string(), "17.0.2".to_string()))
        );
        assert_eq!(
            pnpm_key("/@types/node@20.1.0(x@1)"),
            Some(("@types/node".to_string(), "20.1.0".to_string()))
        );
        let v6 = "lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    dependencies:\n      b: 2.0.0(c@1.0.0)\n      alias: /real@3.0.0\n  /b@2.0.0(c@1.0.0):\n    dev: false\n";
        let e = pnpm_edges(v6).unwrap();
        assert_eq!(
            e[&("a".to_string(), "1.0.0".to_string())],
            vec![
                ("b".to_string(), "2.0.0".to_string()),
                ("real".to_string(), "3.0.0".to_string())
            ]
        );
        assert!(pnpm_edges("packages: [unclosed").is_err());
    }
}
