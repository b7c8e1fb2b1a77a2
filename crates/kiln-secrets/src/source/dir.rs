//! A directory on disk, walked with the `ignore` crate so `.gitignore`, `.ignore` and
//! `.git/info/exclude` are honoured; files are scanned in parallel.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::{Event, Notice, Stats};
use crate::engine::{Fragment, Scanner};

/// Errors that stop a directory scan.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The root is not a readable directory or file.
    #[error("{path}: {source}")]
    Root {
        /// The root.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// `path` relative to `root`, `/`-separated.
pub fn rel_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy().replace('\\', "/");
    if s.is_empty() {
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    } else {
        s
    }
}

/// Scans every file under `root` (or `root` itself when it is a file).
pub fn scan_dir(
    root: &Path,
    scanner: &Scanner,
    sink: &(dyn Fn(Event) + Sync),
) -> Result<Stats, DirError> {
    let meta = std::fs::metadata(root).map_err(|source| DirError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    if meta.is_file() {
        files.push(root.to_path_buf());
    } else {
        let walk = ignore::WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .parents(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walk {
            match entry {
                Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => files.push(e.into_path()),
                Ok(_) => {}
                Err(e) => sink(Event::Notice(Notice::Unreadable {
                    path: root.display().to_string(),
                    message: e.to_string(),
                })),
            }
        }
    }
    let base = if meta.is_file() {
        root.parent().unwrap_or(root)
    } else {
        root
    };
    let scanned = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let skipped = AtomicU64::new(0);
    files.par_iter().for_each(|path| {
        let rel = rel_path(base, path);
        match scan_file(path, &rel, scanner, sink) {
            Ok(Some(n)) => {
                scanned.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(n, Ordering::Relaxed);
                sink(Event::Progress(n));
            }
            Ok(None) => {
                skipped.fetch_add(1, Ordering::Relaxed);
            }
            Err(message) => {
                skipped.fetch_add(1, Ordering::Relaxed);
                sink(Event::Notice(Notice::Unreadable { path: rel, message }));
            }
        }
    });
    Ok(Stats {
        scanned: scanned.into_inner(),
        bytes: bytes.into_inner(),
        skipped: skipped.into_inner(),
        commits: 0,
    })
}

/// Scans one file: Some(bytes) when scanned, None when skipped (reported through `sink`).
fn scan_file(
    path: &Path,
    rel: &str,
    scanner: &Scanner,
    sink: &(dyn Fn(Event) + Sync),
) -> Result<Option<u64>, String> {
    for f in scanner.scan_path(rel) {
        sink(Event::Finding(Box::new(f)));
    }
    if scanner.path_allowed(rel) {
        return Ok(None);
    }
    let skip = |reason| {
        sink(Event::Notice(Notice::Skipped {
            path: rel.to_string(),
            reason,
        }));
        Ok(None)
    };
    if let Some(reason) = scanner.skip.by_path(rel) {
        return skip(reason);
    }
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if let Some(reason) = scanner.skip.by_size(meta.len()) {
        return skip(reason);
    }
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    if let Some(reason) = scanner.skip.by_content(rel, &data) {
        return skip(reason);
    }
    for f in scanner.scan(&Fragment {
        path: rel,
        data: &data,
        commit: None,
    }) {
        sink(Event::Finding(Box::new(f)));
    }
    Ok(Some(data.len() as u64))
}
