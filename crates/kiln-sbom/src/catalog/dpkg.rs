//! Debian packages: `/var/lib/dpkg/status` and `status.d/*` (distroless), with `Source:`
//! names, `Depends`/`Pre-Depends` relationships, and the files each package owns
//! (`info/*.list`, `status.d/*.md5sums`), so language catalogers do not report them again.
//! A package is attributed to the layer of its `info/NAME.list` file when there is one (the
//! layer that installed it), else the layer of the status file.

use std::collections::HashMap;

use super::{Cataloger, Context, FoundFile, new_package, package_id};
use crate::package::{Package, PackageType};
use crate::purl;

/// Reads dpkg databases.
pub struct Dpkg;

const STATUS: &str = "/var/lib/dpkg/status";
const STATUS_D: &str = "/var/lib/dpkg/status.d/";
const INFO: &str = "/var/lib/dpkg/info/";

impl Cataloger for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }
    fn is_os(&self) -> bool {
        true
    }
    fn wants(&self, path: &str) -> bool {
        path == STATUS
            || path.starts_with(STATUS_D)
            || (path.starts_with(INFO) && (path.ends_with(".list") || path.ends_with(".md5sums")))
            || copyright_of(path).is_some()
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        let mut list_layer: HashMap<String, Option<String>> = HashMap::new();
        let mut licenses: HashMap<&str, String> = HashMap::new();
        for f in files {
            if let Some(pkg) = copyright_of(&f.path) {
                if let Some(l) = copyright_licenses(&f.text()) {
                    licenses.insert(pkg, l);
                }
                continue;
            }
            if let Some(rest) = f.path.strip_prefix(INFO) {
                let base = rest.trim_end_matches(".list").trim_end_matches(".md5sums");
                let pkg = base.split(':').next().unwrap_or(base).to_string();
                if f.path.ends_with(".list") {
                    list_layer.insert(pkg, f.layer.clone());
                    own_list(&f.text(), cx);
                } else {
                    own_md5sums(&f.text(), cx);
                }
            } else if f.path.starts_with(STATUS_D) && f.path.ends_with(".md5sums") {
                own_md5sums(&f.text(), cx);
            }
        }
        for f in files {
            let is_db =
                f.path == STATUS || (f.path.starts_with(STATUS_D) && !f.path.ends_with(".md5sums"));
            if is_db {
                let mut pkgs = parse_db(f, cx, &list_layer);
                for p in &mut pkgs {
                    p.license = licenses.get(p.name.as_str()).cloned();
                }
                cx.packages.extend(pkgs);
            }
        }
    }
}

/// The package whose `/usr/share/doc/PKG/copyright` this is.
fn copyright_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/usr/share/doc/")?;
    let (pkg, file) = rest.split_once('/')?;
    (file == "copyright" && !pkg.is_empty()).then_some(pkg)
}

/// The licenses a Debian copyright file declares (`License:` fields of the machine-readable
/// format, references to `/usr/share/common-licenses/`), as one SPDX expression.
pub fn copyright_licenses(text: &str) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            for tok in v
                .split(" or ")
                .flat_map(|t| t.split(" and "))
                .flat_map(|t| t.split(','))
            {
                let word = tok.split_whitespace().next().unwrap_or("");
                if let Some(id) = debian_license(word) {
                    found.push(id);
                }
            }
        }
        let mut rest = line;
        while let Some(i) = rest.find("/usr/share/common-licenses/") {
            rest = &rest[i + 27..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
                .collect();
            if let Some(id) = debian_license(name.trim_end_matches('.')) {
                found.push(id);
            }
        }
    }
    crate::license::join(found.iter().map(String::as_str))
}

/// A Debian short license name (`GPL-2+`, `Expat`, `BSD-3-clause`) as an SPDX id.
fn debian_license(name: &str) -> Option<String> {
    let (base, later) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (name, false),
    };
    let suffix = if later { "-or-later" } else { "-only" };
    let versioned = |family: &str, v: &str| {
        let v = if v.contains('.') {
            v.to_string()
        } else {
            format!("{v}.0")
        };
        Some(format!("{family}-{v}{suffix}"))
    };
    let lower = base.to_ascii_lowercase();
    for family in ["LGPL", "GPL", "GFDL", "AGPL"] {
        if let Some(v) = lower.strip_prefix(&format!("{}-", family.to_ascii_lowercase()))
            && !v.is_empty()
            && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            return versioned(family, v);
        }
    }
    let id = match lower.as_str() {
        "" | "public-domain" | "other" | "unknown" | "permissive" => return None,
        "expat" => "MIT",
        "bsd-2-clause" => "BSD-2-Clause",
        "bsd-3-clause" => "BSD-3-Clause",
        "bsd-4-clause" => "BSD-4-Clause",
        "artistic" => "Artistic-1.0-Perl",
        "zlib" => "Zlib",
        "psf-2" => "PSF-2.0",
        _ => return crate::license::to_spdx(base).filter(|s| !s.contains(' ')),
    };
    Some(id.to_string())
}

fn own_list(text: &str, cx: &mut Context) {
    for line in text.lines() {
        let l = line.trim_end();
        if l.starts_with('/') && l.len() > 1 {
            cx.owned.insert(l.to_string());
        }
    }
}

fn own_md5sums(text: &str, cx: &mut Context) {
    for line in text.lines() {
        if let Some((_, p)) = line.split_once("  ") {
            cx.owned.insert(format!("/{}", p.trim_start_matches('/')));
        }
    }
}

