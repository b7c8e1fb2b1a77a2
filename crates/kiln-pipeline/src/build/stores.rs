//! Opening the image stores the build names (`build.base`, `publish.image`): an OCI
//! layout (`oci:PATH`, relative to the project directory) or a registry repository.

use std::path::Path;

use kiln_oci::open;
use kiln_oci::registry::RegistryOptions;
use kiln_oci::{ImageRef, ImageStore, OciLayout};

use crate::error::BuildError;

/// Opens the store `reference` lives in; a layout is created when `create` is set.
pub fn open(
    reference: &ImageRef,
    project_dir: &Path,
    field: &'static str,
    create: bool,
    options: &RegistryOptions,
) -> Result<Box<dyn ImageStore>, BuildError> {
    let wrap = |source| BuildError::Reference { field, source };
    match reference {
        ImageRef::Layout { path, .. } => {
            let path = project_dir.join(path);
            let layout = if create {
                OciLayout::create(path)
            } else {
                OciLayout::open(path)
            };
            Ok(Box::new(layout.map_err(wrap)?))
        }
        ImageRef::Registry { .. } => open::open_store(reference, options).map_err(wrap),
    }
}
