//! Python: installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or an
//! `*.egg-info` file), pinned `requirements*.txt`, `poetry.lock`, `uv.lock`, `pdm.lock` (with
//! the dependency edges they record) and `Pipfile.lock` (which records none).

use serde::Deserialize;
use serde_json::Value;

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::{license, purl};

fn py_pkg(key: &str, name: &str, version: &str, f: &FoundFile) -> crate::package::Package {
    new_package(
        key,
        PackageType::Pypi,
        name,
        version,
        purl::pypi(name, version),
        f.location(),
    )
}

/// Reads installed distributions' metadata.
pub struct Installed;

impl Cataloger for Installed {
    fn name(&self) -> &'static str {
        "python-installed"
    }
    fn wants(&self, path: &str) -> bool {
        let mut it = path.rsplit('/');
        let (Some(file), Some(dir)) = (it.next(), it.next()) else {
            return false;
        };
        (file == "METADATA" && dir.ends_with(".dist-info"))
            || (file == "PKG-INFO" && dir.ends_with(".egg-info"))
            || (file.ends_with(".egg-info") && path.contains("-packages/"))
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let text = f.text();
            let m = parse_metadata(&text);
            let (Some(name), Some(version)) = (m.name, m.version) else {
                cx.warn(&f.path, "no Name or Version header: not package metadata");
                continue;
            };
            let mut pkg = py_pkg(&format!("pyinst:{}", f.path), &name, &version, f);
            pkg.license = m
                .license_expression
                .as_deref()
                .and_then(license::to_spdx)
                .or_else(|| m.license.as_deref().and_then(license::to_spdx))
                .or_else(|| {
                    license::join(
                        m.classifiers
                            .iter()
                            .filter_map(|c| license::from_classifier(c))
                            .collect::<Vec<_>>()
                            .iter()
                            .map(String::as_str),
                    )
                });
            cx.packages.push(pkg);
        }
    }
}

/// The headers of a core-metadata file that matter here.
#[derive(Debug, Default)]
pub struct Metadata {
    pub name: Option<String>,
    pub version: Option<String>,
    pub license: Option<String>,
    pub license_expression: Option<String>,
    pub classifiers: Vec<String>,
}

/// Parses core metadata (RFC 822 style headers, up to the first blank line).
pub fn parse_metadata(text: &str) -> Metadata {
    let mut m = Metadata::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.to_ascii_lowercase().as_str() {
            "name" => m.name = Some(v),
            "version" => m.version = Some(v),
            "license" if !v.is_empty() && v != "UNKNOWN" => m.license = Some(v),
            "license-expression" => m.license_expression = Some(v),
            "classifier" if v.starts_with("License ::") => m.classifiers.push(v),
            _ => {}
        }
    }
    m
}

/// Reads pinned `requirements*.txt` entries (`name==version`).
pub struct Requirements;

impl Cataloger for Requirements {
    fn name(&self) -> &'static str {
        "python-requirements"
    }
    fn wants(&self, path: &str) -> bool {
        let file = path.rsplit('/').next().unwrap_or("");
        file.starts_with("requirements")
            && file.ends_with(".txt")
            && !path.contains("/site-packages/")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            for (name, version) in parse_requirements(&f.text()) {
                cx.packages.push(py_pkg(
                    &format!("req:{}:{name}", f.path),
                    &name,
                    &version,
                    f,
                ));
            }
        }
    }
}

