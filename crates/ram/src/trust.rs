//! A role's trust (assume-role) policy: who may assume the role. Statements name a `Principal`
//! instead of a `Resource`; whether the caller is also allowed `sts:AssumeRole` by its own
//! policies is decided by [`crate::evaluate`] over those, not here.

use serde_json::Value;

use crate::condition::Context;
use crate::document::{self, Effect, Kind, Statement};
use crate::error::PolicyError;

/// The action a trust policy is asked about.
const ASSUME_ROLE: &str = "sts:AssumeRole";

#[derive(Debug, Clone)]
pub struct TrustPolicy {
    statements: Box<[(Statement, Principals)]>,
}

/// Whom a statement names. `Federated` entries are accepted (the cloud has them) but match no
/// caller, since amc has no identity providers.
#[derive(Debug, Clone, Default)]
struct Principals {
    ram: Box<[RamPrincipal]>,
    /// Service names, lower-cased (`ecs.aliyuncs.com`).
    services: Box<[Box<str>]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RamPrincipal {
    /// `*`: any identity of any account.
    Anyone,
    /// `acs:ram::<account>:root` or a bare `<account>`: every identity of that account.
    Account(Box<str>),
    /// Any other RAM ARN (`…:user/<name>`, `…:role/<name>`): that identity only.
    Arn(Box<str>),
}

impl TrustPolicy {
    /// A role's trust (assume-role) policy: statements need `Principal` {"RAM": [arns] | "Service": [..]} (string or list, or "*"), Action like "sts:AssumeRole".
    pub fn parse(document: &str) -> Result<TrustPolicy, PolicyError> {
        let statements = document::parse_statements(document, Kind::Trust)?
            .into_iter()
            .enumerate()
            .map(|(index, parsed)| {
                let principals = match &parsed.principal {
                    Some(value) => parse_principal(value, index)?,
                    None => Principals::default(),
                };
                Ok((parsed.statement, principals))
            })
            .collect::<Result<_, PolicyError>>()?;
        Ok(TrustPolicy { statements })
    }

