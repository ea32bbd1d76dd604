//! The action table against `spec/spec.json`: every action of the spec has a row, every other row
//! is one of the extra actions listed here, and a served action refuses a request that lacks a
//! parameter the spec (or, for the extra actions, the official SDK model) marks required.

use std::collections::BTreeSet;

use pop::FlatParams;
use serde_json::Value;

use super::ACTIONS;

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/spec.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn spec_actions(spec: &Value) -> Vec<&Value> {
    spec["actions"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Actions served beyond the spec, each with the parameters its official SDK model marks
/// "This parameter is required." and their types: resourcemanager 2020-03-31
/// (`alibabacloud_resourcemanager20200331`) and the ecd 2020-09-30 actions a caller of
/// `CreateDesktops` needs to find its ids (`alibabacloud_ecd20200930` 5.5.0), and RAM and STS.
type Extra = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);
const EXTRA_ACTIONS: &[Extra] = &[
    (
        "resourcemanager",
        "2020-03-31",
        "CreateResourceGroup",
        &[("Name", "string"), ("DisplayName", "string")],
    ),
    (
        "resourcemanager",
        "2020-03-31",
        "GetResourceGroup",
        &[("ResourceGroupId", "string")],
    ),
    ("resourcemanager", "2020-03-31", "ListResourceGroups", &[]),
    (
        "resourcemanager",
        "2020-03-31",
        "DeleteResourceGroup",
        &[("ResourceGroupId", "string")],
    ),
    (
        "resourcemanager",
        "2020-03-31",
        "MoveResources",
        &[
            ("ResourceGroupId", "string"),
            ("Resources", "array<object>"),
        ],
    ),
    (
        "ecd",
        "2020-09-30",
        "CreateSimpleOfficeSite",
        &[("RegionId", "string")],
    ),
    (
        "ecd",
        "2020-09-30",
        "DescribeOfficeSites",
        &[("RegionId", "string")],
    ),
    (
        "ecd",
        "2020-09-30",
        "DeleteOfficeSites",
        &[("RegionId", "string"), ("OfficeSiteId", "array<string>")],
    ),
    (
        "ecd",
        "2020-09-30",
        "DescribeBundles",
        &[("RegionId", "string")],
    ),
    (
        "ecd",
        "2020-09-30",
        "DescribeImages",
        &[("RegionId", "string")],
    ),
    (
        "ecd",
        "2020-09-30",
        "DescribeRegions",
        &[("RegionId", "string")],
    ),
    // ram 2015-05-01 (`alibabacloud_ram20150501` 1.3.0 marks no parameter required: amc answers
    // MissingParameter for the names an action cannot do without) and sts 2015-04-01
    // (`alibabacloud_sts20150401` 1.2.0).
    ("ram", "2015-05-01", "CreateUser", &[]),
    ("ram", "2015-05-01", "GetUser", &[]),
    ("ram", "2015-05-01", "UpdateUser", &[]),
    ("ram", "2015-05-01", "ListUsers", &[]),
    ("ram", "2015-05-01", "DeleteUser", &[]),
    ("ram", "2015-05-01", "CreateAccessKey", &[]),
    ("ram", "2015-05-01", "ListAccessKeys", &[]),
    ("ram", "2015-05-01", "UpdateAccessKey", &[]),
    ("ram", "2015-05-01", "DeleteAccessKey", &[]),
    ("ram", "2015-05-01", "CreatePolicy", &[]),
    ("ram", "2015-05-01", "GetPolicy", &[]),
    ("ram", "2015-05-01", "ListPolicies", &[]),
    ("ram", "2015-05-01", "DeletePolicy", &[]),
    ("ram", "2015-05-01", "CreatePolicyVersion", &[]),
    ("ram", "2015-05-01", "GetPolicyVersion", &[]),
    ("ram", "2015-05-01", "ListPolicyVersions", &[]),
    ("ram", "2015-05-01", "DeletePolicyVersion", &[]),
    ("ram", "2015-05-01", "SetDefaultPolicyVersion", &[]),
    ("ram", "2015-05-01", "AttachPolicyToUser", &[]),
    ("ram", "2015-05-01", "DetachPolicyFromUser", &[]),
    ("ram", "2015-05-01", "ListPoliciesForUser", &[]),
    ("ram", "2015-05-01", "AttachPolicyToRole", &[]),
    ("ram", "2015-05-01", "DetachPolicyFromRole", &[]),
    ("ram", "2015-05-01", "ListPoliciesForRole", &[]),
    ("ram", "2015-05-01", "ListEntitiesForPolicy", &[]),
    ("ram", "2015-05-01", "CreateRole", &[]),
    ("ram", "2015-05-01", "GetRole", &[]),
    ("ram", "2015-05-01", "ListRoles", &[]),
    ("ram", "2015-05-01", "DeleteRole", &[]),
    ("ram", "2015-05-01", "DecodeDiagnosticMessage", &[]),
    (
        "sts",
        "2015-04-01",
        "AssumeRole",
        &[("RoleArn", "string"), ("RoleSessionName", "string")],
    ),
    ("sts", "2015-04-01", "GetCallerIdentity", &[]),
];

fn is_extra(product: &str, version: &str, name: &str) -> bool {
    EXTRA_ACTIONS
        .iter()
        .any(|(p, v, n, _)| *p == product && *v == version && *n == name)
}

#[test]
fn table_and_spec_name_the_same_actions() {
    let spec = spec();
    let from_spec: BTreeSet<(String, String)> = spec_actions(&spec)
        .iter()
        .map(|a| {
            (
                a["version"].as_str().unwrap_or("").to_string(),
                a["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    // The spec covers the four Wuying products; the extra actions are the only rows allowed
    // beyond it, and none of them may shadow an action of the spec.
    let from_table: BTreeSet<(String, String)> = ACTIONS
        .iter()
        .filter(|a| !is_extra(a.product, a.version, a.name))
        .map(|a| (a.version.to_string(), a.name.to_string()))
        .collect();
    assert_eq!(from_spec.len(), 46);
    assert_eq!(from_spec, from_table);
    for (product, version, name, _) in EXTRA_ACTIONS {
        assert!(
            !from_spec.contains(&(version.to_string(), name.to_string())),
            "{name} is in the spec"
        );
        let rows: Vec<_> = ACTIONS
            .iter()
            .filter(|a| a.product == *product && a.version == *version && a.name == *name)
            .collect();
        assert_eq!(rows.len(), 1, "{product} {version} {name}: one row");
        assert!(
            rows.iter().all(|r| r.served.is_some()),
            "{name} has a row but no handler"
        );
    }
}

/// Requests that lack one required parameter each (the others given) must be refused with
/// `MissingParameter` naming it. Returns how many were checked.
fn assert_required(name: &str, decode: super::Decoder, required: &[(&str, &str)]) -> usize {
    for (missing, _) in required {
        let mut params = FlatParams::new();
        for (other, kind) in required {
            if other != missing {
                sample(other, kind, &mut params);
            }
        }
        let error = decode(&params).err();
        assert_eq!(
            error.as_ref().map(|e| e.code.as_ref()),
            Some("MissingParameter"),
            "{name} accepted a request without {missing}"
        );
        assert!(
            error.is_some_and(|e| e.message.contains(missing)),
            "{name}: message must name {missing}"
        );
    }
    required.len()
}

#[test]
fn extra_actions_require_what_their_sdk_models_require() {
    let mut checked = 0;
    for (product, version, name, required) in EXTRA_ACTIONS {
        let served = ACTIONS
            .iter()
            .find(|e| e.product == *product && e.version == *version && e.name == *name)
            .and_then(|e| e.served)
            .unwrap_or_else(|| panic!("{name} not served"));
        checked += assert_required(name, served.decode, required);
        // and the required parameters alone are enough to decode
        let mut params = FlatParams::new();
        for (param, kind) in *required {
            sample(param, kind, &mut params);
        }
        assert_eq!((served.decode)(&params).err(), None, "{name}");
    }
    assert_eq!(checked, 15);
}

/// A plausible wire value for a parameter of the spec's type.
fn sample(name: &str, kind: &str, params: &mut FlatParams) {
    match kind {
        "integer" | "long" => params.insert(name, "1"),
        "boolean" => params.insert(name, "true"),
        "array<string>" => params.insert(format!("{name}.1"), "x"),
        "array<object>" => params.insert(format!("{name}.1.Key"), "x"),
        _ => params.insert(name, "x"),
    }
}

#[test]
fn served_actions_require_what_the_spec_requires() {
    let spec = spec();
    let mut checked = 0;
    for action in spec_actions(&spec) {
        let (version, name) = (
            action["version"].as_str().unwrap_or(""),
            action["action"].as_str().unwrap_or(""),
        );
        let Some(entry) = ACTIONS
            .iter()
            .find(|e| e.version == version && e.name == name)
        else {
            continue;
        };
        let Some(served) = entry.served else { continue };
        let required: Vec<&Value> = action["request"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|p| p["required"] == Value::Bool(true))
                    .collect()
            })
            .unwrap_or_default();
        let required: Vec<(&str, &str)> = required
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or(""),
                    p["type"].as_str().unwrap_or(""),
                )
            })
            .collect();
        checked += assert_required(name, served.decode, &required);
    }
    assert!(checked > 0);
}
