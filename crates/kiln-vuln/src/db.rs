//! The local vulnerability database: a single redb file holding compact OSV records by id,
//! an index by (ecosystem, package name), and metadata (schema version, the data's
//! last-modified time, when it was last imported), and the compact match index
//! ([`crate::matchidx`]: one value per (ecosystem, package name)) a scan reads instead of
//! the full records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use redb::{
    MultimapTableDefinition, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use serde::{Deserialize, Serialize};

use crate::osv::{Record, ecosystem_base, normalize_name};
use crate::version::Scheme;

/// The schema this build writes and reads.
/// Version 2 added the compact match index (one entry per advisory and package); version 3
/// holds one match value per package with all its advisories, in a smaller encoding. An
/// older file is upgraded in place when opened for import, and refused for scanning with a
/// message to re-import.
pub const SCHEMA_VERSION: u32 = 3;

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
const INDEX: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("index");
/// `ecosystem base \0 normalized name` -> a [`crate::matchidx`] value.
const MATCH: TableDefinition<&str, &[u8]> = TableDefinition::new("match");

/// Database errors, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("vulnerability database {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error(
        "vulnerability database {path} has schema version {found}, newer than this kiln supports ({supported}): upgrade kiln or re-import the data into a new file"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "vulnerability database {path} has schema version {found}, older than this kiln reads ({supported}): run `kiln db import` or `kiln db update` on it to upgrade it"
    )]
    OlderSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "vulnerability database {path} does not exist: run `kiln db import` or `kiln db update` first"
    )]
    Missing { path: PathBuf },
    #[error("vulnerability database {path}: record {id} is corrupt: {message}")]
    Corrupt {
        path: PathBuf,
        id: String,
        message: String,
    },
}

/// Facts about the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub path: String,
    pub schema_version: u32,
    pub advisories: u64,
    /// The newest `modified` time of any record (RFC 3339).
    pub data_modified: Option<String>,
    /// When data was last imported (RFC 3339).
    pub updated: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub imported: u64,
    pub withdrawn: u64,
    /// Inputs or records that were not imported, each with why.
    pub errors: Vec<String>,
    /// Ecosystems with no known version order (records kept, matched by `versions` only).
    pub unknown_ecosystems: BTreeMap<String, u64>,
    /// Top-level fields the schema does not define.
    pub unknown_fields: BTreeSet<String>,
}

impl ImportReport {
    /// Adds another report's counts.
    pub fn merge(&mut self, other: ImportReport) {
        self.imported += other.imported;
        self.withdrawn += other.withdrawn;
        self.errors.extend(other.errors);
        for (k, v) in other.unknown_ecosystems {
            *self.unknown_ecosystems.entry(k).or_default() += v;
        }
        self.unknown_fields.extend(other.unknown_fields);
    }
}

/// An open database.
pub struct Database {
    db: redb::Database,
    path: PathBuf,
}

/// The default location: `$XDG_DATA_HOME/kiln/vuln.db`, else `~/.local/share/kiln/vuln.db`.
pub fn default_path() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("kiln/vuln.db");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/kiln/vuln.db"),
        None => PathBuf::from(".kiln/vuln.db"),
    }
}

fn index_key(ecosystem: &str, name: &str) -> String {
    format!(
        "{}\0{}",
        ecosystem_base(ecosystem),
        normalize_name(ecosystem, name)
    )
}

/// The record's affected entries grouped by index key, with their positions.
fn affected_by_key(r: &Record) -> BTreeMap<String, Vec<(usize, &crate::osv::Affected)>> {
    let mut by_key: BTreeMap<String, Vec<(usize, &crate::osv::Affected)>> = BTreeMap::new();
    for (i, a) in r.affected.iter().enumerate() {
        if a.package.name.is_empty() {
            continue;
        }
        by_key
            .entry(index_key(&a.package.ecosystem, &a.package.name))
            .or_default()
            .push((i, a));
    }
    by_key
}

