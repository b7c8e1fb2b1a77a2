//! History held in a pack (deltas included) and in loose objects: every blob is read and
//! scanned once, wherever it is stored, each finding named with the commit that
//! introduced it. A packed blob over the size limit is skipped with its size (read from the
//! pack entry's header), and the scan still finds everything else in that pack.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use kiln_secrets::source::history::{HistoryOptions, scan_history};
use kiln_secrets::{Config, Event, Notice, RuleSet, Scanner, SkipPolicy, SkipReason};

const KEY_A: &str = "AKIAZ7QX3MPLW4RT2NVB";
const KEY_B: &str = "AKIAQ4NB7XK2MWPL6RTS";
const KEY_C: &str = "AKIAM3RT5WQX5NZPL2KV";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

fn commit(dir: &Path, message: &str, date: &str) -> String {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "gc.auto=0",
            "commit",
            "-q",
            "-m",
            message,
            "--date",
            date,
        ],
    );
    git(dir, &["rev-parse", "HEAD"])
}

/// A long text whose versions git stores as deltas of one another.
fn notes(version: usize) -> String {
    (0..2000)
        .map(|i| {
            format!(
                "line {i} of the notes, version {}\n",
                if i == 1500 { version } else { 0 }
            )
        })
        .collect()
}

#[derive(Default)]
struct Seen {
    /// (secret, commit) pairs.
    findings: BTreeSet<(String, String)>,
    too_large: Vec<String>,
    unreadable: Vec<String>,
    warnings: Vec<String>,
}

fn scan(repo: &Path, max_size: u64) -> (Seen, kiln_secrets::source::Stats) {
    let scanner = Scanner::new(
        RuleSet::compile(&Config::builtin()),
        SkipPolicy {
            max_size,
            ..SkipPolicy::default()
        },
    );
    let seen = Mutex::new(Seen::default());
    let sink = |e: Event| {
        let mut s = seen.lock().expect("lock");
        match e {
            Event::Finding(f) => {
                let commit = f.commit.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                s.findings.insert((f.secret.expose().to_string(), commit));
            }
            Event::Notice(Notice::Skipped {
                path,
                reason: SkipReason::TooLarge,
            }) => s.too_large.push(path),
            Event::Notice(Notice::Unreadable { path, message }) => {
                s.unreadable.push(format!("{path}: {message}"))
            }
            Event::Notice(Notice::Warning(w)) => s.warnings.push(w),
            _ => {}
        }
    };
    let stats = scan_history(repo, &HistoryOptions::default(), &scanner, &sink).expect("scan");
    (seen.into_inner().expect("lock"), stats)
}

#[test]
fn packed_and_loose_history_give_the_same_findings() {
    if kiln_testutil::program("git").is_none() {
        eprintln!("skipped: git is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path();
    git(repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("notes.txt"), notes(1)).expect("write");
    std::fs::write(
        repo.join("config.ini"),
        format!("aws_access_key_id = {KEY_A}\n"),
    )
    .expect("write");
    let c1 = commit(repo, "one", "2024-01-01T00:00:00Z");
    std::fs::remove_file(repo.join("config.ini")).expect("rm");
    std::fs::write(repo.join("app.env"), format!("AWS_ACCESS_KEY_ID={KEY_B}\n")).expect("write");
    std::fs::write(repo.join("notes.txt"), notes(2)).expect("write");
    let c2 = commit(repo, "two", "2024-01-02T00:00:00Z");
    // 3 MiB of text (over the 1 MiB limit of the second scan).
    let big: String = "nothing secret on this line ok.\n".repeat(3 << 15);
    std::fs::write(repo.join("big.txt"), &big).expect("write");
    std::fs::write(repo.join("notes.txt"), notes(3)).expect("write");
    let c3 = commit(repo, "three", "2024-01-03T00:00:00Z");
    git(repo, &["repack", "-adq"]);
    // One more commit after the repack: its objects are loose.
    std::fs::write(
        repo.join("late.env"),
        format!("aws_access_key_id={KEY_C}\n"),
    )
    .expect("write");
    let c4 = commit(repo, "four", "2024-01-04T00:00:00Z");

    let loose = git(repo, &["count-objects", "-v"]);
    assert!(loose.contains("packs: 1"), "{loose}");
    assert!(!loose.contains("count: 0\n"), "{loose}");
    // notes.txt v1..v3, config.ini, app.env, big.txt packed; late.env loose.
    let want: BTreeSet<(String, String)> = [(KEY_A, &c1), (KEY_B, &c2), (KEY_C, &c4)]
        .iter()
        .map(|(k, c)| (k.to_string(), c.to_string()))
        .collect();

    let (seen, stats) = scan(repo, 25 << 20);
    assert_eq!(seen.findings, want);
    assert!(seen.unreadable.is_empty(), "{:?}", seen.unreadable);
    assert!(seen.warnings.is_empty(), "{:?}", seen.warnings);
    assert_eq!(stats.commits, 4);
    assert_eq!(stats.scanned, 7, "{stats:?}");

    // Under a 1 MiB limit the packed big.txt is skipped with its size; the rest of the
    // pack is still scanned.
    let (seen, stats) = scan(repo, 1 << 20);
    assert_eq!(seen.findings, want);
    assert!(seen.unreadable.is_empty(), "{:?}", seen.unreadable);
    assert_eq!(seen.too_large.len(), 1, "{:?}", seen.too_large);
    assert!(
        seen.too_large[0].starts_with("big.txt") && seen.too_large[0].contains("3145728 bytes"),
        "{:?}",
        seen.too_large
    );
    assert_eq!(stats.scanned, 6, "{stats:?}");
    assert_eq!(stats.skipped, 1, "{stats:?}");
    let _ = c3;
}
