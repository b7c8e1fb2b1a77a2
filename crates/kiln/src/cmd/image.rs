//! `kiln image`: copy, inspect and list images in OCI layouts and registries.
//! Everything here is parsing and printing; the work is `kiln_oci`'s.

use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use kiln_oci::manifest::{Descriptor, ManifestKind};
use kiln_oci::open::{open_existing_store, open_store};
use kiln_oci::registry::RegistryOptions;
use kiln_oci::store::{self, BlobAction, CopyEvent};
use kiln_oci::{ImageRef, ImageStore, media_type};
use serde_json::json;

use crate::output::{self, Global};

/// Arguments of `kiln image`.
#[derive(clap::Args)]
pub struct Args {
    /// Allow plain HTTP to registries that are not on loopback (loopback always may).
    #[arg(long, global = true)]
    insecure_registry: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Copy an image with everything it references (layout ⇄ registry, any direction).
    /// Prints the digest.
    Copy {
        /// Source: `oci:PATH[:TAG|@DIGEST]` or `REGISTRY/REPO[:TAG|@DIGEST]`.
        src: String,
        /// Destination: `oci:PATH[:TAG]` or `REGISTRY/REPO[:TAG]`; the source's tag when none.
        dst: String,
    },
    /// Show an image's manifest, configuration, layers and referrers.
    Inspect {
        /// `oci:PATH[:TAG|@DIGEST]` or `REGISTRY/REPO[:TAG|@DIGEST]`.
        reference: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// List the tags of a layout or a registry repository, with their digests.
    Ls {
        /// `oci:PATH` (or a directory) or `REGISTRY/REPO`.
        location: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

/// Runs `kiln image`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let options = RegistryOptions {
        insecure: args.insecure_registry,
        ..Default::default()
    };
    match args.command {
        Command::Copy { src, dst } => copy(&src, &dst, &options, global).await,
        Command::Inspect { reference, format } => inspect(&reference, format, &options).await,
        Command::Ls { location, format } => ls(&location, format, &options).await,
    }
}

fn parse_ref(input: &str) -> anyhow::Result<ImageRef> {
    Ok(ImageRef::parse(input)?)
}

async fn copy(
    src: &str,
    dst: &str,
    options: &RegistryOptions,
    global: &Global,
) -> anyhow::Result<ExitCode> {
    let src_ref = parse_ref(src)?;
    let dst_ref = parse_ref(dst)?;
    if dst_ref.digest().is_some() {
        anyhow::bail!("destination {dst}: give a tag or no tag, not a digest");
    }
    let tag = match (dst_ref.tag(), src_ref.tag(), src_ref.digest()) {
        (Some(t), _, _) => Some(t.to_string()),
        (None, Some(t), _) => Some(t.to_string()),
        (None, None, Some(_)) => None,
        (None, None, None) => Some("latest".to_string()),
    };
    let from = open_existing_store(&src_ref, options).with_context(|| format!("opening {src}"))?;
    let to = open_store(&dst_ref, options).with_context(|| format!("opening {dst}"))?;
    let bar = output::progress(global, 0, &format!("copying to {}", to.name()));
    let counts = Mutex::new([0usize; 3]);
    let on_event = |event: CopyEvent<'_>| match event {
        CopyEvent::Planned { bytes, .. } => bar.inc_length(bytes),
        CopyEvent::Blob { descriptor, action } => {
            bar.inc(descriptor.size);
            let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
            c[match action {
                BlobAction::Copied => 0,
                BlobAction::Mounted => 1,
                BlobAction::Present => 2,
            }] += 1;
        }
        CopyEvent::Manifest { .. } => {}
    };
    let result = store::copy_image_with_progress(
        &*from,
        &src_ref.selector(),
        &*to,
        tag.as_deref(),
        Some(&on_event),
    )
    .await;
    bar.finish_and_clear();
    let manifest = result.with_context(|| format!("copying {src} to {dst}"))?;
    let c = counts.lock().unwrap_or_else(|p| p.into_inner());
    let target = match &tag {
        Some(t) => dst_ref.with_tag(t),
        None => dst_ref.with_digest(manifest.digest.clone()),
    };
    global.say(format!(
        "copied {src} to {target} ({} blobs sent, {} mounted, {} already present)",
        c[0], c[1], c[2]
    ));
    output::emit(format!("{}\n", manifest.digest).as_bytes(), None)?;
    Ok(ExitCode::SUCCESS)
}

