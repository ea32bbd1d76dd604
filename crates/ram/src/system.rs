//! The cloud's system policies, which every tenant has: fixed documents, rendered and compiled
//! once on first use.

use std::sync::LazyLock;

use crate::document::Policy;

/// A system policy as `GetPolicy` shows it, with its compiled form.
#[derive(Debug)]
pub struct SystemPolicy {
    pub name: &'static str,
    pub description: &'static str,
    /// Pretty JSON, `"Version": "1"` first, as shown to users.
    pub document: String,
    policy: Policy,
}

impl SystemPolicy {
    /// The compiled document.
    pub fn policy(&'static self) -> &'static Policy {
        &self.policy
    }
}

/// Every system policy, in a fixed order.
pub fn system_policies() -> &'static [SystemPolicy] {
    &SYSTEM_POLICIES
}

/// The system policy of that name (case-sensitive, as the cloud's names are).
pub fn system_policy(name: &str) -> Option<&'static SystemPolicy> {
    SYSTEM_POLICIES.iter().find(|policy| policy.name == name)
}

/// The compiled system policy of that name.
pub fn system_policy_compiled(name: &str) -> Option<&'static Policy> {
    system_policy(name).map(SystemPolicy::policy)
}

/// A statement of a system policy: effect and actions; the resource is always `*`.
type Rule = (&'static str, &'static [&'static str]);

/// Name, description and statements of every system policy, in the order they are listed.
const TABLE: &[(&str, &str, &[Rule])] = &[
    (
        "AdministratorAccess",
        "Provides full access to Alibaba Cloud services and resources.",
        &[("Allow", &["*"])],
    ),
    (
        "ReadOnlyAccess",
        "Provides read-only access to Alibaba Cloud services and resources.",
        &[("Allow", &["*:Describe*", "*:List*", "*:Get*", "*:Query*"])],
    ),
    (
        "AliyunAppStreamingFullAccess",
        "Provides full access to App Streaming via Management Console.",
        &[("Allow", &["appstreaming:*"])],
    ),
    (
        "AliyunAppStreamingReadOnlyAccess",
        "Provides read-only access to App Streaming via Management Console.",
        &[(
            "Allow",
            &[
                "appstreaming:Describe*",
                "appstreaming:List*",
                "appstreaming:Get*",
            ],
        )],
    ),
    (
        "AliyunECDFullAccess",
        "Provides full access to Elastic Desktop Service (ECD) via Management Console.",
        &[("Allow", &["ecd:*"])],
    ),
    (
        "AliyunECDReadOnlyAccess",
        "Provides read-only access to Elastic Desktop Service (ECD) via Management Console.",
        &[
            ("Allow", &["ecd:Describe*", "ecd:List*", "ecd:Get*"]),
            // The one `Get` that is not a read: it mints credentials for uploads.
            ("Deny", &["ecd:GetOssStsToken"]),
        ],
    ),
    (
        "AliyunWSSFullAccess",
        "Provides full access to Workspace Service (WSS) via Management Console.",
        &[("Allow", &["wss:*"])],
    ),
    (
        "AliyunWSSReadOnlyAccess",
        "Provides read-only access to Workspace Service (WSS) via Management Console.",
        &[("Allow", &["wss:Describe*", "wss:List*", "wss:Get*"])],
    ),
    (
        "AliyunResourceManagerFullAccess",
        "Provides full access to Resource Management via Management Console.",
        &[("Allow", &["resourcemanager:*"])],
    ),
    (
        "AliyunResourceManagerReadOnlyAccess",
        "Provides read-only access to Resource Management via Management Console.",
        &[(
            "Allow",
            &[
                "resourcemanager:Describe*",
                "resourcemanager:List*",
                "resourcemanager:Get*",
            ],
        )],
    ),
    (
        "AliyunRAMFullAccess",
        "Provides full access to Resource Access Management (RAM) via Management Console.",
        &[("Allow", &["ram:*"])],
    ),
    (
        "AliyunRAMReadOnlyAccess",
        "Provides read-only access to Resource Access Management (RAM) via Management Console.",
        &[("Allow", &["ram:Describe*", "ram:List*", "ram:Get*"])],
    ),
    (
        "AliyunSTSAssumeRoleAccess",
        "Provides access to call the AssumeRole operation of Security Token Service (STS).",
        &[("Allow", &["sts:AssumeRole"])],
    ),
];

static SYSTEM_POLICIES: LazyLock<Vec<SystemPolicy>> = LazyLock::new(|| {
    TABLE
        .iter()
        .map(|&(name, description, rules)| build(name, description, rules))
        .collect()
});

fn build(name: &'static str, description: &'static str, rules: &[Rule]) -> SystemPolicy {
    let document = render(rules);
    // The documents are fixed and tested to parse; should one ever fail, it grants nothing.
    let policy = Policy::parse(&document).unwrap_or_else(|_| Policy::empty());
    SystemPolicy {
        name,
        description,
        document,
        policy,
    }
}

/// Renders by hand rather than through `serde_json`, which would sort `Statement` before
/// `Version`; every piece is a fixed name needing no escaping.
fn render(rules: &[Rule]) -> String {
    let statements: Vec<String> = rules
        .iter()
        .map(|(effect, actions)| {
            let action = match actions {
                [one] => format!("\"{one}\""),
                many => {
                    let lines: Vec<String> =
                        many.iter().map(|a| format!("        \"{a}\"")).collect();
                    format!("[\n{}\n      ]", lines.join(",\n"))
                }
            };
            format!(
                "    {{\n      \"Effect\": \"{effect}\",\n      \"Action\": {action},\n      \"Resource\": \"*\"\n    }}"
            )
        })
        .collect();
    format!(
        "{{\n  \"Version\": \"1\",\n  \"Statement\": [\n{}\n  ]\n}}",
        statements.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use chrono::Utc;

    use super::{system_policies, system_policy, system_policy_compiled};
    use crate::condition::Context;
    use crate::document::Policy;
    use crate::evaluate::{Decision, Request, evaluate};

    fn allowed(name: &str, action: &str) -> bool {
        let Some(policy) = system_policy_compiled(name) else {
            panic!("no system policy {name}");
        };
        let context = Context {
            source_ip: "10.0.0.1".parse::<IpAddr>().ok(),
            ..Context::at(Utc::now())
        };
        let resources = ["acs:ecd:cn-hangzhou:1111:desktop/ecd-1".to_string()];
        evaluate(
            &[policy],
            &Request {
                action,
                resources: &resources,
                context: &context,
            },
        ) == Decision::Allow
    }

    #[test]
    fn every_document_parses_back_and_reads_as_shown() {
        let names: Vec<&str> = system_policies().iter().map(|p| p.name).collect();
        assert_eq!(names.len(), 13, "{names:?}");
        for policy in system_policies() {
            let parsed = Policy::parse(&policy.document);
            assert!(parsed.is_ok(), "{}: {parsed:?}", policy.name);
            assert!(policy.policy().statement_count() > 0, "{}", policy.name);
            assert!(
                policy
                    .document
                    .starts_with("{\n  \"Version\": \"1\",\n  \"Statement\": ["),
                "{}",
                policy.document
            );
            let value: Result<serde_json::Value, _> = serde_json::from_str(&policy.document);
            assert!(value.is_ok(), "{}", policy.document);
            assert!(!policy.description.is_empty());
        }
    }

    #[test]
    fn names_are_case_sensitive() {
        assert!(system_policy("AdministratorAccess").is_some());
        assert!(system_policy("administratoraccess").is_none());
        assert!(system_policy("AliyunECDReadOnlyAccess").is_some());
        assert!(system_policy("AliyunNothingFullAccess").is_none());
    }

    #[test]
    fn the_policies_grant_what_their_names_say() {
        assert!(allowed("AdministratorAccess", "ram:CreateUser"));
        assert!(allowed("ReadOnlyAccess", "ecd:DescribeDesktops"));
        assert!(allowed("ReadOnlyAccess", "wss:QueryOrders"));
        assert!(!allowed("ReadOnlyAccess", "ecd:CreateDesktops"));
        assert!(allowed("AliyunECDFullAccess", "ecd:CreateDesktops"));
        assert!(!allowed("AliyunECDFullAccess", "appstreaming:ListApps"));
        assert!(allowed("AliyunECDReadOnlyAccess", "ecd:DescribeDesktops"));
        assert!(allowed("AliyunECDReadOnlyAccess", "ecd:ListTagResources"));
        assert!(allowed(
            "AliyunECDReadOnlyAccess",
            "ecd:GetConnectionTicket"
        ));
        assert!(!allowed("AliyunECDReadOnlyAccess", "ecd:GetOssStsToken"));
        assert!(!allowed("AliyunECDReadOnlyAccess", "ecd:StopDesktops"));
        assert!(allowed(
            "AliyunAppStreamingReadOnlyAccess",
            "appstreaming:ListAppInstances"
        ));
        assert!(allowed(
            "AliyunAppStreamingFullAccess",
            "appstreaming:RemoveApps"
        ));
        assert!(allowed(
            "AliyunWSSReadOnlyAccess",
            "wss:DescribeDeliveryAddress"
        ));
        assert!(allowed(
            "AliyunResourceManagerFullAccess",
            "resourcemanager:CreateResourceGroup"
        ));
        assert!(!allowed(
            "AliyunResourceManagerReadOnlyAccess",
            "resourcemanager:CreateResourceGroup"
        ));
        assert!(allowed("AliyunRAMReadOnlyAccess", "ram:GetPolicy"));
        assert!(!allowed(
            "AliyunRAMReadOnlyAccess",
            "ram:AttachPolicyToUser"
        ));
        assert!(allowed("AliyunSTSAssumeRoleAccess", "sts:AssumeRole"));
        assert!(!allowed(
            "AliyunSTSAssumeRoleAccess",
            "sts:GetCallerIdentity"
        ));
    }
}