    /// Whether `principal` may assume the role. `principal_arn` is like `acs:ram::<account>:root`
    /// (the account owner) or `acs:ram::<account>:user/<name>`, or a service name such as
    /// `ecs.aliyuncs.com` for a service principal. A Principal entry `acs:ram::<account>:root`
    /// (or the bare `<account>`) trusts every identity of that account; `…:user/<name>` trusts
    /// that user only. Conditions apply with the given context. Explicit Deny wins.
    pub fn trusts(&self, principal_arn: &str, principal_account: &str, context: &Context) -> bool {
        let applies = |statement: &Statement, principals: &Principals| {
            statement.actions.matches(ASSUME_ROLE)
                && principals.names(principal_arn, principal_account)
                && statement.conditions_hold(context)
        };
        let mut allowed = false;
        for (statement, principals) in &self.statements {
            if applies(statement, principals) {
                match statement.effect {
                    Effect::Deny => return false,
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed
    }
}

impl Principals {
    fn names(&self, principal_arn: &str, principal_account: &str) -> bool {
        self.ram.iter().any(|entry| match entry {
            RamPrincipal::Anyone => true,
            RamPrincipal::Account(account) => **account == *principal_account,
            RamPrincipal::Arn(arn) => **arn == *principal_arn,
        }) || self
            .services
            .iter()
            .any(|service| service.eq_ignore_ascii_case(principal_arn))
    }
}

/// `"*"`, or an object of `RAM` / `Service` / `Federated` to a string or a non-empty list.
fn parse_principal(value: &Value, statement: usize) -> Result<Principals, PolicyError> {
    let invalid = || PolicyError::InvalidPrincipal { statement };
    let fields = match value {
        Value::String(any) if any == "*" => {
            return Ok(Principals {
                ram: Box::new([RamPrincipal::Anyone]),
                services: Box::default(),
            });
        }
        Value::Object(fields) if !fields.is_empty() => fields,
        _ => return Err(invalid()),
    };
    let mut principals = Principals::default();
    for (kind, entries) in fields {
        let entries = document::strings(entries, statement)?.ok_or_else(invalid)?;
        match kind.as_str() {
            "RAM" => {
                principals.ram = entries
                    .iter()
                    .map(|entry| ram_principal(entry).ok_or_else(invalid))
                    .collect::<Result<_, _>>()?;
            }
            "Service" => {
                if entries.iter().any(|service| service.is_empty()) {
                    return Err(invalid());
                }
                principals.services = entries
                    .iter()
                    .map(|service| service.to_ascii_lowercase().into_boxed_str())
                    .collect();
            }
            "Federated" => {}
            _ => return Err(invalid()),
        }
    }
    Ok(principals)
}

fn ram_principal(entry: &str) -> Option<RamPrincipal> {
    if entry == "*" {
        return Some(RamPrincipal::Anyone);
    }
    let valid_account = |account: &str| {
        !account.is_empty()
            && account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !entry.contains(':') {
        return valid_account(entry).then(|| RamPrincipal::Account(entry.into()));
    }
    let rest = entry.strip_prefix("acs:ram::")?;
    let (account, identity) = rest.split_once(':')?;
    if !valid_account(account) || identity.is_empty() {
        return None;
    }
    if identity == "root" {
        Some(RamPrincipal::Account(account.into()))
    } else {
        Some(RamPrincipal::Arn(entry.into()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::TrustPolicy;
    use crate::condition::Context;
    use crate::error::PolicyError;

    fn trust(principal: &str) -> TrustPolicy {
        let document = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{principal}}}]}}"#
        );
        match TrustPolicy::parse(&document) {
            Ok(policy) => policy,
            Err(error) => panic!("{document}: {error}"),
        }
    }

    fn context() -> Context<'static> {
        Context::at(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    fn check(policy: &TrustPolicy, arn: &str, account: &str, expected: bool) {
        assert_eq!(
            policy.trusts(arn, account, &context()),
            expected,
            "{arn} of {account}"
        );
    }

    #[test]
    fn root_trusts_every_identity_of_the_account() {
        let policy = trust(r#"{"RAM":["acs:ram::1111:root"]}"#);
        check(&policy, "acs:ram::1111:root", "1111", true);
        check(&policy, "acs:ram::1111:user/alice", "1111", true);
        check(&policy, "acs:ram::1111:assumed-role/r/s", "1111", true);
        check(&policy, "acs:ram::2222:user/alice", "2222", false);
    }

    #[test]
    fn a_bare_account_id_means_its_root() {
        let policy = trust(r#"{"RAM":"1111"}"#);
        check(&policy, "acs:ram::1111:user/bob", "1111", true);
        check(&policy, "acs:ram::2222:root", "2222", false);
    }

    #[test]
    fn a_user_entry_trusts_that_user_only() {
        let policy = trust(r#"{"RAM":["acs:ram::1111:user/alice","acs:ram::3333:root"]}"#);
        check(&policy, "acs:ram::1111:user/alice", "1111", true);
        check(&policy, "acs:ram::1111:user/bob", "1111", false);
        check(&policy, "acs:ram::1111:root", "1111", false);
        check(&policy, "acs:ram::3333:user/carol", "3333", true);
    }

    #[test]
    fn services_and_anyone() {
        let policy = trust(r#"{"Service":["ecs.aliyuncs.com"]}"#);
        check(&policy, "ECS.aliyuncs.com", "", true);
        check(&policy, "acs:ram::1111:root", "1111", false);
        let anyone = trust(r#""*""#);
        check(&anyone, "acs:ram::9999:user/x", "9999", true);
        let ram_anyone = trust(r#"{"RAM":"*"}"#);
        check(&ram_anyone, "acs:ram::9999:user/x", "9999", true);
        let federated = trust(r#"{"Federated":"acs:ram::1111:saml-provider/idp"}"#);
        check(&federated, "acs:ram::1111:root", "1111", false);
    }

    #[test]
    fn only_assume_role_counts_and_deny_wins() {
        let other_action = TrustPolicy::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Principal":{"RAM":"1111"}}]}"#,
        );
        assert!(other_action.is_ok_and(|p| !p.trusts("acs:ram::1111:root", "1111", &context())));
        let denied = TrustPolicy::parse(
            r#"{"Version":"1","Statement":[
              {"Effect":"Allow","Action":"sts:*","Principal":{"RAM":"acs:ram::1111:root"}},
              {"Effect":"Deny","Action":"sts:assumerole","Principal":{"RAM":"acs:ram::1111:user/mallory"}}]}"#,
        );
        let Ok(denied) = denied else {
            panic!("{denied:?}");
        };
        check(&denied, "acs:ram::1111:user/alice", "1111", true);
        check(&denied, "acs:ram::1111:user/mallory", "1111", false);
    }

    #[test]
    fn conditions_apply() {
        let policy = TrustPolicy::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"1111"},
              "Condition":{"Bool":{"acs:MFAPresent":"true"}}}]}"#,
        );
        let Ok(policy) = policy else {
            panic!("{policy:?}");
        };
        check(&policy, "acs:ram::1111:user/alice", "1111", false);
        let with_mfa = Context {
            mfa_present: true,
            ..context()
        };
        assert!(policy.trusts("acs:ram::1111:user/alice", "1111", &with_mfa));
    }

    #[test]
    fn malformed_trust_policies_are_refused() {
        let parse = |statement: &str| {
            TrustPolicy::parse(&format!(r#"{{"Version":"1","Statement":[{statement}]}}"#)).err()
        };
        assert_eq!(
            parse(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
            Some(PolicyError::MissingPrincipal { statement: 0 })
        );
        assert_eq!(
            parse(
                r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"1"},"Resource":"*"}"#
            ),
            Some(PolicyError::ResourceNotAllowed { statement: 0 })
        );
        for principal in [
            r#""acs:ram::1111:root""#,
            r#"{}"#,
            r#"{"AWS":"1111"}"#,
            r#"{"RAM":[]}"#,
            r#"{"RAM":"arn:aws:iam::1:root"}"#,
            r#"{"RAM":"acs:ram::1111:"}"#,
            r#"{"RAM":"acs:ram::a b:root"}"#,
            r#"{"Service":""}"#,
            r#"[]"#,
        ] {
            assert_eq!(
                parse(&format!(
                    r#"{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{principal}}}"#
                )),
                Some(PolicyError::InvalidPrincipal { statement: 0 }),
                "{principal}"
            );
        }
    }
}
