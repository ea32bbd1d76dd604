//! IM channels of a runtime: the channel codes amc knows, validation of their settings in the
//! API's Simple and Custom shapes, masking of their secrets, and the mapping of Simple settings
//! to each agent's own field names (what the node daemon writes into `openclaw.json` or Hermes'
//! `.env`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// The longest single Simple-mode value.
const MAX_VALUE_LEN: usize = 512;
/// What a secret reads as on every read path.
pub const MASK: &str = "******";

/// An IM channel connector, by its API `Code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelCode {
    DingTalk,
    WeChat,
    Feishu,
    QqBot,
    WeCom,
}

/// A Simple-mode field: its API name and whether it is a credential to keep secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleField {
    pub name: &'static str,
    pub secret: bool,
}

const fn field(name: &'static str, secret: bool) -> SimpleField {
    SimpleField { name, secret }
}

const DINGTALK_FIELDS: &[SimpleField] = &[field("appKey", false), field("appSecret", true)];
const FEISHU_FIELDS: &[SimpleField] = &[field("appId", false), field("appSecret", true)];
const QQBOT_FIELDS: &[SimpleField] = &[field("appId", false), field("clientSecret", true)];
const WECOM_FIELDS: &[SimpleField] = &[field("botId", false), field("secret", true)];

impl ChannelCode {
    pub const ALL: [ChannelCode; 5] = [
        ChannelCode::DingTalk,
        ChannelCode::WeChat,
        ChannelCode::Feishu,
        ChannelCode::QqBot,
        ChannelCode::WeCom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelCode::DingTalk => "dingtalk-connector",
            ChannelCode::WeChat => "wechat",
            ChannelCode::Feishu => "feishu",
            ChannelCode::QqBot => "qqbot",
            ChannelCode::WeCom => "wecom",
        }
    }

    /// WeChat has no credentials to hand over: the agent shows a QR code that a person scans,
    /// so the channel stays "configuring" until the runtime reports the login done.
    pub fn configured_by_qr_code(self) -> bool {
        self == ChannelCode::WeChat
    }

    /// The fields of Simple mode, all required. WeCom takes the AI-bot pair (`botId`, `secret`)
    /// that both the WeCom OpenClaw plugin and Hermes (`WECOM_BOT_ID`/`WECOM_SECRET`) use.
    pub fn simple_fields(self) -> &'static [SimpleField] {
        match self {
            ChannelCode::DingTalk => DINGTALK_FIELDS,
            ChannelCode::Feishu => FEISHU_FIELDS,
            ChannelCode::QqBot => QQBOT_FIELDS,
            ChannelCode::WeCom => WECOM_FIELDS,
            ChannelCode::WeChat => &[],
        }
    }
}

impl fmt::Display for ChannelCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelCode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ChannelCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// How `Config` is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigMode {
    /// The API's fixed credential fields (e.g. DingTalk `appKey`/`appSecret`).
    Simple,
    /// The connector's own settings, handed to the agent as they are.
    Custom,
}

impl ConfigMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigMode::Simple => "Simple",
            ConfigMode::Custom => "Custom",
        }
    }
}

impl FromStr for ConfigMode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "Simple" => Ok(ConfigMode::Simple),
            "Custom" => Ok(ConfigMode::Custom),
            _ => Err(()),
        }
    }
}

/// Why a `Config` was refused: `parameter` names the offending part (`Config`, `Config.appSecret`).
/// The reason never quotes a value, which could be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {reason}")]
pub struct ConfigError {
    pub parameter: String,
    pub reason: String,
}

fn config_error(parameter: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        parameter: parameter.into(),
        reason: reason.into(),
    }
}

