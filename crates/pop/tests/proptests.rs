//! Property tests: hostile input never panics, and flattening then decoding gives the value back.

use std::collections::BTreeMap;

use pop::params::flatten;
use pop::signature::{HttpRequest, parse_request};
use pop::{FlatParams, from_params};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Attachment {
    image_id: String,
    size: Option<i32>,
    labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Sample {
    region_id: String,
    amount: Option<i64>,
    count: Option<u8>,
    ratio: Option<f64>,
    end_user_id: Option<Vec<String>>,
    tag: Option<Vec<Tag>>,
    desktop_attachment: Option<Attachment>,
    auto_pay: Option<bool>,
    env: Option<BTreeMap<String, String>>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._~=&+%/-]{0,12}",
        "\\PC{0,8}",
        Just(String::new()),
        Just("[\"x\"]".to_owned()),
        Just("{\"k\":1}".to_owned()),
    ]
}

fn non_empty<T: std::fmt::Debug>(
    inner: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<Vec<T>>> {
    proptest::option::of(proptest::collection::vec(inner, 1..4))
}

fn sample() -> impl Strategy<Value = Sample> {
    let tag = (text(), proptest::option::of(text())).prop_map(|(key, value)| Tag { key, value });
    let attachment =
        (text(), any::<Option<i32>>(), non_empty(text())).prop_map(|(image_id, size, labels)| {
            Attachment {
                image_id,
                size,
                labels,
            }
        });
    (
        text(),
        any::<Option<i64>>(),
        any::<Option<u8>>(),
        proptest::option::of(-1e12f64..1e12),
        non_empty(text()),
        non_empty(tag),
        proptest::option::of(attachment),
        any::<Option<bool>>(),
        proptest::option::of(proptest::collection::btree_map(
            "[A-Za-z][A-Za-z0-9_]{0,6}",
            text(),
            1..4,
        )),
    )
        .prop_map(
            |(
                region_id,
                amount,
                count,
                ratio,
                end_user_id,
                tag,
                desktop_attachment,
                auto_pay,
                env,
            )| Sample {
                region_id,
                amount,
                count,
                ratio,
                end_user_id,
                tag,
                desktop_attachment,
                auto_pay,
                env,
            },
        )
}

fn wire_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("RegionId".to_owned()),
        Just("Amount".to_owned()),
        Just("Tag".to_owned()),
        "(Tag|EndUserId|DesktopAttachment|Env)(\\.[0-9A-Za-z]{0,3}){0,4}",
        "[A-Za-z0-9.]{0,20}",
    ]
}

/// Cases per property: 512 in every test run; `AMC_FUZZ_CASES=200000 cargo test --release -p pop
/// --test proptests` for a long run.
fn cases() -> u32 {
    std::env::var("AMC_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn flatten_then_decode_round_trips(value in sample()) {
        let json = serde_json::to_value(&value).expect("serializes");
        let flat = flatten(&json);
        let decoded: Sample = from_params(&flat).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded, value);
    }

    #[test]
    fn arbitrary_params_never_panic(pairs in proptest::collection::vec((wire_name(), text()), 0..24)) {
        let flat: FlatParams = pairs.into_iter().collect();
        let _ = from_params::<Sample>(&flat);
        let _ = from_params::<serde_json::Value>(&flat);
    }

    #[test]
    fn arbitrary_requests_never_panic(
        method in "[A-Z]{0,6}",
        path in "\\PC{0,10}",
        query in prop_oneof!["\\PC{0,60}", "(Signature|Action|Version|Timestamp|AccessKeyId|SignatureMethod|SignatureVersion|SignatureNonce|Format)=[A-Za-z0-9%.:-]{0,10}(&[A-Za-z.]{1,16}=[%A-F0-9a-z]{0,6}){0,6}"],
        headers in proptest::collection::vec(
            (prop_oneof![
                Just("authorization".to_owned()),
                Just("content-type".to_owned()),
                Just("host".to_owned()),
                "x-acs-[a-z0-9-]{0,12}",
                "\\PC{0,8}",
            ], prop_oneof![
                Just("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=00".to_owned()),
                Just("application/x-www-form-urlencoded; charset=utf-8".to_owned()),
                "ACS3-\\PC{0,40}",
                "\\PC{0,30}",
            ]),
            0..10,
        ),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let request = HttpRequest { method: &method, path: &path, query: &query, headers: &headers, body: &body };
        if let Ok(parsed) = parse_request(&request) {
            let _ = parsed.verify("secret");
            let _ = parsed.check_timestamp(chrono::Utc::now());
            let _ = from_params::<Sample>(&parsed.params);
        }
    }
}
