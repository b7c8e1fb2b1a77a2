//! Java archives (jar, war, ear, and Jenkins' jpi/hpi): one package per
//! `META-INF/maven/**/pom.properties`, the `META-INF/MANIFEST.MF` main section when there is
//! none, and nested archives (`WEB-INF/lib`, `BOOT-INF/lib`, ...) read in memory, recursively,
//! within a depth and a total-size bound (past them: a warning, the rest continues).

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use super::{Cataloger, Context, FoundFile, new_package};
use crate::package::{Location, Package, PackageType};
use crate::purl;

/// Archives nested deeper than this are not opened.
pub const MAX_DEPTH: usize = 4;
/// At most this many uncompressed bytes of nested archives are read per top-level archive.
pub const MAX_NESTED_BYTES: u64 = 256 * 1024 * 1024;
/// `pom.properties` and `MANIFEST.MF` larger than this are skipped.
const MAX_META: u64 = 1024 * 1024;
const EXTENSIONS: [&str; 5] = [".jar", ".war", ".ear", ".jpi", ".hpi"];

/// Reads Java archives.
pub struct JavaArchive;

impl Cataloger for JavaArchive {
    fn name(&self) -> &'static str {
        "java-archive"
    }
    fn wants(&self, path: &str) -> bool {
        is_archive(path)
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let mut budget = MAX_NESTED_BYTES;
            let mut walk = Walk {
                location: f.location(),
                budget: &mut budget,
                cx,
            };
            walk.archive(&f.path, &f.data, 0);
        }
    }
}

fn is_archive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

struct Walk<'a> {
    /// The file on disk every package found is located at.
    location: Location,
    budget: &'a mut u64,
    cx: &'a mut Context,
}

impl Walk<'_> {
    /// Reads one archive; `virt` names it (`outer.war!/WEB-INF/lib/x.jar` when nested).
    fn archive(&mut self, virt: &str, data: &[u8], depth: usize) {
        let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
            Ok(z) => z,
            Err(e) => {
                self.cx
                    .warn(virt, format!("not a readable Java archive: {e}"));
                return;
            }
        };
        let mut poms: Vec<BTreeMap<String, String>> = Vec::new();
        let mut manifest: Option<BTreeMap<String, String>> = None;
        let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
        for i in 0..zip.len() {
            let mut entry = match zip.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    self.cx.warn(virt, format!("entry {i}: {e}"));
                    continue;
                }
            };
            if !entry.is_file() {
                continue;
            }
            let name = match entry.name() {
                Ok(n) => n.into_owned(),
                Err(e) => {
                    self.cx.warn(virt, format!("entry {i}: bad name: {e}"));
                    continue;
                }
            };
            let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
            let is_manifest = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
            if is_pom || is_manifest {
                let Some(bytes) = read_bounded(&mut entry, MAX_META) else {
                    self.cx
                        .warn(virt, format!("{name}: unreadable or over {MAX_META} bytes"));
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes);
                if is_pom {
                    poms.push(parse_properties(&text));
                } else {
                    manifest = Some(parse_manifest(&text));
                }
            } else if is_archive(&name) {
                if depth + 1 > MAX_DEPTH {
                    self.cx.warn(
                        virt,
                        format!("{name}: nested deeper than {MAX_DEPTH} archives; skipped"),
                    );
                    continue;
                }
                match read_bounded(&mut entry, *self.budget) {
                    Some(bytes) => {
                        *self.budget -= bytes.len() as u64;
                        nested.push((name, bytes));
                    }
                    None => {
                        self.cx.warn(
                            virt,
                            format!(
                                "{name}: nested archives over {MAX_NESTED_BYTES} bytes in all \
                                 (or unreadable); skipped"
                            ),
                        );
                        *self.budget = 0;
                    }
                }
            }
        }
        drop(zip);
        let before = self.cx.packages.len();
        for p in &poms {
            if let Some(pkg) = self.pom_package(virt, p) {
                self.cx.packages.push(pkg);
            }
        }
        if self.cx.packages.len() == before
            && let Some(m) = &manifest
            && let Some(pkg) = self.manifest_package(virt, m)
        {
            self.cx.packages.push(pkg);
        }
        for (name, bytes) in nested {
            self.archive(&format!("{virt}!/{name}"), &bytes, depth + 1);
        }
    }

    fn pom_package(&self, virt: &str, p: &BTreeMap<String, String>) -> Option<Package> {
        let group = p.get("groupId").filter(|s| !s.is_empty())?;
        let artifact = p.get("artifactId").filter(|s| !s.is_empty())?;
        let version = p.get("version").map(String::as_str).unwrap_or("");
        Some(self.package(virt, group, artifact, version))
    }

    fn manifest_package(&self, virt: &str, m: &BTreeMap<String, String>) -> Option<Package> {
        let get = |k: &str| m.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let file = virt.rsplit('/').next().unwrap_or(virt);
        let (file_name, file_version) = split_file_name(file);
        let symbolic = get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or(s).trim());
        let name = file_name
            .or(get("Implementation-Title"))
            .or(symbolic)?
            .to_string();
        let version = get("Implementation-Version")
            .or(get("Bundle-Version"))
            .or(get("Specification-Version"))
            .or(file_version)
            .unwrap_or("");
        let group = get("Implementation-Vendor-Id")
            .or(symbolic
                .filter(|s| s.contains('.'))
                .map(|s| s.strip_suffix(&format!(".{name}")).unwrap_or(s)))
            .unwrap_or(&name);
        Some(self.package(virt, group, &name, version))
    }

    fn package(&self, virt: &str, group: &str, artifact: &str, version: &str) -> Package {
        new_package(
            &format!("java:{virt}:{group}:{artifact}@{version}"),
            PackageType::Maven,
            artifact,
            version,
            purl::build(PackageType::Maven, Some(group), artifact, version, &[]),
            self.location.clone(),
        )
    }
}

