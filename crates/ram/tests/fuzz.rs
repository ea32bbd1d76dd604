//! Fuzzing of the policy parser: arbitrary text, and arbitrary JSON built mostly from the
//! language's own words (Version, Statement, Effect, Action, operators, condition keys), are
//! answered with a policy or a `PolicyError`, never a panic; and whatever parses can be evaluated
//! against arbitrary actions and resources without a panic. Also properties of the wildcard
//! match. `AMC_FUZZ_CASES` sets the number of cases (256 by default, what CI runs;
//! `AMC_FUZZ_CASES=200000 cargo test --release -p ram --test fuzz` for a long run). A case that
//! ever fails is kept by proptest in `tests/fuzz.proptest-regressions` and runs first from then on.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use ram::{Context, Policy, Request, TrustPolicy, evaluate, glob_matches};
use serde_json::{Map, Value};

fn cases() -> u32 {
    std::env::var("AMC_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

const KEYS: &[&str] = &[
    "Version",
    "Statement",
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
    "RAM",
    "Service",
    "Federated",
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "acs:SourceIp",
    "acs:SecureTransport",
    "acs:CurrentTime",
    "acs:MFAPresent",
    "acs:AccessId",
    "acs:PrincipalARN",
    "ecs:tag/owner",
];

const WORDS: &[&str] = &[
    "1",
    "2",
    "Allow",
    "Deny",
    "allow",
    "*",
    "?",
    "**",
    "ecd:*",
    "ecd:Describe*",
    "appstreaming:Remove*",
    "sts:AssumeRole",
    "*:List*",
    "ecd:",
    ":x",
    "a:b:c",
    "acs:ecd:*:*:*",
    "acs:ecd:cn-hangzhou:1111:desktop/ecd-?",
    "acs:ram::1111:root",
    "acs:ram::1111:user/alice",
    "1111",
    "ecs.aliyuncs.com",
    "10.0.0.0/8",
    "10.0.0.0/33",
    "::1",
    "2001:db8::/32",
    "true",
    "FALSE",
    "2026-01-01T00:00:00Z",
    "2026-13-01",
    "1767225600",
    "-1e309",
    "NaN",
    "",
];

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        6 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => proptest::sample::select(WORDS).prop_map(|w| Value::String(w.to_owned())),
        2 => ".{0,24}".prop_map(Value::String),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
    .boxed()
}

fn json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((key(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed()
}

const ACTIONS: &[&str] = &[
    "*",
    "ecd:*",
    "ecd:Describe*",
    "ECD:describedesktops",
    "appstreaming:Remove*",
    "wss:?et*",
    "sts:AssumeRole",
    "*:List*",
];

const RESOURCES: &[&str] = &[
    "*",
    "acs:ecd:*:*:*",
    "acs:ecd:cn-hangzhou:1111:desktop/ecd-?",
    "acs:*:*:1111:*/team-*",
    "acs:ram::1111:root",
];

const VALUES: &[&str] = &[
    "10.0.0.0/8",
    "2001:db8::/32",
    "true",
    "False",
    "2026-01-01T00:00:00Z",
    "1767225600",
    "LTAI*",
];

/// Mostly one of `preferred`, sometimes any word or any JSON.
fn word_from(preferred: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        30 => proptest::sample::select(preferred).prop_map(Value::from),
        2 => proptest::sample::select(WORDS).prop_map(Value::from),
        1 => leaf(),
        1 => json(),
    ]
    .boxed()
}

/// A word or a short list of words: the shape of Action, Resource and condition values.
fn words(preferred: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        3 => word_from(preferred),
        2 => proptest::collection::vec(word_from(preferred), 0..3).prop_map(Value::Array),
    ]
    .boxed()
}

fn operator() -> BoxedStrategy<String> {
    proptest::sample::select(&KEYS[13..34])
        .prop_map(str::to_owned)
        .boxed()
}

fn condition() -> BoxedStrategy<Value> {
    proptest::collection::vec(
        (
            prop_oneof![9 => operator(), 1 => key()],
            proptest::collection::vec((key(), words(VALUES)), 1..3),
        ),
        0..3,
    )
    .prop_map(|operators| {
        Value::Object(
            operators
                .into_iter()
                .map(|(operator, keys)| {
                    (
                        operator,
                        Value::Object(keys.into_iter().collect::<Map<_, _>>()),
                    )
                })
                .collect(),
        )
    })
    .boxed()
}

fn principal() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::from("*")),
        4 => (proptest::sample::select(&["RAM", "Service", "Federated", "AWS"][..]), words(WORDS))
            .prop_map(|(kind, entries)| {
                let mut map = Map::new();
                map.insert(kind.to_owned(), entries);
                Value::Object(map)
            }),
        1 => json(),
    ]
    .boxed()
}

