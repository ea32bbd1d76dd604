//! Model groups, provider templates and LLM templates: the rules that decide what a valid
//! provider connection, group Config and model Config are, and how an API key is masked.
//!
//! Everything here is pure parsing and validation; the store keeps the results and the server
//! maps [`ModelError`] onto the cloud's `InvalidParameter` / `MissingParameter` codes.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::providers;

/// The provider name reserved for amc's own credit-metered proxy.
pub const WUYING_CREDIT: &str = "wuying-credit";
/// Custom providers are named `provider-…` so they never collide with a catalogue vendor.
pub const CUSTOM_PREFIX: &str = "provider-";
/// The wire protocols an agent (OpenClaw's `models.providers.*.api`) knows how to speak.
pub const API_PROTOCOLS: &[&str] = &[
    "openai-completions",
    "openai-responses",
    "anthropic-messages",
    "google-generative-ai",
    "bedrock-converse-stream",
    "github-copilot",
];
const MAX_NAME_LEN: usize = 64;
/// Longest `baseUrl`, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest API key, in bytes.
pub const MAX_KEY_LEN: usize = 4096;
/// Longest `LlmCode`, in bytes.
pub const MAX_LLM_CODE_LEN: usize = 128;

/// A validation failure, naming the parameter (path below the request's top level) it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{0} is missing")]
    Missing(String),
    #[error("{param}: {reason}")]
    Invalid { param: String, reason: String },
}

impl ModelError {
    pub fn invalid(param: &str, reason: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            param: param.to_string(),
            reason: reason.into(),
        }
    }

    /// The parameter the error is about.
    pub fn param(&self) -> &str {
        match self {
            ModelError::Missing(param) | ModelError::Invalid { param, .. } => param,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What a model group is for

/// Agent products (`AgentProvider`) the SDK documents: OpenClaw (also JVS Claw computers),
/// Hermes Agent, AgenticComputer and Common (shared groups). Compared exactly, as the cloud
/// compares them.
pub const AGENT_PROVIDERS: &[&str] = &["OpenClaw", "HermesAgent", "AgenticComputer", "Common"];
/// Agent platform families (`AgentPlatform`) the SDK documents.
pub const AGENT_PLATFORMS: &[&str] = &["ENTERPRISE", "ENTERPRISE_JVS", "COMMON"];

fn one_of(param: &str, value: &str, known: &[&str]) -> Result<(), ModelError> {
    if value.is_empty() {
        return Err(ModelError::Missing(param.to_string()));
    }
    if known.contains(&value) {
        Ok(())
    } else {
        Err(ModelError::invalid(
            param,
            format!("must be one of {}", known.join(", ")),
        ))
    }
}

/// An `AgentProvider` (or an item of `AgentProviderList`, named by `param`).
pub fn validate_agent_provider(param: &str, value: &str) -> Result<(), ModelError> {
    one_of(param, value, AGENT_PROVIDERS)
}

/// An `AgentPlatform` (or an item of `AgentPlatformList`, named by `param`).
pub fn validate_agent_platform(param: &str, value: &str) -> Result<(), ModelError> {
    one_of(param, value, AGENT_PLATFORMS)
}

/// `BizType`: a business-line code, which the SDKs carry as a 32-bit integer; the codes in use
/// are positive.
pub fn validate_biz_type(value: i64) -> Result<(), ModelError> {
    if (1..=i64::from(i32::MAX)).contains(&value) {
        Ok(())
    } else {
        Err(ModelError::invalid(
            "BizType",
            format!("must be between 1 and {}", i32::MAX),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Provider templates

/// The three kinds of provider template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    /// Models billed in platform credits through amc's own proxy.
    WuyingCredit,
    /// A vendor of the built-in catalogue (see [`providers::CATALOGUE`]).
    Managed,
    /// Any OpenAI- or Anthropic-compatible endpoint the tenant names.
    Custom,
}

impl ProviderType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::WuyingCredit => "WuyingCredit",
            ProviderType::Managed => "Managed",
            ProviderType::Custom => "Custom",
        }
    }

    pub fn parse(text: &str) -> Option<ProviderType> {
        match text {
            "WuyingCredit" => Some(ProviderType::WuyingCredit),
            "Managed" => Some(ProviderType::Managed),
            "Custom" => Some(ProviderType::Custom),
            _ => None,
        }
    }

    /// The type a caller means when it leaves `ProviderType` out, judged by the name alone.
    pub fn infer(provider_name: &str) -> Option<ProviderType> {
        if provider_name == WUYING_CREDIT {
            Some(ProviderType::WuyingCredit)
        } else if provider_name.starts_with(CUSTOM_PREFIX) {
            Some(ProviderType::Custom)
        } else if providers::find(provider_name).is_some() {
            Some(ProviderType::Managed)
        } else {
            None
        }
    }
}

/// A provider connection as a caller sends it. `CreateModelProviderTemplate` sends lower-camel
/// keys (`baseUrl`, `apiKey`, `api`), `UpdateModelProviderTemplate` PascalCase ones (`BaseUrl`,
/// `ApiKey`, `ApiType`): both spellings are accepted, unknown keys are ignored. `Debug` redacts
/// the key.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProviderConfigInput {
    #[serde(default, alias = "baseUrl", alias = "BaseUrl", alias = "base_url")]
    pub base_url: Option<String>,
    #[serde(default, alias = "apiKey", alias = "ApiKey", alias = "api_key")]
    pub api_key: Option<String>,
    #[serde(default, alias = "ApiType", alias = "apiType", alias = "Api")]
    pub api: Option<String>,
}

impl std::fmt::Debug for ProviderConfigInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfigInput")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("api", &self.api)
            .finish()
    }
}

