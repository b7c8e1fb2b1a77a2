//! Measures policy evaluation: loads examples/policy/policy.yaml and evaluates every
//! recorded case in examples/policy/cases.json ITERATIONS times, printing the mean and the
//! p50/p99 per decision. Usage: `cargo run --release -p kiln-policy --example bench_eval [N]`.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy");
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let t = Instant::now();
    let policy = kiln_policy::Policy::load(&dir.join("policy.yaml")).expect("policy loads");
    let load = t.elapsed();
    let text = std::fs::read_to_string(dir.join("cases.json")).expect("cases");
    let cases = kiln_policy::testcase::parse_cases(&text, "cases.json").expect("cases parse");
    let mut samples = Vec::with_capacity(iterations * cases.len());
    let mut allowed = 0usize;
    let start = Instant::now();
    for _ in 0..iterations {
        for c in &cases {
            let t = Instant::now();
            let d = policy.evaluate(&c.evidence);
            samples.push(t.elapsed());
            allowed += usize::from(d.allowed);
        }
    }
    let total = start.elapsed();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "policy load+compile: {load:?}; {} decisions ({} allowed) in {total:?}: mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        allowed,
        total / samples.len() as u32,
        pct(0.50),
        pct(0.99),
        samples[samples.len() - 1]
    );
}