/// The `name==version` pins of a requirements file (extras, markers, hashes dropped).
pub fn parse_requirements(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut joined = String::new();
    for raw in text.lines() {
        if let Some(s) = raw.strip_suffix('\\') {
            joined.push_str(s);
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        let spec = line.split(';').next().unwrap_or("").trim();
        let Some((name, version)) = spec.split_once("==") else {
            continue;
        };
        let name = name.split('[').next().unwrap_or("").trim();
        let version = version
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_start_matches('=');
        if !name.is_empty() && !version.is_empty() && !version.contains('*') {
            out.push((name.to_string(), version.to_string()));
        }
    }
    out
}

/// Reads the TOML lockfiles: poetry.lock, uv.lock, pdm.lock (`[[package]]` name, version).
pub struct TomlLocks;

#[derive(Deserialize)]
struct TomlLock {
    #[serde(default)]
    package: Vec<TomlPkg>,
}

#[derive(Deserialize)]
struct TomlPkg {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: Option<toml::Value>,
    /// poetry: a table `name = spec`; uv: an array of `{ name = … }`; pdm: an array of
    /// requirement strings.
    #[serde(default)]
    dependencies: Option<toml::Value>,
}

impl TomlPkg {
    /// The (normalized) names this package depends on.
    fn dependency_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.dependencies {
            Some(toml::Value::Table(t)) => out.extend(t.keys().cloned()),
            Some(toml::Value::Array(a)) => {
                for d in a {
                    let n = match d {
                        toml::Value::Table(t) => t.get("name").and_then(|n| n.as_str()),
                        // `name[extra]>=1; marker`: the name is the leading identifier.
                        toml::Value::String(s) => s
                            .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                            .next(),
                        _ => None,
                    };
                    if let Some(n) = n.filter(|n| !n.is_empty()) {
                        out.push(n.to_string());
                    }
                }
            }
            _ => {}
        }
        out.iter().map(|n| purl::pypi_normalize(n)).collect()
    }
}

impl Cataloger for TomlLocks {
    fn name(&self) -> &'static str {
        "python-toml-locks"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "poetry.lock")
            || file_named(path, "uv.lock")
            || file_named(path, "pdm.lock")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let lock: TomlLock = match toml::from_str(&f.text()) {
                Ok(l) => l,
                Err(e) => {
                    cx.warn(
                        &f.path,
                        format!("not a valid {}: {}", f.file_name(), e.message()),
                    );
                    continue;
                }
            };
            let key = |n: &str, v: &str| format!("pylock:{}:{n}@{v}", f.path);
            // Dependencies name a project; the lock holds one version of it (or several
            // under exclusive markers, then no edge is drawn rather than a wrong one).
            let mut by_name: std::collections::HashMap<String, Vec<(&str, &str)>> =
                std::collections::HashMap::new();
            for p in &lock.package {
                if let Some(v) = &p.version {
                    by_name
                        .entry(purl::pypi_normalize(&p.name))
                        .or_default()
                        .push((&p.name, v));
                }
            }
            for p in &lock.package {
                // uv lists the project itself as a virtual/editable source: not a dependency.
                let local = p
                    .source
                    .as_ref()
                    .and_then(|s| s.as_table())
                    .is_some_and(|t| t.contains_key("virtual") || t.contains_key("editable"));
                let Some(v) = p.version.as_ref().filter(|_| !local) else {
                    continue;
                };
                let mut pkg = py_pkg(&key(&p.name, v), &p.name, v, f);
                for d in p.dependency_names() {
                    if let Some(vs) = by_name.get(&d)
                        && let [(n, dv)] = vs.as_slice()
                    {
                        pkg.depends_on.push(super::package_id(&key(n, dv)));
                    }
                }
                cx.packages.push(pkg);
            }
        }
    }
}

/// Reads Pipfile.lock (`default` and `develop`).
pub struct PipfileLock;

impl Cataloger for PipfileLock {
    fn name(&self) -> &'static str {
        "pipfile-lock"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "Pipfile.lock")
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
            for section in ["default", "develop"] {
                let Some(m) = doc.get(section).and_then(Value::as_object) else {
                    continue;
                };
                for (name, d) in m {
                    let Some(v) = d.get("version").and_then(Value::as_str) else {
                        continue;
                    };
                    let v = v.trim_start_matches("==");
                    cx.packages
                        .push(py_pkg(&format!("pipfile:{}:{name}", f.path), name, v, f));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_pins_only() {
        let r = parse_requirements(
            "# c\nrequests==2.31.0 \\\n    --hash=sha256:abc\nflask>=2\nuvicorn[standard]==0.30.1 ; python_version > '3.8'\n-r other.txt\n",
        );
        assert_eq!(
            r,
            vec![
                ("requests".to_string(), "2.31.0".to_string()),
                ("uvicorn".to_string(), "0.30.1".to_string())
            ]
        );
    }

    #[test]
    fn metadata_headers() {
        let m = parse_metadata(
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\nClassifier: License :: OSI Approved :: MIT License\n\nbody: x\n",
        );
        assert_eq!(m.name.as_deref(), Some("six"));
        assert_eq!(m.license.as_deref(), Some("MIT"));
    }
}