/// Reads at most `limit` bytes; `None` if the entry is larger or unreadable.
fn read_bounded(r: &mut impl Read, limit: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= limit).then_some(out)
}

/// `commons-lang3-3.12.0.jar` → (`commons-lang3`, `3.12.0`): the version starts at the first
/// `-` followed by a digit.
fn split_file_name(file: &str) -> (Option<&str>, Option<&str>) {
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    let cut = stem
        .char_indices()
        .find(|&(i, c)| c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()));
    match cut {
        Some((i, _)) => (
            Some(&stem[..i]).filter(|s| !s.is_empty()),
            Some(&stem[i + 1..]),
        ),
        None => (Some(stem).filter(|s| !s.is_empty()), None),
    }
}

/// Java `.properties` (`key=value` / `key: value`, `#` and `!` comments).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let at = l.find(['=', ':'])?;
            Some((l[..at].trim().to_string(), l[at + 1..].trim().to_string()))
        })
        .collect()
}

/// The main section of a JAR manifest (up to the first blank line; lines starting with one
/// space continue the previous one).
pub fn parse_manifest(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(v) = last.as_ref().and_then(|k| out.get_mut(k)) {
                let v: &mut String = v;
                v.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_string();
            out.insert(k.clone(), v.trim_start().to_string());
            last = Some(k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            split_file_name("commons-lang3-3.12.0.jar"),
            (Some("commons-lang3"), Some("3.12.0"))
        );
        assert_eq!(split_file_name("app.jar"), (Some("app"), None));
    }

    #[test]
    fn manifest_continuations() {
        let m = parse_manifest(
            "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.very.long.na\r\n me\r\n\r\nName: x\r\nA: b\r\n",
        );
        assert_eq!(
            m.get("Bundle-SymbolicName").map(String::as_str),
            Some("org.example.very.long.name")
        );
        assert!(!m.contains_key("A"));
    }

    #[test]
    fn properties() {
        let p = parse_properties("#Generated\ngroupId=org.a\nartifactId = b\nversion:1\n");
        assert_eq!(p["groupId"], "org.a");
        assert_eq!(p["artifactId"], "b");
        assert_eq!(p["version"], "1");
    }
}
