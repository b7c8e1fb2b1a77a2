//! Opening the store an [`ImageRef`] names: the one entry point every command uses to
//! reach images, wherever they live.
//!
//! ```no_run
//! # async fn demo() -> kiln_oci::Result<()> {
//! use kiln_oci::open::{open_store, open_existing_store};
//! use kiln_oci::registry::RegistryOptions;
//! use kiln_oci::{ImageRef, store};
//!
//! let src = ImageRef::parse("oci:.kiln/oci:app")?;
//! let dst = ImageRef::parse("127.0.0.1:5000/team/app:1.0")?;
//! let opts = RegistryOptions::default();
//! let from = open_existing_store(&src, &opts)?; // reading: the layout must exist
//! let to = open_store(&dst, &opts)?;            // writing: a layout would be created
//! let copied = store::copy_image(&*from, &src.selector(), &*to, dst.tag()).await?;
//! println!("{}", copied.digest);
//! # Ok(()) }
//! ```

use crate::error::Result;
use crate::layout::OciLayout;
use crate::reference::ImageRef;
use crate::registry::{RegistryOptions, RegistryStore};
use crate::store::ImageStore;

/// Opens the store of `reference` for reading and writing.
///
/// - `oci:PATH[...]`: the OCI image layout at `PATH`, **created** (empty) if the
///   directory holds none: use this for destinations;
/// - any other reference: the repository `REGISTRY/REPO` through a [`RegistryStore`]
///   (credentials from `options` or looked up; plain HTTP only for loopback or
///   `options.insecure`; retries per `options.retry`). Nothing is sent until the
///   first operation.
///
/// The tag or digest of `reference` is not used here: pass
/// [`ImageRef::selector`] to [`ImageStore::resolve`], or [`ImageRef::tag`] to a push.
pub fn open_store(reference: &ImageRef, options: &RegistryOptions) -> Result<Box<dyn ImageStore>> {
    match reference {
        ImageRef::Layout { path, .. } => Ok(Box::new(OciLayout::create(path)?)),
        ImageRef::Registry {
            registry,
            repository,
            ..
        } => Ok(Box::new(RegistryStore::new(registry, repository, options)?)),
    }
}

/// Like [`open_store`], but a layout must already exist (an error naming the path
/// otherwise): use this for sources, so that a mistyped path is reported instead of
/// silently creating an empty layout.
pub fn open_existing_store(
    reference: &ImageRef,
    options: &RegistryOptions,
) -> Result<Box<dyn ImageStore>> {
    match reference {
        ImageRef::Layout { path, .. } => Ok(Box::new(OciLayout::open(path)?)),
        ImageRef::Registry { .. } => open_store(reference, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_created_only_by_open_store() {
        let dir = tempfile::tempdir().unwrap();
        let r = ImageRef::parse(&format!("oci:{}/lay:v1", dir.path().display())).unwrap();
        let err = open_existing_store(&r, &RegistryOptions::default())
            .err()
            .expect("no layout yet")
            .to_string();
        assert!(err.contains("lay"), "{err}");
        let s = open_store(&r, &RegistryOptions::default()).unwrap();
        assert!(s.name().starts_with("oci:"));
        assert!(open_existing_store(&r, &RegistryOptions::default()).is_ok());
        let r = ImageRef::parse("127.0.0.1:5000/app:v1").unwrap();
        let s = open_store(&r, &RegistryOptions::default()).unwrap();
        assert_eq!(s.name(), "127.0.0.1:5000/app");
        assert_eq!(
            s.registry_location(),
            Some(("127.0.0.1:5000".into(), "app".into()))
        );
    }
}