async fn inspect(
    reference: &str,
    format: Format,
    options: &RegistryOptions,
) -> anyhow::Result<ExitCode> {
    let r = parse_ref(reference)?;
    let store = open_existing_store(&r, options).with_context(|| format!("opening {reference}"))?;
    let manifest = store
        .resolve(&r.selector())
        .await
        .with_context(|| format!("resolving {reference}"))?;
    let manifest_json: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .context("the manifest was checked but is not JSON")?;
    let (config, layers, children): (Option<serde_json::Value>, Vec<Descriptor>, Vec<Descriptor>) =
        match &manifest.kind {
            ManifestKind::Image(m) => {
                let config = if m.config.media_type.ends_with("json")
                    && m.config.size <= kiln_oci::manifest::MAX_CONFIG_BYTES as u64
                {
                    let data = store
                        .fetch_blob(&m.config)
                        .await
                        .with_context(|| format!("fetching the configuration of {reference}"))?;
                    Some(serde_json::from_slice(&data).with_context(|| {
                        format!("the configuration {} is not JSON", m.config.digest)
                    })?)
                } else {
                    None
                };
                (config, m.layers.clone(), Vec::new())
            }
            ManifestKind::Index(i) => (None, Vec::new(), i.manifests.clone()),
        };
    let referrers = store
        .referrers(&manifest.digest, None)
        .await
        .with_context(|| format!("listing the referrers of {reference}"))?;
    match format {
        Format::Json => output::emit_json(
            &json!({
                "reference": r.to_string(),
                "digest": manifest.digest.to_string(),
                "mediaType": manifest.media_type,
                "size": manifest.bytes.len(),
                "manifest": manifest_json,
                "config": config,
                "layers": layers,
                "referrers": referrers,
            }),
            None,
        )?,
        Format::Table => {
            let mut out = String::new();
            out.push_str(&format!("Reference:  {r}\n"));
            out.push_str(&format!("Digest:     {}\n", manifest.digest));
            out.push_str(&format!("Media type: {}\n", manifest.media_type));
            if let ManifestKind::Image(m) = &manifest.kind {
                if let Some(t) = &m.artifact_type {
                    out.push_str(&format!("Artifact:   {t}\n"));
                }
                out.push_str(&format!(
                    "Config:     {} {} ({} bytes)\n",
                    m.config.digest, m.config.media_type, m.config.size
                ));
                if let Some(c) = &config {
                    let platform = [c.get("os"), c.get("architecture")]
                        .iter()
                        .filter_map(|v| v.and_then(|v| v.as_str()))
                        .collect::<Vec<_>>()
                        .join("/");
                    if !platform.is_empty() {
                        out.push_str(&format!("Platform:   {platform}\n"));
                    }
                }
            }
            if !layers.is_empty() {
                out.push_str(&format!("Layers ({}):\n", layers.len()));
                for l in &layers {
                    out.push_str(&format!(
                        "  {}  {:>12}  {}\n",
                        l.digest, l.size, l.media_type
                    ));
                }
            }
            if !children.is_empty() {
                out.push_str(&format!("Manifests ({}):\n", children.len()));
                for d in &children {
                    let platform = d
                        .platform
                        .as_ref()
                        .map(|p| format!("{}/{}", p.os, p.architecture))
                        .unwrap_or_default();
                    out.push_str(&format!("  {}  {}  {platform}\n", d.digest, d.media_type));
                }
            }
            out.push_str(&format!("Referrers ({}):\n", referrers.len()));
            for d in &referrers {
                let kind =
                    d.artifact_type
                        .as_deref()
                        .unwrap_or(if media_type::is_index(&d.media_type) {
                            "index"
                        } else {
                            "manifest"
                        });
                out.push_str(&format!("  {}  {kind}\n", d.digest));
            }
            output::emit(out.as_bytes(), None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn ls(location: &str, format: Format, options: &RegistryOptions) -> anyhow::Result<ExitCode> {
    let r = if location.starts_with("oci:") || std::path::Path::new(location).is_dir() {
        let path = location.strip_prefix("oci:").unwrap_or(location);
        ImageRef::Layout {
            path: path.into(),
            tag: None,
            digest: None,
        }
    } else {
        parse_ref(location)?
    };
    let store: Box<dyn ImageStore> =
        open_existing_store(&r, options).with_context(|| format!("opening {location}"))?;
    let tags = store
        .tags()
        .await
        .with_context(|| format!("listing the tags of {}", store.name()))?;
    let mut rows = Vec::new();
    for tag in tags {
        let m = store
            .resolve(&tag)
            .await
            .with_context(|| format!("resolving tag {tag} of {}", store.name()))?;
        rows.push((tag, m.digest.to_string(), m.media_type.clone()));
    }
    match format {
        Format::Json => output::emit_json(
            &rows
                .iter()
                .map(|(t, d, m)| json!({"tag": t, "digest": d, "mediaType": m}))
                .collect::<Vec<_>>(),
            None,
        )?,
        Format::Table => {
            let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(3).max(3);
            let mut out = format!("{:width$}  DIGEST\n", "TAG");
            for (t, d, _) in &rows {
                out.push_str(&format!("{t:width$}  {d}\n"));
            }
            output::emit(out.as_bytes(), None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
