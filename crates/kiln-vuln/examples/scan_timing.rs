//! Times a scan once the database is open: `scan_timing DB SBOM [RUNS]` (used by bench/vuln.sh).

use std::time::Instant;

use kiln_vuln::db::Database;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(db), Some(sbom)) = (args.get(1), args.get(2)) else {
        return Err("usage: scan_timing DB SBOM [RUNS]".into());
    };
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    let catalog = kiln_sbom::format::read(&std::fs::read(sbom)?, sbom)?;
    let db = Database::open(std::path::Path::new(db))?;
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
