//! RPM packages from the rpm database, in each of its three on-disk formats: SQLite
//! `rpmdb.sqlite` (rpm >= 4.16, Fedora/RHEL 9), Berkeley DB `Packages` (rpm <= 4.15, RHEL <= 8,
//! CentOS 7, Amazon Linux 2) and NDB `Packages.db` (SUSE), under `/var/lib/rpm/`,
//! `/usr/lib/sysimage/rpm/` or `/usr/share/rpm/`. Each backend yields header blobs; the
//! header module decodes the package from each. Everything is read from memory.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use std::collections::{BTreeMap, HashMap};

use super::{Cataloger, Context, FoundFile, new_package};
use crate::package::{Package, PackageType};
use crate::{license, purl};
use header::RpmInfo;

/// The directories rpm keeps its database in.
const DB_DIRS: [&str; 3] = ["/var/lib/rpm/", "/usr/lib/sysimage/rpm/", "/usr/share/rpm/"];

/// The database formats, in the order one is preferred when a directory holds several (a
/// converted database can leave the old file behind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Backend {
    Sqlite,
    Ndb,
    Bdb,
}

impl Backend {
    /// The backend a file name is the database of.
    pub fn of(file_name: &str) -> Option<Backend> {
        match file_name {
            "rpmdb.sqlite" => Some(Backend::Sqlite),
            "Packages.db" => Some(Backend::Ndb),
            "Packages" => Some(Backend::Bdb),
            _ => None,
        }
    }

    /// Reads the header blobs of a database file of this format.
    pub fn read(self, data: &[u8]) -> Result<Blobs, DbError> {
        match self {
            Backend::Sqlite => sqlite::read(data),
            Backend::Ndb => ndb::read(data),
            Backend::Bdb => bdb::read(data),
        }
    }
}

/// Header blobs read from a database, keyed by header number, and what was skipped.
#[derive(Debug, Default)]
pub struct Blobs {
    pub blobs: Vec<(u64, Vec<u8>)>,
    /// Records that could not be read (the file was read in part).
    pub problems: Vec<String>,
}

/// Why a database file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DbError(String);

impl DbError {
    pub fn new(msg: impl Into<String>) -> Self {
        DbError(msg.into())
    }
}

/// Reads the rpm database.
pub struct Rpm;

/// The database directory and backend of a path the cataloger reads.
fn db_file(path: &str) -> Option<(&str, Backend)> {
    let (dir, name) = path.rsplit_once('/')?;
    let backend = Backend::of(name)?;
    let dir_slash = &path[..dir.len() + 1];
    DB_DIRS
        .iter()
        .any(|d| dir_slash.ends_with(d))
        .then_some((dir, backend))
}

impl Cataloger for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }
    fn is_os(&self) -> bool {
        true
    }
    fn wants(&self, path: &str) -> bool {
        db_file(path).is_some()
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        // One database per directory: the newest format present.
        let mut chosen: BTreeMap<&str, (Backend, &FoundFile)> = BTreeMap::new();
        for f in files {
            let Some((dir, backend)) = db_file(&f.path) else {
                continue;
            };
            if chosen.get(dir).is_none_or(|(b, _)| backend < *b) {
                chosen.insert(dir, (backend, *f));
            }
        }
        for (backend, f) in chosen.into_values() {
            let blobs = match backend.read(&f.data) {
                Ok(b) => b,
                Err(e) => {
                    cx.warn(&f.path, format!("unreadable rpm database: {e}"));
                    continue;
                }
            };
            for p in &blobs.problems {
                cx.warn(&f.path, format!("rpm database: {p}; skipped"));
            }
            let mut infos = Vec::new();
            for (hnum, blob) in &blobs.blobs {
                match RpmInfo::from_blob(blob) {
                    Ok(i) if !i.name.is_empty() && !i.version.is_empty() => infos.push(i),
                    Ok(_) => cx.warn(
                        &f.path,
                        format!("rpm header {hnum}: no name or version; skipped"),
                    ),
                    Err(e) => cx.warn(&f.path, format!("rpm header {hnum}: {e}; skipped")),
                }
            }
            let pkgs = packages(f, &infos, cx);
            cx.packages.extend(pkgs);
        }
    }
}

/// `[EPOCH:]VERSION[-RELEASE]`, the version syft reports.
pub fn evr(info: &RpmInfo) -> String {
    let vr = version_release(info);
    match info.epoch {
        Some(e) => format!("{e}:{vr}"),
        None => vr,
    }
}

fn version_release(info: &RpmInfo) -> String {
    match info.release.as_str() {
        "" => info.version.clone(),
        r => format!("{}-{r}", info.version),
    }
}

