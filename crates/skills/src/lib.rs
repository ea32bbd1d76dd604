//! Skill packages: [`inspect`] checks that a zip is a well-formed Agent Skills package that is safe
//! to unpack (exactly one `SKILL.md` at the root or in one top folder, front matter with a valid
//! name and description, no path leaving the folder, no link, bounded count, size and compression
//! ratio) and scans every text file with [`scan::scan_file`], in the light of what the package
//! declares (the environment variables it says it uses are its own to send to its service).
//! Every refusal names its rule and file.

mod package;
pub mod scan;

pub use package::{Limits, Package, PackageError, PackageFile, inspect, valid_name};
pub use scan::{Finding, Rule, SCAN_RULES, ScanContext, ScanReport, Severity};
