//! Vulnerability scanning for Kiln: OSV records, the local database, version ordering per ecosystem, matching, severity, VEX.
