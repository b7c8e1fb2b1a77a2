//! `kiln run --executor kubernetes`: the commit to run ([`source`]), the `batch/v1` Job
//! that runs it in the Kiln image ([`job`]) and its submission to a cluster through
//! kube-rs: create, follow the pod's log, report the result ([`submit`]).

pub mod error;
pub mod job;
pub mod source;

pub use error::ExecutorError;
pub use job::{JobOptions, job, to_json, to_yaml, validate};
pub use source::RunSource;
pub mod submit;

pub use submit::{Outcome, Progress, Target, submit};
