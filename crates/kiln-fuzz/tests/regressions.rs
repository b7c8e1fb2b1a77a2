//! Runs every fuzz target over its seeds (`fuzz/corpus/`, the fixtures and examples it
//! reads in place, and `../shared/vectors` when present) and every saved crash input in
//! `fuzz/regressions/`: none may panic. Each target must have project-owned seeds.

use std::path::{Path, PathBuf};

use kiln_fuzz::driver::{self, load_files};
use kiln_fuzz::{TARGETS, seeds};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_target_survives_its_corpus_and_regressions() {
    driver::quiet_panics();
    let ws = workspace();
    let fuzz = ws.join("fuzz");
    let mut failures = Vec::new();
    let mut ran = 0usize;
    for t in TARGETS {
        let (dirs, _) = driver::dirs(&fuzz, t.name);
        let own = load_files(&dirs);
        let (extra, missing) = seeds::extra(&ws, t.name);
        assert!(
            missing.is_empty(),
            "{}: seed paths missing: {missing:?}",
            t.name
        );
        let project_seeds = own.len()
            + extra
                .iter()
                .filter(|(p, _)| !p.starts_with(ws.join("../shared")))
                .count();
        if project_seeds == 0 {
            failures.push(format!(
                "{}: no seeds in fuzz/corpus/{0} nor project fixtures",
                t.name
            ));
        }
        for (path, data) in own.iter().chain(extra.iter()) {
            ran += 1;
            if let Err(c) = driver::run_one(t, data) {
                failures.push(format!("{} {}: {}", t.name, path.display(), c.0));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} inputs crashed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_short_fuzz_run_of_each_target_is_clean() {
    // 256 mutated inputs per target from a fixed seed (deterministic): fast, and catches
    // regressions that the saved inputs alone would miss.
    for t in TARGETS {
        let (dirs, _) = driver::dirs(&workspace().join("fuzz"), t.name);
        let tmp =
            std::env::temp_dir().join(format!("kiln-fuzz-test-{}-{}", std::process::id(), t.name));
        let opts = driver::Options {
            seconds: 600.0,
            seed: 42,
            max_len: 16 * 1024,
            timeout: std::time::Duration::from_secs(30),
            corpus_dirs: dirs,
            artifacts: tmp.clone(),
            max_execs: Some(256),
            workspace: Some(workspace()),
        };
        let r = driver::fuzz(t, &opts).expect("fuzz run");
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(r.execs > 0, "{}: nothing ran", t.name);
        assert!(r.hang.is_none(), "{}: hang", t.name);
        assert!(r.crashes.is_empty(), "{}: {:?}", t.name, r.crashes);
    }
}