/// Parses and validates `Config` for `code` in `mode`; returns the settings as a JSON object.
/// The text's length is bounded where it is decoded.
pub fn validate_config(
    code: ChannelCode,
    mode: ConfigMode,
    text: &str,
) -> Result<Map<String, Value>, ConfigError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(config_error("Config", "must be a JSON object")),
        Err(_) => return Err(config_error("Config", "is not valid JSON")),
    };
    if mode == ConfigMode::Custom {
        return Ok(object);
    }
    let fields = code.simple_fields();
    if let Some(unknown) = object
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        let expected: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return Err(config_error(
            format!("Config.{unknown}"),
            format!(
                "not a Simple-mode field of {code} (expected {})",
                if expected.is_empty() {
                    "no fields".to_string()
                } else {
                    expected.join(", ")
                }
            ),
        ));
    }
    for f in fields {
        match object.get(f.name) {
            None | Some(Value::Null) => {
                return Err(config_error(format!("Config.{}", f.name), "is required"));
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(config_error(
                    format!("Config.{}", f.name),
                    "must not be empty",
                ));
            }
            Some(Value::String(s)) if s.chars().count() > MAX_VALUE_LEN => {
                return Err(config_error(
                    format!("Config.{}", f.name),
                    format!("at most {MAX_VALUE_LEN} characters"),
                ));
            }
            Some(Value::String(_)) => {}
            Some(_) => {
                return Err(config_error(
                    format!("Config.{}", f.name),
                    "must be a string",
                ));
            }
        }
    }
    Ok(object)
}

/// Settings every connector takes that steer behaviour and hold no credential (the OpenClaw
/// channel pattern: `enabled`, DM and group policies, allow-lists, `accounts`, ...).
const SHOWN_EVERYWHERE: &[&str] = &[
    "enabled",
    "name",
    "defaultAccount",
    "dmPolicy",
    "allowFrom",
    "groupPolicy",
    "groupAllowFrom",
    "requireMention",
    "systemPrompt",
];
/// `@dingtalk-real-ai/dingtalk-connector`: `clientId` is the AppKey (Simple mode's `appKey`).
const DINGTALK_SHOWN: &[&str] = &["appKey", "clientId", "groupReplyMode", "enableMediaUpload"];
/// `@openclaw/feishu`; `appSecret`, `encryptKey` and `verificationToken` are its credentials.
const FEISHU_SHOWN: &[&str] = &[
    "appId",
    "domain",
    "connectionMode",
    "webhookPath",
    "groupSenderAllowFrom",
    "renderMode",
    "streaming",
    "typingIndicator",
    "resolveSenderNames",
    "replyInThread",
    "groupSessionScope",
    "topicSessionMode",
    "reactionNotifications",
    "historyLimit",
    "dmHistoryLimit",
    "textChunkLimit",
    "chunkMode",
    "mediaMaxMb",
];
/// `@openclaw/qqbot`; `clientSecret` (or the file holding it) is its credential.
const QQBOT_SHOWN: &[&str] = &["appId", "streaming.mode", "markdownSupport", "upgradeMode"];
/// `@wecom/wecom-openclaw-plugin` (AI bot `botId`/`secret`, or an app's `corpId`/`agentId`
/// with its `secret`, `token` and `encodingAESKey`).
const WECOM_SHOWN: &[&str] = &["botId", "corpId", "agentId", "webhookPath"];

impl ChannelCode {
    /// The settings shown in clear on every read path, as paths from the settings' root
    /// (`streaming.mode`). Everything else is masked: a field not known to be safe may be a
    /// credential under a name amc does not know. The list is the same in Simple and Custom mode,
    /// so that switching modes never shows a value that was masked.
    fn shown_fields(self) -> &'static [&'static str] {
        match self {
            ChannelCode::DingTalk => DINGTALK_SHOWN,
            ChannelCode::Feishu => FEISHU_SHOWN,
            ChannelCode::QqBot => QQBOT_SHOWN,
            ChannelCode::WeCom => WECOM_SHOWN,
            ChannelCode::WeChat => &[],
        }
    }

    /// Whether the value at `path` (object keys from the settings' root; array items take their
    /// array's path) is shown in clear. An account (`accounts.<id>.…`) takes the root's fields.
    fn shows(self, path: &[&str]) -> bool {
        let path = match path {
            ["accounts", _account, rest @ ..] if !rest.is_empty() => rest,
            other => other,
        };
        let matches = |field: &&str| {
            let mut parts = field.split('.');
            path.iter().all(|segment| parts.next() == Some(*segment)) && parts.next().is_none()
        };
        SHOWN_EVERYWHERE.iter().any(matches) || self.shown_fields().iter().any(matches)
    }
}

/// Whether a value may hold a secret: booleans and nulls carry none.
fn maskable(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_))
}

