//! A plain tar (or gzip-compressed tar) of a filesystem, read in one streaming pass; nothing
//! is extracted to disk and entry paths are normalized, never trusted.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use super::{FileMeta, Sink, Source, SourceError, clean_path};
use crate::warning::Warning;

/// A tar or tar.gz file.
pub struct TarSource {
    path: PathBuf,
}

impl TarSource {
    /// A source over the tar file at `path`.
    pub fn open(path: impl Into<PathBuf>) -> TarSource {
        TarSource { path: path.into() }
    }
}

impl Source for TarSource {
    fn visit(
        &mut self,
        select: &dyn Fn(&str) -> bool,
        sink: &mut Sink<'_>,
    ) -> Result<Vec<Warning>, SourceError> {
        let io = |e| SourceError::Io {
            path: self.path.clone(),
            source: e,
        };
        let mut file = BufReader::new(File::open(&self.path).map_err(io)?);
        let mut magic = [0u8; 2];
        let n = file.read(&mut magic).map_err(io)?;
        let file = BufReader::new(File::open(&self.path).map_err(io)?);
        let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let name = self.path.display().to_string();
        visit_tar(reader, None, &name, select, sink)
    }
}

/// Streams the regular files of one tar stream to `sink`. Used for plain tars; `layer`
/// names the image layer when the tar is one.
pub fn visit_tar(
    reader: impl Read,
    layer: Option<&str>,
    name: &str,
    select: &dyn Fn(&str) -> bool,
    sink: &mut Sink<'_>,
) -> Result<Vec<Warning>, SourceError> {
    let mut warnings = Vec::new();
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| SourceError::Invalid {
        input: name.to_string(),
        reason: format!("not a tar archive: {e}"),
    })?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                warnings.push(Warning::new(
                    name,
                    format!("tar archive truncated or corrupt: {e}"),
                ));
                break;
            }
        };
        if entry.header().entry_type() != tar::EntryType::Regular
            && entry.header().entry_type() != tar::EntryType::Continuous
        {
            continue;
        }
        let raw = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        let path = clean_path(&raw);
        if select(&path) {
            let size = entry.size();
            sink(
                FileMeta {
                    path: &path,
                    layer,
                    size,
                },
                &mut entry,
            );
        }
    }
    Ok(warnings)
}