impl ProviderConfigInput {
    /// Parses the `Config` JSON text of `CreateModelProviderTemplate`.
    pub fn parse(text: &str) -> Result<ProviderConfigInput, ModelError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ModelError::invalid("Config", format!("not valid JSON ({e})")))?;
        if !value.is_object() {
            return Err(ModelError::invalid("Config", "must be a JSON object"));
        }
        serde_json::from_value(value).map_err(|e| ModelError::invalid("Config", e.to_string()))
    }
}

/// A validated connection, ready to be stored (the key still in clear: the store encrypts it).
/// `Debug` redacts the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConnection {
    pub base_url: String,
    pub api: String,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ProviderConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConnection")
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The protocol name an agent understands for `api`, accepting the catalogue's generic names
/// (`openai-compatible`, `anthropic-compatible`) as synonyms.
pub fn normalize_api(api: &str) -> Option<&'static str> {
    match api {
        "openai-compatible" | "openai" => Some("openai-completions"),
        "anthropic-compatible" | "anthropic" => Some("anthropic-messages"),
        other => API_PROTOCOLS.iter().copied().find(|p| *p == other),
    }
}

/// An `http(s)://host…` URL without whitespace.
pub fn validate_base_url(param: &str, url: &str) -> Result<(), ModelError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ModelError::invalid(param, "must be an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || url.len() > MAX_URL_LEN
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ModelError::invalid(
            param,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(())
}

/// A provider key as used in model references (`provider/llmCode`): 1-64 of `A-Za-z0-9._-`.
pub fn validate_provider_name(name: &str) -> Result<(), ModelError> {
    if name.is_empty() {
        return Err(ModelError::Missing("ProviderName".into()));
    }
    if name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ModelError::invalid(
            "ProviderName",
            "1-64 characters of letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

/// Checks that `name` fits `kind` (reserved and prefixed names).
pub fn check_name_for_type(name: &str, kind: ProviderType) -> Result<(), ModelError> {
    validate_provider_name(name)?;
    let ok = match kind {
        ProviderType::WuyingCredit => name == WUYING_CREDIT,
        ProviderType::Custom => name.len() > CUSTOM_PREFIX.len() && name.starts_with(CUSTOM_PREFIX),
        ProviderType::Managed => providers::find(name).is_some(),
    };
    if ok {
        return Ok(());
    }
    Err(ModelError::invalid(
        "ProviderName",
        match kind {
            ProviderType::WuyingCredit => "must be 'wuying-credit' for WuyingCredit providers",
            ProviderType::Custom => "must start with 'provider-' for Custom providers",
            ProviderType::Managed => {
                "must be a provider of ListModelProviderEndpoints for Managed providers"
            }
        },
    ))
}

/// The connection a provider of `kind` gets from what the caller sent; `param` names the
/// parameter holding the config (`Config`).
pub fn resolve_connection(
    kind: ProviderType,
    provider_name: &str,
    input: &ProviderConfigInput,
    enable_wuying_proxy: bool,
) -> Result<ProviderConnection, ModelError> {
    let key = input.api_key.clone().filter(|k| !k.is_empty());
    if let Some(key) = &key
        && (key.len() > MAX_KEY_LEN || key.chars().any(char::is_control))
    {
        // The reason never echoes the key.
        return Err(ModelError::invalid(
            "Config.apiKey",
            "must be at most 4096 printable characters",
        ));
    }
    let api = match input.api.as_deref().filter(|a| !a.is_empty()) {
        Some(api) => Some(normalize_api(api).ok_or_else(|| {
            ModelError::invalid(
                "Config.api",
                format!("must be one of {}", API_PROTOCOLS.join(", ")),
            )
        })?),
        None => None,
    };
    let base_url = input.base_url.clone().filter(|u| !u.is_empty());
    if let Some(url) = &base_url {
        validate_base_url("Config.baseUrl", url)?;
    }
    match kind {
        ProviderType::WuyingCredit => {
            if !enable_wuying_proxy {
                return Err(ModelError::invalid(
                    "EnableWuyingProxy",
                    "must be true for WuyingCredit providers",
                ));
            }
            if key.is_some() {
                return Err(ModelError::invalid(
                    "Config.apiKey",
                    "WuyingCredit providers are served by amc's credit proxy and take no API key",
                ));
            }
            Ok(ProviderConnection {
                base_url: base_url.unwrap_or_default(),
                api: api.unwrap_or("openai-completions").to_string(),
                api_key: None,
            })
        }
        ProviderType::Managed => {
            let vendor = providers::find(provider_name).ok_or_else(|| {
                ModelError::invalid("ProviderName", "is not a provider of the catalogue")
            })?;
            let endpoint = match (&base_url, api) {
                (Some(url), _) => vendor.endpoints.iter().find(|e| e.base_url == url),
                (None, Some(api)) => vendor.endpoints.iter().find(|e| e.api == api),
                (None, None) => vendor.endpoints.first(),
            };
            let base_url = match base_url {
                Some(url) => url,
                None => endpoint
                    .map(|e| e.base_url.to_string())
                    .ok_or_else(|| ModelError::Missing("Config.baseUrl".into()))?,
            };
            let api = api
                .or(endpoint.map(|e| e.api))
                .unwrap_or("openai-completions");
            if key.is_none() {
                return Err(ModelError::Missing("Config.apiKey".into()));
            }
            Ok(ProviderConnection {
                base_url,
                api: api.to_string(),
                api_key: key,
            })
        }
        ProviderType::Custom => Ok(ProviderConnection {
            base_url: base_url.ok_or_else(|| ModelError::Missing("Config.baseUrl".into()))?,
            api: api.unwrap_or("openai-completions").to_string(),
            api_key: key,
        }),
    }
}

/// What a response shows of an API key: the first 4 and last 4 characters around `****` for
/// keys of 12 characters or more, `******` otherwise. Never the whole key.
pub fn mask_api_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "******".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

// ---------------------------------------------------------------------------------------------
// Model groups

/// A reference to one model, as the group Config names its default: `providerName/llmCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub provider: String,
    pub llm_code: String,
}

impl ModelRef {
    /// Splits at the first `/`: provider names never hold one, model codes may
    /// (`siliconflow/deepseek-ai/DeepSeek-V3`).
    pub fn parse(text: &str) -> Option<ModelRef> {
        let (provider, llm_code) = text.split_once('/')?;
        if validate_provider_name(provider).is_err() || validate_llm_code(llm_code).is_err() {
            return None;
        }
        Some(ModelRef {
            provider: provider.to_string(),
            llm_code: llm_code.to_string(),
        })
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.llm_code)
    }
}

/// A model group's Config document: a JSON object whose `defaults.model.primary` names the
/// default model.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig(Map<String, Value>);

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig(Map::new())
    }
}

