//! The `attest` stage: DSSE in-toto attestations signed with the run's key and stored the
//! cosign way (`sha256-<hex>.att`): the SBOM documents (`attest.sbom`), the SLSA v1
//! provenance of the run (`attest.provenance`, also kept as evidence) and the cosign vuln
//! predicate (`attest.vuln`, when the vulnerability stage ran).

use kiln_sign::cosign::{self, StorageFormat};
use kiln_sign::intoto::{PredicateKind, Statement};
use serde_json::{Value, json};

use super::{Ctx, Done, Evidence, StageError, StageLog};
use crate::config::SbomFormat;
use crate::provenance::{self, Provenance, ResourceDescriptor};

/// The provenance of this run, finished now.
pub fn provenance(ctx: &Ctx) -> Result<Value, StageError> {
    let built = ctx.built()?;
    let source = ctx.git.as_ref().and_then(|g| g.descriptor());
    let config_name = ctx
        .config_path
        .strip_prefix(&ctx.shown)
        .unwrap_or(&ctx.config_path)
        .display()
        .to_string();
    let external = provenance::external_parameters(&ctx.config_text, &config_name, source.as_ref());
    let mut deps: Vec<ResourceDescriptor> = source.into_iter().collect();
    deps.extend(built.base.clone());
    let mut internal = json!({ "localTag": built.tag });
    if let Some(e) = ctx.epoch {
        internal["sourceDateEpoch"] = json!(e);
    }
    if let Some(g) = &ctx.git {
        internal["treeDirty"] = json!(g.dirty);
    }
    let byproducts = ctx
        .sboms
        .iter()
        .map(|(f, bytes)| {
            use sha2::Digest as _;
            let (name, media) = super::sbom::evidence_name(*f);
            let mut d = ResourceDescriptor::new(
                format!("evidence:{}/{name}", ctx.run_id),
                "sha256",
                &hex::encode(sha2::Sha256::digest(bytes)),
            );
            d.name = Some(name.to_string());
            d.annotations.insert("mediaType".into(), media.into());
            d
        })
        .collect();
    let p = Provenance {
        builder_id: ctx
            .config
            .attest
            .builder_id
            .clone()
            .unwrap_or_else(|| provenance::DEFAULT_BUILDER_ID.to_string()),
        kiln_version: env!("CARGO_PKG_VERSION").to_string(),
        external_parameters: external,
        internal_parameters: internal,
        resolved_dependencies: deps,
        invocation_id: ctx.run_id.clone(),
        started_on: ctx.started,
        finished_on: super::now_ms() / 1000,
        byproducts,
    };
    Ok(p.predicate())
}

/// Runs the stage.
pub async fn run(ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    let section = ctx.config.attest.clone();
    let mut todo: Vec<(PredicateKind, Value)> = Vec::new();
    if section.sbom {
        for (f, bytes) in &ctx.sboms {
            let kind = match f {
                SbomFormat::SpdxJson => PredicateKind::Spdx,
                SbomFormat::CyclonedxJson => PredicateKind::CycloneDx,
            };
            let doc: Value = serde_json::from_slice(bytes)?;
            todo.push((kind, doc));
        }
    }
    if section.provenance {
        let p = provenance(ctx)?;
        ctx.evidence.push(Evidence {
            name: "provenance.json".into(),
            media_type: "application/vnd.in-toto+json".into(),
            bytes: serde_json::to_vec_pretty(&p).unwrap_or_default(),
        });
        todo.push((PredicateKind::SlsaProvenanceV1, p));
    }
    if section.vuln
        && let Some(p) = &ctx.vuln_predicate
    {
        todo.push((PredicateKind::CosignVuln, p.clone()));
    }
    if todo.is_empty() {
        return Ok(Done::skipped(
            "no attestations asked for (attest: all false)",
        ));
    }
    let built = ctx.built()?;
    let signer = ctx
        .signer
        .as_deref()
        .ok_or_else(|| StageError("no signing key (the sign stage did not run)".into()))?;
    let mut made = Vec::new();
    for (kind, predicate) in todo {
        let statement =
            Statement::new(&ctx.subject_name, &built.manifest.digest, &kind, predicate)?;
        let stored = cosign::attest_image(
            &built.layout,
            &built.manifest,
            &statement,
            signer,
            StorageFormat::Cosign,
        )
        .await?;
        log.line(&format!("attested {} ({})", kind.uri(), stored.manifest));
        made.push(kind.uri().to_string());
    }
    let names: Vec<&str> = made
        .iter()
        .map(|u| match u.as_str() {
            "https://spdx.dev/Document" => "spdx",
            "https://cyclonedx.org/bom" => "cyclonedx",
            provenance::PREDICATE_TYPE => "slsa-provenance",
            "https://cosign.sigstore.dev/attestation/vuln/v1" => "vuln",
            other => other,
        })
        .collect();
    Ok(Done::passed(format!(
        "{} attestation(s): {}",
        made.len(),
        names.join(", ")
    ))
    .with(json!({ "predicate_types": made })))
}
