//! The `vuln` gate: the image's packages matched against the offline OSV database
//! (kiln-vuln), VEX applied; a finding at or above `vuln.fail_on` stops the run. Without a
//! database the stage is skipped with a warning saying how to get one (or fails with
//! `vuln.require_db`). The report goes to the evidence store and into the vuln attestation.

use std::path::PathBuf;

use kiln_vuln::db::Database;
use kiln_vuln::report;
use serde_json::json;

use super::{Ctx, Done, Evidence, StageError, StageLog};

/// The database the stage reads: `vuln.db`, else `KILN_VULN_DB`, else the default path.
pub fn db_path(ctx: &Ctx) -> PathBuf {
    if let Some(p) = &ctx.config.vuln.db {
        return ctx.project_path(p);
    }
    match std::env::var_os("KILN_VULN_DB").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => kiln_vuln::db::default_path(),
    }
}

fn rfc3339_now() -> String {
    kiln_oci::time::rfc3339(super::now_ms() / 1000)
}

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let section = ctx.config.vuln.clone();
    if !section.enabled {
        return Ok(Done::skipped("disabled (vuln.enabled: false)"));
    }
    let path = db_path(ctx);
    if !path.is_file() {
        let how = format!(
            "no vulnerability database at {}: get one with `kiln db update` (osv.dev), \
             `kiln db pull REF` or `kiln db import FILES`, or set vuln.db",
            path.display()
        );
        if section.require_db {
            return Ok(Done::failed(format!("{how} (vuln.require_db is true)")));
        }
        return Ok(Done::skipped(format!("warning: {how}")));
    }
    let started = rfc3339_now();
    let db = Database::open(&path)?;
    if let Some(age) = db.age()?
        && age.num_days() >= 0
        && age.num_days() as u64 > section.max_db_age
    {
        let msg = format!(
            "vulnerability data in {} is {} days old (vuln.max_db_age is {}): run `kiln db update`",
            path.display(),
            age.num_days(),
            section.max_db_age
        );
        if section.require_db {
            return Ok(Done::failed(msg));
        }
        log.line(&format!("warning: {msg}"));
    }
    let mut statements = Vec::new();
    for v in &section.vex {
        let p = ctx.project_path(v);
        let bytes = std::fs::read(&p)
            .map_err(|e| StageError(format!("VEX document {}: {e}", p.display())))?;
        statements.extend(kiln_vuln::vex::read(&bytes, &p.display().to_string())?);
    }
    let catalog = ctx
        .catalog
        .as_ref()
        .ok_or_else(|| StageError("no SBOM to scan".into()))?;
    let mut result = {
        let reader = db.reader()?;
        kiln_vuln::scan::scan(&reader, catalog)?
    };
    kiln_vuln::vex::apply(&mut result.findings, &statements);
    for w in &result.warnings {
        log.line(&format!("warning: {w}"));
    }
    let source = ctx.built()?.reference.clone();
    let json_report = report::json(&result, &source);
    let status = db.status()?;
    // For the ledger (the runner records it, gate passed or not).
    ctx.vuln_scan = Some(super::VulnScan {
        findings: crate::rescan::convert::new_findings(&result.findings),
        db_built: status.updated.clone().or(status.data_modified.clone()),
    });
    let predicate = report::cosign_predicate(
        &result,
        &source,
        env!("CARGO_PKG_VERSION"),
        &path.display().to_string(),
        status.data_modified.as_deref().unwrap_or(""),
        &started,
        &rfc3339_now(),
    );
    let active: Vec<_> = result.findings.iter().filter(|f| !f.suppressed).collect();
    let suppressed = result.findings.len() - active.len();
    let mut counts = std::collections::BTreeMap::new();
    for f in &active {
        *counts.entry(f.severity).or_insert(0u64) += 1;
    }
    let by_severity: Vec<String> = counts
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    for f in &active {
        log.line(&format!(
            "{} {} {}@{} ({})",
            f.severity.as_str(),
            f.id,
            f.package.name,
            f.package.version,
            if f.fixed_versions.is_empty() {
                "no fix".to_string()
            } else {
                format!("fixed in {}", f.fixed_versions.join(", "))
            }
        ));
    }
    ctx.evidence.push(Evidence {
        name: "vuln.json".into(),
        media_type: "application/json".into(),
        bytes: serde_json::to_vec_pretty(&json_report).unwrap_or_default(),
    });
    ctx.vuln_predicate = Some(predicate);
    let what = format!(
        "{} finding(s){} in {} package(s){}",
        active.len(),
        if by_severity.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_severity.join(", "))
        },
        result.packages_scanned,
        if suppressed > 0 {
            format!(", {suppressed} suppressed by VEX")
        } else {
            String::new()
        }
    );
    let outputs = json!({
        "findings": active.len(),
        "suppressed": suppressed,
        "by_severity": counts.iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "database": path.display().to_string(),
    });
    if let Some(min) = section.fail_on {
        let blocking: Vec<_> = active.iter().filter(|f| f.severity >= min).collect();
        if let Some(first) = blocking.first() {
            return Ok(Done::failed(format!(
                "{} finding(s) at or above {} (vuln.fail_on), first: {} in {}@{}; {what}",
                blocking.len(),
                min.as_str(),
                first.id,
                first.package.name,
                first.package.version
            ))
            .with(outputs));
        }
    }
    Ok(Done::passed(what).with(outputs))
}