impl GroupConfig {
    /// Parses and validates a Config text: a JSON object, and when it names a default model, a
    /// `provider/llmCode` string.
    pub fn parse(text: &str) -> Result<GroupConfig, ModelError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ModelError::invalid("Config", format!("not valid JSON ({e})")))?;
        let Value::Object(map) = value else {
            return Err(ModelError::invalid("Config", "must be a JSON object"));
        };
        let config = GroupConfig(map);
        config.default_model()?;
        Ok(config)
    }

    /// The default model the Config names, if any.
    pub fn default_model(&self) -> Result<Option<ModelRef>, ModelError> {
        let primary = self
            .0
            .get("defaults")
            .and_then(|d| d.get("model"))
            .and_then(|m| m.get("primary"));
        match primary {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => ModelRef::parse(s).map(Some).ok_or_else(|| {
                ModelError::invalid(
                    "Config",
                    "defaults.model.primary must read providerName/llmCode",
                )
            }),
            Some(_) => Err(ModelError::invalid(
                "Config",
                "defaults.model.primary must be a string providerName/llmCode",
            )),
        }
    }

    /// Sets (or with `None` removes) `defaults.model.primary`, keeping everything else.
    pub fn set_default_model(&mut self, model: Option<&ModelRef>) {
        match model {
            Some(model) => {
                let defaults = object_at(&mut self.0, "defaults");
                let model_obj = object_at(defaults, "model");
                model_obj.insert("primary".into(), Value::String(model.to_string()));
            }
            None => {
                if let Some(Value::Object(defaults)) = self.0.get_mut("defaults")
                    && let Some(Value::Object(model_obj)) = defaults.get_mut("model")
                {
                    model_obj.remove("primary");
                }
            }
        }
    }

    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
}

