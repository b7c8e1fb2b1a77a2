//! OCI plumbing for Kiln.
//!
//! This crate knows images and registries and nothing of signing, SBOMs or policy:
//! content digests ([`digest`]), media types ([`media_type`]), strict parsing of
//! untrusted manifests and indexes ([`manifest`]), image references ([`reference`]),
//! the OCI image layout store ([`layout`]) and the [`store::ImageStore`] trait that the
//! layout and the registry client both implement, so every later stage reads and writes
//! images the same way wherever they live.

pub mod assemble;
pub mod digest;
pub mod error;
pub mod fsview;
pub mod layout;
pub mod manifest;
pub mod media_type;
pub mod open;
pub mod reference;
pub mod registry;
pub mod store;
pub mod time;

pub use digest::Digest;
pub use error::{OciError, Result};
pub use layout::OciLayout;
pub use manifest::{Manifest, ManifestKind};
pub use reference::ImageRef;
pub use store::ImageStore;