/// The settings with every string and number the channel does not show in clear replaced by
/// [`MASK`], recursively through objects and arrays. Keys (account and group ids) stay.
pub fn mask_config(code: ChannelCode, config: &Map<String, Value>) -> Value {
    fn walk<'a>(code: ChannelCode, path: &mut Vec<&'a str>, value: &'a Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, child)| {
                        path.push(key);
                        let masked = walk(code, path, child);
                        path.pop();
                        (key.clone(), masked)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| walk(code, path, item)).collect())
            }
            scalar if maskable(scalar) && !code.shows(path) => Value::String(MASK.into()),
            other => other.clone(),
        }
    }
    let mut path = Vec::new();
    Value::Object(
        config
            .iter()
            .map(|(key, child)| {
                path.push(key.as_str());
                let masked = walk(code, &mut path, child);
                path.pop();
                (key.clone(), masked)
            })
            .collect(),
    )
}

/// Whether `config` sends [`MASK`] back where a secret would be masked, i.e. asks to keep a
/// stored value (see [`restore_masked`]).
pub fn holds_mask(code: ChannelCode, config: &Map<String, Value>) -> bool {
    fn walk<'a>(code: ChannelCode, path: &mut Vec<&'a str>, value: &'a Value) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(key, child)| {
                path.push(key);
                let found = walk(code, path, child);
                path.pop();
                found
            }),
            Value::Array(items) => items.iter().any(|item| walk(code, path, item)),
            Value::String(text) => text == MASK && !code.shows(path),
            _ => false,
        }
    }
    config
        .iter()
        .any(|(key, child)| walk(code, &mut vec![key.as_str()], child))
}

/// Puts the stored values back where `config` holds [`MASK`] at a masked position: a client that
/// read the settings (masked), changed what it meant to and sent them back keeps the secrets it
/// never saw, as an update of a provider template that sends back the masked API key does.
/// The stored value is taken from the same place (same keys, same array positions), so a secret
/// can never move to where it would be shown.
///
/// `stored` is what the runtime has for this channel (`None`: nothing). A mask with no stored
/// string or number at its place is refused, naming the field (`Config.accounts.main.appSecret`,
/// array items by 1-based position); a mask where the value is shown in clear is just text.
pub fn restore_masked(
    code: ChannelCode,
    config: Map<String, Value>,
    stored: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, ConfigError> {
    /// Where the walk is: object keys for the policy ([`ChannelCode::shows`]), and keys and
    /// 1-based array positions for naming a field in an error.
    struct Place {
        keys: Vec<String>,
        wire: Vec<String>,
    }

    fn entries(
        code: ChannelCode,
        place: &mut Place,
        map: Map<String, Value>,
        stored: Option<&Map<String, Value>>,
    ) -> Result<Map<String, Value>, ConfigError> {
        let mut out = Map::with_capacity(map.len());
        for (key, child) in map {
            let stored_child = stored.and_then(|s| s.get(&key));
            place.keys.push(key.clone());
            place.wire.push(key.clone());
            let restored = value(code, place, child, stored_child);
            place.keys.pop();
            place.wire.pop();
            out.insert(key, restored?);
        }
        Ok(out)
    }

    fn value(
        code: ChannelCode,
        place: &mut Place,
        given: Value,
        stored: Option<&Value>,
    ) -> Result<Value, ConfigError> {
        match given {
            Value::Object(map) => {
                entries(code, place, map, stored.and_then(Value::as_object)).map(Value::Object)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    let stored_item = stored.and_then(|s| s.get(index));
                    place.wire.push((index + 1).to_string());
                    let restored = value(code, place, item, stored_item);
                    place.wire.pop();
                    out.push(restored?);
                }
                Ok(Value::Array(out))
            }
            Value::String(text) if text == MASK => {
                let keys: Vec<&str> = place.keys.iter().map(String::as_str).collect();
                if code.shows(&keys) {
                    return Ok(Value::String(text));
                }
                match stored {
                    Some(kept) if maskable(kept) => Ok(kept.clone()),
                    _ => Err(config_error(
                        format!("Config.{}", place.wire.join(".")),
                        format!(
                            "is the mask {MASK}, which keeps a stored value, but none is stored \
                             there; send the value itself"
                        ),
                    )),
                }
            }
            other => Ok(other),
        }
    }

    let mut place = Place {
        keys: Vec::new(),
        wire: Vec::new(),
    };
    entries(code, &mut place, config, stored)
}

/// The agent products a channel is delivered to, as the mapping needs to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFamily {
    /// OpenClaw and JVS Claw: `channels.<id>` in `openclaw.json`, plus a plugin entry.
    OpenClaw,
    /// Hermes Agent: credentials in `~/.hermes/.env`, behaviour under `platforms.<name>`.
    Hermes,
}