/// The object under `key`, replacing a non-object value there.
fn object_at<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(inner) => inner,
        // Just made sure it is an object.
        _ => unreachable!("slot was set to an object"),
    }
}

/// `RefScope` of a new or updated group: COMMON groups take ALL_USER or USER_MIXED (default
/// USER_MIXED); every other platform's groups are granted through resources (RESOURCE_MIXED).
pub fn ref_scope(agent_platform: &str, requested: Option<&str>) -> Result<String, ModelError> {
    match requested.filter(|r| !r.is_empty()) {
        Some(r) if !matches!(r, "ALL_USER" | "USER_MIXED") => Err(ModelError::invalid(
            "RefScope",
            "must be ALL_USER or USER_MIXED",
        )),
        Some(r) if agent_platform == "COMMON" => Ok(r.to_string()),
        None if agent_platform == "COMMON" => Ok("USER_MIXED".into()),
        _ => Ok("RESOURCE_MIXED".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// LLM templates

/// A model code: 1-128 printable characters without whitespace.
pub fn validate_llm_code(code: &str) -> Result<(), ModelError> {
    if code.is_empty() {
        return Err(ModelError::Missing("LlmCode".into()));
    }
    if code.len() > MAX_LLM_CODE_LEN || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ModelError::invalid(
            "LlmCode",
            "1-128 characters without whitespace",
        ));
    }
    Ok(())
}

/// One price of a model, per million tokens, as a decimal string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prices {
    pub input: Option<String>,
    pub output: Option<String>,
    pub cache_read: Option<String>,
    pub cache_write: Option<String>,
}

