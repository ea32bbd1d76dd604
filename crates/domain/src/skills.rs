//! The skill center's shared facts: the catalogue channels, and what a parse task found in a
//! package (the record `GetParseProgress` shows and `CreateTenantSkill` turns into a skill).

use serde::{Deserialize, Serialize};

/// `SkillChannel`: the edition a skill catalogue belongs to.
pub const CHANNELS: [&str; 2] = ["ENTERPRISE", "BUSINESS"];

/// Where uploads go: the bucket amc names in `GetOssStsToken`, and the folder of each tenant.
pub const BUCKET: &str = "amc-skills";

/// The key prefix of a tenant's uploads of one kind (`skill`, `icon`).
pub fn upload_prefix(tenant_id: &str, file_type: &str) -> String {
    format!("tenants/{tenant_id}/{}/", file_type.to_ascii_lowercase())
}

/// A finding of the scanner, as recorded with a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub severity: String,
    pub file: String,
    pub line: u32,
}

/// What parsing and scanning an uploaded package found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ParsedPackage {
    pub name: String,
    pub description: String,
    pub version: Option<String>,
    pub required_env_vars: Vec<String>,
    pub requires_api_key: bool,
    /// Hex SHA-256 and size of the package as uploaded.
    pub sha256: String,
    pub size: u64,
    pub files: usize,
    /// `NONE`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`: the worst finding.
    pub risk: String,
    /// 100 for a package without findings.
    pub score: u8,
    pub fail_reason: Option<String>,
    pub findings: Vec<Finding>,
}

/// Risk levels, least first.
pub const RISKS: [&str; 5] = ["NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// The rank of a risk level (unknown levels rank highest: they are refused first).
pub fn risk_rank(risk: &str) -> usize {
    RISKS.iter().position(|r| *r == risk).unwrap_or(RISKS.len())
}

/// Whether a version's scan lets it install on a runtime under the security policy: the
/// policy refuses skills of high risk or worse.
pub fn allowed_under_policy(risk: &str) -> bool {
    risk_rank(risk) < risk_rank("HIGH")
}

/// A scan status from a risk: `FAILED` from high risk on.
pub fn scan_status(risk: &str) -> &'static str {
    if allowed_under_policy(risk) {
        "PASSED"
    } else {
        "FAILED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_high_risk_and_worse() {
        assert!(allowed_under_policy("NONE"));
        assert!(allowed_under_policy("MEDIUM"));
        assert!(!allowed_under_policy("HIGH"));
        assert!(!allowed_under_policy("CRITICAL"));
        assert!(!allowed_under_policy("bogus"));
        assert_eq!(scan_status("LOW"), "PASSED");
    }
}