impl AgentFamily {
    /// The family of an `AgentProvider`; providers amc does not deliver to have none.
    pub fn of_provider(provider: &str) -> Option<AgentFamily> {
        match provider {
            "OpenClaw" => Some(AgentFamily::OpenClaw),
            "HermesAgent" => Some(AgentFamily::Hermes),
            _ => None,
        }
    }
}

/// A channel in the agent's own terms, ready for the node daemon to write.
#[derive(Debug, Clone, PartialEq)]
pub enum NativeChannel {
    OpenClaw {
        /// Key under `channels` in `openclaw.json`.
        channel_id: &'static str,
        /// Key under `plugins.entries` to enable.
        plugin_id: &'static str,
        settings: Value,
    },
    Hermes {
        /// Key under `platforms` in `config.yaml`.
        platform: &'static str,
        /// Lines of `~/.hermes/.env`.
        env: BTreeMap<String, String>,
        /// Extra settings under `platforms.<platform>.extra` (Custom mode).
        extra: Value,
    },
}

fn text(config: &Map<String, Value>, key: &str) -> Value {
    config.get(key).cloned().unwrap_or(Value::Null)
}

/// Maps validated settings to what the agent itself reads (research/agents.md §1.5, §2.3, §6).
/// Simple fields are renamed; Custom settings are the connector's own already and pass through.
pub fn native_channel(
    family: AgentFamily,
    code: ChannelCode,
    mode: ConfigMode,
    config: &Map<String, Value>,
) -> NativeChannel {
    match family {
        AgentFamily::OpenClaw => {
            let (channel_id, plugin_id) = match code {
                ChannelCode::DingTalk => ("dingtalk-connector", "dingtalk-connector"),
                ChannelCode::WeChat => ("openclaw-weixin", "openclaw-weixin"),
                ChannelCode::Feishu => ("feishu", "feishu"),
                ChannelCode::QqBot => ("qqbot", "qqbot"),
                ChannelCode::WeCom => ("wecom", "wecom"),
            };
            let settings = match mode {
                ConfigMode::Custom => Value::Object(config.clone()),
                ConfigMode::Simple => {
                    let mut out = Map::new();
                    out.insert("enabled".into(), Value::Bool(true));
                    let renames: &[(&str, &str)] = match code {
                        ChannelCode::DingTalk => {
                            &[("appKey", "clientId"), ("appSecret", "clientSecret")]
                        }
                        ChannelCode::Feishu => &[("appId", "appId"), ("appSecret", "appSecret")],
                        ChannelCode::QqBot => {
                            &[("appId", "appId"), ("clientSecret", "clientSecret")]
                        }
                        ChannelCode::WeCom => &[("botId", "botId"), ("secret", "secret")],
                        ChannelCode::WeChat => &[],
                    };
                    for (from, to) in renames {
                        out.insert((*to).into(), text(config, from));
                    }
                    Value::Object(out)
                }
            };
            NativeChannel::OpenClaw {
                channel_id,
                plugin_id,
                settings,
            }
        }
        AgentFamily::Hermes => {
            let (platform, names): (&str, &[(&str, &str)]) = match code {
                ChannelCode::DingTalk => (
                    "dingtalk",
                    &[
                        ("appKey", "DINGTALK_CLIENT_ID"),
                        ("appSecret", "DINGTALK_CLIENT_SECRET"),
                    ],
                ),
                ChannelCode::Feishu => (
                    "feishu",
                    &[
                        ("appId", "FEISHU_APP_ID"),
                        ("appSecret", "FEISHU_APP_SECRET"),
                    ],
                ),
                ChannelCode::QqBot => (
                    "qqbot",
                    &[("appId", "QQ_APP_ID"), ("clientSecret", "QQ_CLIENT_SECRET")],
                ),
                ChannelCode::WeCom => (
                    "wecom",
                    &[("botId", "WECOM_BOT_ID"), ("secret", "WECOM_SECRET")],
                ),
                ChannelCode::WeChat => ("weixin", &[]),
            };
            let (env, extra) = match mode {
                ConfigMode::Simple => (
                    names
                        .iter()
                        .filter_map(|(from, to)| {
                            config
                                .get(*from)
                                .and_then(Value::as_str)
                                .map(|v| ((*to).to_string(), v.to_string()))
                        })
                        .collect(),
                    Value::Object(Map::new()),
                ),
                ConfigMode::Custom => (BTreeMap::new(), Value::Object(config.clone())),
            };
            NativeChannel::Hermes {
                platform,
                env,
                extra,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn check_err(code: ChannelCode, mode: ConfigMode, text: &str, parameter: &str) {
        let err = validate_config(code, mode, text).err();
        assert_eq!(
            err.map(|e| e.parameter),
            Some(parameter.to_string()),
            "{text}"
        );
    }

    #[test]
    fn codes_round_trip() {
        for code in ChannelCode::ALL {
            assert_eq!(code.as_str().parse::<ChannelCode>(), Ok(code));
        }
        assert!("slack".parse::<ChannelCode>().is_err());
        assert!("DingTalk-Connector".parse::<ChannelCode>().is_err());
    }

    #[test]
    fn simple_mode_requires_each_credential() {
        let ok = validate_config(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"k","appSecret":"s"}"#,
        );
        assert!(ok.is_ok());
        check_err(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"k"}"#,
            "Config.appSecret",
        );
        check_err(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"","appSecret":"s"}"#,
            "Config.appKey",
        );
        check_err(
            ChannelCode::Feishu,
            ConfigMode::Simple,
            r#"{"appId":"a","appSecret":7}"#,
            "Config.appSecret",
        );
        check_err(
            ChannelCode::QqBot,
            ConfigMode::Simple,
            r#"{"appId":"a"}"#,
            "Config.clientSecret",
        );
        check_err(
            ChannelCode::WeCom,
            ConfigMode::Simple,
            r#"{"secret":"a"}"#,
            "Config.botId",
        );
        check_err(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"k","appSecret":"s","x":1}"#,
            "Config.x",
        );
        check_err(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            "{not json",
            "Config",
        );
        check_err(ChannelCode::DingTalk, ConfigMode::Custom, "[1,2]", "Config");
        assert!(validate_config(ChannelCode::WeChat, ConfigMode::Simple, "{}").is_ok());
        assert!(validate_config(ChannelCode::WeChat, ConfigMode::Simple, "").is_ok());
        assert!(
            validate_config(
                ChannelCode::DingTalk,
                ConfigMode::Custom,
                r#"{"dmPolicy":"open"}"#
            )
            .is_ok()
        );
    }

    #[test]
    fn errors_never_quote_values() {
        let err = validate_config(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"k","appSecret":"s3cr3t-value","bogus":"s3cr3t-value"}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("Config.bogus"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    fn settings(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn masking_hides_simple_secrets() {
        let simple = settings(r#"{"appKey":"ding123","appSecret":"topsecret"}"#);
        assert_eq!(
            mask_config(ChannelCode::DingTalk, &simple),
            json!({"appKey": "ding123", "appSecret": MASK})
        );
        let wecom = settings(r#"{"botId":"b","secret":"x"}"#);
        assert_eq!(
            mask_config(ChannelCode::WeCom, &wecom),
            json!({"botId": "b", "secret": MASK})
        );
    }

    // Issue 11 (masking by key name): feishu's `encryptKey`, secrets under unexpected keys and
    // inside arrays came back in clear. Only the fields each connector is known to take as
    // non-secret are shown; everything else is masked, recursively.
    #[test]
    fn masking_shows_only_fields_known_to_be_safe() {
        let custom = settings(
            r#"{"enabled":true,"appId":"cli_1","domain":"lark","historyLimit":20,
                "accounts":{"main":{"appId":"cli_2","appSecret":"a","verificationToken":"b",
                                    "encryptKey":"e","dmPolicy":"open"}},
                "encryptKey":"n","notes":"my password is hunter2","port":8443,
                "allowFrom":["ou_1","ou_2"],"list":[{"password":"p"},"loose"],
                "tools":{"doc":true,"scope":"s"},"extra":null}"#,
        );
        assert_eq!(
            mask_config(ChannelCode::Feishu, &custom),
            json!({"enabled": true, "appId": "cli_1", "domain": "lark", "historyLimit": 20,
                   "accounts": {"main": {"appId": "cli_2", "appSecret": MASK,
                                         "verificationToken": MASK, "encryptKey": MASK,
                                         "dmPolicy": "open"}},
                   "encryptKey": MASK, "notes": MASK, "port": MASK,
                   "allowFrom": ["ou_1", "ou_2"], "list": [{"password": MASK}, MASK],
                   "tools": {"doc": true, "scope": MASK}, "extra": null})
        );
        // What one connector shows, another masks: the list is per channel.
        let qq = settings(
            r#"{"appId":"1","clientSecret":"c","clientSecretFile":"/run/s",
                              "streaming":{"mode":"partial","token":"t"},
                              "stt":{"provider":"p","apiKey":"k"},"domain":"lark"}"#,
        );
        assert_eq!(
            mask_config(ChannelCode::QqBot, &qq),
            json!({"appId": "1", "clientSecret": MASK, "clientSecretFile": MASK,
                   "streaming": {"mode": "partial", "token": MASK},
                   "stt": {"provider": MASK, "apiKey": MASK}, "domain": MASK})
        );
        let ding = settings(
            r#"{"clientId":"d","clientSecret":{"source":"env","id":"X"},
                                "groupReplyMode":"markdown","gatewayToken":"g"}"#,
        );
        assert_eq!(
            mask_config(ChannelCode::DingTalk, &ding),
            json!({"clientId": "d", "clientSecret": {"source": MASK, "id": MASK},
                   "groupReplyMode": "markdown", "gatewayToken": MASK})
        );
        let wecom = settings(
            r#"{"corpId":"ww1","agentId":1000002,"secret":"s","token":"t",
                                 "encodingAESKey":"k"}"#,
        );
        assert_eq!(
            mask_config(ChannelCode::WeCom, &wecom),
            json!({"corpId": "ww1", "agentId": 1000002, "secret": MASK, "token": MASK,
                   "encodingAESKey": MASK})
        );
        let wechat = settings(r#"{"enabled":true,"accountId":"wx","token":"t"}"#);
        assert_eq!(
            mask_config(ChannelCode::WeChat, &wechat),
            json!({"enabled": true, "accountId": MASK, "token": MASK})
        );
    }

    #[test]
    fn masks_sent_back_keep_the_stored_values() {
        let stored = settings(
            r#"{"appId":"cli_1","appSecret":"s1","encryptKey":"e1","port":8443,
                "accounts":{"main":{"appSecret":"s2"}},"keys":["k1","k2"]}"#,
        );
        let masked = mask_config(ChannelCode::Feishu, &stored);
        let Value::Object(mut sent) = masked else {
            panic!("masked settings are an object")
        };
        assert!(holds_mask(ChannelCode::Feishu, &sent));
        // the client changes a field it can see and sends the rest back as it read it
        sent.insert("domain".into(), json!("lark"));
        let restored = restore_masked(ChannelCode::Feishu, sent, Some(&stored));
        let mut expected = stored.clone();
        expected.insert("domain".into(), json!("lark"));
        assert_eq!(restored, Ok(expected));

        // a new value replaces the stored one; a mask at a shown field is plain text
        let sent = settings(r#"{"appId":"******","appSecret":"new","encryptKey":"******"}"#);
        assert!(holds_mask(ChannelCode::Feishu, &sent));
        assert_eq!(
            restore_masked(ChannelCode::Feishu, sent, Some(&stored)).map(Value::Object),
            Ok(json!({"appId": MASK, "appSecret": "new", "encryptKey": "e1"}))
        );
        assert!(!holds_mask(
            ChannelCode::Feishu,
            &settings(r#"{"appId":"******","appSecret":"x"}"#)
        ));

        // a mask with nothing stored at its place is refused, naming the field
        for (sent, field) in [
            (
                r#"{"verificationToken":"******"}"#,
                "Config.verificationToken",
            ),
            (
                r#"{"accounts":{"other":{"appSecret":"******"}}}"#,
                "Config.accounts.other.appSecret",
            ),
            (r#"{"keys":["k1","******","******"]}"#, "Config.keys.3"),
            (r#"{"accounts":"******"}"#, "Config.accounts"),
        ] {
            let err = restore_masked(ChannelCode::Feishu, settings(sent), Some(&stored)).err();
            assert_eq!(err.map(|e| e.parameter), Some(field.to_string()), "{sent}");
        }
        let err = restore_masked(
            ChannelCode::Feishu,
            settings(r#"{"appSecret":"******"}"#),
            None,
        )
        .err();
        assert!(err.is_some_and(|e| e.parameter == "Config.appSecret" && !e.reason.contains("s1")));
    }

    #[test]
    fn a_secret_never_moves_to_a_shown_field() {
        // The same list in both modes: a Custom `appKey` (shown) cannot pick up a masked value.
        let stored = settings(r#"{"clientId":"d","clientSecret":"cs","appKey":"visible"}"#);
        let sent = settings(r#"{"appKey":"******","appSecret":"******"}"#);
        let err = restore_masked(ChannelCode::DingTalk, sent, Some(&stored)).err();
        assert_eq!(
            err.map(|e| e.parameter),
            Some("Config.appSecret".to_string())
        );
        let sent = settings(r#"{"appKey":"******","clientSecret":"******"}"#);
        assert_eq!(
            restore_masked(ChannelCode::DingTalk, sent, Some(&stored)).map(Value::Object),
            Ok(json!({"appKey": MASK, "clientSecret": "cs"}))
        );
    }

    #[test]
    fn simple_settings_map_to_openclaw_fields() {
        let config = validate_config(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"dingabc","appSecret":"s"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            native_channel(
                AgentFamily::OpenClaw,
                ChannelCode::DingTalk,
                ConfigMode::Simple,
                &config
            ),
            NativeChannel::OpenClaw {
                channel_id: "dingtalk-connector",
                plugin_id: "dingtalk-connector",
                settings: json!({"enabled": true, "clientId": "dingabc", "clientSecret": "s"}),
            }
        );
        let qq = validate_config(
            ChannelCode::QqBot,
            ConfigMode::Simple,
            r#"{"appId":"1","clientSecret":"c"}"#,
        )
        .unwrap_or_default();
        match native_channel(
            AgentFamily::OpenClaw,
            ChannelCode::QqBot,
            ConfigMode::Simple,
            &qq,
        ) {
            NativeChannel::OpenClaw {
                channel_id,
                settings,
                ..
            } => {
                assert_eq!(channel_id, "qqbot");
                assert_eq!(
                    settings,
                    json!({"enabled": true, "appId": "1", "clientSecret": "c"})
                );
            }
            other => panic!("{other:?}"),
        }
        match native_channel(
            AgentFamily::OpenClaw,
            ChannelCode::WeChat,
            ConfigMode::Simple,
            &Map::new(),
        ) {
            NativeChannel::OpenClaw { channel_id, .. } => assert_eq!(channel_id, "openclaw-weixin"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn simple_settings_map_to_hermes_env() {
        let config = validate_config(
            ChannelCode::Feishu,
            ConfigMode::Simple,
            r#"{"appId":"cli_x","appSecret":"s"}"#,
        )
        .unwrap_or_default();
        let NativeChannel::Hermes { platform, env, .. } = native_channel(
            AgentFamily::Hermes,
            ChannelCode::Feishu,
            ConfigMode::Simple,
            &config,
        ) else {
            panic!("not Hermes");
        };
        assert_eq!(platform, "feishu");
        assert_eq!(
            env.into_iter().collect::<Vec<_>>(),
            vec![
                ("FEISHU_APP_ID".to_string(), "cli_x".to_string()),
                ("FEISHU_APP_SECRET".to_string(), "s".to_string())
            ]
        );
    }

    #[test]
    fn custom_settings_pass_through() {
        let config = validate_config(
            ChannelCode::DingTalk,
            ConfigMode::Custom,
            r#"{"clientId":"c","dmPolicy":"open"}"#,
        )
        .unwrap_or_default();
        match native_channel(
            AgentFamily::OpenClaw,
            ChannelCode::DingTalk,
            ConfigMode::Custom,
            &config,
        ) {
            NativeChannel::OpenClaw { settings, .. } => {
                assert_eq!(settings, json!({"clientId": "c", "dmPolicy": "open"}))
            }
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_config_text_never_panics(text in ".{0,200}", custom in any::<bool>()) {
            let mode = if custom { ConfigMode::Custom } else { ConfigMode::Simple };
            for code in ChannelCode::ALL {
                if let Ok(config) = validate_config(code, mode, &text) {
                    let masked = mask_config(code, &config);
                    prop_assert!(masked.is_object());
                    if let Value::Object(sent) = masked {
                        prop_assert!(restore_masked(code, sent, Some(&config)).is_ok());
                    }
                }
            }
        }
    }
}
