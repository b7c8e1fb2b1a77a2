//! Dockerfile builds through buildah, daemonless: `--storage-driver vfs`,
//! `--isolation chroot`, a fixed `--timestamp`, storage under the project's
//! `.kiln/buildah`. The result is pushed by buildah into a temporary OCI layout and copied
//! from there into Kiln's layout.

use std::path::{Path, PathBuf};

use kiln_oci::{Manifest, OciLayout, store};

use super::command::{Log, find_program, run_logged};
use crate::error::BuildError;

/// A Dockerfile build.
pub struct DockerfileBuild<'a> {
    /// Absolute project directory.
    pub project_dir: &'a Path,
    pub dockerfile: &'a Path,
    pub context: &'a Path,
    pub epoch: u64,
}

impl DockerfileBuild<'_> {
    fn base_args(&self) -> Vec<String> {
        let kiln = self.project_dir.join(".kiln/buildah");
        vec![
            "--root".into(),
            kiln.join("storage").display().to_string(),
            "--runroot".into(),
            kiln.join("run").display().to_string(),
            "--storage-driver".into(),
            "vfs".into(),
        ]
    }

    /// The image name buildah builds into for this build.
    fn image_name(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("localhost/kiln-build:{}-{nanos}", std::process::id())
    }

    async fn buildah(
        &self,
        program: &Path,
        step: &'static str,
        args: &[String],
        log: Log<'_>,
    ) -> Result<(), BuildError> {
        let mut argv = vec![program.display().to_string()];
        argv.extend(self.base_args());
        argv.extend(args.iter().cloned());
        log(&format!("$ buildah {step} ..."));
        let status = run_logged(&argv, self.project_dir, &[], log)
            .await
            .map_err(|e| BuildError::Io {
                what: format!("running buildah {step}"),
                source: e,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(BuildError::Buildah {
                step,
                status: status.to_string(),
            })
        }
    }

    /// Builds the image and copies it into `layout` (untagged).
    pub async fn run(&self, layout: &OciLayout, log: Log<'_>) -> Result<Manifest, BuildError> {
        let program = find_program("buildah").ok_or(BuildError::BuildahMissing)?;
        let file = self.project_dir.join(self.dockerfile);
        if !file.is_file() {
            return Err(BuildError::Input {
                path: file,
                reason: "build.dockerfile: no such file".into(),
            });
        }
        let context = self.project_dir.join(self.context);
        if !context.is_dir() {
            return Err(BuildError::Input {
                path: context,
                reason: "build.context: no such directory".into(),
            });
        }
        let name = self.image_name();
        let epoch = self.epoch.to_string();
        let bud: Vec<String> = vec![
            "bud".into(),
            "--isolation".into(),
            "chroot".into(),
            "--timestamp".into(),
            epoch,
            "-f".into(),
            file.display().to_string(),
            "-t".into(),
            name.clone(),
            context.display().to_string(),
        ];
        self.buildah(&program, "bud", &bud, log).await?;
        let result = self.export(&program, &name, layout, log).await;
        // The build cache stays in the storage; only the temporary name goes.
        let rmi = ["rmi".to_string(), name.clone()];
        if let Err(e) = self.buildah(&program, "rmi", &rmi, log).await {
            log(&format!("warning: could not remove {name}: {e}"));
        }
        result
    }

    async fn export(
        &self,
        program: &Path,
        name: &str,
        layout: &OciLayout,
        log: Log<'_>,
    ) -> Result<Manifest, BuildError> {
        let tmp_parent: PathBuf = self.project_dir.join(".kiln/tmp");
        std::fs::create_dir_all(&tmp_parent).map_err(|e| BuildError::Io {
            what: tmp_parent.display().to_string(),
            source: e,
        })?;
        let tmp = tempfile::Builder::new()
            .prefix("buildah-")
            .tempdir_in(&tmp_parent)
            .map_err(|e| BuildError::Io {
                what: tmp_parent.display().to_string(),
                source: e,
            })?;
        let out = tmp.path().join("oci");
        let push = vec![
            "push".to_string(),
            "--format".into(),
            "oci".into(),
            name.to_string(),
            format!("oci:{}:build", out.display()),
        ];
        self.buildah(program, "push", &push, log).await?;
        let built = OciLayout::open(&out)?;
        Ok(store::copy_image(&built, "build", layout, None).await?)
    }
}
