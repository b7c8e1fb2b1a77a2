//! Oversize blobs in git history and in the index are skipped from their object header,
//! without being inflated: a blob whose loose object claims 2 GiB but holds a truncated
//! stream is reported as too large (inflating it would fail instead), a real 128 MiB blob
//! is skipped under a 1 MiB limit, and the secret in a small blob of the same commits is
//! still found.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use kiln_secrets::source::history::{HistoryOptions, scan_history};
use kiln_secrets::source::staged::scan_staged;
use kiln_secrets::{Config, Event, Notice, RuleSet, Scanner, SkipPolicy, SkipReason};

const KEY_ID: &str = "AKIAZ7QX3MPLW4RT2NVB";

fn git(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut c = Command::new("git");
    c.current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("git runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to git");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("git finishes");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// Writes a loose object `id` whose header says "blob 2147483648" followed by a zlib stream
/// cut short after a few bytes of content: only a header read can make sense of it.
fn write_fake_huge_blob(repo: &Path) -> String {
    use std::io::Write;
    let mut body = b"blob 2147483648\0".to_vec();
    body.extend(std::iter::repeat_n(b'x', 64 << 10));
    let mut z = zlib_stored(&body);
    z.truncate(64); // header intact, the rest of the stream missing
    let id = "00000000000000000000000000000000000000f1";
    let dir = repo.join(".git/objects").join(&id[..2]);
    std::fs::create_dir_all(&dir).expect("objects dir");
    let mut f = std::fs::File::create(dir.join(&id[2..])).expect("loose object");
    f.write_all(&z).expect("write loose object");
    id.to_string()
}

/// Wraps `data` in a zlib stream of stored (uncompressed) blocks, so the test needs no
/// compression crate.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    // Header, blocks of <= 65535 bytes, adler32.
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(*c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

struct Collected {
    findings: Vec<String>,
    too_large: Vec<String>,
    unreadable: Vec<String>,
}

fn collector() -> (Mutex<Collected>, impl Fn(&Mutex<Collected>, Event)) {
    let c = Mutex::new(Collected {
        findings: Vec::new(),
        too_large: Vec::new(),
        unreadable: Vec::new(),
    });
    let f = |c: &Mutex<Collected>, e: Event| {
        let mut c = c.lock().expect("lock");
        match e {
            Event::Finding(f) => c.findings.push(f.secret.expose().to_string()),
            Event::Notice(Notice::Skipped {
                path,
                reason: SkipReason::TooLarge,
            }) => c.too_large.push(path),
            Event::Notice(Notice::Unreadable { path, message }) => {
                c.unreadable.push(format!("{path}: {message}"))
            }
            _ => {}
        }
    };
    (c, f)
}

fn scanner() -> Scanner {
    Scanner::new(
        RuleSet::compile(&Config::builtin()),
        SkipPolicy {
            max_size: 1 << 20,
            ..SkipPolicy::default()
        },
    )
}

#[test]
fn oversize_history_blobs_are_skipped_from_their_header() {
    if kiln_testutil::program("git").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path();
    git(repo, &["init", "-q", "-b", "main"], None);
    let fake = write_fake_huge_blob(repo);
    // 128 MiB of one repeated line: cheap to store (compresses ~1000x), costly to inflate.
    let big: Vec<u8> = b"just some text, no secret here\n"
        .iter()
        .copied()
        .cycle()
        .take(128 << 20)
        .collect();
    let big_id = git(repo, &["hash-object", "-w", "--stdin"], Some(&big));
    drop(big);
    let small = format!("aws_access_key_id = {KEY_ID}\n");
    let small_id = git(
        repo,
        &["hash-object", "-w", "--stdin"],
        Some(small.as_bytes()),
    );
    let tree = git(
        repo,
        &["mktree"],
        Some(
            format!(
                "100644 blob {fake}\thuge.log\n100644 blob {big_id}\tbig.txt\n100644 blob {small_id}\tconfig.ini\n"
            )
            .as_bytes(),
        ),
    );
    let commit = git(repo, &["commit-tree", &tree, "-m", "big"], None);
    git(repo, &["update-ref", "refs/heads/main", &commit], None);

    let s = scanner();
    let (c, f) = collector();
    let sink = |e: Event| f(&c, e);
    let stats = scan_history(repo, &HistoryOptions::default(), &s, &sink).expect("history scan");
    let c = c.into_inner().expect("lock");
    assert_eq!(
        c.findings,
        vec![KEY_ID.to_string()],
        "the small blob is scanned"
    );
    assert!(
        c.unreadable.is_empty(),
        "no blob was inflated to find its size: {:?}",
        c.unreadable
    );
    let mut large = c.too_large.clone();
    large.sort();
    assert_eq!(large.len(), 2, "{large:?}");
    assert!(large[0].starts_with("big.txt") && large[0].contains("134217728 bytes"));
    assert!(large[1].starts_with("huge.log") && large[1].contains("2147483648 bytes"));
    assert_eq!(stats.skipped, 2);
    assert_eq!(stats.scanned, 1);

    // The same blobs staged: the index scan reads headers first too.
    git(repo, &["read-tree", "main"], None);
    let (c, f) = collector();
    let sink = |e: Event| f(&c, e);
    // With HEAD unborn, every staged line is new.
    git(repo, &["update-ref", "-d", "refs/heads/main"], None);
    let stats = scan_staged(repo, &s, &sink).expect("staged scan");
    let c = c.into_inner().expect("lock");
    assert!(c.unreadable.is_empty(), "{:?}", c.unreadable);
    assert_eq!(c.too_large.len(), 2, "{:?}", c.too_large);
    assert_eq!(c.findings, vec![KEY_ID.to_string()]);
    assert_eq!(stats.skipped, 2);
}
