//! Decoding flat parameters into request structs: lists, structures, shrink JSON and error paths.

use pop::params::flatten;
use pop::{ApiError, FlatParams, from_params};
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
    encrypted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateDesktopsRequest {
    region_id: String,
    amount: Option<i64>,
    end_user_id: Option<Vec<String>>,
    tag: Option<Vec<Tag>>,
    desktop_attachment: Option<Attachment>,
    auto_pay: Option<bool>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Item {
    llm_code: String,
    name: Option<String>,
    is_default_model: Option<bool>,
    config: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchRequest {
    llm_template_items: Vec<Item>,
    llm_template_ids: Option<Vec<String>>,
    page_size: Option<u16>,
    ratio: Option<f64>,
    env_vars: Option<std::collections::BTreeMap<String, String>>,
    extra: Option<serde_json::Value>,
}

fn params(pairs: &[(&str, &str)]) -> FlatParams {
    pairs.iter().copied().collect()
}

fn err<T: std::fmt::Debug>(result: Result<T, ApiError>) -> (String, String) {
    let e = result.expect_err("must fail");
    (e.code.into_owned(), e.message)
}

fn assert_names(result: Result<impl std::fmt::Debug, ApiError>, code: &str, path: &str) {
    let (got_code, message) = err(result);
    assert_eq!(got_code, code, "{message}");
    assert!(
        message.contains(&format!("\"{path}\"")),
        "expected {path} in {message}"
    );
}

#[test]
fn decodes_flattened_lists_and_structures() {
    let p = params(&[
        ("RegionId", "cn-shanghai"),
        ("Amount", "3"),
        ("EndUserId.1", "alice"),
        ("EndUserId.2", "bob"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "prod"),
        ("Tag.2.Key", "team"),
        ("DesktopAttachment.ImageId", "imgc-1"),
        ("DesktopAttachment.Size", "80"),
        ("AutoPay", "True"),
        ("Unknown.Param", "ignored"),
    ]);
    let request: CreateDesktopsRequest = from_params(&p).expect("decodes");
    assert_eq!(
        request,
        CreateDesktopsRequest {
            region_id: "cn-shanghai".into(),
            amount: Some(3),
            end_user_id: Some(vec!["alice".into(), "bob".into()]),
            tag: Some(vec![
                Tag {
                    key: "env".into(),
                    value: Some("prod".into())
                },
                Tag {
                    key: "team".into(),
                    value: None
                }
            ]),
            desktop_attachment: Some(Attachment {
                image_id: "imgc-1".into(),
                size: Some(80),
                encrypted: None
            }),
            auto_pay: Some(true),
        }
    );
}

#[test]
fn list_indexes_sort_numerically_and_tolerate_gaps() {
    let p = params(&[
        ("RegionId", "r"),
        ("EndUserId.10", "ten"),
        ("EndUserId.2", "two"),
        ("EndUserId.5", "five"),
    ]);
    let request: CreateDesktopsRequest = from_params(&p).expect("decodes");
    assert_eq!(
        request.end_user_id,
        Some(vec!["two".into(), "five".into(), "ten".into()])
    );
}

#[test]
fn shrink_json_forms() {
    let p = params(&[
        ("RegionId", "r"),
        ("EndUserId", r#"["a","b"]"#),
        ("Tag", r#"[{"Key":"env","Value":"prod"}]"#),
        (
            "DesktopAttachment",
            r#"{"ImageId":"imgc-1","Size":"80","Encrypted":"true"}"#,
        ),
        ("Amount", "7"),
    ]);
    let request: CreateDesktopsRequest = from_params(&p).expect("decodes");
    assert_eq!(request.end_user_id, Some(vec!["a".into(), "b".into()]));
    assert_eq!(
        request.tag,
        Some(vec![Tag {
            key: "env".into(),
            value: Some("prod".into())
        }])
    );
    assert_eq!(
        request.desktop_attachment,
        Some(Attachment {
            image_id: "imgc-1".into(),
            size: Some(80),
            encrypted: Some(true)
        })
    );

    // JSON numbers in a shrunk structure keep their type.
    let p = params(&[
        ("RegionId", "r"),
        (
            "DesktopAttachment",
            r#"{"ImageId":"i","Size":80,"Encrypted":false}"#,
        ),
    ]);
    let request: CreateDesktopsRequest = from_params(&p).expect("decodes");
    assert_eq!(
        request.desktop_attachment,
        Some(Attachment {
            image_id: "i".into(),
            size: Some(80),
            encrypted: Some(false)
        })
    );

    // A plain value where a list is expected is a list of one.
    let p = params(&[("RegionId", "r"), ("EndUserId", "alice")]);
    let request: CreateDesktopsRequest = from_params(&p).expect("decodes");
    assert_eq!(request.end_user_id, Some(vec!["alice".into()]));
}

#[test]
fn captured_sdk_requests_decode() {
    // BatchCreateLlmTemplates as the SDK sends it (see SPEC.md), plus a shrunk list and map.
    let body = "LlmTemplateItems.1.IsDefaultModel=True&LlmTemplateItems.1.LlmCode=qwen-max&LlmTemplateItems.1.Name=Qwen+Max&LlmTemplateItems.2.Config=%7B%22k%22%3A1%7D&LlmTemplateItems.2.LlmCode=qwen-plus&LlmTemplateItems.2.Name=Qwen+Plus&ModelTemplateId=mt-abc&ProviderTemplateId=pt-1";
    let mut p: FlatParams = pop::encoding::decode_form(body.as_bytes())
        .expect("form")
        .into_iter()
        .collect();
    p.insert("LlmTemplateIds", r#"["a","b"]"#);
    p.insert("EnvVars", r#"{"A":"1","B":"x y"}"#);
    p.insert("PageSize", "10");
    p.insert("Ratio", "1.5");
    let request: BatchRequest = from_params(&p).expect("decodes");
    assert_eq!(
        request.llm_template_items,
        vec![
            Item {
                llm_code: "qwen-max".into(),
                name: Some("Qwen Max".into()),
                is_default_model: Some(true),
                config: None
            },
            Item {
                llm_code: "qwen-plus".into(),
                name: Some("Qwen Plus".into()),
                is_default_model: None,
                config: Some(r#"{"k":1}"#.into())
            },
        ]
    );
    assert_eq!(request.llm_template_ids, Some(vec!["a".into(), "b".into()]));
    assert_eq!(request.page_size, Some(10));
    assert_eq!(request.ratio, Some(1.5));
    let env = request.env_vars.expect("env vars");
    assert_eq!(env.get("B").map(String::as_str), Some("x y"));
}

#[test]
fn value_targets_keep_strings() {
    let p = params(&[
        ("LlmTemplateItems.1.LlmCode", "x"),
        ("Extra.A", "1"),
        ("Extra.B.1", "t"),
    ]);
    let request: BatchRequest = from_params(&p).expect("decodes");
    assert_eq!(
        request.extra,
        Some(serde_json::json!({"A": "1", "B": ["t"]}))
    );
    let p = params(&[("LlmTemplateItems.1.LlmCode", "x"), ("Extra", "plain")]);
    let request: BatchRequest = from_params(&p).expect("decodes");
    assert_eq!(request.extra, Some(serde_json::json!("plain")));
}

#[test]
fn missing_parameters_name_the_wire_path() {
    assert_names(
        from_params::<CreateDesktopsRequest>(&params(&[])),
        "MissingParameter",
        "RegionId",
    );
    let p = params(&[
        ("LlmTemplateItems.1.LlmCode", "a"),
        ("LlmTemplateItems.2.Name", "b"),
    ]);
    assert_names(
        from_params::<BatchRequest>(&p),
        "MissingParameter",
        "LlmTemplateItems.2.LlmCode",
    );
    let p = params(&[("RegionId", "r"), ("Tag.1.Value", "v")]);
    assert_names(
        from_params::<CreateDesktopsRequest>(&p),
        "MissingParameter",
        "Tag.1.Key",
    );
    let p = params(&[("RegionId", "r"), ("DesktopAttachment", r#"{"Size":1}"#)]);
    assert_names(
        from_params::<CreateDesktopsRequest>(&p),
        "MissingParameter",
        "DesktopAttachment.ImageId",
    );
    // An empty string is present.
    let p = params(&[("RegionId", "")]);
    assert_eq!(
        from_params::<CreateDesktopsRequest>(&p)
            .expect("decodes")
            .region_id,
        ""
    );
}

#[test]
fn invalid_parameters_name_the_wire_path() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("RegionId", "r"), ("Amount", "many")], "Amount"),
        (&[("RegionId", "r"), ("Amount", "1.0")], "Amount"),
        (
            &[("RegionId", "r"), ("Amount", "99999999999999999999")],
            "Amount",
        ),
        (&[("RegionId", "r"), ("AutoPay", "yes")], "AutoPay"),
        (
            &[
                ("RegionId", "r"),
                ("DesktopAttachment.ImageId", "i"),
                ("DesktopAttachment.Size", "3000000000"),
            ],
            "DesktopAttachment.Size",
        ),
        (&[("RegionId", "r"), ("Tag.2.Key.X", "v")], "Tag.2.Key"),
        (&[("RegionId", "r"), ("Tag.0.Key", "v")], "Tag.0"),
        (&[("RegionId", "r"), ("Tag.first.Key", "v")], "Tag.first"),
        (
            &[("RegionId", "r"), ("EndUserId", "[not json")],
            "EndUserId",
        ),
        (
            &[("RegionId", "r"), ("DesktopAttachment", "imgc-1")],
            "DesktopAttachment",
        ),
        (
            &[
                ("RegionId", "r"),
                ("DesktopAttachment", r#"{"ImageId":"i","Size":"big"}"#),
            ],
            "DesktopAttachment.Size",
        ),
        (
            &[
                ("RegionId", "r"),
                ("Tag", r#"[{"Key":"a"},{"Key":{"x":1},"Value":[1]}]"#),
            ],
            "Tag.2.Key",
        ),
        (&[("RegionId.A", "r")], "RegionId"),
        (
            &[("RegionId", "r"), ("Amount", "1"), ("Amount.1", "2")],
            "Amount.1",
        ),
        (&[("RegionId", "r"), ("A..B", "1")], "A..B"),
        (
            &[("RegionId", "r"), ("A.B.C.D.E.F.G.H.I.J.K", "1")],
            "A.B.C.D.E.F.G.H.I.J.K",
        ),
    ];
    for (pairs, path) in cases {
        assert_names(
            from_params::<CreateDesktopsRequest>(&params(pairs)),
            "InvalidParameter",
            path,
        );
    }
    let p = params(&[("LlmTemplateItems.1.LlmCode", "x"), ("PageSize", "70000")]);
    assert_names(
        from_params::<BatchRequest>(&p),
        "InvalidParameter",
        "PageSize",
    );
}

#[test]
fn flattening_vector_round_trips() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("data/signature-vectors.json"))
            .expect("vectors file is JSON");
    let section = &vectors["parameter_flattening"];
    let flat = flatten(&section["input"]);
    let expected: FlatParams = section["Utils.query"]
        .as_object()
        .expect("map")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect();
    assert_eq!(flat, expected);
    assert_eq!(
        pop::encoding::encode_form(flat.iter()),
        section["Utils.to_form"].as_str().expect("to_form")
    );

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        b: i64,
        c: bool,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Obj {
        #[serde(rename = "A")]
        a: Inner,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        runtime_ids: Vec<String>,
        tag: Vec<Tag>,
        obj: Obj,
        empty: Option<Vec<String>>,
        none_val: Option<String>,
    }
    let decoded: Input = from_params(&flat).expect("decodes");
    assert_eq!(
        decoded,
        Input {
            runtime_ids: vec!["r-1".into(), "r-2".into()],
            tag: vec![
                Tag {
                    key: "env".into(),
                    value: Some("prod".into())
                },
                Tag {
                    key: "team".into(),
                    value: Some("a b".into())
                }
            ],
            obj: Obj {
                a: Inner { b: 1, c: true }
            },
            empty: None,
            none_val: None,
        }
    );
    // The shrink (JSON) form of the same list decodes the same way.
    let shrunk = params(&[(
        "Tag",
        section["shrink_json_style"].as_str().expect("shrink"),
    )]);
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tags {
        tag: Vec<Tag>,
    }
    assert_eq!(
        from_params::<Tags>(&shrunk).expect("decodes").tag,
        vec![Tag {
            key: "env".into(),
            value: Some("prod".into())
        }]
    );
}

// Issue 11, defects 4 and 5: every list and string is bounded, and no control character reaches
// an action (nor, through it, SQL), raw or escaped in JSON.

#[test]
fn control_characters_are_refused_in_any_text_parameter() {
    for bad in ["a\0b", "\u{1}", "x\u{7f}", "\u{85}next line", "\u{1b}[31m"] {
        let p = params(&[("RegionId", bad)]);
        assert_names(
            from_params::<CreateDesktopsRequest>(&p),
            "InvalidParameter",
            "RegionId",
        );
    }
    let p = params(&[("RegionId", "r"), ("Tag", r#"[{"Key":"a\u0000b"}]"#)]);
    assert_names(
        from_params::<CreateDesktopsRequest>(&p),
        "InvalidParameter",
        "Tag",
    );
    let p = params(&[("RegionId", "r"), ("Tag.1.Key", "k\0")]);
    assert_names(
        from_params::<CreateDesktopsRequest>(&p),
        "InvalidParameter",
        "Tag.1.Key",
    );
    // A hostile name is named without its control characters.
    let p = params(&[("RegionId", "r"), ("Bad\0Name", "v")]);
    let (code, message) = err(from_params::<CreateDesktopsRequest>(&p));
    assert_eq!(code, "InvalidParameter");
    assert!(
        message.contains("\"Bad?Name\"") && !message.contains('\0'),
        "{message}"
    );
}

#[test]
fn tabs_newlines_and_escaped_backslashes_are_text() {
    let p = params(&[
        ("RegionId", "line one\nline two\r\n\tindented"),
        (
            "Tag",
            r#"[{"Key":"a\\u0000 is six characters","Value":"tab\there"}]"#,
        ),
    ]);
    let request: CreateDesktopsRequest = from_params(&p).expect("decodes");
    assert_eq!(request.region_id, "line one\nline two\r\n\tindented");
    let tag = request.tag.expect("tag").remove(0);
    assert_eq!(tag.key, "a\\u0000 is six characters");
    assert_eq!(tag.value.as_deref(), Some("tab\there"));
}

#[test]
fn values_and_lists_have_general_bounds() {
    let long = "x".repeat(pop::params::MAX_VALUE_BYTES + 1);
    let p = params(&[("RegionId", long.as_str())]);
    assert_names(
        from_params::<CreateDesktopsRequest>(&p),
        "InvalidParameter",
        "RegionId",
    );

    let many = pop::params::MAX_LIST_ITEMS + 1;
    let mut flat: FlatParams = (1..=many)
        .map(|i| (format!("EndUserId.{i}"), "u".to_owned()))
        .collect();
    flat.insert("RegionId", "r");
    assert_names(
        from_params::<CreateDesktopsRequest>(&flat),
        "InvalidParameter",
        "EndUserId",
    );
    let json = serde_json::to_string(&vec!["u"; many]).expect("json");
    let p = params(&[("RegionId", "r"), ("EndUserId", json.as_str())]);
    assert_names(
        from_params::<CreateDesktopsRequest>(&p),
        "InvalidParameter",
        "EndUserId",
    );
    let json = serde_json::to_string(&vec!["u"; many - 1]).expect("json");
    let p = params(&[("RegionId", "r"), ("EndUserId", json.as_str())]);
    let request: CreateDesktopsRequest = from_params(&p).expect("at the bound");
    assert_eq!(request.end_user_id.map(|u| u.len()), Some(many - 1));
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BoundedTag {
    key: pop::Text<1, 128>,
    value: Option<pop::Text<0, 256>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Bounded {
    name: Option<pop::Text<1, 64>>,
    tag: Option<pop::List<BoundedTag, 20>>,
}

#[test]
fn cloud_limits_name_the_wire_parameter() {
    let ok = params(&[("Name", "名前"), ("Tag.1.Key", "k"), ("Tag.1.Value", "")]);
    let request: Bounded = from_params(&ok).expect("decodes");
    assert_eq!(request.name.as_deref(), Some("名前"));
    let tags = request.tag.expect("tags");
    assert_eq!(tags.len(), 1);
    assert_eq!((&*tags[0].key, tags[0].value.as_deref()), ("k", Some("")));

    let name = "n".repeat(65);
    assert_names(
        from_params::<Bounded>(&params(&[("Name", name.as_str())])),
        "InvalidParameter",
        "Name",
    );
    assert_names(
        from_params::<Bounded>(&params(&[("Name", "")])),
        "InvalidParameter",
        "Name",
    );
    let value = "v".repeat(257);
    let p = params(&[
        ("Tag.1.Key", "a"),
        ("Tag.2.Key", "b"),
        ("Tag.2.Value", value.as_str()),
    ]);
    assert_names(
        from_params::<Bounded>(&p),
        "InvalidParameter",
        "Tag.2.Value",
    );
    let tags: FlatParams = (1..=21)
        .map(|i| (format!("Tag.{i}.Key"), format!("k{i}")))
        .collect();
    let (code, message) = err(from_params::<Bounded>(&tags));
    assert_eq!(code, "InvalidParameter");
    assert!(
        message.contains("\"Tag\"") && message.contains("at most 20"),
        "{message}"
    );
}
