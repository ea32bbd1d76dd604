//! RAM, the cloud's access control: the policy language (identity and trust policies), its
//! validation, and the decision of a request against a caller's policies, plus the ARNs and the
//! system policies every tenant has.
//!
//! Pure: no I/O and no clock. The time, the caller's address and the like come in a [`Context`].
//! Documents are checked and compiled once by [`Policy::parse`]; [`evaluate`] then cannot fail and
//! allocates nothing.

pub mod arn;
mod condition;
mod document;
mod error;
mod evaluate;
mod limits;
mod pattern;
pub mod system;
mod trust;

pub use condition::Context;
pub use document::Policy;
pub use error::PolicyError;
pub use evaluate::{Decision, Request, evaluate};
pub use limits::{MAX_DOCUMENT_BYTES, MAX_PATTERN_BYTES, MAX_STATEMENTS};
pub use pattern::glob_matches;
pub use system::{SystemPolicy, system_policies, system_policy, system_policy_compiled};
pub use trust::TrustPolicy;
