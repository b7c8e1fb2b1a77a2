//! The driver: loads a target's seeds, runs mutated inputs for a time budget with each
//! input under `catch_unwind` and a watchdog for hangs, keeps inputs that reach a new
//! behaviour label, and writes (minimised) crashing inputs to the artifacts directory.

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mutate::{Rng, mutate};
use crate::targets::Target;

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time budget for mutated inputs (seeds always run).
    pub seconds: f64,
    /// Random seed (a run is deterministic for a seed, up to timing).
    pub seed: u64,
    /// The largest input generated.
    pub max_len: usize,
    /// One input running longer than this is a hang.
    pub timeout: Duration,
    /// Directories of seed inputs.
    pub corpus_dirs: Vec<PathBuf>,
    /// Where crashing and hanging inputs are written.
    pub artifacts: PathBuf,
    /// Stop after this many executions (deterministic runs, tests); none for time only.
    pub max_execs: Option<u64>,
    /// The workspace root, for seeds read in place ([`crate::seeds`]); none to skip them.
    pub workspace: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub target: String,
    pub seeds: usize,
    pub execs: u64,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
    /// Distinct behaviour labels seen.
    pub behaviours: usize,
    /// Inputs in the in-memory corpus at the end (seeds plus kept inputs).
    pub corpus: usize,
    /// Distinct crashes: (panic message, artifact file).
    pub crashes: Vec<(String, PathBuf)>,
    /// An input that ran past the time limit (the run stops there).
    pub hang: Option<PathBuf>,
}

/// An input that panicked: the panic message with its location.
#[derive(Debug, Clone)]
pub struct Crash(pub String);

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

thread_local! {
    /// Whether this thread is running a target (its panics are recorded, not printed).
    static IN_TARGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs a panic hook that records the message and location of panics inside a target
/// quietly (the driver reports crashes itself); other panics go to the previous hook.
/// Idempotent.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_TARGET.with(|f| f.get()) {
                previous(info);
                return;
            }
            let loc = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "panic".to_string()
            };
            if let Ok(mut g) = LAST_PANIC.lock() {
                *g = Some(format!("{loc}: {msg}"));
            }
        }));
    });
}

/// Runs `target` on one input: its behaviour label, or the crash.
pub fn run_one(target: &Target, data: &[u8]) -> Result<String, Crash> {
    IN_TARGET.with(|f| f.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(data)));
    IN_TARGET.with(|f| f.set(false));
    match r {
        Ok(label) => Ok(label),
        Err(_) => {
            let msg = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut g| g.take())
                .unwrap_or_else(|| "panic".into());
            Err(Crash(msg))
        }
    }
}

/// Every regular file directly inside `dirs`, sorted by path (missing dirs are skipped).
pub fn load_files(dirs: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    // `rest` starts at field 3 (state), so field n is at index n - 3. CLK_TCK is 100 on Linux.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn short_hash(data: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The crash's place (`file:line`), used to tell crashes apart.
fn crash_site(c: &Crash) -> &str {
    c.0.split(": ").next().unwrap_or(&c.0)
}

/// Shrinks a crashing input while it still crashes at the same place (bounded work).
pub fn minimise(target: &Target, data: &[u8], crash: &Crash) -> Vec<u8> {
    let site = crash_site(crash).to_string();
    let mut best = data.to_vec();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chunk = best.len() / 2;
    let mut tries = 0;
    while chunk > 0 && tries < 4000 && Instant::now() < deadline {
        let mut i = 0;
        let mut shrunk = false;
        while i + chunk <= best.len() && tries < 4000 {
            tries += 1;
            let mut cand = best.clone();
            cand.drain(i..i + chunk);
            match run_one(target, &cand) {
                Err(c) if crash_site(&c) == site => {
                    best = cand;
                    shrunk = true;
                }
                _ => i += chunk,
            }
        }
        if !shrunk {
            chunk /= 2;
        }
    }
    best
}

struct Shared {
    /// Milliseconds since `epoch` when the running input started; 0 when idle.
    started_ms: AtomicU64,
    current: Mutex<Vec<u8>>,
    epoch: Instant,
}

/// Fuzzes `target` under `opts`.
pub fn fuzz(target: &'static Target, opts: &Options) -> std::io::Result<Report> {
    quiet_panics();
    let mut seeds = load_files(&opts.corpus_dirs);
    if let Some(ws) = &opts.workspace {
        seeds.extend(crate::seeds::extra(ws, target.name).0);
    }
    let cpu0 = cpu_seconds();
    let shared = Arc::new(Shared {
        started_ms: AtomicU64::new(0),
        current: Mutex::new(Vec::new()),
        epoch: Instant::now(),
    });
    let worker_shared = shared.clone();
    let worker_opts = opts.clone();
    let n_seeds = seeds.len();
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{}", target.name))
        .stack_size(64 << 20)
        .spawn(move || work(target, &worker_opts, seeds, &worker_shared))?;
    let timeout_ms = opts.timeout.as_millis() as u64;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if worker.is_finished() {
            break;
        }
        let started = shared.started_ms.load(Ordering::SeqCst);
        let now = shared.epoch.elapsed().as_millis() as u64;
        if started != 0 && now.saturating_sub(started) > timeout_ms {
            let data = shared.current.lock().map(|g| g.clone()).unwrap_or_default();
            std::fs::create_dir_all(&opts.artifacts)?;
            let path = opts
                .artifacts
                .join(format!("timeout-{}", short_hash(&data)));
            std::fs::write(&path, &data)?;
            return Ok(Report {
                target: target.name.to_string(),
                seeds: n_seeds,
                cpu_seconds: cpu_seconds() - cpu0,
                wall_seconds: shared.epoch.elapsed().as_secs_f64(),
                hang: Some(path),
                ..Report::default()
            });
        }
    }
    let mut report = match worker.join() {
        Ok(r) => r?,
        Err(_) => return Err(std::io::Error::other("the fuzz worker died")),
    };
    report.cpu_seconds = cpu_seconds() - cpu0;
    report.wall_seconds = shared.epoch.elapsed().as_secs_f64();
    report.seeds = n_seeds;
    Ok(report)
}

