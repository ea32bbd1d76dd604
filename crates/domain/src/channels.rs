//! IM channels of a runtime: the channel codes amc knows, validation of their settings in the
//! API's Simple and Custom shapes, masking of their secrets, and the mapping of Simple settings
//! to each agent's own field names (what the node daemon writes into `openclaw.json` or Hermes'
//! `.env`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// The longest `Config` accepted, in bytes of its JSON text.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024;
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
pub fn validate_config(
    code: ChannelCode,
    mode: ConfigMode,
    text: &str,
) -> Result<Map<String, Value>, ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(config_error(
            "Config",
            format!("at most {MAX_CONFIG_BYTES} bytes"),
        ));
    }
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

/// Whether a settings key names a credential. Simple fields say so themselves; in Custom
/// settings (free-form) any key that smells of a credential is treated as one, erring on the
/// side of hiding.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "passwd",
        "apikey",
        "api_key",
        "aeskey",
        "privatekey",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The settings with every credential replaced by [`MASK`], recursively.
pub fn mask_config(code: ChannelCode, mode: ConfigMode, config: &Map<String, Value>) -> Value {
    fn walk(value: &Value, secret: bool) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, secret || is_secret_key(k))))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, secret)).collect()),
            Value::String(_) | Value::Number(_) if secret => Value::String(MASK.into()),
            other => other.clone(),
        }
    }
    let simple_secrets: Vec<&str> = match mode {
        ConfigMode::Simple => code
            .simple_fields()
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name)
            .collect(),
        ConfigMode::Custom => Vec::new(),
    };
    Value::Object(
        config
            .iter()
            .map(|(k, v)| {
                let secret = simple_secrets.contains(&k.as_str()) || is_secret_key(k);
                (k.clone(), walk(v, secret))
            })
            .collect(),
    )
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
                ChannelCode::WeCom => ("wecom", "wecom-openclaw-plugin"),
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
                    "qq",
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
        check_err(
            ChannelCode::DingTalk,
            ConfigMode::Custom,
            &format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_CONFIG_BYTES)),
            "Config",
        );
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

    #[test]
    fn masking_hides_simple_secrets_and_secret_looking_custom_keys() {
        let simple = validate_config(
            ChannelCode::DingTalk,
            ConfigMode::Simple,
            r#"{"appKey":"ding123","appSecret":"topsecret"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            mask_config(ChannelCode::DingTalk, ConfigMode::Simple, &simple),
            json!({"appKey": "ding123", "appSecret": MASK})
        );
        let wecom = validate_config(
            ChannelCode::WeCom,
            ConfigMode::Simple,
            r#"{"botId":"b","secret":"x"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            mask_config(ChannelCode::WeCom, ConfigMode::Simple, &wecom),
            json!({"botId": "b", "secret": MASK})
        );
        let custom = validate_config(
            ChannelCode::Feishu,
            ConfigMode::Custom,
            r#"{"enabled":true,"appId":"cli_1","accounts":{"main":{"appSecret":"a","verificationToken":"b"}},"encryptKey":"n","list":[{"password":"p"}]}"#,
        )
        .unwrap_or_default();
        let masked = mask_config(ChannelCode::Feishu, ConfigMode::Custom, &custom);
        assert_eq!(
            masked,
            json!({"enabled": true, "appId": "cli_1",
                   "accounts": {"main": {"appSecret": MASK, "verificationToken": MASK}},
                   "encryptKey": "n", "list": [{"password": MASK}]})
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
                    let masked = mask_config(code, mode, &config);
                    prop_assert!(masked.is_object());
                }
            }
        }
    }
}