impl Database {
    fn err(&self, e: impl Into<redb::Error>) -> DbError {
        DbError::Store {
            path: self.path.clone(),
            message: e.into().to_string(),
        }
    }

    /// Puts advisory `id`'s entries into the match value under `key`, replacing any it had
    /// there; with no entries, removes it (and the value when it becomes empty).
    fn put_match(
        &self,
        matches: &mut redb::Table<&'static str, &'static [u8]>,
        key: &str,
        id: &str,
        entries: Option<Vec<(usize, &crate::osv::Affected)>>,
    ) -> Result<(), DbError> {
        let old: Vec<u8> = matches
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        let blob = entries.map(crate::matchidx::encode_entries);
        let new = crate::matchidx::put(&old, id, blob.as_deref()).map_err(|message| {
            DbError::Corrupt {
                path: self.path.clone(),
                id: key.replace('\0', " "),
                message,
            }
        })?;
        if new.is_empty() {
            matches.remove(key).map_err(|e| self.err(e))?;
        } else if new != old {
            matches
                .insert(key, new.as_slice())
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Opens the database at `path`, creating it (and its directory) when absent.
    pub fn open_or_create(path: &Path) -> Result<Database, DbError> {
        let store = |m: String| DbError::Store {
            path: path.to_path_buf(),
            message: m,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| store(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db =
            redb::Database::create(path).map_err(|e| store(redb::Error::from(e).to_string()))?;
        let me = Database {
            db,
            path: path.to_path_buf(),
        };
        me.check_schema(true)?;
        Ok(me)
    }

    /// Opens an existing database.
    pub fn open(path: &Path) -> Result<Database, DbError> {
        if !path.exists() {
            return Err(DbError::Missing {
                path: path.to_path_buf(),
            });
        }
        let db = redb::Database::open(path).map_err(|e| DbError::Store {
            path: path.to_path_buf(),
            message: redb::Error::from(e).to_string(),
        })?;
        let me = Database {
            db,
            path: path.to_path_buf(),
        };
        me.check_schema(false)?;
        Ok(me)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &str) -> Result<Option<String>, DbError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = match tx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        Ok(t.get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_string()))
    }

    /// Checks the schema version; an older file is upgraded when `upgrade`, else refused.
    fn check_schema(&self, upgrade: bool) -> Result<(), DbError> {
        match self.meta("schema_version")? {
            None => {
                let tx = self.db.begin_write().map_err(|e| self.err(e))?;
                {
                    let mut t = tx.open_table(META).map_err(|e| self.err(e))?;
                    t.insert("schema_version", SCHEMA_VERSION.to_string().as_str())
                        .map_err(|e| self.err(e))?;
                    tx.open_table(RECORDS).map_err(|e| self.err(e))?;
                    tx.open_multimap_table(INDEX).map_err(|e| self.err(e))?;
                    tx.open_table(MATCH).map_err(|e| self.err(e))?;
                }
                tx.commit().map_err(|e| self.err(e))?;
                Ok(())
            }
            Some(v) => {
                let found: u32 = v.parse().map_err(|_| DbError::Store {
                    path: self.path.clone(),
                    message: format!("schema version {v:?} is not a number"),
                })?;
                if found > SCHEMA_VERSION {
                    return Err(DbError::NewerSchema {
                        path: self.path.clone(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                if found < SCHEMA_VERSION {
                    if !upgrade {
                        return Err(DbError::OlderSchema {
                            path: self.path.clone(),
                            found,
                            supported: SCHEMA_VERSION,
                        });
                    }
                    self.rebuild_match_index()?;
                }
                Ok(())
            }
        }
    }

    /// Builds the match index from the stored records and records the current schema version.
    fn rebuild_match_index(&self) -> Result<(), DbError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let recs = tx.open_table(RECORDS).map_err(|e| self.err(e))?;
            tx.delete_table(MATCH).map_err(|e| self.err(e))?;
            let mut matches = tx.open_table(MATCH).map_err(|e| self.err(e))?;
            for item in recs.iter().map_err(|e| self.err(e))? {
                let (id, bytes) = item.map_err(|e| self.err(e))?;
                let r: Record =
                    serde_json::from_slice(bytes.value()).map_err(|e| DbError::Corrupt {
                        path: self.path.clone(),
                        id: id.value().to_string(),
                        message: e.to_string(),
                    })?;
                for (key, entries) in affected_by_key(&r) {
                    self.put_match(&mut matches, &key, &r.id, Some(entries))?;
                }
            }
            tx.open_multimap_table(INDEX).map_err(|e| self.err(e))?;
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Writes records in one transaction: withdrawn ones are removed, others replace any
    /// record with the same id. Records with no known version order are still stored.
    pub fn import(
        &self,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<ImportReport, DbError> {
        let mut report = ImportReport::default();
        let mut newest = self.meta("data_modified")?.unwrap_or_default();
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut recs = tx.open_table(RECORDS).map_err(|e| self.err(e))?;
            let mut index = tx.open_multimap_table(INDEX).map_err(|e| self.err(e))?;
            let mut matches = tx.open_table(MATCH).map_err(|e| self.err(e))?;
            for mut r in records {
                let old: Option<Vec<u8>> = recs
                    .get(r.id.as_str())
                    .map_err(|e| self.err(e))?
                    .map(|v| v.value().to_vec());
                if let Some(old) = old {
                    if let Ok(old) = serde_json::from_slice::<Record>(&old) {
                        for a in &old.affected {
                            index
                                .remove(
                                    index_key(&a.package.ecosystem, &a.package.name).as_str(),
                                    old.id.as_str(),
                                )
                                .map_err(|e| self.err(e))?;
                            self.put_match(
                                &mut matches,
                                &index_key(&a.package.ecosystem, &a.package.name),
                                &old.id,
                                None,
                            )?;
                        }
                    }
                    recs.remove(r.id.as_str()).map_err(|e| self.err(e))?;
                }
                if r.is_withdrawn() {
                    report.withdrawn += 1;
                    continue;
                }
                report.unknown_fields.extend(r.extra.keys().cloned());
                for a in &r.affected {
                    if Scheme::for_ecosystem(&a.package.ecosystem).is_err() {
                        *report
                            .unknown_ecosystems
                            .entry(a.package.ecosystem.clone())
                            .or_default() += 1;
                    }
                    if a.package.name.is_empty() {
                        continue;
                    }
                    index
                        .insert(
                            index_key(&a.package.ecosystem, &a.package.name).as_str(),
                            r.id.as_str(),
                        )
                        .map_err(|e| self.err(e))?;
                }
                for (key, entries) in affected_by_key(&r) {
                    self.put_match(&mut matches, &key, &r.id, Some(entries))?;
                }
                if r.modified > newest {
                    newest = r.modified.clone();
                }
                // The long description is not needed to scan or report; keep the file small.
                r.details = None;
                let bytes = serde_json::to_vec(&r).map_err(|e| DbError::Corrupt {
                    path: self.path.clone(),
                    id: r.id.clone(),
                    message: e.to_string(),
                })?;
                recs.insert(r.id.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
                report.imported += 1;
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            if !newest.is_empty() {
                meta.insert("data_modified", newest.as_str())
                    .map_err(|e| self.err(e))?;
            }
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            meta.insert("updated", now.as_str())
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(report)
    }

    /// A reader for many lookups in one consistent snapshot.
    pub fn reader(&self) -> Result<Reader<'_>, DbError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let recs = tx.open_table(RECORDS).map_err(|e| self.err(e))?;
        let index = tx.open_multimap_table(INDEX).map_err(|e| self.err(e))?;
        let matches = tx.open_table(MATCH).map_err(|e| self.err(e))?;
        Ok(Reader {
            db: self,
            recs,
            index,
            matches,
        })
    }

    /// Facts about the database.
    pub fn status(&self) -> Result<Status, DbError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let recs = tx.open_table(RECORDS).map_err(|e| self.err(e))?;
        Ok(Status {
            path: self.path.display().to_string(),
            schema_version: self
                .meta("schema_version")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(SCHEMA_VERSION),
            advisories: recs.len().map_err(|e| self.err(e))?,
            data_modified: self.meta("data_modified")?,
            updated: self.meta("updated")?,
        })
    }

    /// How old the data is: now minus the time of the last import, if any.
    pub fn age(&self) -> Result<Option<chrono::Duration>, DbError> {
        let Some(u) = self.meta("updated")? else {
            return Ok(None);
        };
        Ok(chrono::DateTime::parse_from_rfc3339(&u)
            .ok()
            .map(|t| chrono::Utc::now() - t.with_timezone(&chrono::Utc)))
    }
}

/// Lookups in one read snapshot.
pub struct Reader<'a> {
    db: &'a Database,
    recs: redb::ReadOnlyTable<&'static str, &'static [u8]>,
    index: redb::ReadOnlyMultimapTable<&'static str, &'static str>,
    matches: redb::ReadOnlyTable<&'static str, &'static [u8]>,
}

/// The match value of one package: its advisories' entries, read without copying.
pub struct MatchValue {
    guard: redb::AccessGuard<'static, &'static [u8]>,
}

impl MatchValue {
    /// The advisories `(id, blob)` in id order; decode a blob with
    /// [`crate::matchidx::decode_entries`].
    pub fn advisories(&self) -> crate::matchidx::Advisories<'_> {
        crate::matchidx::advisories(self.guard.value())
    }
}

impl Reader<'_> {
    /// The advisories filed under (ecosystem base name, package name).
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Record>, DbError> {
        let mut out = Vec::new();
        let ids = self
            .index
            .get(index_key(ecosystem, name).as_str())
            .map_err(|e| self.db.err(e))?;
        for id in ids {
            let id = id.map_err(|e| self.db.err(e))?;
            let id = id.value();
            let Some(bytes) = self.recs.get(id).map_err(|e| self.db.err(e))? else {
                continue;
            };
            let r: Record =
                serde_json::from_slice(bytes.value()).map_err(|e| DbError::Corrupt {
                    path: self.db.path.clone(),
                    id: id.to_string(),
                    message: e.to_string(),
                })?;
            out.push(r);
        }
        Ok(out)
    }

    /// The match value filed under (ecosystem base name, package name): one point read,
    /// no JSON parsed.
    pub fn matches(&self, ecosystem: &str, name: &str) -> Result<Option<MatchValue>, DbError> {
        Ok(self
            .matches
            .get(index_key(ecosystem, name).as_str())
            .map_err(|e| self.db.err(e))?
            .map(|guard| MatchValue { guard }))
    }

    /// The error for a corrupt match value or record.
    pub fn corrupt(&self, id: &str, message: String) -> DbError {
        DbError::Corrupt {
            path: self.db.path.clone(),
            id: id.to_string(),
            message,
        }
    }

    /// One advisory by id.
    pub fn get(&self, id: &str) -> Result<Option<Record>, DbError> {
        let Some(bytes) = self.recs.get(id).map_err(|e| self.db.err(e))? else {
            return Ok(None);
        };
        serde_json::from_slice(bytes.value())
            .map(Some)
            .map_err(|e| DbError::Corrupt {
                path: self.db.path.clone(),
                id: id.to_string(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> Record {
        Record::from_json(json.as_bytes()).unwrap()
    }

    /// (id, versions lists) of the advisories in the match value of (ecosystem, name).
    fn matched(db: &Database, ecosystem: &str, name: &str) -> Vec<(String, Vec<Vec<String>>)> {
        let rd = db.reader().unwrap();
        let Some(v) = rd.matches(ecosystem, name).unwrap() else {
            return vec![];
        };
        v.advisories()
            .map(|a| {
                let (id, blob) = a.unwrap();
                let entries = crate::matchidx::decode_entries(blob).unwrap();
                let versions = entries
                    .iter()
                    .map(|e| e.versions.iter().map(|v| v.to_string()).collect())
                    .collect();
                (id.to_string(), versions)
            })
            .collect()
    }

    #[test]
    fn import_lookup_withdraw() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_or_create(&dir.path().join("sub/v.db")).unwrap();
        let r = db
            .import([
                rec(r#"{"id":"A-1","modified":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"Foo_Bar"}}]}"#),
                rec(r#"{"id":"A-2","modified":"2024-03-01T00:00:00Z","x":1,"affected":[{"package":{"ecosystem":"Nope","name":"q"}}]}"#),
            ])
            .unwrap();
        assert_eq!(r.imported, 2);
        assert_eq!(r.unknown_ecosystems.get("Nope"), Some(&1));
        assert!(r.unknown_fields.contains("x"));
        let rd = db.reader().unwrap();
        assert_eq!(rd.lookup("PyPI", "foo-bar").unwrap().len(), 1);
        drop(rd);
        let st = db.status().unwrap();
        assert_eq!(st.advisories, 2);
        assert_eq!(st.data_modified.as_deref(), Some("2024-03-01T00:00:00Z"));
        let r = db
            .import([rec(r#"{"id":"A-1","modified":"2024-04-01T00:00:00Z","withdrawn":"2024-04-01T00:00:00Z"}"#)])
            .unwrap();
        assert_eq!(r.withdrawn, 1);
        assert!(
            db.reader()
                .unwrap()
                .lookup("PyPI", "foo-bar")
                .unwrap()
                .is_empty()
        );
        assert!(matched(&db, "PyPI", "foo-bar").is_empty());
        // Two advisories share one match value; a re-import replaces one, keeps the other.
        let z = |id: &str, v: &str| {
            rec(&format!(
                r#"{{"id":"{id}","affected":[{{"package":{{"ecosystem":"npm","name":"z"}},"versions":["{v}"]}}]}}"#
            ))
        };
        db.import([z("B-2", "1.0.0"), z("B-1", "2.0.0")]).unwrap();
        db.import([z("B-2", "3.0.0")]).unwrap();
        let s = |x: &str| vec![vec![x.to_string()]];
        assert_eq!(
            matched(&db, "npm", "z"),
            [
                ("B-1".to_string(), s("2.0.0")),
                ("B-2".to_string(), s("3.0.0"))
            ]
        );
    }

    #[test]
    fn older_schema_is_upgraded_for_import_and_refused_for_scan() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.db");
        {
            let db = Database::open_or_create(&p).unwrap();
            db.import([rec(
                r#"{"id":"A-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"versions":["1.0.0"]}]}"#,
            )])
            .unwrap();
            assert_eq!(
                matched(&db, "npm", "x"),
                [("A-1".to_string(), vec![vec!["1.0.0".to_string()]])]
            );
            // Make it look like a version-1 file: no match index.
            let tx = db.db.begin_write().unwrap();
            tx.delete_table(MATCH).unwrap();
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", "1")
                .unwrap();
            tx.commit().unwrap();
        }
        let e = Database::open(&p).err().unwrap().to_string();
        assert!(e.contains("schema version 1") && e.contains("v.db"), "{e}");
        let db = Database::open_or_create(&p).unwrap();
        assert_eq!(db.status().unwrap().schema_version, SCHEMA_VERSION);
        assert_eq!(matched(&db, "npm", "x").len(), 1);
        drop(db);
        assert!(Database::open(&p).is_ok());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.db");
        {
            let db = Database::open_or_create(&p).unwrap();
            let tx = db.db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", "99")
                .unwrap();
            tx.commit().unwrap();
        }
        let e = Database::open(&p).err().unwrap().to_string();
        assert!(e.contains("schema version 99") && e.contains("v.db"), "{e}");
        let bad = dir.path().join("junk.db");
        std::fs::write(&bad, b"not a database at all").unwrap();
        let e = Database::open(&bad).err().unwrap().to_string();
        assert!(e.contains("junk.db"), "{e}");
        assert!(Database::open(&dir.path().join("none.db")).is_err());
    }
}
