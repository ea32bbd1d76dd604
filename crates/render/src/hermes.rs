//! Hermes Agent's `config.yaml` and `.env` in `$HERMES_HOME` (why not the administrator layer:
//! see the crate's documentation). amc owns the `model` block when it delivers a default model
//! (`model.provider` naming one of its providers, `model.default` the model), the entries of
//! its providers under `providers:` (each with `key_env` naming a `.env` line, so no key sits in
//! the YAML), the entries of its platforms under `platforms:`, and its own `.env` lines.
//!
//! YAML is edited block by block: a top-level block amc owns part of is rewritten (its own
//! comments are lost), every other line of the file stays as it was. `.env` lines that are not
//! amc's stay as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use agent_proto::{DesiredState, Provider};
use domain::channels::{AgentFamily, ChannelCode, ConfigMode, NativeChannel, native_channel};
use serde_json::{Map, Value, json};

use crate::{
    Files, Fingerprints, Layout, Owned, Plan, RenderError, Write, channel_code, config_mode,
    desired_providers, digest, hashed, number,
};

/// The `.env` variable holding a provider's key.
fn key_env(provider_id: &str) -> String {
    let name: String = provider_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("AMC_{name}_API_KEY")
}

/// Hermes's name for an OpenClaw protocol.
fn api_mode(api: &str) -> &'static str {
    match api {
        "anthropic-messages" => "anthropic_messages",
        "openai-responses" => "codex_responses",
        _ => "chat_completions",
    }
}

fn parse_yaml(path: &Path, text: &str) -> Result<Map<String, Value>, RenderError> {
    let value: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_norway::from_str(text).map_err(|e| RenderError::Unparsable {
            path: path.to_path_buf(),
            format: "YAML",
            reason: e.to_string(),
        })?
    };
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err(RenderError::NotAnObject {
            path: path.to_path_buf(),
        }),
    }
}

/// Whether `line` starts a top-level key (`key:` at column 0).
fn top_level_key(line: &str) -> Option<&str> {
    let first = line.chars().next()?;
    if first.is_whitespace() || matches!(first, '#' | '-' | '.' | '%') {
        return None;
    }
    let (key, _) = line.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()).then_some(key)
}

/// `text` with the top-level block of `key` replaced by `value` rendered as YAML (removed for
/// `None`, appended when absent). Comment and blank lines that end the block stay: they are
/// more likely the next block's.
fn replace_block(text: &str, key: &str, value: Option<&Value>) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines.iter().position(|l| top_level_key(l) == Some(key));
    let rendered = value.map(|v| {
        let mut out = format!("{key}:");
        emit(v, 2, &mut out);
        out.push('\n');
        out
    });
    let Some(start) = start else {
        let Some(rendered) = rendered else {
            return text.to_string();
        };
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&rendered);
        return out;
    };
    let mut end = lines[start + 1..]
        .iter()
        .position(|l| top_level_key(l).is_some() || l.starts_with("---"))
        .map_or(lines.len(), |offset| start + 1 + offset);
    while end > start + 1 {
        let trimmed = lines[end - 1].trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    let mut out: String = lines[..start].concat();
    if let Some(rendered) = rendered {
        out.push_str(&rendered);
    }
    out.push_str(&lines[end..].concat());
    out
}

/// YAML of a value after a `key:` already written: block style, every string and key
/// double-quoted in JSON's syntax (valid YAML), so that PyYAML, which reads YAML 1.1, never
/// takes a model named `yes` or `2026-01-01` for a boolean or a date.
fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                emit(item, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push('\n');
                out.push_str(&pad);
                out.push('-');
                emit(item, indent + 2, out);
            }
        }
        Value::Object(_) => out.push_str(" {}"),
        Value::Array(_) => out.push_str(" []"),
        scalar => {
            out.push(' ');
            out.push_str(&scalar.to_string());
        }
    }
}

/// `.env` lines as `KEY -> value`, the way python-dotenv reads the simple forms.
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = if value.len() >= 2
                && ((value.starts_with('"') && value.ends_with('"'))
                    || (value.starts_with('\'') && value.ends_with('\'')))
            {
                value[1..value.len() - 1]
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            } else {
                value.to_string()
            };
            Some((key.trim().to_string(), value))
        })
        .collect()
}

