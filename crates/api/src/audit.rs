//! What the audit trail records of a call: every call that changes state, whatever it answered,
//! and every call refused before its action ran (authentication, authorisation) that names a
//! key. Only ids: the principal is the access key id, resources the ids the request named.

use store::audit::AuditEntry;

use crate::resources::Touched;

/// Most resource ids kept of one call.
const MAX_RESOURCES: usize = 100;

/// What the pipeline learnt of a call as it went.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub principal: Option<String>,
    pub tenant_id: Option<String>,
    pub product: Option<&'static str>,
    pub action: Option<String>,
    pub resources: Vec<String>,
    /// The action's handler was reached (authentication and authorisation passed).
    pub reached_action: bool,
}

/// Whether an action changes state (reads are `Describe…`, `List…`, `Get…`, `Decode…`;
/// minting upload credentials is not a read).
pub(crate) fn changes_state(action: &str) -> bool {
    let read = ["Describe", "List", "Get", "Decode"]
        .iter()
        .any(|prefix| action.starts_with(prefix));
    !read || action == "GetOssStsToken"
}

/// The ids of the resources a request names (see [`crate::resources::touched`]).
pub(crate) fn resources(touched: &[Touched]) -> Vec<String> {
    let mut out: Vec<String> = touched.iter().map(|resource| resource.id.clone()).collect();
    out.sort();
    out.dedup();
    out.truncate(MAX_RESOURCES);
    out
}

impl Draft {
    /// The entry to record for a call that answered `code`, if it is one the trail keeps.
    pub(crate) fn entry(
        self,
        code: Option<&str>,
        at: i64,
        source_ip: String,
        request_id: &str,
    ) -> Option<AuditEntry> {
        let principal = self.principal?;
        let action = self.action.unwrap_or_default();
        let keep = if self.reached_action {
            changes_state(&action)
        } else {
            code.is_some()
        };
        keep.then(|| AuditEntry {
            at,
            tenant_id: self.tenant_id,
            principal,
            source_ip,
            product: self.product.unwrap_or("amc").to_string(),
            action,
            resources: self.resources,
            code: code.unwrap_or("OK").to_string(),
            request_id: request_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use pop::FlatParams;

    use super::*;

    #[test]
    fn resources_are_the_ids_a_request_names() {
        let mut params = FlatParams::new();
        for (k, v) in [
            ("RuntimeIds.1", "ecd-1"),
            ("RuntimeIds.2", "ecd-2"),
            ("Identities.1.IdentityId", "ecd-3"),
            ("Identities.1.RegionId", "cn-hangzhou"),
            ("RegionId", "cn-hangzhou"),
            ("ModelTemplateIdList", "[\"mt-1\",\"mt-2\"]"),
            ("TaskKey", "T1"),
            ("Name", "not an id"),
            ("ApiKey", "sk-secret"),
        ] {
            params.insert(k, v);
        }
        assert_eq!(
            resources(&crate::resources::touched(&params)),
            ["T1", "ecd-1", "ecd-2", "ecd-3", "mt-1", "mt-2"]
        );
    }

    #[test]
    fn writes_and_refusals_are_kept_reads_are_not() {
        assert!(changes_state("DeleteDesktops") && changes_state("GetOssStsToken"));
        assert!(!changes_state("DescribeDesktops") && !changes_state("ListSkills"));
        let draft = |reached: bool, action: &str| Draft {
            principal: Some("LTAI1".into()),
            action: Some(action.into()),
            reached_action: reached,
            ..Draft::default()
        };
        assert!(
            draft(true, "ListSkills")
                .entry(None, 1, "ip".into(), "r")
                .is_none()
        );
        assert!(
            draft(true, "DeleteDesktops")
                .entry(None, 1, "ip".into(), "r")
                .is_some()
        );
        let refused =
            draft(false, "ListSkills").entry(Some("SignatureDoesNotMatch"), 1, "ip".into(), "r");
        assert_eq!(
            refused.map(|e| e.code),
            Some("SignatureDoesNotMatch".to_string())
        );
        let anonymous = Draft::default().entry(Some("IncompleteSignature"), 1, "ip".into(), "r");
        assert!(anonymous.is_none(), "a call naming no key is not kept");
    }
}
