//! amc's domain: ids, the runtime catalogue, runtime state machines, paging rules.
//!
//! Pure: no I/O and no clock. Time and randomness come in as arguments.

pub mod catalogue;
pub mod channels;
pub mod ids;
pub mod paging;
pub mod resource_groups;
pub mod runtime;