impl Prices {
    pub fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.output.is_none()
            && self.cache_read.is_none()
            && self.cache_write.is_none()
    }
}

/// The credit multiplier range of a model: `min == max` is a fixed rate, no `max` unbounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditMultiplier {
    pub min: Option<String>,
    pub max: Option<String>,
}

/// What amc reads out of a model's Config (OpenClaw's model definition: `cost`, `input`,
/// `contextWindow`, `maxTokens`, `reasoning`, plus `features`, `creditMultiplier`,
/// `publishedTime`). The Config itself is kept verbatim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmFacts {
    pub prices: Prices,
    pub credit_multiplier: Option<CreditMultiplier>,
    pub features: Vec<String>,
    pub request_modality: Vec<String>,
    pub response_modality: Vec<String>,
    pub model_info: Map<String, Value>,
    pub published_time: Option<String>,
}

/// A non-negative decimal: a JSON number or a numeric string.
fn decimal(param: &str, field: &str, value: &Value) -> Result<Option<String>, ModelError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => {
            return Err(ModelError::invalid(
                param,
                format!("{field} must be a number"),
            ));
        }
    };
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(text)),
        _ => Err(ModelError::invalid(
            param,
            format!("{field} must be a non-negative number"),
        )),
    }
}

fn modality(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn string_list(param: &str, field: &str, value: &Value) -> Result<Vec<String>, ModelError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    ModelError::invalid(param, format!("{field} must be a list of strings"))
                })
            })
            .collect(),
        _ => Err(ModelError::invalid(
            param,
            format!("{field} must be a list of strings"),
        )),
    }
}

