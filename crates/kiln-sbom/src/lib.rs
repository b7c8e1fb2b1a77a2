//! SBOMs for Kiln: catalogers that read each ecosystem's own package records, the package
//! model with PURLs ([`package`]), and SPDX 2.3 and CycloneDX 1.6 writers and readers.

pub mod package;

pub use package::{Catalog, Distro, Location, Package, PackageType};
