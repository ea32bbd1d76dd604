//! OpenClaw's `openclaw.json` (JSON5, strict schema) and the per-agent `models.json` whose
//! provider values win over it. amc owns `models.providers.<id>` of the providers it delivers,
//! `agents.defaults.model.primary`, `channels.<id>` of its channels and the plugin entries it
//! created (`plugins.entries.<id>.enabled`); `models.mode` is set to `merge` when absent. Edits
//! go through jsonc-parser's concrete syntax tree and only where the value differs, so the rest
//! of the file — comments, formatting, `meta`, `gateway`, other providers and channels — stays
//! as it was. The keys written are the same in every OpenClaw version since 2026.3 (the
//! `agents.list` → `agents.entries` migration does not touch them), so the installed version
//! does not change the output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use agent_proto::{DesiredState, Model, Provider};
use domain::channels::{AgentFamily, NativeChannel, native_channel};
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use serde_json::{Map, Value, json};

use crate::{
    Files, Fingerprints, Layout, Owned, Plan, RenderError, Write, channel_code, config_mode,
    desired_providers, digest, hashed, number,
};

/// A new file: what `openclaw onboard` would leave, minus everything amc does not need.
const FRESH: &str = "{\n  \"gateway\": {\n    \"mode\": \"local\"\n  }\n}\n";
/// What a model definition gets when its Config says nothing (OpenClaw requires them).
const DEFAULT_CONTEXT_WINDOW: i64 = 131_072;
const DEFAULT_MAX_TOKENS: i64 = 8_192;

pub(crate) fn agent_model_files(
    layout: &Layout,
    list_dir: &dyn Fn(&Path) -> Vec<String>,
) -> Vec<PathBuf> {
    let agents = layout.state_dir.join("agents");
    let mut ids = list_dir(&agents);
    ids.sort();
    ids.into_iter()
        .filter(|id| !id.starts_with('.'))
        .map(|id| agents.join(id).join("agent").join("models.json"))
        .collect()
}

fn options() -> ParseOptions {
    ParseOptions::default()
}

fn parse_value(path: &Path, text: &str) -> Result<Value, RenderError> {
    let value: Option<Value> =
        jsonc_parser::parse_to_serde_value(text, &options()).map_err(|e| {
            RenderError::Unparsable {
                path: path.to_path_buf(),
                format: "JSON5",
                reason: e.to_string(),
            }
        })?;
    Ok(value.unwrap_or(Value::Null))
}

/// OpenClaw substitutes `${NAME}` in every string of its config; `$${` is its escape for a
/// literal `${`, so what amc delivers arrives as it was sent.
fn escaped(value: &Value) -> Value {
    match value {
        Value::String(s) if s.contains("${") => Value::String(s.replace("${", "$${")),
        Value::Array(items) => Value::Array(items.iter().map(escaped).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), escaped(v))).collect())
        }
        other => other.clone(),
    }
}

fn input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), input(v))).collect())
        }
    }
}

/// A JSON5 document being edited.
struct Doc {
    root: CstRootNode,
    object: CstObject,
}

impl Doc {
    fn parse(path: &Path, text: &str) -> Result<Doc, RenderError> {
        let root = CstRootNode::parse(text, &options()).map_err(|e| RenderError::Unparsable {
            path: path.to_path_buf(),
            format: "JSON5",
            reason: e.to_string(),
        })?;
        let object = match root.value() {
            None => root.object_value_or_set(),
            Some(_) => root
                .object_value()
                .ok_or_else(|| RenderError::NotAnObject {
                    path: path.to_path_buf(),
                })?,
        };
        Ok(Doc { root, object })
    }

    /// The object at `path`, made (or made an object) where it is not.
    fn object_at(&self, path: &[&str]) -> CstObject {
        path.iter().fold(self.object.clone(), |object, key| {
            object.object_value_or_set(key)
        })
    }

    /// The object at `path` if there is one.
    fn find(&self, path: &[&str]) -> Option<CstObject> {
        path.iter()
            .try_fold(self.object.clone(), |object, key| object.object_value(key))
    }

    fn current(&self, path: &[&str], key: &str) -> Option<Value> {
        self.find(path)?.get(key)?.value()?.to_serde_value()
    }

    /// Sets `key` of the object at `path` to `value` (escaped), unless it already is that.
    fn set(&self, path: &[&str], key: &str, value: &Value) {
        let value = &escaped(value);
        if self.current(path, key).as_ref() == Some(value) {
            return;
        }
        let object = self.object_at(path);
        match object.get(key) {
            Some(prop) => prop.set_value(input(value)),
            None => {
                object.append(key, input(value));
            }
        }
    }