impl LlmFacts {
    /// Parses a model's Config text; `param` names it in errors (`LlmTemplateItems.2.Config`).
    pub fn parse(param: &str, text: &str) -> Result<LlmFacts, ModelError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ModelError::invalid(param, format!("not valid JSON ({e})")))?;
        let Value::Object(map) = value else {
            return Err(ModelError::invalid(param, "must be a JSON object"));
        };
        let mut facts = LlmFacts::default();
        match map.get("cost") {
            None | Some(Value::Null) => {}
            Some(Value::Object(cost)) => {
                let get = |k: &str| cost.get(k).unwrap_or(&Value::Null);
                facts.prices = Prices {
                    input: decimal(param, "cost.input", get("input"))?,
                    output: decimal(param, "cost.output", get("output"))?,
                    cache_read: decimal(param, "cost.cacheRead", get("cacheRead"))?,
                    cache_write: decimal(param, "cost.cacheWrite", get("cacheWrite"))?,
                };
            }
            Some(_) => return Err(ModelError::invalid(param, "cost must be an object")),
        }
        facts.credit_multiplier = match map.get("creditMultiplier") {
            None | Some(Value::Null) => None,
            Some(Value::Object(range)) => {
                let get = |k: &str| range.get(k).unwrap_or(&Value::Null);
                let min = decimal(param, "creditMultiplier.min", get("min"))?;
                let max = decimal(param, "creditMultiplier.max", get("max"))?;
                if let (Some(lo), Some(hi)) = (&min, &max)
                    && lo.parse::<f64>().unwrap_or(0.0) > hi.parse::<f64>().unwrap_or(0.0)
                {
                    return Err(ModelError::invalid(
                        param,
                        "creditMultiplier.min must not exceed creditMultiplier.max",
                    ));
                }
                Some(CreditMultiplier { min, max })
            }
            Some(fixed) => {
                let rate = decimal(param, "creditMultiplier", fixed)?;
                Some(CreditMultiplier {
                    min: rate.clone(),
                    max: rate,
                })
            }
        };
        facts.features = string_list(
            param,
            "features",
            map.get("features").unwrap_or(&Value::Null),
        )?;
        facts.request_modality =
            string_list(param, "input", map.get("input").unwrap_or(&Value::Null))?
                .iter()
                .map(|m| modality(m))
                .collect();
        facts.response_modality =
            string_list(param, "output", map.get("output").unwrap_or(&Value::Null))?
                .iter()
                .map(|m| modality(m))
                .collect();
        if facts.response_modality.is_empty() && !facts.request_modality.is_empty() {
            // OpenClaw model definitions list only inputs: chat models answer in text.
            facts.response_modality = vec!["Text".into()];
        }
        for key in ["contextWindow", "maxTokens", "reasoning"] {
            if let Some(v) = map.get(key).filter(|v| !v.is_null()) {
                facts.model_info.insert(key.to_string(), v.clone());
            }
        }
        facts.published_time = map
            .get("publishedTime")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(json: &str) -> ProviderConfigInput {
        ProviderConfigInput::parse(json).unwrap_or_default()
    }

    #[test]
    fn both_key_casings_are_read() {
        let lower = input(r#"{"baseUrl":"https://x/v1","apiKey":"k","api":"openai-completions"}"#);
        let pascal =
            input(r#"{"BaseUrl":"https://x/v1","ApiKey":"k","ApiType":"openai-completions"}"#);
        assert_eq!(lower, pascal);
        assert_eq!(lower.base_url.as_deref(), Some("https://x/v1"));
        let secret = input(r#"{"apiKey":"sk-planted-0123456789abcdef"}"#);
        assert!(!format!("{secret:?}").contains("0123456789"));
        assert!(ProviderConfigInput::parse("[1]").is_err());
        assert!(ProviderConfigInput::parse("{").is_err());
    }

    #[test]
    fn managed_providers_default_from_the_catalogue() {
        let conn = resolve_connection(
            ProviderType::Managed,
            "deepseek",
            &input(r#"{"apiKey":"sk-123"}"#),
            false,
        );
        assert_eq!(
            conn.map(|c| (c.base_url, c.api)),
            Ok((
                "https://api.deepseek.com/v1".to_string(),
                "openai-completions".to_string()
            ))
        );
        let missing_key =
            resolve_connection(ProviderType::Managed, "deepseek", &input("{}"), false);
        assert_eq!(
            missing_key.map_err(|e| e.param().to_string()),
            Err("Config.apiKey".to_string())
        );
    }

    #[test]
    fn custom_providers_need_a_url_and_a_known_protocol() {
        let ok = resolve_connection(
            ProviderType::Custom,
            "provider-local",
            &input(r#"{"baseUrl":"http://10.0.0.5:8000/v1","api":"anthropic-compatible"}"#),
            false,
        );
        assert_eq!(ok.map(|c| c.api), Ok("anthropic-messages".to_string()));
        let bad_url = resolve_connection(
            ProviderType::Custom,
            "provider-x",
            &input(r#"{"baseUrl":"ftp://x"}"#),
            false,
        );
        assert_eq!(
            bad_url.map_err(|e| e.param().to_string()),
            Err("Config.baseUrl".into())
        );
        let bad_api = resolve_connection(
            ProviderType::Custom,
            "provider-x",
            &input(r#"{"baseUrl":"https://x","api":"soap"}"#),
            false,
        );
        assert_eq!(
            bad_api.map_err(|e| e.param().to_string()),
            Err("Config.api".into())
        );
        let no_url = resolve_connection(ProviderType::Custom, "provider-x", &input("{}"), false);
        assert_eq!(no_url, Err(ModelError::Missing("Config.baseUrl".into())));
    }

    #[test]
    fn wuying_credit_requires_the_proxy() {
        assert!(
            resolve_connection(
                ProviderType::WuyingCredit,
                WUYING_CREDIT,
                &input("{}"),
                true
            )
            .is_ok()
        );
        let off = resolve_connection(
            ProviderType::WuyingCredit,
            WUYING_CREDIT,
            &input("{}"),
            false,
        );
        assert_eq!(
            off.map_err(|e| e.param().to_string()),
            Err("EnableWuyingProxy".into())
        );
    }

    #[test]
    fn names_fit_their_types() {
        assert!(check_name_for_type("wuying-credit", ProviderType::WuyingCredit).is_ok());
        assert!(check_name_for_type("bailian", ProviderType::WuyingCredit).is_err());
        assert!(check_name_for_type("provider-abc", ProviderType::Custom).is_ok());
        assert!(check_name_for_type("abc", ProviderType::Custom).is_err());
        assert!(check_name_for_type("provider-", ProviderType::Custom).is_err());
        assert!(check_name_for_type("bailian", ProviderType::Managed).is_ok());
        assert!(check_name_for_type("nobody", ProviderType::Managed).is_err());
        assert!(check_name_for_type("a/b", ProviderType::Custom).is_err());
        assert_eq!(
            ProviderType::infer("wuying-credit"),
            Some(ProviderType::WuyingCredit)
        );
        assert_eq!(
            ProviderType::infer("provider-x"),
            Some(ProviderType::Custom)
        );
        assert_eq!(ProviderType::infer("moonshot"), Some(ProviderType::Managed));
        assert_eq!(ProviderType::infer("nobody"), None);
    }

    // Issue 11 (validation gaps): CreateModelTemplate took AgentProvider=Nope and BizType=-1.
    #[test]
    fn agent_products_platforms_and_business_lines_are_the_documented_ones() {
        for provider in ["OpenClaw", "HermesAgent", "AgenticComputer", "Common"] {
            assert_eq!(validate_agent_provider("AgentProvider", provider), Ok(()));
        }
        for bad in ["Nope", "openclaw", "OpenClaw ", "COMMON"] {
            assert_eq!(
                validate_agent_provider("AgentProviderList.2", bad)
                    .map_err(|e| e.param().to_string()),
                Err("AgentProviderList.2".to_string()),
                "{bad}"
            );
        }
        assert_eq!(
            validate_agent_provider("AgentProvider", ""),
            Err(ModelError::Missing("AgentProvider".into()))
        );
        for platform in ["ENTERPRISE", "ENTERPRISE_JVS", "COMMON"] {
            assert_eq!(validate_agent_platform("AgentPlatform", platform), Ok(()));
        }
        assert!(validate_agent_platform("AgentPlatform", "enterprise").is_err());
        assert!(validate_agent_platform("AgentPlatform", "MOBILE").is_err());
        for ok in [1, 2, 987_654, i64::from(i32::MAX)] {
            assert_eq!(validate_biz_type(ok), Ok(()), "{ok}");
        }
        for bad in [0, -1, i64::from(i32::MAX) + 1, i64::MIN] {
            assert!(validate_biz_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_masked() {
        assert_eq!(mask_api_key("sk-planted-0123456789abcdef"), "sk-p****cdef");
        assert_eq!(mask_api_key("short"), "******");
        assert_eq!(mask_api_key(""), "******");
        assert_eq!(mask_api_key("ééééééééééééé"), "éééé****éééé");
    }

    #[test]
    fn group_config_default_model() {
        let config =
            GroupConfig::parse(r#"{"defaults":{"model":{"primary":"bailian/qwen-max"}},"x":1}"#);
        assert_eq!(
            config.and_then(|c| c.default_model()),
            Ok(Some(ModelRef {
                provider: "bailian".into(),
                llm_code: "qwen-max".into()
            }))
        );
        assert!(GroupConfig::parse(r#"{"defaults":{"model":{"primary":"qwen-max"}}}"#).is_err());
        assert!(GroupConfig::parse(r#"{"defaults":{"model":{"primary":7}}}"#).is_err());
        assert!(GroupConfig::parse("[]").is_err());
        assert!(GroupConfig::parse("{}").is_ok());

        let mut config =
            GroupConfig::parse(r#"{"defaults":"odd","keep":true}"#).unwrap_or_default();
        let model = ModelRef::parse("siliconflow/deepseek-ai/DeepSeek-V3");
        assert_eq!(
            model.as_ref().map(|m| m.llm_code.as_str()),
            Some("deepseek-ai/DeepSeek-V3")
        );
        config.set_default_model(model.as_ref());
        assert_eq!(
            config.to_json(),
            r#"{"defaults":{"model":{"primary":"siliconflow/deepseek-ai/DeepSeek-V3"}},"keep":true}"#
        );
        config.set_default_model(None);
        assert_eq!(config.default_model(), Ok(None));
    }

    #[test]
    fn ref_scope_rules() {
        assert_eq!(ref_scope("COMMON", None), Ok("USER_MIXED".into()));
        assert_eq!(ref_scope("COMMON", Some("ALL_USER")), Ok("ALL_USER".into()));
        assert_eq!(
            ref_scope("ENTERPRISE", Some("ALL_USER")),
            Ok("RESOURCE_MIXED".into())
        );
        assert!(ref_scope("ENTERPRISE", Some("EVERYONE")).is_err());
    }

    #[test]
    fn llm_facts_from_an_openclaw_model_definition() {
        let facts = LlmFacts::parse(
            "Config",
            r#"{"id":"qwen3.6-plus","cost":{"input":0.8,"output":"2","cacheRead":0},
                "input":["text","image"],"contextWindow":131072,"maxTokens":8192,
                "features":["function-calling"],"creditMultiplier":{"min":1,"max":3}}"#,
        );
        let Ok(facts) = facts else {
            panic!("parse failed: {facts:?}");
        };
        assert_eq!(facts.prices.input.as_deref(), Some("0.8"));
        assert_eq!(facts.prices.output.as_deref(), Some("2"));
        assert_eq!(facts.prices.cache_read.as_deref(), Some("0"));
        assert_eq!(facts.prices.cache_write, None);
        assert_eq!(facts.request_modality, vec!["Text", "Image"]);
        assert_eq!(facts.response_modality, vec!["Text"]);
        assert_eq!(facts.features, vec!["function-calling"]);
        assert_eq!(
            facts.model_info.get("contextWindow"),
            Some(&Value::from(131072))
        );
        assert_eq!(
            facts.credit_multiplier,
            Some(CreditMultiplier {
                min: Some("1".into()),
                max: Some("3".into())
            })
        );
        let fixed = LlmFacts::parse("Config", r#"{"creditMultiplier":2}"#).ok();
        assert_eq!(
            fixed.and_then(|f| f.credit_multiplier),
            Some(CreditMultiplier {
                min: Some("2".into()),
                max: Some("2".into())
            })
        );
        for bad in [
            r#"{"cost":{"input":-1}}"#,
            r#"{"cost":{"input":"cheap"}}"#,
            r#"{"cost":3}"#,
            r#"{"input":"text"}"#,
            r#"{"creditMultiplier":{"min":3,"max":1}}"#,
            "[]",
        ] {
            assert_eq!(
                LlmFacts::parse("LlmTemplateItems.1.Config", bad)
                    .map_err(|e| e.param().to_string()),
                Err("LlmTemplateItems.1.Config".to_string()),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn config_parsers_never_panic(text in ".{0,200}") {
            let _ = ProviderConfigInput::parse(&text);
            let _ = GroupConfig::parse(&text);
            let _ = LlmFacts::parse("Config", &text);
            let _ = ModelRef::parse(&text);
            let _ = validate_base_url("Config.baseUrl", &text);
            let _ = mask_api_key(&text);
        }

        #[test]
        fn json_shaped_configs_never_panic(
            key in prop_oneof![Just("cost"), Just("input"), Just("creditMultiplier"), Just("defaults"), Just("features")],
            inner in "[-a-z0-9\\[\\]{}\":,./ ]{0,40}",
        ) {
            let text = format!("{{\"{key}\":{inner}}}");
            let _ = GroupConfig::parse(&text);
            let _ = LlmFacts::parse("Config", &text);
        }

        #[test]
        fn a_mask_never_reveals_a_long_key(key in "[a-zA-Z0-9-]{12,80}") {
            let masked = mask_api_key(&key);
            prop_assert!(!masked.contains(&key));
            prop_assert_eq!(masked.len(), 12);
        }
    }
}
