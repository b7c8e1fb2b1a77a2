//! The `secrets` gate: the project's working tree (honouring `.gitignore`, never `.kiln/`)
//! and, per `secrets.history`, the commits since the last successful run or the whole
//! history, with kiln-secrets. Any finding not accepted by the baseline stops the run;
//! secrets are shown masked.

use std::path::Path;
use std::sync::Mutex;

use kiln_secrets::baseline::Baseline;
use kiln_secrets::config::AllowlistConfig;
use kiln_secrets::source::{Event, Notice, dir, history};
use kiln_secrets::{Config, Finding, RuleSet, Scanner, SkipPolicy};
use serde_json::json;

use super::{Ctx, Done, StageError, StageLog};
use crate::config::HistoryMode;

/// Where the commit of the last successful run is kept (for `since-last-run`).
pub const LAST_RUN_FILE: &str = ".kiln/last-run.json";

/// The scanner for the project: its rule file (or the built-in rules), with `.kiln/`
/// (keys, layout, evidence) never scanned.
fn scanner(ctx: &Ctx, log: &StageLog<'_>) -> Result<Scanner, StageError> {
    let file = match &ctx.config.secrets.config {
        Some(p) => Some(ctx.project_path(p)),
        None => Config::discover(&ctx.dir),
    };
    let mut cfg = match &file {
        Some(f) => {
            log.line(&format!("rules: {}", f.display()));
            Config::load(f)?
        }
        None => Config::builtin(),
    };
    cfg.allowlists.push(AllowlistConfig {
        description: Some("Kiln's own state: keys, image layout, evidence".into()),
        paths: vec![r"^\.kiln/".into()],
        ..AllowlistConfig::default()
    });
    let rules = RuleSet::compile(&cfg);
    for e in &rules.errors {
        log.line(&format!("warning: {e}; the other rules still run"));
    }
    Ok(Scanner::new(
        rules,
        SkipPolicy {
            max_size: 25 << 20,
            binary: true,
            vendored: true,
            generated: true,
        },
    ))
}

/// The commit of the last successful run, if recorded.
fn last_run_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read(dir.join(LAST_RUN_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let c = v.get("commit")?.as_str()?;
    (c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit())).then(|| c.to_string())
}

/// Records the commit of a successful run (best effort: a failure only means the next
/// run scans more history).
pub fn remember_run(ctx: &Ctx) {
    let Some(commit) = ctx.git.as_ref().and_then(|g| g.commit.clone()) else {
        return;
    };
    let doc = json!({ "run_id": ctx.run_id, "commit": commit });
    let path = ctx.dir.join(LAST_RUN_FILE);
    if let Ok(bytes) = serde_json::to_vec_pretty(&doc) {
        let _ = kiln_oci::layout::write_atomically(&path, &bytes);
    }
}

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let section = ctx.config.secrets.clone();
    if !section.enabled {
        return Ok(Done::skipped("disabled (secrets.enabled: false)"));
    }
    let sc = scanner(ctx, log)?;
    let findings = Mutex::new(Vec::<Finding>::new());
    let sink = |e: Event| match e {
        Event::Finding(f) => findings.lock().unwrap_or_else(|p| p.into_inner()).push(*f),
        Event::Notice(Notice::Skipped { .. }) | Event::Progress(_) => {}
        Event::Notice(n) => log.line(&format!("warning: {n}")),
    };

    let tree = tokio::task::block_in_place(|| dir::scan_dir(&ctx.dir, &sc, &sink))?;
    let mut what = format!("{} file(s)", tree.scanned);

    let since = match section.history {
        HistoryMode::None => None,
        HistoryMode::Full => Some(None),
        HistoryMode::SinceLastRun => match last_run_commit(&ctx.dir) {
            Some(c) => Some(Some(c)),
            None => {
                log.line("no earlier run recorded: the working tree is scanned, not history");
                None
            }
        },
    };
    match (&ctx.git, since) {
        (Some(git), Some(since)) if git.commit.is_some() => {
            let opts = history::HistoryOptions {
                since: since.clone(),
                branch: None,
            };
            let before = findings.lock().unwrap_or_else(|p| p.into_inner()).len();
            let stats = tokio::task::block_in_place(|| {
                history::scan_history(&git.root, &opts, &sc, &sink)
            })?;
            // Only the project's own paths count when it is a subdirectory of the repository.
            if !git.prefix.is_empty() {
                let prefix = format!("{}/", git.prefix);
                let mut all = findings.lock().unwrap_or_else(|p| p.into_inner());
                let mut i = before;
                while i < all.len() {
                    if let Some(rest) = all[i].path.strip_prefix(&prefix) {
                        all[i].path = rest.to_string();
                        i += 1;
                    } else {
                        all.remove(i);
                    }
                }
            }
            what.push_str(&format!(
                ", {} commit(s){}",
                stats.commits,
                since
                    .as_deref()
                    .map(|c| format!(" since {}", &c[..12.min(c.len())]))
                    .unwrap_or_default()
            ));
        }
        (None, Some(_)) => log.line("not a git work tree: history is not scanned"),
        _ => {}
    }

    let mut findings = findings.into_inner().unwrap_or_else(|p| p.into_inner());
    findings.sort_by(|a, b| (&a.path, a.line, &a.rule_id).cmp(&(&b.path, b.line, &b.rule_id)));
    findings.dedup_by(|a, b| a.fingerprint() == b.fingerprint());
    let total = findings.len();
    if let Some(b) = &section.baseline {
        let b = Baseline::load(&ctx.project_path(b))?;
        findings.retain(|f| !b.contains(f));
    }
    let accepted = total - findings.len();
    for f in &findings {
        let origin = f
            .commit
            .as_ref()
            .map(|c| format!(" (commit {})", &c.id[..12.min(c.id.len())]))
            .unwrap_or_default();
        log.line(&format!(
            "{} {}:{}:{} {}{origin}",
            f.rule_id,
            f.path,
            f.line,
            f.column,
            f.secret.masked()
        ));
    }
    let outputs = json!({
        "findings": findings.iter().map(|f| json!({
            "rule": f.rule_id,
            "path": f.path,
            "line": f.line,
            "fingerprint": f.fingerprint(),
            "commit": f.commit.as_ref().map(|c| c.id.clone()),
        })).collect::<Vec<_>>(),
        "accepted_by_baseline": accepted,
    });
    if findings.is_empty() {
        let extra = if accepted > 0 {
            format!(", {accepted} accepted by the baseline")
        } else {
            String::new()
        };
        return Ok(Done::passed(format!("no secrets in {what}{extra}")).with(outputs));
    }
    let first = &findings[0];
    Ok(Done::failed(format!(
        "{} secret(s) found in {what}, first: {} at {}:{} ({})",
        findings.len(),
        first.rule_id,
        first.path,
        first.line,
        first.secret.masked()
    ))
    .with(outputs))
}
