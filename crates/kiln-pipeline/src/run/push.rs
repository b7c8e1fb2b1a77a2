//! The `push` stage: when `publish.image` names a registry (or another layout), the
//! signed image is copied there with its cosign signature and attestation tags and its
//! referrers (Notation signatures); otherwise the image stays in `.kiln/oci`, which
//! already holds it with its signatures.
//!
//! Order, so that a registry failing half-way leaves nothing a deployment could pick up
//! half-done: the image by digest (blobs before the manifest), then its signatures,
//! attestations and referrers, and only then its tag. A push that fails before the end
//! leaves no tag on an image without its signatures, and never a signature of an image
//! that is not there.

use kiln_oci::{ImageRef, ImageStore, store};
use serde_json::json;

use super::{Ctx, Done, StageError, StageLog};
use crate::build::stores;

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let built = ctx.built()?;
    let Some(publish) = &ctx.config.publish else {
        return Ok(Done::passed(format!(
            "kept in {} (no publish.image)",
            built.reference
        )));
    };
    let target = ImageRef::parse(&publish.image)?;
    let dst = stores::open(&target, &ctx.dir, "publish.image", true, &ctx.registry)?;
    let digest = built.manifest.digest.clone();
    let tag = target.tag().unwrap_or(&built.tag).to_string();
    log.line(&format!("pushing {digest} to {}", publish.image));
    let root = store::copy_image(&built.layout, &digest.to_string(), dst.as_ref(), None)
        .await
        .map_err(|e| StageError(format!("pushing to {}: {e}", publish.image)))?;
    let mut copied = Vec::new();
    let tags = built.layout.tags().await?;
    for suffix in ["sig", "att"] {
        let t = format!("{}-{}.{suffix}", digest.algorithm().as_str(), digest.hex());
        if tags.contains(&t) {
            store::copy_image(&built.layout, &t, dst.as_ref(), Some(&t))
                .await
                .map_err(|e| StageError(format!("pushing {t} to {}: {e}", publish.image)))?;
            log.line(&format!("pushed {t}"));
            copied.push(t);
        }
    }
    for r in built.layout.referrers(&digest, None).await? {
        store::copy_image(&built.layout, &r.digest.to_string(), dst.as_ref(), None)
            .await
            .map_err(|e| {
                StageError(format!(
                    "pushing referrer {} to {}: {e}",
                    r.digest, publish.image
                ))
            })?;
        log.line(&format!("pushed referrer {}", r.digest));
        copied.push(r.digest.to_string());
    }
    dst.push_manifest(&root, Some(&tag))
        .await
        .map_err(|e| StageError(format!("tagging {tag} in {}: {e}", publish.image)))?;
    log.line(&format!("tagged {tag}"));
    let published = format!("{}@{digest}", target.location());
    ctx.published = Some(published.clone());
    Ok(Done::passed(format!(
        "{published} with {} signature/attestation manifest(s)",
        copied.len()
    ))
    .with(json!({ "published": published, "tag": tag, "attached": copied })))
}
