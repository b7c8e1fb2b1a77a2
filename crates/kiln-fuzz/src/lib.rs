//! Fuzz targets for every Kiln parser of untrusted input and a mutation-based driver that
//! runs them on the stable toolchain.
//!
//! A target is a plain `fn(&[u8]) -> String`: it feeds the bytes to one public parsing API,
//! checks the cheap invariants that parser promises (round trips, antisymmetry), and
//! returns a short label of what happened (`ok`, or the shape of the error) that the
//! driver uses to keep inputs that reach new behaviour. A target panics only on a bug.

pub mod driver;
pub mod mutate;
pub mod seeds;
pub mod targets;

pub use targets::{TARGETS, Target, find};