    fn remove(&self, path: &[&str], key: &str) {
        if let Some(prop) = self.find(path).and_then(|o| o.get(key)) {
            prop.remove();
        }
    }

    fn text(&self) -> String {
        self.root.to_string()
    }
}

/// A model definition: the fields of OpenClaw's schema, from the LLM template's Config (amc's
/// own keys, which the strict schema would refuse, stay behind).
fn model_value(model: &Model) -> Value {
    let config = &model.config;
    let integer = |key: &str, default: i64| {
        number(config.get(key))
            .filter(|n| *n >= 1.0)
            .map_or(default, |n| n as i64)
    };
    let input: Vec<Value> = match config.get("input") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|m| matches!(*m, "text" | "image"))
            .map(|m| Value::String(m.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let cost = config.get("cost").and_then(Value::as_object);
    let price = |key: &str| {
        let n = number(cost.and_then(|c| c.get(key)))
            .filter(|n| *n >= 0.0)
            .unwrap_or(0.0);
        serde_json::Number::from_f64(n).map_or(Value::from(0), Value::Number)
    };
    json!({
        "id": model.id,
        "name": if model.name.is_empty() { &model.id } else { &model.name },
        "reasoning": config.get("reasoning").and_then(Value::as_bool).unwrap_or(false),
        "input": if input.is_empty() { vec![Value::from("text")] } else { input },
        "cost": {
            "input": price("input"),
            "output": price("output"),
            "cacheRead": price("cacheRead"),
            "cacheWrite": price("cacheWrite"),
        },
        "contextWindow": integer("contextWindow", DEFAULT_CONTEXT_WINDOW),
        "maxTokens": integer("maxTokens", DEFAULT_MAX_TOKENS),
    })
}

fn provider_value(provider: &Provider) -> Value {
    let mut value = Map::new();
    value.insert("baseUrl".into(), Value::from(provider.base_url.clone()));
    if let Some(key) = &provider.api_key {
        value.insert("apiKey".into(), Value::from(key.expose()));
    }
    value.insert("api".into(), Value::from(provider.api.clone()));
    value.insert(
        "models".into(),
        Value::Array(provider.models.iter().map(model_value).collect()),
    );
    Value::Object(value)
}

/// A channel's OpenClaw ids and settings.
fn native(
    code: &str,
    mode: &str,
    settings: &Map<String, Value>,
) -> Result<(String, String, Value), RenderError> {
    match native_channel(
        AgentFamily::OpenClaw,
        channel_code(code)?,
        config_mode(mode),
        settings,
    ) {
        NativeChannel::OpenClaw {
            channel_id,
            plugin_id,
            settings,
        } => Ok((channel_id.to_string(), plugin_id.to_string(), settings)),
        NativeChannel::Hermes { .. } => Err(RenderError::UnknownChannel(code.to_string())),
    }
}

/// Plugin entries a channel needs besides its own: WeCom's channel validates only with the
/// `wecom` entry while its plugin is not installed, and the installed plugin is enabled by its
/// manifest id.
fn companion_plugins(channel_id: &str) -> &'static [&'static str] {
    match channel_id {
        "wecom" => &["wecom-openclaw-plugin"],
        _ => &[],
    }
}

/// The ids of a channel code, settings aside.
fn ids_of(code: &str) -> Option<(String, String)> {
    native(code, "Simple", &Map::new())
        .ok()
        .map(|(c, p, _)| (c, p))
}

/// Removes `skills.entries.<name>` once nothing is left in it.
fn drop_if_empty(doc: &Doc, name: &str) {
    if doc
        .current(&["skills", "entries"], name)
        .is_some_and(|entry| entry.as_object().is_some_and(|o| o.is_empty()))
    {
        doc.remove(&["skills", "entries"], name);
    }
}

