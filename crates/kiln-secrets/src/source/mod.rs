//! Where content comes from: a directory, the staged changes, git history, image layers.
//! Every source streams [`Event`]s to a callback as it goes: findings and notices about
//! what it skipped or could not read (the scan goes on where it can).

pub mod dir;
pub mod history;
pub mod image;
pub mod staged;

use crate::finding::Finding;
use crate::skip::{SkipPolicy, SkipReason};

/// Something a source wants the user to know that is not a finding.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A file was skipped.
    Skipped {
        /// The path.
        path: String,
        /// Why.
        reason: SkipReason,
    },
    /// A file or object could not be read; the scan went on.
    Unreadable {
        /// The path or object.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A whole-source remark (a shallow clone, a rule that did not compile...).
    Warning(String),
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::Skipped { path, reason } => write!(f, "skipped {path}: {reason}"),
            Notice::Unreadable { path, message } => write!(f, "cannot read {path}: {message}"),
            Notice::Warning(m) => f.write_str(m),
        }
    }
}

/// What a source reports as it scans.
#[derive(Debug, Clone)]
pub enum Event {
    /// A finding.
    Finding(Box<Finding>),
    /// A notice.
    Notice(Notice),
    /// Bytes of content scanned (for progress).
    Progress(u64),
}

/// Counters a source returns at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Files or blobs scanned.
    pub scanned: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files or blobs skipped.
    pub skipped: u64,
    /// Commits walked (history).
    pub commits: u64,
}

/// Reads only the object header of blob `id` (its kind and inflated size, from the loose
/// object's or pack entry's header) and says whether the blob is over the size limit, so a
/// 2 GB blob is skipped without being inflated. `Ok(None)`: the blob is small enough to read.
pub(crate) fn oversize_blob(
    repo: &gix::Repository,
    id: &gix::ObjectId,
    skip: &SkipPolicy,
) -> Result<Option<(SkipReason, u64)>, String> {
    match repo.try_find_header(*id) {
        Ok(Some(h)) => Ok(skip.by_size(h.size()).map(|r| (r, h.size()))),
        Ok(None) => Err("object missing".to_string()),
        Err(e) => Err(e.to_string()),
    }
}
