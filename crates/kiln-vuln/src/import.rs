//! Reading OSV data as osv.dev publishes it: single JSON files (one record or an array),
//! directories of them, and `all.zip` archives; and downloading `all.zip` per ecosystem
//! from osv.dev's bucket layout (`<source>/<Ecosystem>/all.zip`). A bad file or record is
//! reported by name and the rest is still read.

use std::io::{Cursor, Read, Seek};
use std::path::Path;

use crate::osv::Record;

/// The bucket osv.dev publishes to.
pub const OSV_BUCKET: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The ecosystems Kiln catalogs, as osv.dev names its folders.
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "npm",
    "crates.io",
    "Go",
    "Hex",
    "PyPI",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
    "Pub",
    "Debian",
    "Ubuntu",
    "Alpine",
    "Red Hat",
    "AlmaLinux",
    "Rocky Linux",
    "SUSE",
];

/// Records read, and what could not be read (each naming its file or entry).
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    pub errors: Vec<String>,
}

fn parse_json(bytes: &[u8], name: &str, out: &mut Loaded) {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            out.errors.push(format!("{name}: not JSON: {e}"));
            return;
        }
    };
    let items = match value {
        serde_json::Value::Array(a) => a,
        v => vec![v],
    };
    for (i, item) in items.into_iter().enumerate() {
        let id = item.get("id").and_then(|v| v.as_str()).map(str::to_string);
        match serde_json::from_value::<Record>(item) {
            Ok(r) if !r.id.trim().is_empty() => out.records.push(r),
            Ok(_) => out.errors.push(format!("{name}: record {i} has no id")),
            Err(e) => out.errors.push(format!(
                "{name}: record {} is malformed: {e}",
                id.unwrap_or_else(|| format!("#{i}"))
            )),
        }
    }
}

/// Reads every `.json` entry of a zip archive.
pub fn read_zip<R: Read + Seek>(reader: R, name: &str, out: &mut Loaded) {
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            out.errors.push(format!(
                "{name}: not a readable zip archive (truncated or corrupt?): {e}"
            ));
            return;
        }
    };
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.errors.push(format!("{name}: entry {i}: {e}"));
                continue;
            }
        };
        let entry_name = match entry.name() {
            Ok(n) => n.to_string(),
            Err(e) => {
                out.errors
                    .push(format!("{name}: entry {i} has an unreadable name: {e}"));
                continue;
            }
        };
        if entry.is_dir() || !entry_name.ends_with(".json") {
            continue;
        }
        let entry_name = format!("{name}!{entry_name}");
        let mut buf = Vec::with_capacity(entry.size().min(1 << 24) as usize);
        if let Err(e) = entry.read_to_end(&mut buf) {
            out.errors.push(format!("{entry_name}: cannot read: {e}"));
            continue;
        }
        parse_json(&buf, &entry_name, out);
    }
}

/// Reads a file (`.json` or `.zip`) or a directory (recursively).
pub fn read_path(path: &Path, out: &mut Loaded) {
    let name = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.errors.push(format!("{name}: {e}"));
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<_> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(e) => {
                out.errors.push(format!("{name}: {e}"));
                return;
            }
        };
        entries.sort();
        for p in entries {
            let is_data = p.is_dir() || p.extension().is_some_and(|x| x == "json" || x == "zip");
            if is_data {
                read_path(&p, out);
            }
        }
        return;
    }
    if path.extension().is_some_and(|x| x == "zip") {
        match std::fs::File::open(path) {
            Ok(f) => read_zip(std::io::BufReader::new(f), &name, out),
            Err(e) => out.errors.push(format!("{name}: {e}")),
        }
        return;
    }
    match std::fs::read(path) {
        Ok(b) => parse_json(&b, &name, out),
        Err(e) => out.errors.push(format!("{name}: {e}")),
    }
}

/// Downloads `<source>/<ecosystem>/all.zip` for each ecosystem and reads it.
pub async fn download(source: &str, ecosystems: &[String], out: &mut Loaded) {
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(format!("cannot start an HTTP client: {e}"));
            return;
        }
    };
    for eco in ecosystems {
        let url = format!(
            "{}/{}/all.zip",
            source.trim_end_matches('/'),
            eco.replace(' ', "%20")
        );
        let resp = match client.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(format!("{url}: {e}"));
                continue;
            }
        };
        if !resp.status().is_success() {
            out.errors.push(format!("{url}: HTTP {}", resp.status()));
            continue;
        }
        match resp.bytes().await {
            Ok(b) => read_zip(Cursor::new(b.to_vec()), &url, out),
            Err(e) => out.errors.push(format!("{url}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, c) in files {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(c.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn zip_and_bad_records() {
        let z = zip_of(&[
            (
                "A-1.json",
                r#"{"id":"A-1","modified":"2024-01-01T00:00:00Z"}"#,
            ),
            ("B-1.json", r#"{"id":"B-1","affected":"nope"}"#),
            ("C.json", "{not json"),
        ]);
        let mut out = Loaded::default();
        read_zip(Cursor::new(z.clone()), "all.zip", &mut out);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
        assert!(out.errors[0].contains("all.zip!B-1.json") && out.errors[0].contains("B-1"));
        let mut out = Loaded::default();
        read_zip(Cursor::new(z[..z.len() / 2].to_vec()), "cut.zip", &mut out);
        assert!(out.records.is_empty());
        assert!(
            out.errors[0].contains("cut.zip") && out.errors[0].contains("truncated"),
            "{:?}",
            out.errors
        );
    }
}
