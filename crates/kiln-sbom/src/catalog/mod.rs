//! The cataloging pass: a table of catalogers behind one trait (each declares the paths it
//! wants, the walker hands it only those files), one streaming pass over the source, then
//! each cataloger turns its files into packages. Files owned by OS packages are not reported
//! again by language catalogers.

pub mod apk;
pub mod auditable;
pub mod binary;
pub mod dotnet;
pub mod dpkg;
pub mod gemspec;
pub mod go_binary;
pub mod golang;
pub mod gradle;
pub mod java;
pub mod javascript;
pub mod maven_pom;
pub mod osrelease;
pub mod php;
pub mod python;
pub mod rpm;
pub mod ruby;
pub mod rust;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use sha2::{Digest as _, Sha256};

use crate::package::{Catalog, Distro, Location, Package, PackageType};
use crate::source::{Source, SourceError};
use crate::warning::Warning;

/// Files larger than this are not read (a warning names them).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// A file handed to a cataloger: its path inside the source, layer and content.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub path: String,
    pub layer: Option<String>,
    pub data: Vec<u8>,
}

impl FoundFile {
    /// The content as text (lossy for invalid UTF-8).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// A location naming this file.
    pub fn location(&self) -> Location {
        Location {
            path: self.path.clone(),
            layer: self.layer.clone(),
        }
    }

    /// The final path component.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// What catalogers add to: packages, warnings, files owned by OS packages, the distro.
#[derive(Debug, Default)]
pub struct Context {
    pub packages: Vec<Package>,
    pub warnings: Vec<Warning>,
    /// Paths (in `/a/b` form) that OS packages own.
    pub owned: HashSet<String>,
    pub distro: Option<Distro>,
}

impl Context {
    /// Records a warning about a file.
    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Warning::new(path, message));
    }
}

/// One ecosystem's reader.
pub trait Cataloger: Sync {
    /// A short name (`dpkg`, `npm-lock`, ...).
    fn name(&self) -> &'static str;
    /// Whether the file at `path` (in `/a/b` form) is one this cataloger reads.
    fn wants(&self, path: &str) -> bool;
    /// Whether this cataloger reads OS package databases (run first; its packages own files).
    fn is_os(&self) -> bool {
        false
    }
    /// Turns the wanted files into packages (and warnings) in `cx`.
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context);
    /// Whether each file is cataloged on its own, without the others or the OS packages:
    /// such files (executables, which can be large) are cataloged as soon as they are read
    /// and their bytes dropped, so memory holds one of them at a time.
    fn per_file(&self) -> bool {
        false
    }
}

/// The table of every cataloger, in the order they run (distro first, then OS packages).
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(osrelease::OsRelease),
        Box::new(dpkg::Dpkg),
        Box::new(apk::Apk),
        Box::new(rpm::Rpm),
        Box::new(rust::CargoLock),
        Box::new(golang::GoMod),
        Box::new(go_binary::GoBinary),
        Box::new(auditable::Auditable),
        Box::new(javascript::PackageLock),
        Box::new(javascript::YarnLock),
        Box::new(javascript::PnpmLock),
        Box::new(javascript::NodeModules),
        Box::new(python::Installed),
        Box::new(python::Requirements),
        Box::new(python::TomlLocks),
        Box::new(python::PipfileLock),
        Box::new(ruby::GemfileLock),
        Box::new(php::Composer),
        Box::new(dotnet::Dotnet),
        Box::new(java::JavaArchive),
        Box::new(maven_pom::MavenPom),
        Box::new(gradle::GradleLock),
        Box::new(gemspec::Gemspec),
    ]
}

/// The result of cataloging a source.
#[derive(Debug, Default)]
pub struct Outcome {
    pub catalog: Catalog,
    pub warnings: Vec<Warning>,
}

/// Catalogs everything in `source` with every cataloger of the table.
pub fn catalog_source(source: &mut dyn Source, name: &str) -> Result<Outcome, SourceError> {
    run(source, name, &catalogers())
}