pub(crate) fn plan(
    layout: &Layout,
    files: &Files,
    desired: &DesiredState,
    owned: &Owned,
    _installed_version: Option<&str>,
) -> Result<Plan, RenderError> {
    let existing = files.get(&layout.config);
    let doc = Doc::parse(&layout.config, existing.map_or(FRESH, String::as_str))?;
    let mut now = Owned::default();

    let providers = desired_providers(desired);
    for gone in owned
        .providers
        .iter()
        .filter(|id| !providers.contains_key(id.as_str()))
    {
        doc.remove(&["models", "providers"], gone);
    }
    if !providers.is_empty() && doc.current(&["models"], "mode").is_none() {
        doc.set(&["models"], "mode", &Value::from("merge"));
    }
    for (id, provider) in &providers {
        doc.set(&["models", "providers"], id, &provider_value(provider));
        now.providers.insert((*id).to_string());
    }
    match desired
        .model
        .as_ref()
        .and_then(|m| m.default_model.as_deref())
    {
        Some(primary) => {
            doc.set(
                &["agents", "defaults", "model"],
                "primary",
                &Value::from(primary),
            );
            now.default_model = true;
        }
        None if owned.default_model => doc.remove(&["agents", "defaults", "model"], "primary"),
        None => {}
    }

    let mut plugins_needed = BTreeSet::new();
    for channel in &desired.channels {
        let (channel_id, plugin_id, settings) =
            native(&channel.code, &channel.mode, &channel.settings)?;
        match &settings {
            Value::Object(keys) => {
                for (key, value) in keys {
                    doc.set(&["channels", &channel_id], key, value);
                }
                for stale in owned
                    .channel_keys
                    .get(&channel.code)
                    .into_iter()
                    .flatten()
                    .filter(|k| !keys.contains_key(*k))
                {
                    doc.remove(&["channels", &channel_id], stale);
                }
                now.channel_keys
                    .insert(channel.code.clone(), keys.keys().cloned().collect());
            }
            other => doc.set(&["channels"], &channel_id, other),
        }
        let had_entry = doc
            .find(&["plugins", "entries"])
            .and_then(|e| e.get(&plugin_id))
            .is_some();
        if !had_entry || owned.plugins.contains(&plugin_id) {
            now.plugins.insert(plugin_id.clone());
        }
        doc.set(
            &["plugins", "entries", &plugin_id],
            "enabled",
            &Value::Bool(true),
        );
        plugins_needed.insert(plugin_id);
        now.channels.insert(channel.code.clone());
    }
    for gone in owned.channels.iter().filter(|c| !now.channels.contains(*c)) {
        if let Some((channel_id, plugin_id)) = ids_of(gone) {
            doc.remove(&["channels"], &channel_id);
            for plugin in std::iter::once(plugin_id.as_str())
                .chain(companion_plugins(&channel_id).iter().copied())
            {
                if owned.plugins.contains(plugin) && !plugins_needed.contains(plugin) {
                    doc.remove(&["plugins", "entries"], plugin);
                }
            }
        }
    }

    for skill in &desired.skills {
        let mut keys = BTreeMap::new();
        if let Some(key) = &skill.api_key {
            keys.insert("apiKey".to_string(), Value::from(key.expose()));
        }
        if !skill.env.is_empty() {
            let env: serde_json::Map<String, Value> = skill
                .env
                .iter()
                .map(|(name, value)| (name.clone(), Value::from(value.expose())))
                .collect();
            keys.insert("env".to_string(), Value::Object(env));
        }
        let before = owned.skill_entries.get(&skill.name);
        for stale in before
            .into_iter()
            .flatten()
            .filter(|k| !keys.contains_key(*k))
        {
            doc.remove(&["skills", "entries", &skill.name], stale);
        }
        if keys.is_empty() {
            drop_if_empty(&doc, &skill.name);
            continue;
        }
        for (key, value) in &keys {
            doc.set(&["skills", "entries", &skill.name], key, value);
        }
        now.skill_entries
            .insert(skill.name.clone(), keys.into_keys().collect());
    }
    for (gone, keys) in owned
        .skill_entries
        .iter()
        .filter(|(name, _)| !now.skill_entries.contains_key(*name))
    {
        for key in keys {
            doc.remove(&["skills", "entries", gone], key);
        }
        drop_if_empty(&doc, gone);
    }

    let mut writes = Vec::new();
    let text = doc.text();
    if existing != Some(&text) && !(existing.is_none() && now.is_empty()) {
        writes.push(Write {
            path: layout.config.clone(),
            contents: text,
            secret: true,
        });
    }
    // Per-agent model catalogs: their baseUrl and apiKey win over openclaw.json, so ours are
    // made to say the same (or dropped, for a provider no longer delivered).
    for (path, text) in files.iter().filter(|(p, _)| is_agent_models(layout, p)) {
        let doc = Doc::parse(path, text)?;
        for id in owned.providers.iter().chain(&now.providers) {
            if doc.find(&["providers", id]).is_none() {
                continue;
            }
            match providers.get(id.as_str()) {
                None => doc.remove(&["providers"], id),
                Some(provider) => {
                    doc.set(
                        &["providers", id],
                        "baseUrl",
                        &Value::from(provider.base_url.clone()),
                    );
                    match &provider.api_key {
                        Some(key) => {
                            doc.set(&["providers", id], "apiKey", &Value::from(key.expose()))
                        }
                        None => doc.remove(&["providers", id], "apiKey"),
                    }
                }
            }
        }
        let rewritten = doc.text();
        if &rewritten != text {
            writes.push(Write {
                path: path.clone(),
                contents: rewritten,
                secret: true,
            });
        }
    }
    Ok(Plan { writes, owned: now })
}

