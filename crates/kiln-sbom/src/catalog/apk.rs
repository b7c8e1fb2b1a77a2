//! Alpine packages: `/lib/apk/db/installed`, with origins (`o:`), licenses, dependencies
//! through provides, and the files each package owns.

use std::collections::HashMap;

use super::{Cataloger, Context, FoundFile, new_package};
use crate::package::{Package, PackageType};
use crate::{license, purl};

/// Reads the apk database.
pub struct Apk;

impl Cataloger for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }
    fn is_os(&self) -> bool {
        true
    }
    fn wants(&self, path: &str) -> bool {
        path == "/lib/apk/db/installed"
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let pkgs = parse(f, cx);
            cx.packages.extend(pkgs);
        }
    }
}

#[derive(Default)]
struct Rec {
    name: String,
    version: String,
    arch: String,
    license: String,
    origin: String,
    deps: Vec<String>,
    provides: Vec<String>,
    files: Vec<String>,
}

fn parse(f: &FoundFile, cx: &mut Context) -> Vec<Package> {
    let text = f.text();
    let mut recs: Vec<Rec> = Vec::new();
    let mut cur = Rec::default();
    let mut dir = String::new();
    let mut bad = 0usize;
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !cur.name.is_empty() || !cur.version.is_empty() {
                recs.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            bad += 1;
            continue;
        };
        match k {
            "P" => cur.name = v.to_string(),
            "V" => cur.version = v.to_string(),
            "A" => cur.arch = v.to_string(),
            "L" => cur.license = v.to_string(),
            "o" => cur.origin = v.to_string(),
            "D" => cur.deps = v.split_whitespace().map(strip_constraint).collect(),
            "p" => cur.provides = v.split_whitespace().map(strip_constraint).collect(),
            "F" => dir = v.to_string(),
            "R" => cur.files.push(format!("/{dir}/{v}").replace("//", "/")),
            _ => {}
        }
    }
    if bad > 0 {
        cx.warn(&f.path, format!("{bad} malformed lines skipped"));
    }
    let distro_q = cx
        .distro
        .as_ref()
        .map(|d| format!("{}-{}", d.id, d.version_id))
        .unwrap_or_default();
    let ns = cx
        .distro
        .as_ref()
        .map(|d| d.id.clone())
        .unwrap_or_else(|| "alpine".into());
    let mut pkgs = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        if r.name.is_empty() || r.version.is_empty() {
            cx.warn(
                &f.path,
                format!("record {}: no P: or V: field; skipped", i + 1),
            );
            continue;
        }
        let upstream = if r.origin != r.name {
            r.origin.as_str()
        } else {
            ""
        };
        let p = purl::build(
            PackageType::Apk,
            Some(&ns),
            &r.name,
            &r.version,
            &[
                ("arch", &r.arch),
                ("upstream", upstream),
                ("distro", &distro_q),
            ],
        );
        let key = format!("apk:{}:{}", f.path, r.name);
        let mut pkg = new_package(&key, PackageType::Apk, &r.name, &r.version, p, f.location());
        pkg.license =
            license::to_spdx(&r.license).or_else(|| license::join(r.license.split_whitespace()));
        if !r.origin.is_empty() {
            pkg.source_name = Some(r.origin.clone());
            pkg.source_version = Some(r.version.clone());
        }
        for file in &r.files {
            cx.owned.insert(file.clone());
        }
        by_name.insert(r.name.clone(), pkgs.len());
        for p in &r.provides {
            by_name.entry(p.clone()).or_insert(pkgs.len());
        }
        pkgs.push((pkg, r.deps.clone()));
    }
    let ids: Vec<String> = pkgs.iter().map(|(p, _)| p.id.clone()).collect();
    pkgs.into_iter()
        .map(|(mut p, deps)| {
            p.depends_on = deps
                .iter()
                .filter_map(|d| by_name.get(d).map(|&i| ids[i].clone()))
                .collect();
            p
        })
        .collect()
}

fn strip_constraint(s: &str) -> String {
    let s = s.trim_start_matches('!');
    s.split(['=', '<', '>', '~'])
        .next()
        .unwrap_or(s)
        .to_string()
}
