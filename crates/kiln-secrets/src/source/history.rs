//! Git history, read with gitoxide: every commit reachable from any ref (or from one
//! branch, or since a revision), each unique blob scanned once, in parallel, with findings
//! streamed as they are made. A finding names the commit, author, date and path that
//! introduced it: commits are visited oldest first, and a blob is attributed to the first
//! commit and path where it appears. Memory holds one blob per thread and one entry per
//! unique blob, never a commit's content.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use gix::ObjectId;
use gix::objs::Find as _;
use rayon::prelude::*;

use super::{Event, Notice, Stats, oversize_blob};
use crate::engine::{Fragment, Scanner};
use crate::finding::CommitInfo;

/// Errors that stop a history scan.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Not a git repository, or one gitoxide cannot open.
    #[error("{path}: not a readable git repository: {message}")]
    Open {
        /// The path.
        path: String,
        /// The cause.
        message: String,
    },
    /// A revision given with `--since` or `--branch` does not resolve.
    #[error("{what} {rev}: {message}")]
    Revision {
        /// `--since` or `--branch`.
        what: &'static str,
        /// The revision.
        rev: String,
        /// The cause.
        message: String,
    },
    /// The commit walk could not start.
    #[error("walking the history of {path}: {message}")]
    Walk {
        /// The repository.
        path: String,
        /// The cause.
        message: String,
    },
}

/// What part of history to scan.
#[derive(Debug, Clone, Default)]
pub struct HistoryOptions {
    /// Only commits not reachable from this revision.
    pub since: Option<String>,
    /// Only commits reachable from this branch (or any revision); all refs when None.
    pub branch: Option<String>,
}

/// Where a unique blob first appears.
struct Origin {
    commit: u32,
    path: String,
}

pub use kiln_oci::time::rfc3339;

fn resolve(
    repo: &gix::Repository,
    what: &'static str,
    rev: &str,
) -> Result<ObjectId, HistoryError> {
    repo.rev_parse_single(rev)
        .map(|id| id.detach())
        .map_err(|e| HistoryError::Revision {
            what,
            rev: rev.to_string(),
            message: e.to_string(),
        })
}

