//! One module per command group; each parses its arguments, calls the library crates and
//! prints.

pub mod build;
pub mod db;
pub mod image;
pub mod key;
pub mod policy;
pub mod sbom;
pub mod secrets;
pub mod sign;
pub mod vuln;
