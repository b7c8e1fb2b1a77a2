//! `kiln sbom SOURCE`: catalogs a directory, an image (local layout or registry) or a tar of
//! a filesystem, and writes the SBOM as a table, Kiln JSON, SPDX 2.3 or CycloneDX 1.6 JSON.
//! Warnings (malformed databases, unreadable files) go to stderr; the SBOM is still written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_sbom::format::{self, WriteOptions};
use kiln_sbom::source::archive::{self, ArchiveKind};
use kiln_sbom::source::dir::DirSource;
use kiln_sbom::source::image::ImageSource;
use kiln_sbom::source::tarball::TarSource;
use kiln_sbom::source::{Source, SourceSpec};

use crate::output::{Global, emit};

/// Output formats of `kiln sbom`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    SpdxJson,
    CyclonedxJson,
}

/// Arguments of `kiln sbom`.
#[derive(clap::Args)]
pub struct Args {
    /// What to catalog: dir:PATH, oci:PATH[:TAG], oci-dir:PATH, registry:REF, oci-archive:FILE,
    /// docker-archive:FILE, tar:FILE, or a
    /// path (a directory, an OCI layout, a tar or tar.gz).
    pub source: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the SBOM to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    pub insecure_registry: bool,
}

/// Runs `kiln sbom`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let outcome = catalog(&args.source, args.insecure_registry).await?;
    let catalog = outcome.catalog;
    for w in &outcome.warnings {
        global.say(format!("warning: {w}"));
    }
    let opts = WriteOptions {
        created: created(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let text = match args.format {
        Format::Table => format::table::write(&catalog),
        Format::Json => format::kiln::write(&catalog, &outcome.warnings),
        Format::SpdxJson => format::spdx::write(&catalog, &opts),
        Format::CyclonedxJson => format::cyclonedx::write(&catalog, &opts),
    };
    emit(text.as_bytes(), args.output.as_deref())?;
    if let Some(o) = &args.output {
        global.say(format!(
            "{} packages written to {}",
            catalog.packages.len(),
            o.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `SOURCE_DATE_EPOCH` when set (reproducible documents), else now.
fn created() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        })
}

/// Catalogs `source_arg` (any source `kiln sbom` takes), with the image digest set for
/// image sources. Shared by `kiln sbom` and `kiln vuln scan`.
pub(crate) async fn catalog(
    source_arg: &str,
    insecure_registry: bool,
) -> anyhow::Result<kiln_sbom::Outcome> {
    let spec = SourceSpec::parse(source_arg)?;
    let mut image_digest = None;
    let mut source: Box<dyn Source + Send> = match &spec {
        SourceSpec::Dir(p) => Box::new(DirSource::open(p)?),
        SourceSpec::Tar(p) => Box::new(TarSource::open(p)),
        SourceSpec::Layout(r) => {
            let r = r.clone();
            let img = tokio::task::spawn_blocking(move || ImageSource::open_layout(&r)).await??;
            image_digest = Some(img.digest().to_string());
            Box::new(img)
        }
        SourceSpec::Registry(r) => {
            let reference = kiln_oci::ImageRef::parse(r)?;
            let opts = kiln_oci::registry::RegistryOptions {
                insecure: insecure_registry,
                ..Default::default()
            };
            let store = kiln_oci::open::open_existing_store(&reference, &opts)?;
            let img = ImageSource::open_store(store.as_ref(), &reference.selector()).await?;
            image_digest = Some(img.digest().to_string());
            Box::new(img)
        }
        SourceSpec::OciArchive(p) | SourceSpec::DockerArchive(p) => {
            let kind = match spec {
                SourceSpec::OciArchive(_) => ArchiveKind::Oci,
                _ => ArchiveKind::Docker,
            };
            let p = p.clone();
            let img = tokio::task::spawn_blocking(move || archive::open(&p, kind)).await??;
            image_digest = Some(img.digest().to_string());
            Box::new(img)
        }
    };
    let name = source_arg.to_string();
    let mut outcome =
        tokio::task::spawn_blocking(move || kiln_sbom::catalog_source(source.as_mut(), &name))
            .await?
            .with_context(|| format!("cataloging {source_arg}"))?;
    outcome.catalog.image_digest = image_digest;
    Ok(outcome)
}
