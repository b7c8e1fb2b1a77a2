//! The runs pages: `/` lists the newest runs (status, repository, commit, image digest,
//! the stage that stopped a failed run and why), `/runs/{id}` shows one run's inputs, its
//! stages with their gate results, durations, summaries, logs and outputs, and its
//! evidence objects.

use std::fmt::Write;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::html::{self, Esc, Nav, PageError, PageResult, badge, image_link, run_link};
use super::queries;
use crate::ledger::{Ledger, RunRecord};

/// How many runs `/` shows unless `?limit=` says otherwise, and the most it shows.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The query of `/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many runs to show (1 to 1000).
    limit: Option<String>,
}

/// `GET /`.
pub async fn list(
    State(ledger): State<Ledger>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                PageError::BadRequest(format!(
                    "limit {l:?} is not a number of runs from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let runs = queries::run_summaries(&ledger, limit).await?;
    let mut body = String::from("<h1>Runs</h1>");
    if runs.is_empty() {
        body.push_str(
            "<p class=\"empty\">No runs yet: <code>kiln run</code> records one here.</p>",
        );
        return Ok(html::ok("Runs", Nav::Runs, &body));
    }
    let _ = write!(
        body,
        "<p>The newest {} run(s).</p><table id=\"runs\"><thead><tr><th>Run</th><th>Status</th>\
         <th>Started</th><th>Duration</th><th>Repository</th><th>Commit</th><th>Image</th>\
         <th>Stopped at</th></tr></thead><tbody>",
        runs.len()
    );
    for r in &runs {
        let duration = r
            .finished_at
            .map(|f| html::duration(f - r.started_at))
            .unwrap_or_default();
        let image = match (&r.digest, &r.image) {
            (Some(d), Some(i)) => format!(
                "{}<br><span class=\"mono\">{}</span>",
                image_link(d),
                Esc(i)
            ),
            (Some(d), None) => image_link(d),
            (None, Some(i)) => format!("<span class=\"mono\">{}</span>", Esc(i)),
            (None, None) => String::new(),
        };
        let stopped = match (&r.failed_stage, &r.reason) {
            (Some(s), Some(why)) => format!("<b>{}</b>: {}", Esc(s), Esc(why)),
            (Some(s), None) => format!("<b>{}</b>", Esc(s)),
            (None, Some(why)) => Esc(why).to_string(),
            (None, None) => String::new(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"mono\" title=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            run_link(&r.id),
            badge(&r.status),
            html::time(r.started_at),
            duration,
            Esc(&r.repository),
            Esc(r.commit.as_deref().unwrap_or("")),
            Esc(r.commit.as_deref().map(short_commit).unwrap_or("")),
            image,
            stopped,
        );
    }
    body.push_str("</tbody></table>");
    Ok(html::ok("Runs", Nav::Runs, &body))
}

fn short_commit(c: &str) -> &str {
    c.get(..12).unwrap_or(c)
}

/// `GET /runs/{id}`: a full run id, or a unique prefix of one.
pub async fn show(
    State(ledger): State<Ledger>,
    id: Result<Path<String>, PathRejection>,
) -> PageResult {
    let Path(id) = id.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 4 || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(PageError::BadRequest(format!(
            "{:?} is not a run id (a UUID, or 4 or more of its first hex digits)",
            id.chars().take(80).collect::<String>()
        )));
    }
    let run = match ledger.run(&id).await? {
        Some(run) => run,
        None => {
            let resolved = ledger
                .resolve(&id)
                .await
                .map_err(|e| PageError::BadRequest(e.to_string()))?;
            match resolved {
                Some(full) => ledger.run(full.as_str()).await?,
                None => None,
            }
            .ok_or_else(|| PageError::NotFound(format!("No run {id} in the ledger.")))?
        }
    };
    let title = format!("Run {}", run.id);
    Ok(html::ok(&title, Nav::Runs, &run_body(&run)))
}

/// The body of a run's page.
fn run_body(run: &RunRecord) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Run <span class=\"mono\">{}</span> {}</h1><dl id=\"run\">",
        Esc(run.id.as_str()),
        badge(run.status.as_str())
    );
    let mut row = |k: &str, v: String| {
        let _ = write!(b, "<dt>{}</dt><dd>{v}</dd>", Esc(k));
    };
    row("Repository", Esc(&run.input.repository).to_string());
    row(
        "Commit",
        format!(
            "<span class=\"mono\">{}</span>{}",
            Esc(run
                .input
                .commit
                .as_deref()
                .unwrap_or("(not a git work tree)")),
            if run.input.tree_dirty {
                " (with uncommitted changes)"
            } else {
                ""
            }
        ),
    );
    row(
        "kiln.yaml",
        format!(
            "<span class=\"mono\">{}</span>",
            Esc(&run.input.config_digest)
        ),
    );
    if let Some(base) = &run.input.base_image {
        row(
            "Base image",
            format!("<span class=\"mono\">{}</span>", Esc(base)),
        );
    }
    row("Started", html::time(run.input.started_at));
    if let Some(f) = run.finished_at {
        row(
            "Finished",
            format!(
                "{} ({})",
                html::time(f),
                html::duration(f - run.input.started_at)
            ),
        );
    }
    if let Some(image) = &run.image {
        row(
            "Image",
            format!("<span class=\"mono\">{}</span>", Esc(image)),
        );
    }
    if let Some(d) = &run.digest {
        row("Digest", image_link(d));
    }
    if let Some(s) = &run.failed_stage {
        row("Stopped at", format!("<b>{}</b>", Esc(s)));
    }
    if let Some(r) = &run.reason {
        row("Reason", Esc(r).to_string());
    }
    b.push_str("</dl>");

    b.push_str("<h2>Stages</h2>");
    if run.stages.is_empty() {
        b.push_str("<p class=\"empty\">No stage recorded.</p>");
    } else {
        b.push_str(
            "<table id=\"stages\"><thead><tr><th class=\"num\">#</th><th>Stage</th>\
             <th>Gate</th><th>Duration</th><th>Summary</th></tr></thead><tbody>",
        );
        for (i, s) in run.stages.iter().enumerate() {
            let _ = write!(
                b,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                Esc(&s.name),
                badge(s.status.as_str()),
                html::duration(s.finished_at - s.started_at),
                Esc(&s.summary)
            );
        }
        b.push_str("</tbody></table>");
        for s in &run.stages {
            let has_outputs = !s.outputs.is_null();
            if s.log.is_empty() && !has_outputs {
                continue;
            }
            let _ = write!(
                b,
                "<details><summary>{} log and outputs</summary>",
                Esc(&s.name)
            );
            if !s.log.is_empty() {
                let _ = write!(b, "<pre>{}</pre>", Esc(&s.log));
            }
            if has_outputs {
                let outputs = serde_json::to_string_pretty(&s.outputs)
                    .unwrap_or_else(|_| s.outputs.to_string());
                let _ = write!(b, "<pre>{}</pre>", Esc(&outputs));
            }
            b.push_str("</details>");
        }
    }

    b.push_str("<h2>Evidence</h2>");
    if run.evidence.is_empty() {
        b.push_str("<p class=\"empty\">No evidence stored.</p>");
    } else {
        b.push_str(
            "<table id=\"evidence\"><thead><tr><th>Name</th><th>Media type</th>\
             <th class=\"num\">Size</th><th>SHA-256</th><th>Wrapping</th><th>Key</th>\
             <th>Location</th></tr></thead><tbody>",
        );
        for e in &run.evidence {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"mono\" title=\"{}\">{}</td><td>{}</td><td class=\"mono\">{}</td>\
                 <td class=\"mono\">{}</td></tr>",
                Esc(&e.name),
                Esc(&e.media_type),
                e.size,
                Esc(&e.sha256),
                Esc(e.sha256.get(..12).unwrap_or(&e.sha256)),
                Esc(&e.wrapping),
                Esc(&e.key_id),
                Esc(&e.location)
            );
        }
        let _ = write!(
            b,
            "</tbody></table><p>Decrypt with <code>kiln evidence get {} --decrypt</code>.</p>",
            Esc(run.id.as_str())
        );
    }
    b
}