/// Catalogs `source` with the given catalogers.
pub fn run(
    source: &mut dyn Source,
    name: &str,
    table: &[Box<dyn Cataloger>],
) -> Result<Outcome, SourceError> {
    let mut per: Vec<Vec<usize>> = vec![Vec::new(); table.len()];
    let mut files: Vec<FoundFile> = Vec::new();
    let mut read_warnings = Vec::new();
    let mut streamed = Context::default();
    let select = |p: &str| table.iter().any(|c| c.wants(p));
    let mut walk_warnings = source.visit(&select, &mut |meta, reader| {
        if meta.size > MAX_FILE_SIZE {
            read_warnings.push(Warning::new(
                meta.path,
                format!(
                    "{} bytes is over the {MAX_FILE_SIZE}-byte limit; skipped",
                    meta.size
                ),
            ));
            return;
        }
        let mut data = Vec::with_capacity(meta.size.min(MAX_FILE_SIZE) as usize);
        match reader.take(MAX_FILE_SIZE + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > MAX_FILE_SIZE => {
                read_warnings.push(Warning::new(meta.path, "over the size limit; skipped"));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                read_warnings.push(Warning::new(meta.path, format!("cannot read: {e}")));
                return;
            }
        }
        let found = FoundFile {
            path: meta.path.to_string(),
            layer: meta.layer.map(str::to_string),
            data,
        };
        let wanting: Vec<usize> = (0..table.len())
            .filter(|&i| table[i].wants(meta.path))
            .collect();
        if wanting.iter().all(|&i| table[i].per_file()) {
            for &i in &wanting {
                table[i].catalog(&[&found], &mut streamed);
            }
            return;
        }
        let idx = files.len();
        for i in wanting {
            per[i].push(idx);
        }
        files.push(found);
    })?;
    walk_warnings.append(&mut read_warnings);

    let mut cx = Context::default();
    cx.packages.append(&mut streamed.packages);
    cx.warnings.append(&mut streamed.warnings);
    let mut order: Vec<usize> = (0..table.len()).collect();
    order.sort_by_key(|&i| {
        if table[i].name() == "os-release" {
            0
        } else if table[i].is_os() {
            1
        } else {
            2
        }
    });
    for &i in &order {
        let mine: Vec<&FoundFile> = per[i].iter().map(|&f| &files[f]).collect();
        table[i].catalog(&mine, &mut cx);
    }
    // Language packages whose files an OS package owns are that OS package's content.
    let owned = std::mem::take(&mut cx.owned);
    cx.packages.retain(|p| {
        is_os_type(p.kind)
            || p.locations.is_empty()
            || !p.locations.iter().all(|l| owned.contains(&l.path))
    });
    let mut packages = dedup(cx.packages);
    packages.sort_by(|a, b| {
        (&a.name, &a.version, &a.purl, &a.id).cmp(&(&b.name, &b.version, &b.purl, &b.id))
    });
    let known: HashSet<&str> = packages.iter().map(|p| p.id.as_str()).collect();
    let known: HashSet<String> = known.into_iter().map(str::to_string).collect();
    for p in &mut packages {
        if p.cpes.is_empty() {
            p.cpes = crate::cpe::derive(p);
        }
        p.depends_on.retain(|d| known.contains(d) && *d != p.id);
        p.depends_on.sort();
        p.depends_on.dedup();
    }
    let mut warnings = walk_warnings;
    warnings.append(&mut cx.warnings);
    Ok(Outcome {
        catalog: Catalog {
            source: name.to_string(),
            image_digest: None,
            distro: cx.distro,
            packages,
        },
        warnings,
    })
}

fn is_os_type(k: PackageType) -> bool {
    matches!(k, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
}

/// Merges packages with the same id (same key) or the same PURL (one package found by two
/// catalogers, e.g. a lockfile entry and its installed `node_modules` copy), joining their
/// locations and dependencies; ids of merged packages are rewritten to the kept one.
fn dedup(packages: Vec<Package>) -> Vec<Package> {
    let mut by_id: BTreeMap<String, Package> = BTreeMap::new();
    let mut purl_owner: BTreeMap<String, String> = BTreeMap::new();
    let mut renamed: HashMap<String, String> = HashMap::new();
    let mut sorted = packages;
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for p in sorted {
        let target = match by_id.contains_key(&p.id) {
            true => Some(p.id.clone()),
            false => purl_owner.get(&p.purl).cloned(),
        };
        match target.and_then(|t| by_id.get_mut(&t)) {
            Some(existing) => {
                if existing.id != p.id {
                    renamed.insert(p.id.clone(), existing.id.clone());
                }
                for l in p.locations {
                    if !existing.locations.contains(&l) {
                        existing.locations.push(l);
                    }
                }
                existing.depends_on.extend(p.depends_on);
                if existing.license.is_none() {
                    existing.license = p.license;
                }
            }
            None => {
                purl_owner.insert(p.purl.clone(), p.id.clone());
                by_id.insert(p.id.clone(), p);
            }
        }
    }
    let mut out: Vec<Package> = by_id.into_values().collect();
    for p in &mut out {
        for d in &mut p.depends_on {
            if let Some(n) = renamed.get(d) {
                *d = n.clone();
            }
        }
        p.locations.sort();
    }
    out
}

/// A stable package id from a cataloger-local key (same key, same id, in every run).
pub fn package_id(key: &str) -> String {
    let h = Sha256::digest(key.as_bytes());
    format!("pkg-{}", &hex::encode(h)[..16])
}

/// A package with the fields every cataloger sets; `key` makes its id.
pub fn new_package(
    key: &str,
    kind: PackageType,
    name: &str,
    version: &str,
    purl: String,
    location: Location,
) -> Package {
    Package {
        id: package_id(key),
        name: name.to_string(),
        version: version.to_string(),
        kind,
        purl,
        license: None,
        locations: vec![location],
        cpes: Vec::new(),
        source_name: None,
        source_version: None,
        depends_on: Vec::new(),
    }
}

/// Whether `path`'s final component is `name`.
pub fn file_named(path: &str, name: &str) -> bool {
    path.rsplit('/').next() == Some(name)
}