fn env_line(key: &str, value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@+,".contains(c));
    if plain {
        format!("{key}={value}\n")
    } else {
        format!(
            "{key}=\"{}\"\n",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

/// `text` with the lines of `owned` keys replaced by `wanted` (in its order), others kept.
fn rewrite_env(text: &str, owned: &BTreeSet<String>, wanted: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut written = BTreeSet::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .split_once('=')
            .map(|(k, _)| k.trim().to_string())
            .filter(|_| !trimmed.starts_with('#'));
        match key {
            Some(key) if wanted.contains_key(&key) || owned.contains(&key) => {
                if let Some(value) = wanted.get(&key)
                    && written.insert(key.clone())
                {
                    out.push_str(&env_line(&key, value));
                }
            }
            _ => {
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    for (key, value) in wanted.iter().filter(|(k, _)| !written.contains(*k)) {
        out.push_str(&env_line(key, value));
    }
    out
}

/// `text` with the top-level map `key` made `after`, when it differs from `before` (what the file
/// had); a map that ends up empty is dropped unless the file had the key.
fn update_block(
    text: &str,
    config: &Map<String, Value>,
    key: &str,
    before: &Map<String, Value>,
    after: Map<String, Value>,
) -> String {
    if &after == before {
        return text.to_string();
    }
    let keep = !after.is_empty() || config.contains_key(key);
    replace_block(text, key, keep.then_some(Value::Object(after)).as_ref())
}

/// The agent's `.env` as read.
fn read_env(layout: &Layout, files: &Files) -> BTreeMap<String, String> {
    layout
        .env_file
        .as_ref()
        .and_then(|p| files.get(p))
        .map(|text| parse_env(text))
        .unwrap_or_default()
}

fn provider_value(provider: &Provider) -> Value {
    let models: Map<String, Value> = provider
        .models
        .iter()
        .map(|m| {
            let mut entry = Map::new();
            if let Some(window) = number(m.config.get("contextWindow")).filter(|n| *n >= 1.0) {
                entry.insert("context_length".into(), Value::from(window as i64));
            }
            (m.id.clone(), Value::Object(entry))
        })
        .collect();
    let mut value = Map::new();
    value.insert("name".into(), Value::from(provider.name.clone()));
    value.insert("base_url".into(), Value::from(provider.base_url.clone()));
    value.insert("api_mode".into(), Value::from(api_mode(&provider.api)));
    if provider.api_key.is_some() {
        value.insert("key_env".into(), Value::from(key_env(&provider.id)));
    }
    value.insert("models".into(), Value::Object(models));
    Value::Object(value)
}

/// A channel in Hermes's terms: platform name, `.env` lines, extra settings.
fn native(
    code: ChannelCode,
    mode: ConfigMode,
    settings: &Map<String, Value>,
) -> (String, BTreeMap<String, String>, Value) {
    match native_channel(AgentFamily::Hermes, code, mode, settings) {
        NativeChannel::Hermes {
            platform,
            env,
            extra,
        } => (platform.to_string(), env, extra),
        NativeChannel::OpenClaw { channel_id, .. } => {
            (channel_id.to_string(), BTreeMap::new(), Value::Null)
        }
    }
}

/// The platform and `.env` names of a channel code.
fn names_of(code: ChannelCode) -> (String, Vec<String>) {
    let every: Map<String, Value> = code
        .simple_fields()
        .iter()
        .map(|f| (f.name.to_string(), Value::from("x")))
        .collect();
    let (platform, env, _) = native(code, ConfigMode::Simple, &every);
    (platform, env.into_keys().collect())
}

fn object(map: &Map<String, Value>, key: &str) -> Map<String, Value> {
    map.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn plan(
    layout: &Layout,
    files: &Files,
    desired: &DesiredState,
    owned: &Owned,
) -> Result<Plan, RenderError> {
    let config_text = files.get(&layout.config).map_or("", String::as_str);
    let config = parse_yaml(&layout.config, config_text)?;
    let mut now = Owned::default();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut text = config_text.to_string();

    let providers = desired_providers(desired);
    let before = object(&config, "providers");
    let mut after = before.clone();
    for gone in &owned.providers {
        after.remove(gone);
    }
    for (id, provider) in &providers {
        after.insert((*id).to_string(), provider_value(provider));
        now.providers.insert((*id).to_string());
        if let Some(key) = &provider.api_key {
            env.insert(key_env(id), key.expose().to_string());
        }
    }
    text = update_block(&text, &config, "providers", &before, after);

    let default = desired
        .model
        .as_ref()
        .and_then(|m| m.default_model.as_deref())
        .and_then(|d| d.split_once('/'));
    match default {
        Some((provider, model)) => {
            // `custom:<name>`: a bare name that is also one of Hermes's built-in providers
            // (`anthropic`, `deepseek`, ...) would select the built-in one instead.
            let wanted = json!({"provider": format!("custom:{provider}"), "default": model});
            if config.get("model") != Some(&wanted) {
                text = replace_block(&text, "model", Some(&wanted));
            }
            now.default_model = true;
        }
        None if owned.default_model => text = replace_block(&text, "model", None),
        None => {}
    }

    let before = object(&config, "platforms");
    let mut after = before.clone();
    let mut wanted_platforms = BTreeSet::new();
    for channel in &desired.channels {
        let code = channel_code(&channel.code)?;
        let (platform, lines, extra) = native(code, config_mode(&channel.mode), &channel.settings);
        let mut entry = object(&after, &platform);
        entry.insert("enabled".into(), Value::Bool(true));
        match extra {
            Value::Object(extra) if !extra.is_empty() => {
                entry.insert("extra".into(), Value::Object(extra));
            }
            _ => {
                entry.remove("extra");
            }
        }
        after.insert(platform.clone(), Value::Object(entry));
        wanted_platforms.insert(platform);
        env.extend(lines);
        now.channels.insert(channel.code.clone());
    }
    for gone in owned.channels.iter().filter(|c| !now.channels.contains(*c)) {
        if let Ok(code) = channel_code(gone) {
            let (platform, _) = names_of(code);
            if !wanted_platforms.contains(&platform) {
                after.remove(&platform);
            }
        }
    }
    text = update_block(&text, &config, "platforms", &before, after);
    // Hermes's skills read their variables from the agent's environment: its `.env`. A channel's
    // variable of the same name wins.
    for skill in &desired.skills {
        for (name, value) in &skill.env {
            env.entry(name.clone())
                .or_insert_with(|| value.expose().to_string());
        }
    }

    let mut writes = Vec::new();
    if text != config_text {
        writes.push(Write {
            path: layout.config.clone(),
            contents: text,
            secret: true,
        });
    }
    if let Some((key, _)) = env.iter().find(|(_, v)| v.contains("${")) {
        // python-dotenv expands `${NAME}` in every quoting and has no escape for it.
        return Err(RenderError::EnvValue { key: key.clone() });
    }
    if let Some(env_path) = &layout.env_file {
        let env_text = files.get(env_path).map_or("", String::as_str);
        let rewritten = rewrite_env(env_text, &owned.env_keys, &env);
        if rewritten != env_text && !(env_text.is_empty() && env.is_empty()) {
            writes.push(Write {
                path: env_path.clone(),
                contents: rewritten,
                secret: true,
            });
        }
    }
    now.env_keys = env.into_keys().collect();
    Ok(Plan { writes, owned: now })
}

pub(crate) fn fingerprint(layout: &Layout, files: &Files, owned: &Owned) -> Fingerprints {
    let config = files
        .get(&layout.config)
        .and_then(|text| parse_yaml(&layout.config, text).ok())
        .unwrap_or_default();
    let env = read_env(layout, files);
    let env_of = |key: &str| env.get(key).map_or(Value::Null, |v| hashed(v));
    let model = (!owned.providers.is_empty() || owned.default_model).then(|| {
        let providers = object(&config, "providers");
        let ours: Map<String, Value> = owned
            .providers
            .iter()
            .map(|id| {
                let key = key_env(id);
                let found = json!({
                    "entry": providers.get(id).cloned().unwrap_or(Value::Null),
                    "key": env_of(&key),
                });
                (id.clone(), found)
            })
            .collect();
        let model = if owned.default_model {
            config.get("model").cloned().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        digest(&json!({"providers": ours, "model": model}))
    });
    let platforms = object(&config, "platforms");
    let channels = owned
        .channels
        .iter()
        .filter_map(|code| {
            let (platform, keys) = names_of(channel_code(code).ok()?);
            let lines: Map<String, Value> = keys.iter().map(|k| (k.clone(), env_of(k))).collect();
            let found = json!({
                "platform": platforms.get(&platform).cloned().unwrap_or(Value::Null),
                "env": lines,
            });
            Some((code.clone(), digest(&found)))
        })
        .collect();
    Fingerprints { model, channels }
}

pub(crate) fn qr_completed(layout: &Layout, files: &Files) -> Vec<String> {
    let env = read_env(layout, files);
    if env.get("WEIXIN_TOKEN").is_some_and(|t| !t.is_empty()) {
        vec!["wechat".to_string()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
pub(crate) fn parse_env_for_tests(text: &str) -> BTreeMap<String, String> {
    parse_env(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_yaml_1_1_would_read_as_other_types_are_quoted()
    -> Result<(), serde_norway::Error> {
        let value = json!({"models": {"2026-01-01": {}, "yes": {"n": 1}}, "name": "on", "list": ["1_000", {"a": null}], "e": []});
        let text = replace_block("# kept\nother: 1\n", "block", Some(&value));
        assert!(text.starts_with("# kept\nother: 1\nblock:\n"), "{text}");
        assert!(
            text.contains("\"2026-01-01\": {}") && text.contains("\"name\": \"on\""),
            "{text}"
        );
        let back: Value = serde_norway::from_str(&text)?;
        assert_eq!(back["block"], value);
        Ok(())
    }

    #[test]
    fn env_values_that_dotenv_would_expand_are_refused_naming_the_key() {
        let layout = crate::locate(agent_proto::Product::Hermes, Path::new("/h"), &|_| None);
        let state = DesiredState {
            runtime_id: "jvs-1".into(),
            generation: 1,
            product: agent_proto::Product::Hermes,
            repair_drift: false,
            report_interval_secs: 30,
            model: None,
            channels: vec![agent_proto::Channel {
                code: "feishu".into(),
                mode: "Simple".into(),
                settings: json!({"appId": "cli", "appSecret": "a${HOME}b"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            }],
            skills: Vec::new(),
        };
        let error = plan(&layout, &Files::new(), &state, &Owned::default()).expect_err("refused");
        assert_eq!(
            error,
            RenderError::EnvValue {
                key: "FEISHU_APP_SECRET".into()
            }
        );
        assert!(!error.to_string().contains("a${HOME}b"));
    }
}
