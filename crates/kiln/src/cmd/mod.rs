//! One module per command group; each parses its arguments, calls the library crates and
//! prints.

pub mod admit;
pub mod build;
pub mod db;
pub mod evidence;
pub mod hook;
pub mod image;
pub mod key;
pub mod policy;
pub mod rescan;
pub mod run;
pub mod sbom;
pub mod secrets;
pub mod server;
pub mod sign;
pub mod vuln;
