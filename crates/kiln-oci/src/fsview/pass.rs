//! The content passes: stream layers again, bottom first, and hand out readers for the
//! selected tar entries (by ordinal) without buffering a layer; layers with nothing
//! selected are not read, and a layer is left as soon as its last selected entry is done.

use std::collections::BTreeMap;
use std::io::{self, Read};

use super::FsView;
use super::decode::{self, LayerStream, SharedCounters};
use super::entry::{ContentRef, Entry, LayerFile, LayerRef};
use super::error::{FsError, FsResult};

/// Streams layer `index`, calling `f` for each ordinal in `wanted` (sorted) with the
/// entry's content. Errors from `f` are returned as they are, unless a size limit was hit
/// underneath, which is reported instead.
fn stream_layer<E: From<FsError>>(
    view: &FsView,
    index: usize,
    wanted: &[u64],
    counters: &SharedCounters,
    f: &mut dyn FnMut(u64, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let Some(&last) = wanted.last() else {
        return Ok(());
    };
    let blob = &view.blobs[index];
    let layer = &view.layers[index];
    let limit_err = |e: &io::Error| decode::error_for(counters, index, blob, &view.limits, e);
    let stream = LayerStream::open(
        index,
        blob,
        layer.compression,
        view.limits,
        counters.clone(),
    )?;
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|e| limit_err(&e))?;
    let mut next = 0usize;
    for (ordinal, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| limit_err(&e))?;
        let ordinal = ordinal as u64;
        if ordinal < wanted[next] {
            continue;
        }
        if let Err(e) = f(ordinal, &mut entry) {
            // A limit hit while the visitor read shows as its error; report the limit.
            let limit = limit_err(&io::Error::other("read failed"));
            if !matches!(limit, FsError::Corrupt { .. }) {
                return Err(limit.into());
            }
            return Err(e);
        }
        next += 1;
        if ordinal >= last || next >= wanted.len() {
            return Ok(());
        }
    }
    // The archive ended before every selected entry was seen: the blob changed since the
    // index pass. Read to its end and check the digest, which then fails.
    archive.into_inner().finish(true)?;
    Err(FsError::Corrupt {
        layer: index,
        digest: layer.digest.clone(),
        reason: "the layer has fewer entries than when it was indexed".into(),
    }
    .into())
}

/// [`FsView::read`].
pub(crate) fn read(view: &FsView, asked: &str, entry: &Entry) -> FsResult<Vec<u8>> {
    let Some(content) = entry.content else {
        return Err(FsError::NotAFile {
            path: asked.into(),
            kind: entry.kind.name(),
        });
    };
    let limit = view.limits.max_file_read;
    if entry.size > limit {
        return Err(FsError::FileTooLarge {
            path: asked.into(),
            size: entry.size,
            limit,
        });
    }
    let mut out = Vec::with_capacity(entry.size as usize);
    let counters = decode::counters();
    stream_layer::<FsError>(
        view,
        content.layer,
        &[content.ordinal],
        &counters,
        &mut |_, r| read_capped(r, &mut out, limit, asked, &view.layers[content.layer]),
    )?;
    Ok(out)
}

/// Reads `r` into `out`, refusing more than `limit` bytes.
fn read_capped(
    r: &mut dyn Read,
    out: &mut Vec<u8>,
    limit: u64,
    path: &str,
    layer: &LayerRef,
) -> FsResult<()> {
    let n = r
        .take(limit + 1)
        .read_to_end(out)
        .map_err(|e| FsError::Corrupt {
            layer: layer.index,
            digest: layer.digest.clone(),
            reason: format!("reading {path}: {e}"),
        })?;
    if n as u64 > limit {
        return Err(FsError::FileTooLarge {
            path: path.into(),
            size: n as u64,
            limit,
        });
    }
    Ok(())
}

/// [`FsView::visit_files`].
pub(crate) fn visit_files<E: From<FsError>>(
    view: &FsView,
    mut filter: impl FnMut(&Entry) -> bool,
    mut visit: impl FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let mut selected: BTreeMap<ContentRef, Vec<&Entry>> = BTreeMap::new();
    for e in view.tree.values() {
        if let Some(c) = e.content
            && filter(e)
        {
            selected.entry(c).or_default().push(e);
        }
    }
    let counters = decode::counters();
    for index in 0..view.layers.len() {
        let in_layer: BTreeMap<u64, &Vec<&Entry>> = selected
            .range(
                ContentRef {
                    layer: index,
                    ordinal: 0,
                }..=ContentRef {
                    layer: index,
                    ordinal: u64::MAX,
                },
            )
            .map(|(c, v)| (c.ordinal, v))
            .collect();
        let wanted: Vec<u64> = in_layer.keys().copied().collect();
        stream_layer(view, index, &wanted, &counters, &mut |ordinal, r| {
            let Some(targets) = in_layer.get(&ordinal) else {
                return Ok(());
            };
            if let [only] = targets.as_slice() {
                return visit(only, r);
            }
            // Several hard links to one content: read it once, hand it to each.
            let mut buf = Vec::new();
            let first = &targets[0].path;
            read_capped(
                r,
                &mut buf,
                view.limits.max_file_read,
                first,
                &view.layers[index],
            )?;
            for t in targets.iter() {
                visit(t, &mut &buf[..])?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// [`FsView::visit_layer_files`].
pub(crate) fn visit_layer_files<E: From<FsError>>(
    view: &FsView,
    mut filter: impl FnMut(&LayerFile) -> bool,
    mut visit: impl FnMut(&LayerFile, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let counters = decode::counters();
    for (index, files) in view.layer_files.iter().enumerate() {
        let mut selected: BTreeMap<u64, LayerFile> = BTreeMap::new();
        for e in files {
            let Some(c) = e.content else { continue };
            let visible = view.tree.get(&e.path).is_some_and(|t| t.content == Some(c));
            let lf = LayerFile {
                entry: e.clone(),
                visible,
            };
            if filter(&lf) {
                selected.insert(c.ordinal, lf);
            }
        }
        let wanted: Vec<u64> = selected.keys().copied().collect();
        stream_layer(
            view,
            index,
            &wanted,
            &counters,
            &mut |ordinal, r| match selected.get(&ordinal) {
                Some(lf) => visit(lf, r),
                None => Ok(()),
            },
        )?;
    }
    Ok(())
}
