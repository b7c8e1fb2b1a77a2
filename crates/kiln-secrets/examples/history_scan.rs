//! Scans a repository's history with the built-in rules and prints a count per rule and
//! the totals: a quick way to profile the engine without the CLI.
//! `cargo run --release -p kiln-secrets --example history_scan -- REPO`

use std::collections::BTreeMap;
use std::sync::Mutex;

use kiln_secrets::source::history::{HistoryOptions, scan_history};
use kiln_secrets::{Config, Event, RuleSet, Scanner, SkipPolicy};

fn main() {
    let Some(repo) = std::env::args().nth(1) else {
        eprintln!("usage: history_scan REPO");
        std::process::exit(2);
    };
    let scanner = Scanner::new(RuleSet::compile(&Config::builtin()), SkipPolicy::default());
    let counts = Mutex::new(BTreeMap::<String, u64>::new());
    let t = std::time::Instant::now();
    let sink = |e: Event| {
        if let Event::Finding(f) = e {
            *counts
                .lock()
                .expect("lock")
                .entry(f.rule_id.clone())
                .or_default() += 1;
        }
    };
    match scan_history(
        std::path::Path::new(&repo),
        &HistoryOptions::default(),
        &scanner,
        &sink,
    ) {
        Ok(stats) => {
            for (rule, n) in counts.lock().expect("lock").iter() {
                println!("{n:8} {rule}");
            }
            println!("{stats:?} in {:.2?}", t.elapsed());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
