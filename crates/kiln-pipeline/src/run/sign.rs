//! The `sign` stage: the image in the local layout signed with the run's key in each
//! format `sign.formats` names: a cosign signature (`sha256-<hex>.sig` tag) and/or a
//! Notation signature (OCI referrer with an X.509 chain). The `push` stage copies them
//! with the image.

use kiln_oci::ImageRef;
use kiln_sign::cosign::{self, StorageFormat};
use serde_json::json;

use super::{Ctx, Done, StageError, StageLog, keys};
use crate::config::SignFormat;

/// The name signatures and attestations are made for: the published repository when
/// `publish.image` is set, else the local layout.
pub fn subject_name(ctx: &Ctx) -> Result<String, StageError> {
    if let Some(p) = &ctx.config.publish {
        return Ok(ImageRef::parse(&p.image)?.location());
    }
    Ok(ImageRef::parse(&ctx.built()?.reference)?.location())
}

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let signer = keys::open_signer(ctx, log).await?;
    ctx.subject_name = subject_name(ctx)?;
    let built = ctx.built()?;
    let mut made = Vec::new();
    for f in &ctx.config.sign.formats {
        match f {
            SignFormat::Cosign => {
                let stored = cosign::sign_image(
                    &built.layout,
                    &built.manifest,
                    &cosign::docker_reference(&ctx.subject_name),
                    &*signer,
                    StorageFormat::Cosign,
                )
                .await?;
                log.line(&format!(
                    "cosign signature {} (tag {})",
                    stored.manifest,
                    stored.tag.as_deref().unwrap_or("-")
                ));
                made.push(
                    json!({"format": "cosign", "manifest": stored.manifest, "tag": stored.tag}),
                );
            }
            SignFormat::Notation => {
                let chain = keys::notation_chain(ctx, &*signer, log).await?;
                let sig = kiln_sign::notation::image::sign_image(
                    &built.layout,
                    &built.manifest.descriptor(),
                    &*signer,
                    &chain,
                    None,
                )
                .await?;
                log.line(&format!("Notation signature {}", sig.manifest.digest));
                made.push(
                    json!({"format": "notation", "manifest": sig.manifest.digest.to_string()}),
                );
            }
        }
    }
    let formats: Vec<&str> = made.iter().filter_map(|m| m["format"].as_str()).collect();
    let summary = format!(
        "{} signed with {} ({})",
        built.manifest.digest,
        signer.key_ref(),
        formats.join(", ")
    );
    ctx.signer = Some(signer);
    Ok(Done::passed(summary).with(json!({ "signatures": made })))
}