/// Scans the history of the repository at `path`.
pub fn scan_history(
    path: &Path,
    opts: &HistoryOptions,
    scanner: &Scanner,
    sink: &(dyn Fn(Event) + Sync),
) -> Result<Stats, HistoryError> {
    let shown = path.display().to_string();
    let mut repo = gix::open(path).map_err(|e| HistoryError::Open {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    repo.object_cache_size_if_unset(4 << 20);
    if repo.is_shallow().unwrap_or(false) {
        sink(Event::Notice(Notice::Warning(format!(
            "{shown} is a shallow clone: commits before the shallow boundary are not scanned"
        ))));
    }
    let mut tips: Vec<ObjectId> = Vec::new();
    if let Some(b) = &opts.branch {
        tips.push(resolve(&repo, "--branch", b)?);
    } else {
        let refs = repo.references().map_err(|e| HistoryError::Walk {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let all = refs.all().map_err(|e| HistoryError::Walk {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        for r in all {
            let mut r = match r {
                Ok(r) => r,
                Err(e) => {
                    sink(Event::Notice(Notice::Warning(format!(
                        "{shown}: unreadable ref: {e}"
                    ))));
                    continue;
                }
            };
            let name = r.name().as_bstr().to_string();
            match r.peel_to_kind(gix::object::Kind::Commit) {
                Ok(obj) => tips.push(obj.id),
                Err(e) => sink(Event::Notice(Notice::Warning(format!(
                    "{shown}: ref {name} does not lead to a commit: {e}"
                )))),
            }
        }
        if tips.is_empty()
            && let Ok(id) = repo.head_id()
        {
            tips.push(id.detach());
        }
    }
    tips.sort();
    tips.dedup();
    if tips.is_empty() {
        return Ok(Stats::default());
    }
    let mut walk = repo.rev_walk(tips);
    if let Some(s) = &opts.since {
        walk = walk.with_hidden([resolve(&repo, "--since", s)?]);
    }
    let walk = walk.all().map_err(|e| HistoryError::Walk {
        path: shown.clone(),
        message: e.to_string(),
    })?;

    // Commits, oldest first.
    let mut commits: Vec<(i64, ObjectId, ObjectId, CommitInfo)> = Vec::new();
    for info in walk {
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                sink(Event::Notice(Notice::Unreadable {
                    path: shown.clone(),
                    message: format!("commit walk: {e}"),
                }));
                continue;
            }
        };
        let commit = match info.object() {
            Ok(c) => c,
            Err(e) => {
                sink(Event::Notice(Notice::Unreadable {
                    path: format!("commit {}", info.id),
                    message: e.to_string(),
                }));
                continue;
            }
        };
        let (Ok(tree), Ok(author), Ok(time)) = (commit.tree_id(), commit.author(), commit.time())
        else {
            sink(Event::Notice(Notice::Unreadable {
                path: format!("commit {}", info.id),
                message: "malformed commit".to_string(),
            }));
            continue;
        };
        let secs = author.seconds();
        commits.push((
            time.seconds,
            info.id,
            tree.detach(),
            CommitInfo {
                id: info.id.to_string(),
                author: author.name.to_string(),
                email: author.email.to_string(),
                date: rfc3339(secs),
            },
        ));
    }
    // The walk gives a commit before its parents: reversed, parents come first, and the
    // stable sort by commit time keeps that order among commits made in the same second
    // (scripted commits, rebases), so a blob is attributed to the commit that introduced it.
    commits.reverse();
    commits.sort_by_key(|c| c.0);

    // Unique blobs with their first commit and path.
    let hash_kind = repo.object_hash();
    let mut seen_trees: HashSet<ObjectId> = HashSet::new();
    let mut blobs: HashMap<ObjectId, Origin> = HashMap::new();
    let mut buf = Vec::new();
    let mut skipped = 0u64;
    for (ci, (_, cid, tree, _)) in commits.iter().enumerate() {
        let mut stack = vec![(*tree, String::new())];
        while let Some((tid, prefix)) = stack.pop() {
            if !seen_trees.insert(tid) {
                continue;
            }
            let data = match repo.objects.try_find(&tid, &mut buf) {
                Ok(Some(d)) => d.data.to_vec(),
                Ok(None) => {
                    sink(Event::Notice(Notice::Unreadable {
                        path: format!("tree {tid} ({prefix}) in commit {cid}"),
                        message: "object missing".to_string(),
                    }));
                    continue;
                }
                Err(e) => {
                    sink(Event::Notice(Notice::Unreadable {
                        path: format!("tree {tid} ({prefix}) in commit {cid}"),
                        message: e.to_string(),
                    }));
                    continue;
                }
            };
            for entry in gix::objs::TreeRefIter::from_bytes(&data, hash_kind) {
                let Ok(entry) = entry else {
                    sink(Event::Notice(Notice::Unreadable {
                        path: format!("tree {tid} ({prefix})"),
                        message: "malformed tree".to_string(),
                    }));
                    break;
                };
                let p = if prefix.is_empty() {
                    entry.filename.to_string()
                } else {
                    format!("{prefix}/{}", entry.filename)
                };
                if entry.mode.is_tree() {
                    stack.push((entry.oid.to_owned(), p));
                } else if entry.mode.is_blob() {
                    let id = entry.oid.to_owned();
                    if blobs.contains_key(&id) {
                        continue;
                    }
                    for mut f in scanner.scan_path(&p) {
                        f.commit = Some(commits[ci].3.clone());
                        sink(Event::Finding(Box::new(f)));
                    }
                    if scanner.path_allowed(&p) {
                        continue;
                    }
                    if scanner.skip.by_path(&p).is_some() {
                        skipped += 1;
                        continue;
                    }
                    blobs.insert(
                        id,
                        Origin {
                            commit: ci as u32,
                            path: p,
                        },
                    );
                }
            }
        }
    }
    drop(seen_trees);
    let mut blobs: Vec<(ObjectId, Origin)> = blobs.into_iter().collect();
    blobs.sort_unstable_by_key(|b| b.0);

    let sync = repo.into_sync();
    let scanned = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let skipped = AtomicU64::new(skipped);
    blobs.par_iter().for_each_init(
        || {
            let mut r = sync.to_thread_local();
            r.object_cache_size(0);
            (r, Vec::new())
        },
        |(repo, buf), (id, origin)| {
            let notice = |message: String| {
                sink(Event::Notice(Notice::Unreadable {
                    path: format!("{} (blob {id})", origin.path),
                    message,
                }))
            };
            // The header first: an oversize blob is never inflated.
            match oversize_blob(repo, id, &scanner.skip) {
                Ok(None) => {}
                Ok(Some((reason, size))) => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    sink(Event::Notice(Notice::Skipped {
                        path: format!("{} (blob {id}, {size} bytes)", origin.path),
                        reason,
                    }));
                    return;
                }
                Err(e) => return notice(e),
            }
            let data = match repo.objects.try_find(id, buf) {
                Ok(Some(d)) => d.data,
                Ok(None) => return notice("object missing".to_string()),
                Err(e) => return notice(e.to_string()),
            };
            if scanner.skip.by_content(&origin.path, data).is_some() {
                skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            scanned.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            sink(Event::Progress(data.len() as u64));
            let info = &commits[origin.commit as usize].3;
            let frag = Fragment {
                path: &origin.path,
                data,
                commit: Some(&info.id),
            };
            for mut f in scanner.scan(&frag) {
                f.commit = Some(info.clone());
                sink(Event::Finding(Box::new(f)));
            }
        },
    );
    Ok(Stats {
        scanned: scanned.into_inner(),
        bytes: bytes.into_inner(),
        skipped: skipped.into_inner(),
        commits: commits.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
