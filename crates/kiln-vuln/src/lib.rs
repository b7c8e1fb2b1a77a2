//! Vulnerability scanning for Kiln: OSV records, the local database, version ordering per
//! ecosystem, matching, severity, VEX.

pub mod artifact;
pub mod db;
pub mod import;
pub mod matchidx;
pub mod osv;
pub mod purl;
pub mod range;
pub mod report;
pub mod scan;
pub mod severity;
pub mod version;
pub mod vex;
