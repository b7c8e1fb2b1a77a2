//! A directory source: a walk that never follows symbolic links (so it cannot leave the
//! directory or loop) and opens only the files the caller selects.

use std::fs;
use std::path::{Path, PathBuf};

use super::{FileMeta, Sink, Source, SourceError};
use crate::warning::Warning;

/// A directory on disk.
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// A source over `root`, which must be a directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<DirSource, SourceError> {
        let root = root.into();
        let meta = fs::metadata(&root).map_err(|e| SourceError::Io {
            path: root.clone(),
            source: e,
        })?;
        if !meta.is_dir() {
            return Err(SourceError::Invalid {
                input: root.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        Ok(DirSource { root })
    }
}

impl Source for DirSource {
    fn visit(
        &mut self,
        select: &dyn Fn(&str) -> bool,
        sink: &mut Sink<'_>,
    ) -> Result<Vec<Warning>, SourceError> {
        let mut warnings = Vec::new();
        // Depth-first with an explicit stack; symlinks are never followed, so no loops.
        let mut stack: Vec<(PathBuf, String)> = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(Warning::new(
                        display(&rel),
                        format!("cannot list directory: {e}"),
                    ));
                    continue;
                }
            };
            let mut names: Vec<(String, fs::FileType, PathBuf)> = Vec::new();
            for entry in entries {
                let Ok(entry) = entry else { continue };
                let Ok(ft) = entry.file_type() else { continue };
                let name = entry.file_name().to_string_lossy().into_owned();
                names.push((name, ft, entry.path()));
            }
            names.sort_by(|a, b| b.0.cmp(&a.0));
            for (name, ft, path) in names {
                let child = format!("{rel}/{name}");
                if ft.is_dir() {
                    stack.push((path, child));
                } else if ft.is_file() && select(&child) {
                    read_one(&path, &child, sink, &mut warnings);
                }
            }
        }
        Ok(warnings)
    }
}

fn display(rel: &str) -> String {
    if rel.is_empty() {
        "/".into()
    } else {
        rel.to_string()
    }
}

fn read_one(path: &Path, rel: &str, sink: &mut Sink<'_>, warnings: &mut Vec<Warning>) {
    match fs::File::open(path) {
        Ok(mut f) => {
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            sink(
                FileMeta {
                    path: rel,
                    layer: None,
                    size,
                },
                &mut f,
            );
        }
        Err(e) => warnings.push(Warning::new(rel, format!("cannot open: {e}"))),
    }
}
