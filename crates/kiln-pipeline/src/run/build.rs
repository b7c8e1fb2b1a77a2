//! The `build` stage: [`crate::build`] into the project's layout `.kiln/oci`, without
//! publishing (the `push` stage does that once the image is signed). A failing
//! `build.run` command or buildah build fails the gate, with its output in the log.

use kiln_oci::assemble::BASE_DIGEST_ANNOTATION;
use kiln_oci::{Digest, OciLayout};
use serde_json::json;

use super::{Built, Ctx, Done, StageError, StageLog};
use crate::build::{self, BuildRequest};
use crate::error::BuildError;
use crate::provenance::ResourceDescriptor;

/// The annotation naming the base image (OCI image spec, annotations.md).
pub const BASE_NAME_ANNOTATION: &str = "org.opencontainers.image.base.name";

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let mut config = ctx.config.clone();
    config.publish = None;
    let request = BuildRequest {
        project_dir: &ctx.shown,
        config_path: &ctx.config_path,
        config: &config,
        source_date_epoch: ctx.epoch,
        registry: ctx.registry.clone(),
    };
    let line = |l: &str| log.line(l);
    let outcome = match build::build(&request, &line).await {
        Ok(o) => o,
        Err(e @ (BuildError::RunFailed { .. } | BuildError::Buildah { .. })) => {
            return Ok(Done::failed(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let layout = OciLayout::open(&outcome.layout)?;
    let annotations = outcome
        .manifest
        .as_image()
        .ok()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let base = annotations
        .get(BASE_DIGEST_ANNOTATION)
        .and_then(|d| d.parse::<Digest>().ok())
        .map(|d| {
            let name = annotations
                .get(BASE_NAME_ANNOTATION)
                .cloned()
                .or_else(|| config.build.as_ref().and_then(|b| b.base.clone()))
                .unwrap_or_else(|| "base".to_string());
            ResourceDescriptor::new(name, d.algorithm().as_str(), d.hex())
        });
    let digest = outcome.manifest.digest.to_string();
    let summary = format!("{} {digest}", outcome.reference);
    let outputs = json!({
        "image": outcome.reference,
        "digest": digest,
        "layers": outcome.layers.len(),
        "base": base.as_ref().map(|b| json!(b)),
    });
    ctx.built = Some(Built {
        reference: outcome.reference,
        tag: outcome.tag,
        layout,
        manifest: outcome.manifest,
        base,
    });
    Ok(Done::passed(summary).with(outputs))
}
