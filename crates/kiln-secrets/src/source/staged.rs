//! The staged changes of a repository (index against `HEAD`), for a pre-commit hook. Only
//! lines the commit adds are reported: a finding whose line already exists in the `HEAD`
//! version of the file is left out.

use std::collections::HashSet;
use std::path::Path;

use gix::objs::Find as _;

use super::{Event, Notice, Stats, oversize_blob};
use crate::engine::{Fragment, Scanner};

/// Errors that stop a staged scan.
#[derive(Debug, thiserror::Error)]
pub enum StagedError {
    /// Not a git repository.
    #[error("{path}: not a readable git repository: {message}")]
    Open {
        /// The path.
        path: String,
        /// The cause.
        message: String,
    },
    /// The index cannot be read.
    #[error("{path}: cannot read the index: {message}")]
    Index {
        /// The repository.
        path: String,
        /// The cause.
        message: String,
    },
}

/// Scans what `git commit` would record now.
pub fn scan_staged(
    path: &Path,
    scanner: &Scanner,
    sink: &(dyn Fn(Event) + Sync),
) -> Result<Stats, StagedError> {
    let shown = path.display().to_string();
    let repo = gix::open(path).map_err(|e| StagedError::Open {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let index = repo.index_or_empty().map_err(|e| StagedError::Index {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let head = repo.head_tree().ok();
    let mut stats = Stats::default();
    let mut buf = Vec::new();
    let mut old_buf = Vec::new();
    for entry in index.entries() {
        if entry.stage_raw() != 0 || !entry.mode.to_tree_entry_mode().is_some_and(|m| m.is_blob()) {
            continue;
        }
        let rel = entry.path(&index).to_string();
        let old = head
            .as_ref()
            .and_then(|t| t.lookup_entry_by_path(&rel).ok().flatten())
            .map(|e| e.object_id());
        if old == Some(entry.id) {
            continue;
        }
        for f in scanner.scan_path(&rel) {
            sink(Event::Finding(Box::new(f)));
        }
        if scanner.path_allowed(&rel) {
            continue;
        }
        if let Some(reason) = scanner.skip.by_path(&rel) {
            stats.skipped += 1;
            sink(Event::Notice(Notice::Skipped { path: rel, reason }));
            continue;
        }
        match oversize_blob(&repo, &entry.id, &scanner.skip) {
            Ok(None) => {}
            Ok(Some((reason, _))) => {
                stats.skipped += 1;
                sink(Event::Notice(Notice::Skipped { path: rel, reason }));
                continue;
            }
            Err(message) => {
                sink(Event::Notice(Notice::Unreadable { path: rel, message }));
                continue;
            }
        }
        let data = match repo.objects.try_find(&entry.id, &mut buf) {
            Ok(Some(d)) => d.data,
            Ok(None) => {
                sink(Event::Notice(Notice::Unreadable {
                    path: rel,
                    message: "staged blob missing".into(),
                }));
                continue;
            }
            Err(e) => {
                sink(Event::Notice(Notice::Unreadable {
                    path: rel,
                    message: e.to_string(),
                }));
                continue;
            }
        };
        if let Some(reason) = scanner
            .skip
            .by_size(data.len() as u64)
            .or_else(|| scanner.skip.by_content(&rel, data))
        {
            stats.skipped += 1;
            sink(Event::Notice(Notice::Skipped { path: rel, reason }));
            continue;
        }
        let old_lines: HashSet<&[u8]> = match old {
            // An oversize HEAD version is not inflated: every line then counts as added.
            Some(id) if !matches!(oversize_blob(&repo, &id, &scanner.skip), Ok(None)) => {
                HashSet::new()
            }
            Some(id) => match repo.objects.try_find(&id, &mut old_buf) {
                Ok(Some(d)) => d.data.split(|&b| b == b'\n').collect(),
                _ => HashSet::new(),
            },
            None => HashSet::new(),
        };
        stats.scanned += 1;
        stats.bytes += data.len() as u64;
        let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        for f in scanner.scan(&Fragment {
            path: &rel,
            data,
            commit: None,
        }) {
            let added = (f.line..=f.end_line.max(f.line))
                .any(|l| lines.get(l - 1).is_some_and(|t| !old_lines.contains(t)));
            if added {
                sink(Event::Finding(Box::new(f)));
            }
        }
    }
    Ok(stats)
}

/// The hooks directory of the repository at `path` (`core.hooksPath` is not consulted).
pub fn hooks_dir(path: &Path) -> Result<std::path::PathBuf, StagedError> {
    let repo = gix::open(path).map_err(|e| StagedError::Open {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(repo.common_dir().join("hooks"))
}
