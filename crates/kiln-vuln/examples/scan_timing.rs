//! Times a scan once the database is open: `scan_timing DB SBOM [RUNS] [IMPORT]` (used by
//! bench/vuln.sh). With IMPORT (a zip, JSON file or directory), it is imported into DB first
//! and the import time printed.

use std::time::Instant;

use kiln_vuln::db::Database;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(db), Some(sbom)) = (args.get(1), args.get(2)) else {
        return Err("usage: scan_timing DB SBOM [RUNS] [IMPORT]".into());
    };
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    let catalog = kiln_sbom::format::read(&std::fs::read(sbom)?, sbom)?;
    if let Some(input) = args.get(4) {
        let t = Instant::now();
        let mut loaded = kiln_vuln::import::Loaded::default();
        kiln_vuln::import::read_path(std::path::Path::new(input), &mut loaded);
        let report = Database::open_or_create(std::path::Path::new(db))?.import(loaded.records)?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "import: {} advisories in {s:.2} s = {:.0} advisories/s",
            report.imported,
            report.imported as f64 / s
        );
    }
    let t = Instant::now();
    let db = Database::open(std::path::Path::new(db))?;
    println!("open: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    for run in 1..=runs {
        let t = Instant::now();
        let reader = db.reader()?;
        let result = kiln_vuln::scan::scan(&reader, &catalog)?;
        println!(
            "run {run}: {} packages, {} findings in {:.1} ms",
            catalog.packages.len(),
            result.findings.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
