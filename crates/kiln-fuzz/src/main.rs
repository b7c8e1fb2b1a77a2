//! `kiln-fuzz`: runs Kiln's fuzz targets on the stable toolchain.
//!
//! ```text
//! kiln-fuzz list
//! kiln-fuzz run TARGET [--seconds N] [--seed S] [--max-len BYTES] [--timeout-ms MS] [--root DIR] [--workspace DIR]
//! kiln-fuzz replay TARGET FILE...
//! ```
//! `run` prints one `RESULT` line (execs, CPU seconds, behaviours, crashes) and exits 1 on
//! a crash or hang, 2 on a usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kiln_fuzz::driver::{self, Options};

fn usage() -> ExitCode {
    eprintln!(
        "usage: kiln-fuzz list | run TARGET [--seconds N] [--seed S] [--max-len BYTES] \
         [--timeout-ms MS] [--root DIR] [--workspace DIR] | replay TARGET FILE..."
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in kiln_fuzz::TARGETS {
                println!("{}", t.name);
            }
            ExitCode::SUCCESS
        }
        Some("run") => run(&args[1..]),
        Some("replay") => replay(&args[1..]),
        _ => usage(),
    }
}

fn run(args: &[String]) -> ExitCode {
    let Some(name) = args.first() else {
        return usage();
    };
    let Some(target) = kiln_fuzz::find(name) else {
        eprintln!("kiln-fuzz: no target {name:?} (see `kiln-fuzz list`)");
        return ExitCode::from(2);
    };
    let mut seconds = 10.0;
    let mut seed = 1u64;
    let mut max_len = 64 * 1024;
    let mut timeout_ms = 10_000u64;
    let mut root = PathBuf::from("fuzz");
    let mut workspace = PathBuf::from(".");
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else {
            return usage();
        };
        let ok = match flag.as_str() {
            "--seconds" => value.parse().map(|v| seconds = v).is_ok(),
            "--seed" => value.parse().map(|v| seed = v).is_ok(),
            "--max-len" => value.parse().map(|v| max_len = v).is_ok(),
            "--timeout-ms" => value.parse().map(|v| timeout_ms = v).is_ok(),
            "--root" => {
                root = PathBuf::from(value);
                true
            }
            "--workspace" => {
                workspace = PathBuf::from(value);
                true
            }
            _ => false,
        };
        if !ok {
            eprintln!("kiln-fuzz: bad option {flag} {value}");
            return usage();
        }
    }
    let (corpus_dirs, artifacts) = driver::dirs(&root, target.name);
    let opts = Options {
        seconds,
        seed,
        max_len,
        timeout: Duration::from_millis(timeout_ms),
        corpus_dirs,
        artifacts,
        max_execs: None,
        workspace: Some(workspace),
    };
    let report = match driver::fuzz(target, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kiln-fuzz: {}: {e}", target.name);
            return ExitCode::from(2);
        }
    };
    for (msg, path) in &report.crashes {
        eprintln!("CRASH {}: {} ({})", target.name, msg, path.display());
    }
    if let Some(p) = &report.hang {
        eprintln!(
            "HANG {}: input ran over {timeout_ms} ms ({})",
            target.name,
            p.display()
        );
    }
    println!(
        "RESULT target={} seeds={} execs={} cpu={:.1} wall={:.1} behaviours={} corpus={} crashes={} hang={}",
        report.target,
        report.seeds,
        report.execs,
        report.cpu_seconds,
        report.wall_seconds,
        report.behaviours,
        report.corpus,
        report.crashes.len(),
        report.hang.is_some() as u8,
    );
    if let Some(code) = (!report.crashes.is_empty() || report.hang.is_some()).then_some(1u8) {
        // A hung worker thread cannot be stopped; leave at once.
        std::process::exit(code.into());
    }
    ExitCode::SUCCESS
}

fn replay(args: &[String]) -> ExitCode {
    let Some(target) = args.first().and_then(|n| kiln_fuzz::find(n)) else {
        return usage();
    };
    driver::quiet_panics();
    let mut failed = false;
    for f in &args[1..] {
        let data = match std::fs::read(f) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{f}: {e}");
                failed = true;
                continue;
            }
        };
        match driver::run_one(target, &data) {
            Ok(label) => println!("{f}: {label}"),
            Err(c) => {
                println!("{f}: CRASH {}", c.0);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
