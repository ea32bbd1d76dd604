//! Whom a non-root key signs for, as RAM names it (in refusals, conditions and trust policies).

use store::tenants::{AccessKey, KeyPrincipal};

/// The principal of a non-root key, as RAM names it.
pub(crate) struct Principal<'a> {
    pub key: &'a AccessKey,
    /// `SubUser` or `AssumedRoleUser`.
    pub kind: &'static str,
    pub display_name: String,
    pub arn: String,
}

impl<'a> Principal<'a> {
    pub(crate) fn of(key: &'a AccessKey) -> Option<Principal<'a>> {
        let account = &key.tenant_id;
        match &key.principal {
            KeyPrincipal::Root => None,
            KeyPrincipal::User { name } => Some(Principal {
                key,
                kind: "SubUser",
                display_name: name.clone(),
                arn: ram::arn::user_arn(account, name),
            }),
            KeyPrincipal::Session(session) => Some(Principal {
                key,
                kind: "AssumedRoleUser",
                display_name: format!("{}:{}", session.role_name, session.session_name),
                arn: ram::arn::assumed_role_arn(account, &session.role_name, &session.session_name),
            }),
        }
    }
}