/// One stanza's fields.
pub type Stanza = Vec<(String, String)>;

/// Splits deb822 text into stanzas; malformed lines are reported through `bad(line_no, why)`.
pub fn stanzas(text: &str, mut bad: impl FnMut(usize, &str)) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur: Stanza = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else if line.starts_with(' ') || line.starts_with('\t') {
            match cur.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim());
                }
                None => bad(i + 1, "continuation line outside a field"),
            }
        } else if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        } else {
            bad(i + 1, "line is neither a field nor a continuation");
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn field<'a>(s: &'a Stanza, key: &str) -> Option<&'a str> {
    s.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Names in a Depends-style field (`a (>= 1), b | c, d:any`): every alternative.
pub fn dep_names(v: &str) -> Vec<String> {
    v.split([',', '|'])
        .filter_map(|d| {
            let n = d.trim().split([' ', '(', '[', '<']).next()?.trim();
            let n = n.split(':').next()?;
            (!n.is_empty()).then(|| n.to_string())
        })
        .collect()
}

fn parse_db(
    f: &FoundFile,
    cx: &mut Context,
    list_layer: &HashMap<String, Option<String>>,
) -> Vec<Package> {
    let text = f.text();
    let mut bad_lines = Vec::new();
    let st = stanzas(&text, |n, why| bad_lines.push(format!("line {n}: {why}")));
    for b in bad_lines.iter().take(5) {
        cx.warn(&f.path, b.clone());
    }
    if bad_lines.len() > 5 {
        cx.warn(
            &f.path,
            format!("{} more malformed lines", bad_lines.len() - 5),
        );
    }
    let (distro_id, distro_q) = match &cx.distro {
        Some(d) => (d.id.clone(), format!("{}-{}", d.id, d.version_id)),
        None => ("debian".to_string(), String::new()),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut pkgs: Vec<Package> = Vec::new();
    let mut deps: Vec<Vec<String>> = Vec::new();
    let mut provides: HashMap<String, Vec<usize>> = HashMap::new();
    for (n, s) in st.iter().enumerate() {
        let (Some(name), Some(version)) = (field(s, "Package"), field(s, "Version")) else {
            cx.warn(
                &f.path,
                format!("stanza {}: no Package or Version field; skipped", n + 1),
            );
            continue;
        };
        if let Some(status) = field(s, "Status") {
            let state = status.split_whitespace().last().unwrap_or("");
            if matches!(state, "not-installed" | "config-files") {
                continue;
            }
        }
        let arch = field(s, "Architecture").unwrap_or("");
        let key = format!("dpkg:{}:{name}:{arch}", f.path);
        if seen.contains_key(&key) {
            cx.warn(
                &f.path,
                format!("duplicate stanza for {name} ({arch}); the first is kept"),
            );
            continue;
        }
        let (src_name, src_ver) = match field(s, "Source") {
            Some(src) => {
                let mut it = src.splitn(2, ' ');
                let sn = it.next().unwrap_or("").to_string();
                let sv = it.next().map(|v| {
                    v.trim()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .to_string()
                });
                (
                    Some(sn).filter(|s| !s.is_empty()),
                    sv.filter(|s| !s.is_empty()),
                )
            }
            None => (None, None),
        };
        let upstream = match (&src_name, &src_ver) {
            (Some(n), Some(v)) => format!("{n}@{v}"),
            (Some(n), None) => n.clone(),
            _ => String::new(),
        };
        let p = purl::build(
            PackageType::Deb,
            Some(&distro_id),
            name,
            version,
            &[
                ("arch", arch),
                ("upstream", &upstream),
                ("distro", &distro_q),
            ],
        );
        let mut loc = f.location();
        if let Some(layer) = list_layer
            .get(name)
            .or_else(|| list_layer.get(&format!("{name}:{arch}")))
        {
            loc.layer = layer.clone().or(loc.layer);
        }
        let mut pkg = new_package(&key, PackageType::Deb, name, version, p, loc);
        pkg.source_name = src_name;
        pkg.source_version =
            src_ver.or_else(|| pkg.source_name.as_ref().map(|_| version.to_string()));
        seen.insert(key, pkgs.len());
        let mut d = Vec::new();
        for k in ["Depends", "Pre-Depends"] {
            if let Some(v) = field(s, k) {
                d.extend(dep_names(v));
            }
        }
        deps.push(d);
        provides
            .entry(name.to_string())
            .or_default()
            .push(pkgs.len());
        if let Some(pv) = field(s, "Provides") {
            for prov in dep_names(pv) {
                provides.entry(prov).or_default().push(pkgs.len());
            }
        }
        pkgs.push(pkg);
    }
    for (i, d) in deps.into_iter().enumerate() {
        let mut ids = Vec::new();
        for name in d {
            if let Some(targets) = provides.get(&name) {
                ids.extend(targets.iter().map(|&t| pkgs[t].id.clone()));
            }
        }
        pkgs[i].depends_on = ids;
    }
    let _ = package_id;
    pkgs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_copyright() {
        let t = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1 or Expat\n On Debian systems see /usr/share/common-licenses/GPL-2.\n";
        assert_eq!(
            copyright_licenses(t).as_deref(),
            Some("GPL-2.0-only AND GPL-2.0-or-later AND LGPL-2.1-only AND MIT")
        );
        assert_eq!(copyright_licenses("no licenses here"), None);
    }

    #[test]
    fn dep_name_parsing() {
        assert_eq!(
            dep_names("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, perl:any"),
            vec!["libc6", "debconf", "debconf-2.0", "perl"]
        );
    }
}
