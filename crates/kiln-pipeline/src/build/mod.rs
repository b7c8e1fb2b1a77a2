//! The build stage: runs `build.run`, builds the image natively or through buildah into
//! the project's layout `.kiln/oci`, tags it, and pushes it to `publish.image`.

pub mod buildah;
pub mod command;
pub mod native;
pub mod stores;

use std::path::{Path, PathBuf};

use kiln_oci::assemble::{self, BaseImage};
use kiln_oci::manifest::Descriptor;
use kiln_oci::registry::RegistryOptions;
use kiln_oci::{ImageRef, Manifest, OciLayout, store};

use crate::config::{BuildSection, KilnConfig};
use crate::error::BuildError;
pub use command::Log;

/// Where the project's images live, relative to the project directory.
pub const LAYOUT_DIR: &str = ".kiln/oci";

/// One build.
pub struct BuildRequest<'a> {
    /// The project directory, as the user named it (used in the printed reference).
    pub project_dir: &'a Path,
    /// The path of kiln.yaml (for messages).
    pub config_path: &'a Path,
    pub config: &'a KilnConfig,
    /// `SOURCE_DATE_EPOCH`: every time in the image; 0 when unset.
    pub source_date_epoch: Option<u64>,
    /// How registries (`build.base`, `publish.image`) are reached.
    pub registry: RegistryOptions,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// `oci:<project>/.kiln/oci:<tag>`.
    pub reference: String,
    pub tag: String,
    pub layout: PathBuf,
    pub manifest: Manifest,
    /// Every layer of the image, the base's first.
    pub layers: Vec<Descriptor>,
    /// `publish.image` with the pushed digest, when published.
    pub published: Option<String>,
}

/// Reads `SOURCE_DATE_EPOCH` from the environment.
pub fn source_date_epoch_from_env() -> Result<Option<u64>, BuildError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| BuildError::SourceDateEpoch(v)),
        Err(_) => Ok(None),
    }
}

/// Runs the build stage.
pub async fn build(req: &BuildRequest<'_>, log: Log<'_>) -> Result<BuildOutcome, BuildError> {
    let section = req
        .config
        .build
        .as_ref()
        .ok_or_else(|| BuildError::NoBuildSection(req.config_path.to_path_buf()))?;
    let dir = std::fs::canonicalize(req.project_dir).map_err(|e| BuildError::Io {
        what: format!("project directory {}", req.project_dir.display()),
        source: e,
    })?;
    let epoch = req.source_date_epoch.unwrap_or(0);
    let publish = match &req.config.publish {
        Some(p) => Some(
            ImageRef::parse(&p.image).map_err(|source| BuildError::Reference {
                field: "publish.image",
                source,
            })?,
        ),
        None => None,
    };

    if let Some(run) = &section.run {
        let command = run.display();
        log(&format!("$ {command}"));
        let env = [("SOURCE_DATE_EPOCH".to_string(), epoch.to_string())];
        let status = command::run_logged(&run.argv(), &dir, &env, log)
            .await
            .map_err(|source| BuildError::RunSpawn {
                command: command.clone(),
                source,
            })?;
        if !status.success() {
            return Err(BuildError::RunFailed {
                command,
                status: status.to_string(),
            });
        }
    }

    let layout = OciLayout::create(dir.join(LAYOUT_DIR))?;
    let manifest = match &section.dockerfile {
        Some(file) => {
            let context = section
                .context
                .clone()
                .unwrap_or_else(|| PathBuf::from("."));
            let b = buildah::DockerfileBuild {
                project_dir: &dir,
                dockerfile: file,
                context: &context,
                epoch,
            };
            b.run(&layout, log).await?
        }
        None => native_build(section, req, &dir, &layout, epoch, log).await?,
    };
    let tag = req.config.local_tag().to_string();
    layout.put_manifest(&manifest, Some(&tag))?;
    let layers = manifest.as_image()?.layers.clone();
    let shown = if req.project_dir == Path::new(".") || req.project_dir.as_os_str().is_empty() {
        PathBuf::from(LAYOUT_DIR)
    } else {
        req.project_dir.join(LAYOUT_DIR)
    };
    let reference = format!("oci:{}:{tag}", shown.display());
    log(&format!("built {reference} ({})", manifest.digest));

    let published = match publish {
        Some(target) => {
            let name = req
                .config
                .publish
                .as_ref()
                .map(|p| p.image.clone())
                .unwrap_or_default();
            log(&format!("pushing to {name}"));
            let dst = stores::open(&target, &dir, "publish.image", true, &req.registry)?;
            let dst_tag = target.tag().unwrap_or(&tag).to_string();
            store::copy_image(
                &layout,
                &manifest.digest.to_string(),
                dst.as_ref(),
                Some(&dst_tag),
            )
            .await
            .map_err(|source| BuildError::Publish {
                target: name.clone(),
                source,
            })?;
            Some(format!("{name}@{}", manifest.digest))
        }
        None => None,
    };
    Ok(BuildOutcome {
        reference,
        tag,
        layout: layout.root().to_path_buf(),
        manifest,
        layers,
        published,
    })
}

async fn native_build(
    section: &BuildSection,
    req: &BuildRequest<'_>,
    dir: &Path,
    layout: &OciLayout,
    epoch: u64,
    log: Log<'_>,
) -> Result<Manifest, BuildError> {
    let spec = native::image_spec(section, &req.config.image, dir, epoch);
    let base = section.base.as_deref().unwrap_or("scratch");
    let assembled = if base == "scratch" {
        log(&format!(
            "assembling {} layer(s) on scratch",
            spec.layers.len()
        ));
        assemble::assemble(layout, None, &spec).await?
    } else {
        let base_ref = ImageRef::parse(base).map_err(|source| BuildError::Reference {
            field: "build.base",
            source,
        })?;
        let store = stores::open(&base_ref, dir, "build.base", false, &req.registry)?;
        log(&format!(
            "assembling {} layer(s) on {base}",
            spec.layers.len()
        ));
        let base_image = BaseImage {
            store: store.as_ref(),
            selector: base_ref.selector(),
        };
        assemble::assemble(layout, Some(base_image), &spec).await?
    };
    Ok(assembled.manifest)
}
