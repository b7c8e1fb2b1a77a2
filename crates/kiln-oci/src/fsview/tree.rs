//! Operations on the merged tree (a map from normalized absolute path to [`Entry`]):
//! symlink resolution confined to the image root, listing children, removing subtrees.

use std::collections::{BTreeMap, VecDeque};

use super::entry::{Entry, EntryKind};
use super::error::{FsError, FsResult};
use super::path;

/// The merged tree.
pub(crate) type Tree = BTreeMap<String, Entry>;

/// Resolves `input` in `tree`, following symlinks inside the root (absolute targets
/// restart at the image root, `..` stops at the root) at most `max_hops` times.
///
/// `follow_last`: whether a symlink as the last component is followed. `strict`: a
/// missing component is [`FsError::NotFound`] and a non-directory in the middle
/// [`FsError::NotADirectory`]; when not strict (applying layers), missing components are
/// taken literally, as an extractor would create them.
pub(crate) fn resolve(
    tree: &Tree,
    input: &str,
    follow_last: bool,
    max_hops: u32,
    strict: bool,
) -> FsResult<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut pending: VecDeque<String> = components(input).collect();
    let mut hops = 0u32;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            stack.pop();
            continue;
        }
        stack.push(c);
        let current = path::join(stack.iter().map(String::as_str));
        let Some(entry) = tree.get(&current) else {
            if strict {
                return Err(FsError::NotFound { path: input.into() });
            }
            continue;
        };
        match &entry.kind {
            EntryKind::Symlink { target } => {
                if pending.is_empty() && !follow_last {
                    continue;
                }
                hops += 1;
                if hops > max_hops {
                    return Err(FsError::SymlinkLoop {
                        path: input.into(),
                        limit: max_hops,
                    });
                }
                if strict && target.is_empty() {
                    return Err(FsError::NotFound { path: input.into() });
                }
                stack.pop();
                if target.starts_with('/') {
                    stack.clear();
                }
                for t in components(target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(t);
                }
            }
            EntryKind::Dir => {}
            _ => {
                if strict && !pending.is_empty() {
                    return Err(FsError::NotADirectory { path: current });
                }
            }
        }
    }
    Ok(path::join(stack.iter().map(String::as_str)))
}

/// The components of a path, without empty and `.` ones (`..` kept).
fn components(p: &str) -> impl Iterator<Item = String> + '_ {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

/// Every entry strictly below `dir`, in path order.
pub(crate) fn descendants<'a>(tree: &'a Tree, dir: &str) -> impl Iterator<Item = &'a Entry> {
    let prefix = if dir == "/" {
        "/".to_string()
    } else {
        format!("{dir}/")
    };
    tree.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| k.as_str() != "/")
        .map(|(_, e)| e)
}

/// The entries directly inside `dir`, by name.
pub(crate) fn children<'a>(tree: &'a Tree, dir: &str) -> impl Iterator<Item = &'a Entry> {
    let skip = if dir == "/" { 1 } else { dir.len() + 1 };
    descendants(tree, dir).filter(move |e| !e.path[skip..].contains('/'))
}

/// Removes everything strictly below `dir`.
pub(crate) fn remove_below(tree: &mut Tree, dir: &str) {
    let keys: Vec<String> = descendants(tree, dir).map(|e| e.path.clone()).collect();
    for k in keys {
        tree.remove(&k);
    }
}

/// Removes `path` and everything below it (never the root itself).
pub(crate) fn remove_subtree(tree: &mut Tree, path: &str) {
    remove_below(tree, path);
    if path != "/" {
        tree.remove(path);
    }
}