fn work(
    target: &'static Target,
    opts: &Options,
    seeds: Vec<(PathBuf, Vec<u8>)>,
    shared: &Shared,
) -> std::io::Result<Report> {
    let mut report = Report {
        target: target.name.to_string(),
        ..Report::default()
    };
    let mut behaviours: HashSet<String> = HashSet::new();
    let mut sites: HashSet<String> = HashSet::new();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let mut rng = Rng::new(opts.seed);
    let deadline = Instant::now() + Duration::from_secs_f64(opts.seconds);
    let mut exec = |data: &[u8], report: &mut Report| -> std::io::Result<Option<String>> {
        if let Ok(mut g) = shared.current.lock() {
            g.clear();
            g.extend_from_slice(data);
        }
        shared.started_ms.store(
            shared.epoch.elapsed().as_millis() as u64 + 1,
            Ordering::SeqCst,
        );
        let r = run_one(target, data);
        shared.started_ms.store(0, Ordering::SeqCst);
        report.execs += 1;
        match r {
            Ok(label) => Ok(Some(label)),
            Err(crash) => {
                if sites.insert(crash_site(&crash).to_string()) && report.crashes.len() < 32 {
                    let small = minimise(target, data, &crash);
                    std::fs::create_dir_all(&opts.artifacts)?;
                    let path = opts.artifacts.join(format!("crash-{}", short_hash(&small)));
                    std::fs::write(&path, &small)?;
                    report.crashes.push((crash.0, path));
                }
                Ok(None)
            }
        }
    };
    for (_, data) in &seeds {
        if let Some(label) = exec(data, &mut report)? {
            behaviours.insert(label);
        }
        corpus.push(data.clone());
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut input = Vec::with_capacity(opts.max_len);
    let budget = opts.max_execs.unwrap_or(u64::MAX);
    while Instant::now() < deadline && report.execs < budget {
        for _ in 0..64 {
            input.clear();
            input.extend_from_slice(&corpus[rng.below(corpus.len())]);
            mutate(&mut rng, &mut input, target.dict, &corpus, opts.max_len);
            if let Some(label) = exec(&input, &mut report)?
                && behaviours.insert(label)
                && corpus.len() < 4096
            {
                corpus.push(input.clone());
            }
        }
    }
    report.behaviours = behaviours.len();
    report.corpus = corpus.len();
    Ok(report)
}

/// The seed, regression and artifact directories of a target under `root` (`fuzz/`).
pub fn dirs(root: &Path, target: &str) -> (Vec<PathBuf>, PathBuf) {
    (
        vec![
            root.join("corpus").join(target),
            root.join("regressions").join(target),
        ],
        root.join("artifacts").join(target),
    )
}
