//! The Kiln deployment policy: the policy document (`kind: ImagePolicy`), the verified
//! evidence it is evaluated on, and the decision with every reason as data. Used by
//! `kiln policy`, `kiln verify --policy` and the admission webhook alike.

pub mod collect;
pub mod decision;
pub mod document;
pub mod eval;
pub mod evidence;
pub mod glob;
pub mod kyverno;
pub mod rego;
pub mod signer;
pub mod testcase;

pub use decision::{Decision, Reason, ReasonCode};
pub use document::{DefaultAction, Mode, Policy, PolicyError};
pub use evidence::{Evidence, SignerIdentity, VerifiedAttestation, VerifiedSignature};
