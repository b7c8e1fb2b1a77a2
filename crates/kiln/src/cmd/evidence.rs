//! `kiln evidence runs|show|list|get`: reads the evidence ledger (past runs, their stages
//! and gate results) and the encrypted evidence store (SBOMs, scan reports, provenance).
//! Defaults: ledger `sqlite://.kiln/ledger.db`, store `.kiln/evidence`, key
//! `.kiln/keys/evidence.key`. `get` without `--decrypt` writes the ciphertext as stored.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use kiln_pipeline::evidence::{EvidenceRef, EvidenceStore, WrapKey};
use kiln_pipeline::ledger::{Ledger, RunRecord};

use crate::output::{self, Global};

/// Arguments of `kiln evidence`.
#[derive(clap::Args)]
pub struct Args {
    /// The ledger: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        default_value = "sqlite://.kiln/ledger.db",
        env = "KILN_LEDGER"
    )]
    ledger: String,
    /// The evidence store: a directory, file://DIR or s3://BUCKET/PREFIX.
    #[arg(
        long,
        global = true,
        default_value = ".kiln/evidence",
        env = "KILN_EVIDENCE_STORE"
    )]
    store: String,
    /// The evidence key: a local key file or awskms:///KEY.
    #[arg(
        long,
        global = true,
        default_value = ".kiln/keys/evidence.key",
        env = "KILN_EVIDENCE_KEY"
    )]
    key: String,
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(clap::Subcommand)]
enum EvidenceCommand {
    /// List the newest runs in the ledger: id, status, image digest, start time.
    Runs {
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one run from the ledger: inputs, stages with gate results, outcome, evidence.
    Show {
        /// The run id (or a unique prefix of at least 4 characters).
        run: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print the stages' logs too (table format).
        #[arg(long)]
        logs: bool,
    },
    /// List the evidence objects of a run (the newest run when omitted).
    List {
        /// The run id (or a unique prefix).
        run: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write an evidence object: the ciphertext as stored, or the plaintext with --decrypt.
    Get {
        /// The run id (or a unique prefix).
        run: String,
        /// The object's name (see `kiln evidence list`).
        name: String,
        /// Decrypt (and verify) with the evidence key.
        #[arg(long)]
        decrypt: bool,
        /// Write to FILE (atomically) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Runs `kiln evidence`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        EvidenceCommand::Runs { limit, format } => {
            let ledger = open_ledger(&args.ledger).await?;
            let runs = ledger.runs(limit).await?;
            if format == Format::Json {
                output::emit_json(&runs, None)?;
            } else if runs.is_empty() {
                global.say(format!("no runs in {}", ledger.url()));
            } else {
                let mut out = String::new();
                out.push_str(&format!(
                    "{:<36}  {:<9}  {:<71}  {}\n",
                    "RUN", "STATUS", "DIGEST", "STARTED"
                ));
                for r in &runs {
                    out.push_str(&format!(
                        "{:<36}  {:<9}  {:<71}  {}\n",
                        r.id,
                        r.status.as_str(),
                        r.digest.as_deref().unwrap_or("-"),
                        time(r.input.started_at)
                    ));
                }
                output::emit(out.as_bytes(), None)?;
            }
        }
        EvidenceCommand::Show { run, format, logs } => {
            let ledger = open_ledger(&args.ledger).await?;
            let id = resolve(&ledger, &run).await?;
            let record = ledger
                .run(&id)
                .await?
                .with_context(|| format!("no run {id} in {}", ledger.url()))?;
            if format == Format::Json {
                output::emit_json(&record, None)?;
            } else {
                output::emit(show(&record, logs).as_bytes(), None)?;
            }
        }
        EvidenceCommand::List { run, format } => {
            let id = match run {
                Some(run) => resolve_in_ledger_or_verbatim(&args.ledger, &run).await?,
                None => {
                    let ledger = open_ledger(&args.ledger).await?;
                    let newest = ledger.runs(1).await?;
                    match newest.first() {
                        Some(r) => r.id.to_string(),
                        None => bail!("no runs in {}; name a run", ledger.url()),
                    }
                }
            };
            let store = EvidenceStore::open_unkeyed(&args.store).await?;
            let objects = store.list(&id).await?;
            if format == Format::Json {
                output::emit_json(&objects, None)?;
            } else if objects.is_empty() {
                global.say(format!("no evidence for run {id} in {}", store.base()));
            } else {
                output::emit(list_table(&objects).as_bytes(), None)?;
            }
        }
        EvidenceCommand::Get {
            run,
            name,
            decrypt,
            output: path,
        } => {
            let id = resolve_in_ledger_or_verbatim(&args.ledger, &run).await?;
            let data = if decrypt {
                let key = WrapKey::parse(&args.key);
                if let WrapKey::LocalFile(p) = &key
                    && !p.exists()
                {
                    bail!(
                        "evidence key {} not found (give the key the evidence was stored with: --key)",
                        p.display()
                    );
                }
                let store = EvidenceStore::open(&args.store, key).await?;
                store.get(&id, &name).await?
            } else {
                let store = EvidenceStore::open_unkeyed(&args.store).await?;
                store.get_raw(&id, &name).await?
            };
            match &path {
                Some(p) => kiln_oci::layout::write_atomically(p, &data)
                    .with_context(|| format!("writing {}", p.display()))?,
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&data)?;
                    out.flush()?;
                }
            }
            if let Some(p) = &path {
                global.say(format!(
                    "wrote {} ({} bytes, {}) to {}",
                    name,
                    data.len(),
                    if decrypt { "decrypted" } else { "encrypted" },
                    p.display()
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open_ledger(url: &str) -> anyhow::Result<Ledger> {
    // Reading a default SQLite ledger that does not exist would create an empty one:
    // say so instead.
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        && !std::path::Path::new(path).exists()
    {
        bail!("no ledger at {path} (no run has been recorded here; use --ledger URL)");
    }
    Ok(Ledger::open(url).await?)
}

/// A full run id from an id or a unique prefix, through the ledger.
async fn resolve(ledger: &Ledger, run: &str) -> anyhow::Result<String> {
    if ledger.run(run).await?.is_some() {
        return Ok(run.to_string());
    }
    match ledger.resolve(run).await? {
        Some(id) => Ok(id.to_string()),
        None => bail!("no run {run:?} in {}", ledger.url()),
    }
}

/// A prefix is expanded through the ledger when there is one; a full id is used as given
/// (the evidence store can be read without the ledger).
async fn resolve_in_ledger_or_verbatim(ledger_url: &str, run: &str) -> anyhow::Result<String> {
    if run.parse::<kiln_pipeline::ledger::RunId>().is_ok() {
        return Ok(run.to_string());
    }
    let ledger = open_ledger(ledger_url).await?;
    resolve(&ledger, run).await
}

fn list_table(objects: &[EvidenceRef]) -> String {
    let mut out = format!(
        "{:<28}  {:<44}  {:>9}  {:<15}  {}\n",
        "NAME", "MEDIA TYPE", "SIZE", "WRAPPING", "KEY"
    );
    for o in objects {
        out.push_str(&format!(
            "{:<28}  {:<44}  {:>9}  {:<15}  {}\n",
            o.name, o.media_type, o.size, o.wrapping, o.key_id
        ));
    }
    out
}

fn show(r: &RunRecord, logs: bool) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = String::new();
    out.push_str(&format!("run         {}\n", r.id));
    out.push_str(&format!("status      {}\n", r.status));
    out.push_str(&format!("repository  {}\n", r.input.repository));
    out.push_str(&format!(
        "commit      {}{}\n",
        opt(&r.input.commit),
        if r.input.tree_dirty {
            " (dirty tree)"
        } else {
            ""
        }
    ));
    out.push_str(&format!("config      {}\n", r.input.config_digest));
    out.push_str(&format!("base image  {}\n", opt(&r.input.base_image)));
    out.push_str(&format!("started     {}\n", time(r.input.started_at)));
    out.push_str(&format!(
        "finished    {}\n",
        r.finished_at.map(time).unwrap_or_else(|| "-".into())
    ));
    out.push_str(&format!("image       {}\n", opt(&r.image)));
    out.push_str(&format!("digest      {}\n", opt(&r.digest)));
    if r.failed_stage.is_some() || r.reason.is_some() {
        out.push_str(&format!(
            "failed      {}: {}\n",
            opt(&r.failed_stage),
            opt(&r.reason)
        ));
    }
    out.push_str("stages\n");
    for s in &r.stages {
        out.push_str(&format!(
            "  {:<12} {:<8} {:>7} ms  {}\n",
            s.name,
            s.status.as_str(),
            s.finished_at - s.started_at,
            s.summary
        ));
        if logs && !s.log.is_empty() {
            for line in s.log.lines() {
                out.push_str(&format!("      | {line}\n"));
            }
        }
    }
    if !r.evidence.is_empty() {
        out.push_str("evidence\n");
        for e in &r.evidence {
            out.push_str(&format!(
                "  {:<28} {:>9}  {}\n",
                e.name, e.size, e.media_type
            ));
        }
    }
    out
}

/// Unix milliseconds as RFC 3339 (UTC, seconds).
fn time(ms: i64) -> String {
    kiln_oci::time::rfc3339(ms.div_euclid(1000))
}
