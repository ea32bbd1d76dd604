//! `ram-user`: a RAM user with many policies, for measuring what authorisation costs a call:
//! `policies` custom policies of `statements` statements each, none of which matches the
//! measured calls but the very last (an Allow of `ecd:Describe*` and
//! `appstreaming:ListDesktopAgentRuntime` under a source-address condition), so every call
//! evaluates them all.

use anyhow::Context;
use pop::FlatParams;

use crate::{Client, json, params};

const RAM: &str = "2015-05-01";

/// One statement that does not match the measured calls: a mix of effects, wildcards,
/// resource ARNs and conditions.
fn decoy(policy: usize, statement: usize) -> serde_json::Value {
    let services = ["appstreaming", "ecd", "wss"];
    let service = services[(policy + statement) % services.len()];
    let mut value = serde_json::json!({
        "Effect": if statement.is_multiple_of(3) { "Deny" } else { "Allow" },
        "Action": [format!("{service}:Delete*"), format!("{service}:Remove{statement}*")],
        "Resource": [format!("acs:{service}:*:*:runtime/ecd-{policy}{statement}*"), "acs:wss:*:*:package/cp-*"],
    });
    if statement.is_multiple_of(2) {
        value["Condition"] = serde_json::json!({
            "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
            "Bool": {"acs:SecureTransport": "true"},
        });
    }
    value
}

fn document(policy: usize, statements: usize, last: bool) -> String {
    let mut list: Vec<serde_json::Value> = (0..statements).map(|s| decoy(policy, s)).collect();
    if let (true, Some(final_statement)) = (last, list.last_mut()) {
        *final_statement = serde_json::json!({
            "Effect": "Allow",
            "Action": ["ecd:Describe*", "appstreaming:ListDesktopAgentRuntime"],
            "Resource": "*",
            "Condition": {"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}},
        });
    }
    serde_json::json!({"Version": "1", "Statement": list}).to_string()
}

/// Creates the user `name` with its policies and a key; prints the key as environment lines.
pub(crate) async fn create(
    client: Client,
    name: &str,
    policies: usize,
    statements: usize,
) -> anyhow::Result<()> {
    let call = |action: &'static str, query: FlatParams| {
        let client = client.clone();
        async move {
            client
                .call(action, RAM, &query)
                .await
                .with_context(|| action.to_string())
        }
    };
    call("CreateUser", params(&[("UserName", name.to_string())])).await?;
    for policy in 0..policies {
        let policy_name = format!("{name}-{policy}");
        let doc = document(policy, statements, policy + 1 == policies);
        call(
            "CreatePolicy",
            params(&[("PolicyName", policy_name.clone()), ("PolicyDocument", doc)]),
        )
        .await?;
        call(
            "AttachPolicyToUser",
            params(&[
                ("PolicyType", "Custom".into()),
                ("PolicyName", policy_name),
                ("UserName", name.to_string()),
            ]),
        )
        .await?;
    }
    let body = call("CreateAccessKey", params(&[("UserName", name.to_string())])).await?;
    let key = json(&body)?;
    let field = |f: &str| {
        key["AccessKey"][f]
            .as_str()
            .map(str::to_string)
            .context("no key in the answer")
    };
    println!("AMC_ACCESS_KEY_ID={}", field("AccessKeyId")?);
    println!("AMC_ACCESS_KEY_SECRET={}", field("AccessKeySecret")?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_is_a_policy_and_only_the_last_allows() {
        for policy in 0..20 {
            let text = document(policy, 10, policy == 19);
            let parsed = ram::Policy::parse(&text);
            assert!(parsed.is_ok(), "{text}: {parsed:?}");
            assert!(text.len() <= 6144, "{} bytes", text.len());
        }
    }
}
