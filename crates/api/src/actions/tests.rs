//! The action table against `spec/spec.json`: every action of the spec has a row, every row is
//! an action of the spec, and a served action refuses a request that lacks a required parameter.

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
    // The spec covers the four Wuying products; resourcemanager (resource groups) is served as
    // well but is not in the spec, so its rows are the only ones allowed beyond it.
    let from_table: BTreeSet<(String, String)> = ACTIONS
        .iter()
        .filter(|a| a.product != "resourcemanager")
        .map(|a| (a.version.to_string(), a.name.to_string()))
        .collect();
    assert_eq!(from_spec.len(), 46);
    assert_eq!(from_spec, from_table);
    let extra: BTreeSet<&str> = ACTIONS
        .iter()
        .filter(|a| a.product == "resourcemanager")
        .map(|a| {
            assert_eq!(a.version, "2020-03-31", "{}", a.name);
            assert!(a.served.is_some(), "{} has a row but no handler", a.name);
            a.name
        })
        .collect();
    assert_eq!(
        extra,
        BTreeSet::from([
            "CreateResourceGroup",
            "DeleteResourceGroup",
            "GetResourceGroup",
            "ListResourceGroups",
            "MoveResources"
        ])
    );
}

/// resourcemanager's required parameters (from its SDK, as api/spec.json does not cover it).
#[test]
fn resource_group_actions_require_their_parameters() {
    /// Action, the parameters given, the one left out.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 6] = [
        ("CreateResourceGroup", &[("DisplayName", "x")], "Name"),
        ("CreateResourceGroup", &[("Name", "x")], "DisplayName"),
        ("GetResourceGroup", &[], "ResourceGroupId"),
        ("DeleteResourceGroup", &[], "ResourceGroupId"),
        (
            "MoveResources",
            &[("Resources.1.ResourceId", "x")],
            "ResourceGroupId",
        ),
        ("MoveResources", &[("ResourceGroupId", "rg-x")], "Resources"),
    ];
    for (name, given, missing) in cases {
        let served = ACTIONS
            .iter()
            .find(|e| e.product == "resourcemanager" && e.name == name)
            .and_then(|e| e.served)
            .unwrap_or_else(|| panic!("{name} not served"));
        let params: FlatParams = given.iter().copied().collect();
        let error = (served.decode)(&params).err();
        assert_eq!(
            error.as_ref().map(|e| e.code.as_ref()),
            Some("MissingParameter"),
            "{name} accepted a request without {missing}"
        );
        assert!(
            error.is_some_and(|e| e.message.contains(missing)),
            "{name}: {missing}"
        );
    }
}

/// A plausible wire value for a parameter of the spec's type.
fn sample(param: &Value, params: &mut FlatParams) {
    let name = param["name"].as_str().unwrap_or("");
    match param["type"].as_str().unwrap_or("") {
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
        for missing in &required {
            let mut params = FlatParams::new();
            for other in &required {
                if other["name"] != missing["name"] {
                    sample(other, &mut params);
                }
            }
            let error = (served.decode)(&params).err();
            let missing_name = missing["name"].as_str().unwrap_or("");
            assert_eq!(
                error.as_ref().map(|e| e.code.as_ref()),
                Some("MissingParameter"),
                "{name} accepted a request without {missing_name}"
            );
            assert!(
                error.is_some_and(|e| e.message.contains(missing_name)),
                "{name}: message must name {missing_name}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}
