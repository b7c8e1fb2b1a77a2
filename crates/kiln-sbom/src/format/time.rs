//! RFC 3339 UTC timestamps from Unix seconds: the one implementation lives in kiln-oci.

pub use kiln_oci::time::rfc3339;
