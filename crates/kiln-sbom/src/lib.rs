//! SBOMs for Kiln: sources to catalog ([`source`]), catalogers that read each ecosystem's own
//! package records ([`catalog`]), the package model with PURLs ([`package`], [`purl`]), and
//! SPDX 2.3 and CycloneDX 1.6 writers and readers ([`format`]).

pub mod catalog;
pub mod cpe;
pub mod format;
pub mod license;
pub mod package;
pub mod purl;
pub mod source;
pub mod warning;

pub use catalog::{Outcome, catalog_source};
pub use package::{Catalog, Distro, Location, Package, PackageType};
pub use warning::Warning;
