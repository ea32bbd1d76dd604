//! Parameters as they travel (a flat map of wire names such as `Ids.1` or `List.1.Name` to strings)
//! and their decoding into typed request structs.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::ApiError;

/// Business parameters of one call, query and form body merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatParams(BTreeMap<String, String>);

impl FlatParams {
    pub fn new() -> Self {
        FlatParams(BTreeMap::new())
    }
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Decodes a typed request from flat parameters.
pub fn from_params<T: DeserializeOwned>(params: &FlatParams) -> Result<T, ApiError> {
    let _ = params;
    unimplemented!("stub")
}

/// Flattens a JSON object the way the SDKs do (`Utils.query`): lists become `Name.N`, objects `Name.Key`.
pub fn flatten(value: &serde_json::Value) -> FlatParams {
    let _ = value;
    unimplemented!("stub")
}