fn is_agent_models(layout: &Layout, path: &Path) -> bool {
    path.starts_with(layout.state_dir.join("agents")) && path.ends_with("agent/models.json")
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Every string leaf hashed: what a fingerprint keeps of settings that hold secrets.
fn hash_strings(value: &Value) -> Value {
    match value {
        Value::String(s) => hashed(s),
        Value::Array(items) => Value::Array(items.iter().map(hash_strings).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), hash_strings(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn with_hashed_key(provider: &Value) -> Value {
    let mut provider = provider.clone();
    if let Some(Value::String(key)) = provider.get("apiKey").cloned()
        && let Some(map) = provider.as_object_mut()
    {
        map.insert("apiKey".into(), hashed(&key));
    }
    provider
}

pub(crate) fn fingerprint(layout: &Layout, files: &Files, owned: &Owned) -> Fingerprints {
    let config = files
        .get(&layout.config)
        .and_then(|text| parse_value(&layout.config, text).ok())
        .unwrap_or(Value::Null);
    let model = (!owned.providers.is_empty() || owned.default_model).then(|| {
        let providers: Map<String, Value> = owned
            .providers
            .iter()
            .map(|id| {
                let found = at(&config, &["models", "providers", id]).map_or(Value::Null, with_hashed_key);
                (id.clone(), found)
            })
            .collect();
        let primary = if owned.default_model {
            match at(&config, &["agents", "defaults", "model"]) {
                Some(Value::Object(model)) => model.get("primary").cloned().unwrap_or(Value::Null),
                Some(plain) => plain.clone(),
                None => Value::Null,
            }
        } else {
            Value::Null
        };
        let overrides: Vec<Value> = files
            .iter()
            .filter(|(p, _)| is_agent_models(layout, p))
            .filter_map(|(path, text)| {
                let value = parse_value(path, text).ok()?;
                let ours: Map<String, Value> = owned
                    .providers
                    .iter()
                    .filter_map(|id| {
                        let p = at(&value, &["providers", id])?;
                        let picked = json!({
                            "baseUrl": p.get("baseUrl").cloned().unwrap_or(Value::Null),
                            "apiKey": p.get("apiKey").and_then(Value::as_str).map_or(Value::Null, hashed),
                        });
                        Some((id.clone(), picked))
                    })
                    .collect();
                (!ours.is_empty()).then(|| json!({"file": path.to_string_lossy(), "providers": ours}))
            })
            .collect();
        digest(&json!({"providers": providers, "primary": primary, "overrides": overrides}))
    });
    let channels = owned
        .channels
        .iter()
        .filter_map(|code| {
            let (channel_id, plugin_id) = ids_of(code)?;
            let channel = at(&config, &["channels", &channel_id]).map(|found| {
                match (owned.channel_keys.get(code), found) {
                    // Only what amc set: the plugin's own keys beside it are not drift.
                    (Some(keys), Value::Object(map)) => Value::Object(
                        keys.iter()
                            .map(|k| (k.clone(), map.get(k).cloned().unwrap_or(Value::Null)))
                            .collect(),
                    ),
                    _ => found.clone(),
                }
            });
            let found = json!({
                "channel": channel.as_ref().map_or(Value::Null, hash_strings),
                "enabled": at(&config, &["plugins", "entries", &plugin_id, "enabled"]).cloned().unwrap_or(Value::Null),
            });
            Some((code.clone(), digest(&found)))
        })
        .collect();
    Fingerprints { model, channels }
}

pub(crate) fn qr_completed(layout: &Layout, files: &Files) -> Vec<String> {
    let Some(config) = files
        .get(&layout.config)
        .and_then(|text| parse_value(&layout.config, text).ok())
    else {
        return Vec::new();
    };
    let logged_in = match at(&config, &["channels", "openclaw-weixin", "accounts"]) {
        Some(Value::Object(accounts)) => !accounts.is_empty(),
        Some(Value::Array(accounts)) => !accounts.is_empty(),
        _ => false,
    };
    if logged_in {
        vec!["wechat".to_string()]
    } else {
        Vec::new()
    }
}
