//! amc's domain: ids, the runtime catalogue, runtime state machines, paging rules, resource
//! groups, office sites, IM channels, model groups and the managed model provider catalogue.
//!
//! Pure: no I/O and no clock. Time and randomness come in as arguments.

pub mod catalogue;
pub mod channels;
pub mod credits;
pub mod ids;
pub mod models;
pub mod office_sites;
pub mod paging;
pub mod providers;
pub mod resource_groups;
pub mod runtime;
pub mod secrets;
pub mod skills;
