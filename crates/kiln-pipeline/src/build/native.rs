//! Native builds: the `build:` section of kiln.yaml turned into a
//! [`kiln_oci::assemble::ImageSpec`]. Sources are resolved against the project directory;
//! history lines quote them as written, so no machine-specific path enters the image.

use std::path::Path;

use kiln_oci::assemble::{ConfigSpec, ImageSpec, LayerEntry, LayerSpec, Owner};

use crate::config::{BuildSection, ImageSection};

/// The annotation carrying `image.name`.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// The image spec of a native build in `project_dir` (an absolute path).
pub fn image_spec(
    build: &BuildSection,
    image: &ImageSection,
    project_dir: &Path,
    epoch: u64,
) -> ImageSpec {
    let layers = build
        .layers
        .iter()
        .map(|l| LayerSpec {
            entries: l
                .files
                .iter()
                .map(|f| LayerEntry {
                    src: project_dir.join(&f.src),
                    dest: f.dest.clone(),
                    mode: f.mode.map(|m| m.0),
                    owner: f.owner.map(|o| Owner {
                        uid: o.uid,
                        gid: o.gid,
                    }),
                })
                .collect(),
            created_by: Some(format!(
                "kiln: COPY {}",
                l.files
                    .iter()
                    .map(|f| format!("{} {}", f.src.display(), f.dest))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
        .collect();
    let c = build.config.clone().unwrap_or_default();
    let config = ConfigSpec {
        entrypoint: c.entrypoint,
        cmd: c.cmd,
        env: c.env.into_iter().collect(),
        workdir: c.workdir,
        user: c.user,
        labels: c.labels,
        exposed_ports: c.ports,
        os: c.os,
        architecture: c.architecture,
        variant: c.variant,
        author: c.author,
    };
    let mut annotations = kiln_oci::manifest::Annotations::new();
    if let Some(name) = &image.name {
        annotations.insert(TITLE_ANNOTATION.into(), name.clone());
    }
    ImageSpec {
        layers,
        config,
        source_date_epoch: epoch,
        exclude: vec![project_dir.join(".kiln")],
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KilnConfig;

    #[test]
    fn spec_names_no_host_path_in_the_image() {
        let c = KilnConfig::parse(
            "image: { name: app }\nbuild:\n  layers:\n    - files: [ { src: bin/app, dest: /app, mode: '0700', owner: '1:2' } ]\n  config: { env: { B: '2', A: '1' }, ports: ['80'] }\n",
            Path::new("kiln.yaml"),
        )
        .unwrap();
        let dir = Path::new("/home/someone/project");
        let spec = image_spec(c.build.as_ref().unwrap(), &c.image, dir, 5);
        let layer = &spec.layers[0];
        assert_eq!(layer.created_by.as_deref(), Some("kiln: COPY bin/app /app"));
        assert_eq!(layer.entries[0].src, dir.join("bin/app"));
        assert_eq!(layer.entries[0].mode, Some(0o700));
        assert_eq!(layer.entries[0].owner, Some(Owner { uid: 1, gid: 2 }));
        assert_eq!(spec.exclude, [dir.join(".kiln")]);
        assert_eq!(spec.source_date_epoch, 5);
        assert_eq!(
            spec.config.env,
            [("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        assert_eq!(spec.annotations[TITLE_ANNOTATION], "app");
    }
}
