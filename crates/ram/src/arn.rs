//! The ARNs RAM policies name: resources (`acs:<service>:<region>:<account>:<relative-id>`) and
//! identities (`acs:ram::<account>:<kind>/<name>`), built in one place so every caller spells
//! them as the cloud does.

/// `acs:{service}:{region}:{account}:{relative}`.
pub fn resource_arn(service: &str, region: &str, account: &str, relative: &str) -> String {
    format!("acs:{service}:{region}:{account}:{relative}")
}

/// `acs:ram::{account}:user/{name}`.
pub fn user_arn(account: &str, user_name: &str) -> String {
    format!("acs:ram::{account}:user/{user_name}")
}

/// `acs:ram::{account}:role/{name}`, the name lower-cased as the cloud writes role ARNs.
pub fn role_arn(account: &str, role_name: &str) -> String {
    format!("acs:ram::{account}:role/{}", role_name.to_lowercase())
}

/// `acs:ram::{account}:root`: the account owner, and in a trust policy the whole account.
pub fn root_arn(account: &str) -> String {
    format!("acs:ram::{account}:root")
}

/// `acs:ram::{account}:assumed-role/{role}/{session}`: the identity of an STS session.
pub fn assumed_role_arn(account: &str, role_name: &str, session: &str) -> String {
    format!("acs:ram::{account}:assumed-role/{role_name}/{session}")
}

/// The account and role name of `acs:ram::<account>:role/<name>`, as written (not re-cased);
/// `None` for anything else, including a name with a further `/` or `:`.
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?;
    let plain = |part: &str| !part.is_empty() && !part.contains([':', '/']);
    (plain(account) && plain(name)).then_some((account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_spell_arns_as_the_cloud_does() {
        assert_eq!(
            resource_arn("ecd", "cn-hangzhou", "1111", "desktop/ecd-1"),
            "acs:ecd:cn-hangzhou:1111:desktop/ecd-1"
        );
        assert_eq!(user_arn("1111", "Alice"), "acs:ram::1111:user/Alice");
        assert_eq!(
            role_arn("1111", "AdminRole"),
            "acs:ram::1111:role/adminrole"
        );
        assert_eq!(root_arn("1111"), "acs:ram::1111:root");
        assert_eq!(
            assumed_role_arn("1111", "AdminRole", "s1"),
            "acs:ram::1111:assumed-role/AdminRole/s1"
        );
    }

    #[test]
    fn role_arns_parse_back() {
        assert_eq!(
            parse_role_arn(&role_arn("1111", "Admin")),
            Some(("1111", "admin"))
        );
        assert_eq!(
            parse_role_arn("acs:ram::1111:role/Ops"),
            Some(("1111", "Ops"))
        );
        for not_a_role in [
            "acs:ram::1111:user/alice",
            "acs:ram::1111:role/",
            "acs:ram:::role/x",
            "acs:ram::1111:role/a/b",
            "acs:ram:cn-hangzhou:1111:role/x",
            "acs:ecs::1111:role/x",
            "role/x",
            "",
        ] {
            assert_eq!(parse_role_arn(not_a_role), None, "{not_a_role}");
        }
    }
}
