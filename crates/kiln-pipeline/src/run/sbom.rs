//! The `sbom` stage: catalogs the built image's filesystem (kiln-sbom, read from the layout
//! without extracting it) and writes the SBOM documents `sbom.formats` names; each goes to
//! the evidence store and, with `attest.sbom`, into an attestation.

use kiln_sbom::format::{self, WriteOptions};
use kiln_sbom::source::image::ImageSource;
use serde_json::json;

use super::{Ctx, Done, Evidence, StageError, StageLog};
use crate::config::SbomFormat;

/// The evidence name and media type of an SBOM document.
pub fn evidence_name(f: SbomFormat) -> (&'static str, &'static str) {
    match f {
        SbomFormat::SpdxJson => ("sbom.spdx.json", "application/spdx+json"),
        SbomFormat::CyclonedxJson => ("sbom.cdx.json", "application/vnd.cyclonedx+json"),
    }
}

/// `SOURCE_DATE_EPOCH` when set, else the run's start.
pub fn created(ctx: &Ctx) -> i64 {
    ctx.epoch
        .and_then(|e| i64::try_from(e).ok())
        .unwrap_or(ctx.started)
}

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let built = ctx.built()?;
    let reference = format!(
        "oci:{}@{}",
        built.layout.root().display(),
        built.manifest.digest
    );
    let name = built.reference.clone();
    let digest = built.manifest.digest.to_string();
    let outcome = tokio::task::block_in_place(|| {
        let mut source = ImageSource::open_layout(&reference)?;
        kiln_sbom::catalog_source(&mut source, &name)
    })?;
    for w in &outcome.warnings {
        log.line(&format!("warning: {w}"));
    }
    let mut catalog = outcome.catalog;
    catalog.image_digest = Some(digest);
    let opts = WriteOptions {
        created: created(ctx),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut names = Vec::new();
    for f in &ctx.config.sbom.formats {
        let text = match f {
            SbomFormat::SpdxJson => format::spdx::write(&catalog, &opts),
            SbomFormat::CyclonedxJson => format::cyclonedx::write(&catalog, &opts),
        };
        let (file, media_type) = evidence_name(*f);
        names.push(f.name());
        ctx.evidence.push(Evidence {
            name: file.to_string(),
            media_type: media_type.to_string(),
            bytes: text.clone().into_bytes(),
        });
        ctx.sboms.push((*f, text.into_bytes()));
    }
    let n = catalog.packages.len();
    ctx.catalog = Some(catalog);
    Ok(Done::passed(format!(
        "{n} package(s); {}",
        if names.is_empty() {
            "no documents (sbom.formats is empty)".to_string()
        } else {
            names.join(", ")
        }
    ))
    .with(json!({ "packages": n, "formats": names })))
}
