//! Deciding a request against a caller's identity policies: explicit deny wins, then allow,
//! else the default deny. Nothing is allocated: conditions read the [`Context`] struct, and the
//! resources a batch has covered so far are a bit mask on the stack.

use crate::condition::Context;
use crate::document::{Policy, Statement};
use crate::pattern::action_service;

/// What is asked: one action over the resources it touches.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// As `ecd:CreateDesktops`; matched case-insensitively.
    pub action: &'a str,
    /// The ARNs the call touches. Never empty: an account-wide action passes an ARN like
    /// `acs:ecd:<region>:<account>:*`. An empty list is denied (`ImplicitDeny { resource: 0 }`)
    /// rather than allowed for want of anything to check.
    pub resources: &'a [String],
    pub context: &'a Context<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A Deny statement of policy `policy` (index into the slice given to `evaluate`) matched `resource` (index into request.resources).
    ExplicitDeny {
        policy: usize,
        resource: usize,
    },
    /// No Allow statement covers `resource`.
    ImplicitDeny {
        resource: usize,
    },
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Explicit deny wins, then allow, else default deny. Every resource must be allowed (a batch touching one forbidden resource is denied whole); report the first denied resource (explicit denies are looked for across all resources before implicit ones).
pub fn evaluate(policies: &[&Policy], request: &Request) -> Decision {
    if request.resources.is_empty() {
        return Decision::ImplicitDeny { resource: 0 };
    }
    let mut buffer = [0u8; ACTION_BUFFER];
    let action = Action {
        original: request.action,
        lowered: lowercase_into(&mut buffer, request.action),
        service: action_service(request.action),
    };
    if let Some((resource, policy)) = first_explicit_deny(policies, request, &action) {
        return Decision::ExplicitDeny { policy, resource };
    }
    match first_uncovered(policies, request, &action) {
        Some(resource) => Decision::ImplicitDeny { resource },
        None => Decision::Allow,
    }
}

/// Actions longer than this (none of the cloud's is near) are matched folding case as they go.
const ACTION_BUFFER: usize = 128;

/// The request's action, prepared once for every statement to test.
struct Action<'a> {
    original: &'a str,
    /// ASCII-lower-cased on the stack, so patterns compare without folding each byte.
    lowered: Option<&'a str>,
    service: Option<u64>,
}

fn lowercase_into<'b>(buffer: &'b mut [u8; ACTION_BUFFER], action: &str) -> Option<&'b str> {
    let slot = buffer.get_mut(..action.len())?;
    slot.copy_from_slice(action.as_bytes());
    slot.make_ascii_lowercase();
    std::str::from_utf8(slot).ok()
}

/// Whether a statement applies to the request at all, before its resources are looked at.
/// Conditions do not depend on the resource, so they are tested once per statement.
fn applies(statement: &Statement, request: &Request, action: &Action) -> bool {
    statement.may_concern(action.service)
        && match action.lowered {
            Some(lowered) => statement.actions.matches_lowercase(lowered),
            None => statement.actions.matches(action.original),
        }
        && statement.conditions_hold(request.context)
}

/// The lowest resource index any Deny statement matches, with the first policy that denies it.
fn first_explicit_deny(
    policies: &[&Policy],
    request: &Request,
    action: &Action,
) -> Option<(usize, usize)> {
    let mut first: Option<(usize, usize)> = None;
    for (policy_index, policy) in policies.iter().enumerate() {
        for statement in policy.denies.iter() {
            if !applies(statement, request, action) {
                continue;
            }
            // Only resources before the best found so far could improve on it.
            let limit = first.map_or(request.resources.len(), |(resource, _)| resource);
            let hit = request.resources[..limit]
                .iter()
                .position(|resource| statement.resources.matches(resource));
            if let Some(resource) = hit {
                if resource == 0 {
                    return Some((0, policy_index));
                }
                first = Some((resource, policy_index));
            }
        }
    }
    first
}