/// The source package name and version-release of a `SOURCERPM` (`name-ver-rel.src.rpm`).
pub fn source_package(source_rpm: &str) -> Option<(String, String)> {
    let base = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty() && !release.is_empty())
        .then(|| (name.to_string(), format!("{version}-{release}")))
}

/// An rpm `License:` as an SPDX expression: SPDX already (newer Fedora), or the older
/// Fedora style with lowercase `and`/`or` once those are made operators.
fn rpm_license(declared: &str) -> Option<String> {
    license::to_spdx(declared).or_else(|| {
        let ops = declared.replace(" and ", " AND ").replace(" or ", " OR ");
        license::to_spdx(&ops)
    })
}

fn packages(f: &FoundFile, infos: &[RpmInfo], cx: &mut Context) -> Vec<Package> {
    let ns = cx.distro.as_ref().map(|d| d.id.clone()).unwrap_or_default();
    let distro_q = cx
        .distro
        .as_ref()
        .map(|d| format!("{}-{}", d.id, d.version_id))
        .unwrap_or_default();
    let mut pkgs = Vec::with_capacity(infos.len());
    let mut by_cap: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in infos.iter().enumerate() {
        let epoch = r.epoch.map(|e| e.to_string()).unwrap_or_default();
        let p = purl::build(
            PackageType::Rpm,
            Some(&ns),
            &r.name,
            &version_release(r),
            &[
                ("arch", &r.arch),
                ("epoch", &epoch),
                ("upstream", &r.source_rpm),
                ("distro", &distro_q),
            ],
        );
        let version = evr(r);
        let key = format!("rpm:{}:{}-{}.{}", f.path, r.name, version, r.arch);
        let mut pkg = new_package(&key, PackageType::Rpm, &r.name, &version, p, f.location());
        pkg.license = rpm_license(&r.license);
        if let Some((name, vr)) = source_package(&r.source_rpm) {
            pkg.source_name = Some(name);
            pkg.source_version = Some(vr);
        }
        for file in &r.files {
            cx.owned.insert(file.clone());
        }
        by_cap.entry(r.name.as_str()).or_default().push(i);
        for cap in &r.provides {
            let v = by_cap.entry(cap.as_str()).or_default();
            if !v.contains(&i) {
                v.push(i);
            }
        }
        pkgs.push(pkg);
    }
    let ids: Vec<String> = pkgs.iter().map(|p| p.id.clone()).collect();
    for (i, (pkg, r)) in pkgs.iter_mut().zip(infos).enumerate() {
        let mut deps: Vec<String> = r
            .requires
            .iter()
            .filter(|req| !req.starts_with("rpmlib("))
            .filter_map(|req| by_cap.get(req.as_str()))
            .flatten()
            .filter(|&&j| j != i)
            .map(|&j| ids[j].clone())
            .collect();
        deps.sort();
        deps.dedup();
        pkg.depends_on = deps;
    }
    pkgs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_paths() {
        let c = Rpm;
        assert!(c.wants("/var/lib/rpm/Packages"));
        assert!(c.wants("/var/lib/rpm/rpmdb.sqlite"));
        assert!(c.wants("/usr/lib/sysimage/rpm/Packages.db"));
        assert!(c.wants("/rootfs/usr/share/rpm/rpmdb.sqlite"));
        assert!(!c.wants("/var/lib/rpm/Index.db"));
        assert!(!c.wants("/home/x/Packages"));
        assert!(!c.wants("/var/lib/rpmx/Packages"));
    }

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            source_package("openssl-3.0.7-18.el9_2.src.rpm"),
            Some(("openssl".into(), "3.0.7-18.el9_2".into()))
        );
        assert_eq!(
            source_package("python-pip-wheel-21.3.1-1.fc40.src.rpm"),
            Some(("python-pip-wheel".into(), "21.3.1-1.fc40".into()))
        );
        assert_eq!(source_package("(none)"), None);
        assert_eq!(source_package("x.src.rpm"), None);
    }

    #[test]
    fn licenses() {
        assert_eq!(rpm_license("MIT").as_deref(), Some("MIT"));
        assert_eq!(
            rpm_license("Apache-2.0 OR MIT").as_deref(),
            Some("Apache-2.0 OR MIT")
        );
        assert_eq!(
            rpm_license("MIT and BSD-3-Clause").as_deref(),
            Some("MIT AND BSD-3-Clause")
        );
        assert_eq!(
            rpm_license("Freely redistributable without restriction"),
            None
        );
    }
}
