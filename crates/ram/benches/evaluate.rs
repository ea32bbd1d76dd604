//! Evaluation speed over a realistic caller: 20 attached policies of 10 statements each (mixed
//! Allow and Deny, wildcard actions over `appstreaming`, `ecd` and `wss`, wildcard resource ARNs,
//! some statements gated by `IpAddress` and `Bool`). `cargo bench -p ram --bench evaluate`.

use std::hint::black_box;
use std::net::IpAddr;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ram::{Context, Decision, Policy, Request, evaluate};

const ACCOUNT: &str = "1234567890123456";
const SERVICES: [&str; 3] = ["appstreaming", "ecd", "wss"];
const GATED: &str = r#""Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.0.0/16"]},"Bool":{"acs:SecureTransport":"true"}}"#;

fn statement(policy: usize, index: usize) -> String {
    let s = SERVICES[(policy + index) % 3];
    let a = ACCOUNT;
    let team = format!("team{policy}-*");
    match index {
        0 => format!(
            r#"{{"Effect":"Allow","Action":["{s}:Describe*","{s}:List*"],"Resource":"acs:{s}:*:{a}:*",{GATED}}}"#
        ),
        1 => format!(r#"{{"Effect":"Allow","Action":"{s}:Get*","Resource":"*"}}"#),
        2 => format!(
            r#"{{"Effect":"Allow","Action":["{s}:Create*","{s}:Modify*"],"Resource":"acs:{s}:*:{a}:desktop/{team}"}}"#
        ),
        3 => format!(
            r#"{{"Effect":"Allow","Action":["{s}:Start*","{s}:Stop*","{s}:Reboot*"],"Resource":["acs:{s}:*:{a}:desktop/{team}","acs:{s}:*:{a}:image/{team}"],{GATED}}}"#
        ),
        4 => format!(
            r#"{{"Effect":"Deny","Action":"{s}:Delete*","Resource":"acs:{s}:*:{a}:desktop/prod-*"}}"#
        ),
        5 => format!(r#"{{"Effect":"Allow","Action":["{s}:*Tag*"],"Resource":"acs:{s}:*:{a}:*"}}"#),
        6 => format!(
            r#"{{"Effect":"Allow","Action":"{s}:Attach*","Resource":"acs:{s}:*:{a}:*/{team}",{GATED}}}"#
        ),
        7 => format!(
            r#"{{"Effect":"Deny","Action":["{s}:Remove*","{s}:Purge*"],"Resource":"*","Condition":{{"Bool":{{"acs:SecureTransport":"false"}}}}}}"#
        ),
        8 => format!(
            r#"{{"Effect":"Deny","Action":"{s}:Create*","Resource":"acs:{s}:cn-beijing:*:*"}}"#
        ),
        _ => format!(
            r#"{{"Effect":"Allow","Action":"{s}:Export*","Resource":"acs:{s}:cn-?????:{a}:report/*"}}"#
        ),
    }
}

fn policies() -> Vec<Policy> {
    (0..20)
        .filter_map(|policy| {
            let statements: Vec<String> = (0..10).map(|i| statement(policy, i)).collect();
            let document = format!(
                r#"{{"Version":"1","Statement":[{}]}}"#,
                statements.join(",")
            );
            Policy::parse(&document).ok()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let owned = policies();
    assert_eq!(owned.len(), 20, "every bench policy parses");
    let policies: Vec<&Policy> = owned.iter().collect();
    let context = Context {
        source_ip: "10.20.30.40".parse::<IpAddr>().ok(),
        secure_transport: true,
        current_time: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
        mfa_present: false,
        access_id: Some("LTAI5tExampleKey"),
        principal_arn: Some("acs:ram::1234567890123456:user/alice"),
    };
    let desktop = |id: usize| format!("acs:ecd:cn-hangzhou:{ACCOUNT}:desktop/team19-ecd-{id}");

    let one = [desktop(1)];
    let allowed = Request {
        action: "ecd:StartDesktops",
        resources: &one,
        context: &context,
    };
    assert_eq!(evaluate(&policies, &allowed), Decision::Allow);
    c.bench_function("allowed by the last policy", |b| {
        b.iter(|| evaluate(black_box(&policies), black_box(&allowed)))
    });

    let dev = [format!("acs:ecd:cn-hangzhou:{ACCOUNT}:desktop/dev-7")];
    let denied = Request {
        action: "ecd:DeleteDesktops",
        resources: &dev,
        context: &context,
    };
    assert_eq!(
        evaluate(&policies, &denied),
        Decision::ImplicitDeny { resource: 0 }
    );
    c.bench_function("implicitly denied", |b| {
        b.iter(|| evaluate(black_box(&policies), black_box(&denied)))
    });

    let ten: Vec<String> = (0..10).map(desktop).collect();
    let batch = Request {
        action: "ecd:StopDesktops",
        resources: &ten,
        context: &context,
    };
    assert_eq!(evaluate(&policies, &batch), Decision::Allow);
    c.bench_function("batch of 10 resources", |b| {
        b.iter(|| evaluate(black_box(&policies), black_box(&batch)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