/// The first resource no Allow statement covers, taking the resources 64 at a time so that
/// what is covered fits in one `u64`.
fn first_uncovered(policies: &[&Policy], request: &Request, action: &Action) -> Option<usize> {
    for (chunk_index, chunk) in request.resources.chunks(64).enumerate() {
        let all = if chunk.len() == 64 {
            u64::MAX
        } else {
            (1u64 << chunk.len()) - 1
        };
        let mut covered = 0u64;
        'policies: for policy in policies {
            for statement in policy.allows.iter() {
                if !applies(statement, request, action) {
                    continue;
                }
                for (bit, resource) in chunk.iter().enumerate() {
                    if covered & (1 << bit) == 0 && statement.resources.matches(resource) {
                        covered |= 1 << bit;
                    }
                }
                if covered == all {
                    break 'policies;
                }
            }
        }
        if covered != all {
            let bit = (!covered).trailing_zeros() as usize;
            return Some(chunk_index * 64 + bit);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use chrono::{TimeZone, Utc};

    use super::{Decision, Request, evaluate};
    use crate::condition::Context;
    use crate::document::Policy;

    fn policy(statements: &str) -> Policy {
        let document = format!(r#"{{"Version":"1","Statement":[{statements}]}}"#);
        match Policy::parse(&document) {
            Ok(policy) => policy,
            Err(error) => panic!("{document}: {error}"),
        }
    }

    fn context() -> Context<'static> {
        Context {
            source_ip: "10.0.0.7".parse::<IpAddr>().ok(),
            secure_transport: true,
            current_time: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            mfa_present: false,
            access_id: None,
            principal_arn: None,
        }
    }

    fn decide_in(
        policies: &[&Policy],
        action: &str,
        resources: &[&str],
        context: &Context,
    ) -> Decision {
        let resources: Vec<String> = resources.iter().map(|r| r.to_string()).collect();
        evaluate(
            policies,
            &Request {
                action,
                resources: &resources,
                context,
            },
        )
    }

    fn decide(policies: &[&Policy], action: &str, resources: &[&str]) -> Decision {
        decide_in(policies, action, resources, &context())
    }

    const DESKTOP: &str = "acs:ecd:cn-hangzhou:1111:desktop/ecd-1";

    #[test]
    fn nothing_allows_by_default() {
        assert_eq!(
            decide(&[], "ecd:DescribeDesktops", &["*"]),
            Decision::ImplicitDeny { resource: 0 }
        );
        let unrelated = policy(r#"{"Effect":"Allow","Action":"wss:*","Resource":"*"}"#);
        assert_eq!(
            decide(&[&unrelated], "ecd:DescribeDesktops", &[DESKTOP]),
            Decision::ImplicitDeny { resource: 0 }
        );
        let allow = policy(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        assert_eq!(
            decide(&[&allow], "ecd:DescribeDesktops", &[]),
            Decision::ImplicitDeny { resource: 0 }
        );
    }

    #[test]
    fn actions_match_case_insensitively_and_resources_case_sensitively() {
        let allow = policy(
            r#"{"Effect":"Allow","Action":"ECD:describe*","Resource":"acs:ecd:*:1111:desktop/*"}"#,
        );
        assert_eq!(
            decide(&[&allow], "ecd:DescribeDesktops", &[DESKTOP]),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &[&allow],
                "ecd:DescribeDesktops",
                &["acs:ecd:cn-hangzhou:1111:Desktop/ecd-1"]
            ),
            Decision::ImplicitDeny { resource: 0 }
        );
        assert_eq!(
            decide(&[&allow], "ecd:CreateDesktops", &[DESKTOP]),
            Decision::ImplicitDeny { resource: 0 }
        );
    }

    #[test]
    fn the_service_shortcut_changes_no_decision() {
        let mixed = policy(
            r#"{"Effect":"Allow","Action":["appstreaming:*","ecd:Describe*"],"Resource":"*"},
               {"Effect":"Allow","Action":"ec?:Stop*","Resource":"*"},
               {"Effect":"Allow","Action":"*:List*","Resource":"*"}"#,
        );
        let check = |action: &str, expected: bool| {
            assert_eq!(
                decide(&[&mixed], action, &[DESKTOP]).is_allowed(),
                expected,
                "{action}"
            );
        };
        check("ECD:DescribeDesktops", true);
        check("AppStreaming:RemoveApps", true);
        check("ecd:StopDesktops", true);
        check("ecs:StopInstance", true);
        check("wss:ListOrders", true);
        check("wss:DescribeOrders", false);
        check("ecd", false);
        check("ecdx:DescribeDesktops", false);
        let everything = policy(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        assert!(decide(&[&everything], "no-colon", &[DESKTOP]).is_allowed());
    }

    #[test]
    fn explicit_deny_beats_allow_across_policies() {
        let allow = policy(r#"{"Effect":"Allow","Action":"appstreaming:*","Resource":"*"}"#);
        let deny = policy(
            r#"{"Effect":"Allow","Action":"ecd:*","Resource":"*"},
               {"Effect":"Deny","Action":"appstreaming:Remove*","Resource":"acs:appstreaming:*:*:*"}"#,
        );
        let resource = "acs:appstreaming:cn-shanghai:1111:appinstancegroup/aig-1";
        assert_eq!(
            decide(&[&allow, &deny], "appstreaming:RemoveApps", &[resource]),
            Decision::ExplicitDeny {
                policy: 1,
                resource: 0
            }
        );
        assert_eq!(
            decide(&[&deny, &allow], "appstreaming:removeapps", &[resource]),
            Decision::ExplicitDeny {
                policy: 0,
                resource: 0
            }
        );
        assert_eq!(
            decide(&[&allow, &deny], "appstreaming:ListApps", &[resource]),
            Decision::Allow
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let all_but_ram =
            policy(r#"{"Effect":"Allow","NotAction":["ram:*","sts:*"],"Resource":"*"}"#);
        assert_eq!(
            decide(&[&all_but_ram], "ecd:CreateDesktops", &[DESKTOP]),
            Decision::Allow
        );
        assert_eq!(
            decide(&[&all_but_ram], "RAM:CreateUser", &[DESKTOP]),
            Decision::ImplicitDeny { resource: 0 }
        );
        let except_desktops =
            policy(r#"{"Effect":"Allow","Action":"ecd:*","NotResource":"acs:ecd:*:*:desktop/*"}"#);
        assert_eq!(
            decide(
                &[&except_desktops],
                "ecd:DescribeImages",
                &["acs:ecd:cn-hangzhou:1111:image/m-1"]
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(&[&except_desktops], "ecd:DescribeDesktops", &[DESKTOP]),
            Decision::ImplicitDeny { resource: 0 }
        );
        let deny_outside = policy(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"},
               {"Effect":"Deny","Action":"*","NotResource":"acs:*:cn-hangzhou:*:*"}"#,
        );
        assert_eq!(
            decide(&[&deny_outside], "ecd:DescribeDesktops", &[DESKTOP]),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &[&deny_outside],
                "ecd:DescribeDesktops",
                &["acs:ecd:cn-beijing:1111:desktop/x"]
            ),
            Decision::ExplicitDeny {
                policy: 0,
                resource: 0
            }
        );
    }

    #[test]
    fn a_batch_is_allowed_only_whole() {
        let some = policy(
            r#"{"Effect":"Allow","Action":"ecd:StopDesktops","Resource":["acs:ecd:*:1111:desktop/ecd-1","acs:ecd:*:1111:desktop/ecd-3"]},
               {"Effect":"Allow","Action":"ecd:*","Resource":"acs:ecd:*:1111:desktop/ecd-2"}"#,
        );
        let batch = |ids: &[&str]| -> Vec<String> {
            ids.iter()
                .map(|id| format!("acs:ecd:cn-hangzhou:1111:desktop/{id}"))
                .collect()
        };
        let check = |ids: &[&str], expected: Decision| {
            let resources = batch(ids);
            let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
            assert_eq!(
                decide(&[&some], "ecd:StopDesktops", &refs),
                expected,
                "{ids:?}"
            );
        };
        check(&["ecd-1", "ecd-2", "ecd-3"], Decision::Allow);
        check(
            &["ecd-1", "ecd-4", "ecd-3", "ecd-5"],
            Decision::ImplicitDeny { resource: 1 },
        );

        let deny = policy(
            r#"{"Effect":"Deny","Action":"ecd:Stop*","Resource":"acs:ecd:*:*:desktop/ecd-3"}"#,
        );
        let resources = batch(&["ecd-9", "ecd-1", "ecd-3"]);
        let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
        // The explicit deny of the third is reported before the implicit deny of the first.
        assert_eq!(
            decide(&[&some, &deny], "ecd:StopDesktops", &refs),
            Decision::ExplicitDeny {
                policy: 1,
                resource: 2
            }
        );
    }

    #[test]
    fn the_first_denied_resource_is_reported_among_several_deny_statements() {
        let first = policy(r#"{"Effect":"Deny","Action":"*","Resource":"acs:ecd:*:*:desktop/c"}"#);
        let second = policy(
            r#"{"Effect":"Deny","Action":"*","Resource":"acs:ecd:*:*:desktop/b"},
               {"Effect":"Deny","Action":"*","Resource":"acs:ecd:*:*:desktop/c"}"#,
        );
        let third = policy(r#"{"Effect":"Deny","Action":"*","Resource":"acs:ecd:*:*:desktop/b"}"#);
        let resources = [
            "acs:ecd:r:1:desktop/a",
            "acs:ecd:r:1:desktop/b",
            "acs:ecd:r:1:desktop/c",
        ];
        assert_eq!(
            decide(&[&first, &second, &third], "ecd:X", &resources),
            Decision::ExplicitDeny {
                policy: 1,
                resource: 1
            }
        );
    }

    #[test]
    fn large_batches_span_several_masks() {
        let allow =
            policy(r#"{"Effect":"Allow","Action":"*","Resource":"acs:ecd:*:*:desktop/ok-*"}"#);
        let mut resources: Vec<String> = (0..150)
            .map(|i| format!("acs:ecd:r:1:desktop/ok-{i}"))
            .collect();
        let everything = Context { ..context() };
        let request = |resources: &[String]| {
            super::evaluate(
                &[&allow],
                &Request {
                    action: "ecd:X",
                    resources,
                    context: &everything,
                },
            )
        };
        assert_eq!(request(&resources), Decision::Allow);
        resources[130] = "acs:ecd:r:1:desktop/no".to_string();
        assert_eq!(
            request(&resources),
            Decision::ImplicitDeny { resource: 130 }
        );
        resources[64] = "acs:ecd:r:1:desktop/no".to_string();
        assert_eq!(request(&resources), Decision::ImplicitDeny { resource: 64 });
    }

    #[test]
    fn conditions_gate_statements() {
        let allow = policy(
            r#"{"Effect":"Allow","Action":"ecd:*","Resource":"*",
                "Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:SecureTransport":"true"}}}"#,
        );
        assert_eq!(
            decide(&[&allow], "ecd:DescribeDesktops", &[DESKTOP]),
            Decision::Allow
        );
        let outside = Context {
            source_ip: "192.0.2.1".parse::<IpAddr>().ok(),
            ..context()
        };
        assert_eq!(
            decide_in(&[&allow], "ecd:DescribeDesktops", &[DESKTOP], &outside),
            Decision::ImplicitDeny { resource: 0 }
        );
        let plain = Context {
            secure_transport: false,
            ..context()
        };
        assert_eq!(
            decide_in(&[&allow], "ecd:DescribeDesktops", &[DESKTOP], &plain),
            Decision::ImplicitDeny { resource: 0 }
        );
        let unknown = Context {
            source_ip: None,
            ..context()
        };
        assert_eq!(
            decide_in(&[&allow], "ecd:DescribeDesktops", &[DESKTOP], &unknown),
            Decision::ImplicitDeny { resource: 0 }
        );

        let deny_outside = policy(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"},
               {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#,
        );
        assert_eq!(
            decide(&[&deny_outside], "ecd:X", &[DESKTOP]),
            Decision::Allow
        );
        assert_eq!(
            decide_in(&[&deny_outside], "ecd:X", &[DESKTOP], &outside),
            Decision::ExplicitDeny {
                policy: 0,
                resource: 0
            }
        );
        // An unknown address counts as outside every range: the negated operator holds.
        assert_eq!(
            decide_in(&[&deny_outside], "ecd:X", &[DESKTOP], &unknown),
            Decision::ExplicitDeny {
                policy: 0,
                resource: 0
            }
        );
    }
}
