//! `kiln build`: builds the image the `build:` section of kiln.yaml describes into the
//! project's layout `.kiln/oci` (and `publish.image` when set), then prints its reference
//! and digest (table) or a JSON document (json). The build's own output goes to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kiln_pipeline::build::{self, BuildRequest};
use kiln_pipeline::config::KilnConfig;

use crate::output::{self, Global};

/// Output formats of `kiln build`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Arguments of `kiln build`.
#[derive(clap::Args)]
pub struct Args {
    /// The kiln.yaml to read [default: DIR/kiln.yaml].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The project directory [default: the directory of --file, else the current one].
    #[arg(short = 'C', long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    pub insecure_registry: bool,
    /// Write the output to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `kiln build`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let (dir, file) = match (&args.dir, &args.file) {
        (Some(d), Some(f)) => (d.clone(), f.clone()),
        (Some(d), None) => (d.clone(), d.join("kiln.yaml")),
        (None, Some(f)) => {
            let parent = f.parent().filter(|p| !p.as_os_str().is_empty());
            (parent.unwrap_or(Path::new(".")).to_path_buf(), f.clone())
        }
        (None, None) => (PathBuf::from("."), PathBuf::from("kiln.yaml")),
    };
    let config = KilnConfig::load(&file)?;
    let epoch = build::source_date_epoch_from_env()?;
    let request = BuildRequest {
        project_dir: &dir,
        config_path: &file,
        config: &config,
        source_date_epoch: epoch,
        registry: kiln_oci::registry::RegistryOptions {
            insecure: args.insecure_registry,
            ..Default::default()
        },
    };
    let log = |line: &str| global.say(line);
    let outcome = build::build(&request, &log).await?;
    let digest = outcome.manifest.digest.to_string();
    match args.format {
        Format::Table => {
            let line = format!("{} {digest}\n", outcome.reference);
            output::emit(line.as_bytes(), args.output.as_deref())?;
        }
        Format::Json => {
            let doc = serde_json::json!({
                "reference": outcome.reference,
                "digest": digest,
                "mediaType": outcome.manifest.media_type,
                "size": outcome.manifest.bytes.len(),
                "tag": outcome.tag,
                "layout": outcome.layout,
                "layers": outcome.layers,
                "published": outcome.published,
            });
            output::emit_json(&doc, args.output.as_deref()).context("writing the build result")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