/// A statement that is often valid: each element present or not, mostly of the right shape;
/// a trust statement mostly has a `Principal` and no `Resource`, an identity one the reverse.
fn statement(trust: bool) -> BoxedStrategy<Value> {
    let (with_resource, with_principal) = if trust { (0.1, 0.9) } else { (0.95, 0.05) };
    let effect = prop_oneof![
        4 => proptest::sample::select(&["Allow", "Deny"][..]).prop_map(Value::from),
        1 => word_from(WORDS),
    ];
    (
        proptest::option::weighted(0.95, effect),
        proptest::option::weighted(0.95, (any::<bool>(), words(ACTIONS))),
        proptest::option::weighted(with_resource, (any::<bool>(), words(RESOURCES))),
        proptest::option::weighted(0.25, condition()),
        proptest::option::weighted(with_principal, principal()),
        proptest::option::weighted(0.05, (key(), json())),
    )
        .prop_map(|(effect, action, resource, condition, principal, extra)| {
            let mut fields = Map::new();
            if let Some(effect) = effect {
                fields.insert("Effect".to_owned(), effect);
            }
            if let Some((negated, action)) = action {
                let name = if negated { "NotAction" } else { "Action" };
                fields.insert(name.to_owned(), action);
            }
            if let Some((negated, resource)) = resource {
                let name = if negated { "NotResource" } else { "Resource" };
                fields.insert(name.to_owned(), resource);
            }
            if let Some(condition) = condition {
                fields.insert("Condition".to_owned(), condition);
            }
            if let Some(principal) = principal {
                fields.insert("Principal".to_owned(), principal);
            }
            if let Some((key, value)) = extra {
                fields.insert(key, value);
            }
            Value::Object(fields)
        })
        .boxed()
}

/// A document that usually gets past the first checks, so the deeper ones are exercised.
fn policy_shaped() -> BoxedStrategy<Value> {
    any::<bool>()
        .prop_flat_map(|trust| {
            (
                prop_oneof![9 => Just(Value::from("1")), 1 => leaf()],
                prop_oneof![
                    1 => statement(trust),
                    4 => proptest::collection::vec(statement(trust), 1..4).prop_map(Value::Array),
                ],
            )
                .prop_map(|(version, statements)| {
                    let mut top = Map::new();
                    top.insert("Version".to_owned(), version);
                    top.insert("Statement".to_owned(), statements);
                    Value::Object(top)
                })
        })
        .boxed()
}

fn context(ip: Option<[u8; 4]>, flags: (bool, bool), seconds: i64) -> Context<'static> {
    Context {
        source_ip: ip.map(IpAddr::from),
        secure_transport: flags.0,
        current_time: DateTime::from_timestamp(seconds.rem_euclid(4_000_000_000), 0)
            .unwrap_or_else(Utc::now),
        mfa_present: flags.1,
        access_id: Some("LTAI5tExample"),
        principal_arn: Some("acs:ram::1111:user/alice"),
    }
}

fn exercise(document: &str, action: &str, resources: &[String], context: &Context) {
    if let Ok(policy) = Policy::parse(document) {
        let request = Request {
            action,
            resources,
            context,
        };
        let _ = evaluate(&[&policy, &policy], &request);
    } else if let Err(error) = Policy::parse(document) {
        // Messages go to API callers: short, whatever the document was.
        assert!(error.to_string().len() < 200);
    }
    if let Ok(trust) = TrustPolicy::parse(document) {
        let _ = trust.trusts(action, "1111", context);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_text_never_panics(document in ".{0,300}", action in ".{0,40}", resource in ".{0,60}") {
        exercise(&document, &action, &[resource], &context(None, (false, false), 0));
    }

    #[test]
    fn arbitrary_json_never_panics(
        value in prop_oneof![1 => json(), 3 => policy_shaped()],
        action in prop_oneof![proptest::sample::select(WORDS).prop_map(str::to_owned), ".{0,40}"],
        resources in proptest::collection::vec(
            prop_oneof![proptest::sample::select(WORDS).prop_map(str::to_owned), ".{0,60}"],
            0..4,
        ),
        ip in proptest::option::of(any::<[u8; 4]>()),
        flags in any::<(bool, bool)>(),
        seconds in any::<i64>(),
    ) {
        let document = value.to_string();
        exercise(&document, &action, &resources, &context(ip, flags, seconds));
    }

    #[test]
    fn a_pattern_without_wildcards_is_string_equality(pattern in "[^*?]{0,20}", text in "[^*?]{0,20}") {
        prop_assert!(glob_matches(&pattern, &pattern));
        prop_assert_eq!(glob_matches(&pattern, &text), pattern == text);
    }

    #[test]
    fn star_matches_everything(text in ".{0,80}") {
        prop_assert!(glob_matches("*", &text));
        prop_assert!(glob_matches("**", &text));
    }

    #[test]
    fn a_pattern_matches_what_it_was_cut_from(text in "[a-z:/]{0,30}", cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<bool>()), 0..4)) {
        // Replace some runs of the text by `*` and single characters by `?`: it must still match.
        let mut chars: Vec<String> = text.chars().map(String::from).collect();
        for (start, length, single) in cuts {
            if chars.is_empty() {
                break;
            }
            let at = start.index(chars.len());
            if single {
                if chars[at] != "*" {
                    chars[at] = "?".to_owned();
                }
            } else {
                let end = (at + length.index(4)).min(chars.len());
                chars.splice(at..end, ["*".to_owned()]);
            }
        }
        let pattern = chars.concat();
        prop_assert!(glob_matches(&pattern, &text), "{} against {}", pattern, text);
    }
}
