//! The agents' own files from a runtime's desired state, and fingerprints of what amc owns in
//! them. Pure: the node daemon reads the files [`Layout::reads`] names, calls [`plan`], writes
//! [`Plan::writes`] and keeps [`Plan::owned`]; [`fingerprint`] of the files right after is what
//! it applied, of the files later what it finds — the two differing is drift.
//!
//! Renderers edit, never overwrite: only what amc owns changes, everything else the user (or the
//! agent itself, or its plugin installer) has in the file stays, comments included where the
//! format allows.
//! - OpenClaw (`openclaw.rs`): `openclaw.json` is JSON5; it is edited in place through a
//!   concrete syntax tree, so comments, formatting and other keys survive byte for byte.
//! - Hermes Agent (`hermes.rs`): the user's own `$HERMES_HOME/config.yaml` and `.env`, not the
//!   administrator layer (`/etc/hermes` or `$HERMES_MANAGED_DIR`). That layer would keep the
//!   user's file untouched and override it key by key, but it is one per machine (not per
//!   `HERMES_HOME` profile), needs root to write, is found by Hermes only where no home
//!   directory says so, and hides a user's own edit rather than showing it as drift, which is
//!   what an admin of a fleet asks to see. In `config.yaml` amc rewrites the top-level blocks
//!   it owns part of (`model`, `providers`, `platforms`) and leaves every other line as it was;
//!   in `.env` only its own lines.

mod hermes;
mod openclaw;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use agent_proto::{DesiredState, Product};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where an agent keeps its files, as the agent itself finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub product: Product,
    /// The agent's state directory (`~/.openclaw`, `~/.hermes`).
    pub state_dir: PathBuf,
    /// Its main config file.
    pub config: PathBuf,
    /// Its dotenv file of secrets, where it has one amc writes.
    pub env_file: Option<PathBuf>,
    pub skills_dir: PathBuf,
    /// The executable's name on PATH.
    pub executable: &'static str,
}

/// Contents of the files of [`Layout::reads`] that exist.
pub type Files = BTreeMap<PathBuf, String>;

/// What amc wrote into the agent's files, so that a later plan removes what is no longer
/// desired and leaves the user's own entries alone. The daemon keeps it between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// Provider ids (the API's `ProviderName`s).
    #[serde(default)]
    pub providers: BTreeSet<String>,
    /// amc set the default model.
    #[serde(default)]
    pub default_model: bool,
    /// API channel codes.
    #[serde(default)]
    pub channels: BTreeSet<String>,
    /// Per API channel code, the keys amc set in the channel's settings (OpenClaw): the agent's
    /// plugins keep their own beside them (WeChat's records its login there).
    #[serde(default)]
    pub channel_keys: BTreeMap<String, BTreeSet<String>>,
    /// OpenClaw plugin entries amc created (an entry the user had stays the user's).
    #[serde(default)]
    pub plugins: BTreeSet<String>,
    /// Hermes `.env` keys amc wrote.
    #[serde(default)]
    pub env_keys: BTreeSet<String>,
    /// Per skill name, the keys amc set in OpenClaw's `skills.entries.<name>` (`apiKey`, `env`).
    #[serde(default)]
    pub skill_entries: BTreeMap<String, BTreeSet<String>>,
}

impl Owned {
    pub fn is_empty(&self) -> bool {
        self == &Owned::default()
    }
}

/// One file to write whole, atomically.
#[derive(Clone, PartialEq, Eq)]
pub struct Write {
    pub path: PathBuf,
    pub contents: String,
    /// Holds (or may hold) a secret: written 0600.
    pub secret: bool,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Write")
            .field("path", &self.path)
            .field("bytes", &self.contents.len())
            .field("secret", &self.secret)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Only files whose content changes: empty when the files already say what is desired.
    pub writes: Vec<Write>,
    pub owned: Owned,
}

/// Fingerprints of what amc owns, as found: hex SHA-256 of a canonical form in which secrets
/// are hashed too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// `None` when amc owns no model configuration.
    pub model: Option<String>,
    /// Per API channel code amc owns.
    pub channels: BTreeMap<String, String>,
}

/// Why a plan could not be made. Never quotes a value: files and settings hold secrets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("{path}: not valid {format} ({reason})")]
    Unparsable {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: the top level is not an object")]
    NotAnObject { path: PathBuf },
    #[error("the desired state is for {desired:?}, the host runs {layout:?}")]
    WrongProduct { desired: Product, layout: Product },
    #[error("channel {0:?} is not one amc knows")]
    UnknownChannel(String),
    #[error("the value of {key} holds `${{`, which Hermes's .env reader would expand")]
    EnvValue { key: String },
}

/// Where `product` keeps its files for a user whose home is `home`, honouring the environment
/// variables the agent itself honours.
pub fn locate(product: Product, home: &Path, env: &dyn Fn(&str) -> Option<String>) -> Layout {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    match product {
        Product::OpenClaw => {
            let state_dir = var("OPENCLAW_STATE_DIR").unwrap_or_else(|| {
                var("OPENCLAW_HOME")
                    .unwrap_or_else(|| home.to_path_buf())
                    .join(".openclaw")
            });
            Layout {
                product,
                config: var("OPENCLAW_CONFIG_PATH")
                    .unwrap_or_else(|| state_dir.join("openclaw.json")),
                env_file: None,
                skills_dir: state_dir.join("skills"),
                state_dir,
                executable: "openclaw",
            }
        }
        Product::Hermes => {
            let state_dir = var("HERMES_HOME").unwrap_or_else(|| home.join(".hermes"));
            Layout {
                product,
                config: state_dir.join("config.yaml"),
                env_file: Some(state_dir.join(".env")),
                skills_dir: state_dir.join("skills"),
                state_dir,
                executable: "hermes",
            }
        }
    }
}

impl Layout {
    /// Every file [`plan`] and [`fingerprint`] look at; `list_dir` lists a directory's entry
    /// names (none when it does not exist).
    pub fn reads(&self, list_dir: &dyn Fn(&Path) -> Vec<String>) -> Vec<PathBuf> {
        let mut files = vec![self.config.clone()];
        files.extend(self.env_file.clone());
        if self.product == Product::OpenClaw {
            files.extend(openclaw::agent_model_files(self, list_dir));
        }
        files
    }
}

/// The writes that make `files` say what `desired` says, touching only what amc owns.
pub fn plan(
    layout: &Layout,
    files: &Files,
    desired: &DesiredState,
    owned: &Owned,
    installed_version: Option<&str>,
) -> Result<Plan, RenderError> {
    if desired.product != layout.product {
        return Err(RenderError::WrongProduct {
            desired: desired.product,
            layout: layout.product,
        });
    }
    match layout.product {
        Product::OpenClaw => openclaw::plan(layout, files, desired, owned, installed_version),
        Product::Hermes => hermes::plan(layout, files, desired, owned),
    }
}

/// What amc owns, as found in `files`. A file that does not parse fingerprints as what can be
/// read of it (nothing): drift, not an error.
pub fn fingerprint(layout: &Layout, files: &Files, owned: &Owned) -> Fingerprints {
    match layout.product {
        Product::OpenClaw => openclaw::fingerprint(layout, files, owned),
        Product::Hermes => hermes::fingerprint(layout, files, owned),
    }
}

/// API channel codes whose QR-code login has completed on the host.
pub fn qr_completed(layout: &Layout, files: &Files) -> Vec<String> {
    match layout.product {
        Product::OpenClaw => openclaw::qr_completed(layout, files),
        Product::Hermes => hermes::qr_completed(layout, files),
    }
}

/// Hex SHA-256 of a value's canonical JSON (serde_json's maps are ordered by key).
pub(crate) fn digest(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// A secret as fingerprints carry it.
pub(crate) fn hashed(secret: &str) -> Value {
    Value::String(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(secret.as_bytes()))
    ))
}

/// The providers of the desired model group, by id.
pub(crate) fn desired_providers(desired: &DesiredState) -> BTreeMap<&str, &agent_proto::Provider> {
    desired
        .model
        .iter()
        .flat_map(|m| &m.providers)
        .map(|p| (p.id.as_str(), p))
        .collect()
}

/// The parsed channel code of the desired state.
pub(crate) fn channel_code(code: &str) -> Result<domain::channels::ChannelCode, RenderError> {
    code.parse()
        .map_err(|_| RenderError::UnknownChannel(code.to_string()))
}

/// The config mode of a channel (`Simple` unless it says `Custom`).
pub(crate) fn config_mode(mode: &str) -> domain::channels::ConfigMode {
    if mode.eq_ignore_ascii_case("Custom") {
        domain::channels::ConfigMode::Custom
    } else {
        domain::channels::ConfigMode::Simple
    }
}

/// A number out of a model Config value: a JSON number or a numeric string.
pub(crate) fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_proto::{Channel, Model, ModelConfig, Provider, SecretText};
    use proptest::prelude::*;

    fn layout(product: Product) -> Layout {
        locate(product, Path::new("/home/u"), &|_| None)
    }

    fn desired(product: Product, channels: &[(&str, serde_json::Value)]) -> DesiredState {
        DesiredState {
            runtime_id: "ecd-1".into(),
            generation: 2,
            product,
            repair_drift: false,
            report_interval_secs: 30,
            model: Some(ModelConfig {
                model_template_id: "mt-1".into(),
                default_model: Some("provider-corp/big".into()),
                providers: vec![Provider {
                    id: "provider-corp".into(),
                    name: "Corp".into(),
                    base_url: "http://llm.corp/v1".into(),
                    api: "openai-completions".into(),
                    api_key: Some(SecretText("sk-secret-1".into())),
                    models: vec![Model {
                        id: "big".into(),
                        name: "Big".into(),
                        config: serde_json::json!({"contextWindow": 64000, "features": ["x"]})
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    }],
                }],
            }),
            channels: channels
                .iter()
                .map(|(code, settings)| Channel {
                    code: (*code).into(),
                    mode: "Simple".into(),
                    settings: settings.as_object().cloned().unwrap_or_default(),
                })
                .collect(),
            skills: Vec::new(),
        }
    }

    /// Applies a plan's writes to `files`.
    fn apply(files: &mut Files, plan: &Plan) {
        for write in &plan.writes {
            files.insert(write.path.clone(), write.contents.clone());
        }
    }

    fn converge(layout: &Layout, files: &mut Files, state: &DesiredState, owned: &Owned) -> Owned {
        let plan = plan(layout, files, state, owned, Some("2026.9.6")).expect("plans");
        apply(files, &plan);
        let again =
            super::plan(layout, files, state, &plan.owned, Some("2026.9.6")).expect("plans");
        assert!(
            again.writes.is_empty(),
            "not idempotent: {:?}",
            again.writes
        );
        plan.owned
    }

    const USER_FILE: &str = "{\n  // my gateway\n  gateway: { mode: 'local', port: 18789 },\n  meta: { lastTouchedVersion: '2026.9.6' },\n  models: { providers: { mine: { baseUrl: 'http://mine/v1', api: 'openai-completions', models: [] } } },\n}\n";

    #[test]
    fn openclaw_edits_keep_the_users_file_and_remove_only_what_amc_wrote() {
        let layout = layout(Product::OpenClaw);
        let mut files = Files::new();
        files.insert(layout.config.clone(), USER_FILE.to_string());
        let state = desired(
            Product::OpenClaw,
            &[(
                "feishu",
                serde_json::json!({"appId": "cli_1", "appSecret": "s3"}),
            )],
        );
        let owned = converge(&layout, &mut files, &state, &Owned::default());
        let text = &files[&layout.config];
        assert!(
            text.contains("// my gateway") && text.contains("port: 18789") && text.contains("mine")
        );
        assert!(text.contains("\"provider-corp\"") && text.contains("sk-secret-1"));
        assert!(
            !text.contains("features"),
            "amc-only model keys reach OpenClaw's strict schema"
        );
        assert!(text.contains("\"primary\": \"provider-corp/big\""));
        assert_eq!(owned.plugins, BTreeSet::from(["feishu".to_string()]));

        let nothing = DesiredState {
            model: None,
            channels: Vec::new(),
            ..state
        };
        let owned = converge(&layout, &mut files, &nothing, &owned);
        let text = &files[&layout.config];
        assert!(
            !text.contains("provider-corp")
                && !text.contains("feishu")
                && !text.contains("primary")
        );
        assert!(text.contains("// my gateway") && text.contains("mine"));
        assert!(owned.is_empty());
    }

    #[test]
    fn openclaw_fingerprints_see_owned_values_and_per_agent_overrides_only() {
        let layout = layout(Product::OpenClaw);
        let mut files = Files::new();
        files.insert(layout.config.clone(), USER_FILE.to_string());
        let state = desired(
            Product::OpenClaw,
            &[(
                "dingtalk-connector",
                serde_json::json!({"appKey": "k", "appSecret": "s"}),
            )],
        );
        let owned = converge(&layout, &mut files, &state, &Owned::default());
        let applied = fingerprint(&layout, &files, &owned);
        assert!(applied.model.is_some());
        assert_eq!(applied.channels.len(), 1);
        let base = files[&layout.config].clone();

        // Not owned: another provider, a comment, OpenClaw's own meta.
        let edited = base
            .replace("http://mine/v1", "http://mine/v2")
            .replace("// my gateway", "// changed")
            .replace(
                "lastTouchedVersion: '2026.9.6'",
                "lastTouchedVersion: '2026.9.7'",
            );
        files.insert(layout.config.clone(), edited);
        assert_eq!(fingerprint(&layout, &files, &owned), applied);

        // Owned: the delivered address, the channel's secret.
        files.insert(
            layout.config.clone(),
            base.replace("http://llm.corp/v1", "http://evil/v1"),
        );
        let found = fingerprint(&layout, &files, &owned);
        assert_ne!(found.model, applied.model);
        assert_eq!(found.channels, applied.channels);
        files.insert(
            layout.config.clone(),
            base.replace("\"clientSecret\": \"s\"", "\"clientSecret\": \"t\""),
        );
        assert_ne!(
            fingerprint(&layout, &files, &owned).channels,
            applied.channels
        );

        // A per-agent catalog that overrides the key is drift, and a plan repairs it.
        files.insert(layout.config.clone(), base);
        let models = layout.state_dir.join("agents/main/agent/models.json");
        files.insert(models.clone(), "{\"providers\": {\"provider-corp\": {\"baseUrl\": \"http://llm.corp/v1\", \"apiKey\": \"sk-other\"}}}".into());
        assert_ne!(fingerprint(&layout, &files, &owned).model, applied.model);
        let repaired = plan(&layout, &files, &state, &owned, None).expect("plans");
        assert_eq!(repaired.writes.len(), 1);
        assert!(repaired.writes[0].contents.contains("sk-secret-1"));
        assert_eq!(
            layout.reads(&|dir| if dir.ends_with("agents") {
                vec!["main".into()]
            } else {
                Vec::new()
            }),
            vec![layout.config.clone(), models]
        );
    }

    #[test]
    fn a_plugins_own_keys_beside_a_channel_stay_and_are_no_drift() {
        let layout = layout(Product::OpenClaw);
        let mut files = Files::new();
        let state = desired(Product::OpenClaw, &[("wechat", serde_json::json!({}))]);
        let owned = converge(&layout, &mut files, &state, &Owned::default());
        let applied = fingerprint(&layout, &files, &owned);
        assert!(qr_completed(&layout, &files).is_empty());
        // The WeChat plugin records its login in the channel's settings.
        let text = files[&layout.config].replace(
            "\"enabled\": true\n    }",
            "\"enabled\": true,\n      \"channelConfigUpdatedAt\": 1,\n      \"accounts\": {\"main\": {\"enabled\": true}}\n    }",
        );
        assert!(text.contains("accounts"), "{text}");
        files.insert(layout.config.clone(), text);
        assert_eq!(fingerprint(&layout, &files, &owned), applied);
        assert_eq!(qr_completed(&layout, &files), vec!["wechat".to_string()]);
        let again = DesiredState {
            generation: 3,
            ..state
        };
        let owned = converge(&layout, &mut files, &again, &owned);
        assert!(files[&layout.config].contains("channelConfigUpdatedAt"));
        assert_eq!(fingerprint(&layout, &files, &owned), applied);
    }

    fn skill(name: &str, env: &[(&str, &str)], api_key: Option<&str>) -> agent_proto::SkillPackage {
        agent_proto::SkillPackage {
            id: format!("s-{name}"),
            name: name.into(),
            version: "1.0.0".into(),
            sha256: "00".repeat(32),
            size: 1,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_string(), SecretText((*v).to_string())))
                .collect(),
            api_key: api_key.map(|k| SecretText(k.into())),
        }
    }

    #[test]
    fn openclaw_skill_entries_carry_env_and_api_key_and_leave_the_users_keys() {
        let layout = layout(Product::OpenClaw);
        let mut files = Files::new();
        files.insert(
            layout.config.clone(),
            "{\n  skills: { entries: { mine: { enabled: false }, weather: { enabled: true } } },\n}\n"
                .to_string(),
        );
        let state = DesiredState {
            skills: vec![
                skill("weather", &[("WTTR_UNITS", "metric")], Some("sk-weather-1")),
                skill("plain", &[], None),
            ],
            ..desired(Product::OpenClaw, &[])
        };
        let owned = converge(&layout, &mut files, &state, &Owned::default());
        let config: serde_json::Value =
            jsonc_parser::parse_to_serde_value(&files[&layout.config], &Default::default())
                .ok()
                .flatten()
                .unwrap_or_default();
        let entries = &config["skills"]["entries"];
        assert_eq!(entries["weather"]["apiKey"], "sk-weather-1");
        assert_eq!(entries["weather"]["env"]["WTTR_UNITS"], "metric");
        assert_eq!(entries["weather"]["enabled"], true, "the user's key stays");
        assert_eq!(entries["mine"]["enabled"], false);
        assert!(entries.get("plain").is_none(), "nothing to say, no entry");
        assert_eq!(
            owned.skill_entries.get("weather"),
            Some(&BTreeSet::from(["apiKey".to_string(), "env".to_string()]))
        );

        // The key removed, then the skill: only amc's keys go, the user's stay.
        let keyless = DesiredState {
            skills: vec![skill("weather", &[("WTTR_UNITS", "metric")], None)],
            ..state.clone()
        };
        let owned = converge(&layout, &mut files, &keyless, &owned);
        assert!(!files[&layout.config].contains("sk-weather-1"));
        let gone = DesiredState {
            skills: Vec::new(),
            ..state
        };
        let owned = converge(&layout, &mut files, &gone, &owned);
        let text = &files[&layout.config];
        assert!(!text.contains("WTTR_UNITS") && text.contains("weather") && text.contains("mine"));
        assert!(owned.skill_entries.is_empty());
    }

    #[test]
    fn hermes_skills_get_their_variables_in_env() {
        let layout = layout(Product::Hermes);
        let mut files = Files::new();
        let state = DesiredState {
            skills: vec![skill("weather", &[("WTTR_UNITS", "metric")], None)],
            ..desired(Product::Hermes, &[])
        };
        let owned = converge(&layout, &mut files, &state, &Owned::default());
        let env_file = layout.env_file.clone().unwrap_or_default();
        assert!(files[&env_file].contains("WTTR_UNITS"));
        assert!(owned.env_keys.contains("WTTR_UNITS"));
        let gone = DesiredState {
            skills: Vec::new(),
            ..state
        };
        converge(&layout, &mut files, &gone, &owned);
        assert!(
            !files
                .get(&env_file)
                .is_some_and(|t| t.contains("WTTR_UNITS"))
        );
    }

    #[test]
    fn a_missing_file_is_created_only_when_there_is_something_to_write() {
        let layout = layout(Product::OpenClaw);
        let nothing = DesiredState {
            model: None,
            ..desired(Product::OpenClaw, &[])
        };
        assert!(
            plan(&layout, &Files::new(), &nothing, &Owned::default(), None)
                .expect("plans")
                .writes
                .is_empty()
        );
        let created = plan(
            &layout,
            &Files::new(),
            &desired(Product::OpenClaw, &[]),
            &Owned::default(),
            None,
        )
        .expect("plans");
        assert_eq!(created.writes.len(), 1);
        assert!(created.writes[0].contents.contains("\"mode\": \"local\""));
        assert!(created.writes[0].secret);
    }

    #[test]
    fn hermes_edits_keep_the_users_lines_and_keys_live_in_env() {
        let layout = layout(Product::Hermes);
        let env_path = layout.env_file.clone().expect("hermes has an env file");
        let mut files = Files::new();
        let user = "# mine\nagent:\n  max_turns: 42 # short\nmodel:\n  default: local\n\nterminal:\n  backend: local\n";
        files.insert(layout.config.clone(), user.to_string());
        files.insert(
            env_path.clone(),
            "# keys\nOPENROUTER_API_KEY=sk-or\n".into(),
        );
        let state = desired(
            Product::Hermes,
            &[(
                "qqbot",
                serde_json::json!({"appId": "123", "clientSecret": "q s\"x"}),
            )],
        );
        let owned = converge(&layout, &mut files, &state, &Owned::default());
        let config = &files[&layout.config];
        assert!(
            config.starts_with("# mine\nagent:\n  max_turns: 42 # short\n"),
            "{config}"
        );
        assert!(config.contains("terminal:\n  backend: local\n"));
        assert!(
            config.contains("\"provider\": \"custom:provider-corp\"")
                && config.contains("\"default\": \"big\"")
        );
        assert!(
            config.contains("\"key_env\": \"AMC_PROVIDER_CORP_API_KEY\"")
                && !config.contains("sk-secret-1")
        );
        assert!(config.contains("\"qqbot\":"));
        let env = &files[&env_path];
        assert!(env.starts_with("# keys\nOPENROUTER_API_KEY=sk-or\n"));
        assert_eq!(
            hermes_env(env).get("QQ_CLIENT_SECRET").map(String::as_str),
            Some("q s\"x")
        );
        let applied = fingerprint(&layout, &files, &owned);

        files.insert(
            env_path.clone(),
            env.replace(
                "AMC_PROVIDER_CORP_API_KEY=sk-secret-1",
                "AMC_PROVIDER_CORP_API_KEY=sk-stolen",
            ),
        );
        assert_ne!(fingerprint(&layout, &files, &owned).model, applied.model);

        let nothing = DesiredState {
            model: None,
            channels: Vec::new(),
            ..state
        };
        let owned = converge(&layout, &mut files, &nothing, &owned);
        assert!(owned.is_empty());
        let config = &files[&layout.config];
        assert!(
            !config.contains("provider-corp")
                && !config.contains("qqbot")
                && !config.contains("model:")
        );
        assert!(config.contains("max_turns: 42 # short"));
        assert_eq!(files[&env_path], "# keys\nOPENROUTER_API_KEY=sk-or\n");
    }

    fn hermes_env(text: &str) -> BTreeMap<String, String> {
        hermes::parse_env_for_tests(text)
    }

    #[test]
    fn errors_name_the_file_and_never_a_value() {
        let layout = layout(Product::OpenClaw);
        let mut files = Files::new();
        files.insert(layout.config.clone(), "{ apiKey: 'sk-leak' ".into());
        let error = plan(
            &layout,
            &files,
            &desired(Product::OpenClaw, &[]),
            &Owned::default(),
            None,
        )
        .expect_err("refuses");
        let text = error.to_string();
        assert!(
            text.contains("openclaw.json") && !text.contains("sk-leak"),
            "{text}"
        );
        let error = plan(
            &layout,
            &files,
            &desired(Product::Hermes, &[]),
            &Owned::default(),
            None,
        )
        .expect_err("refuses");
        assert!(matches!(error, RenderError::WrongProduct { .. }));
    }

    proptest! {
        /// Whatever else the user keeps in openclaw.json (keys, comments), delivering is
        /// idempotent, keeps it, and the fingerprint ignores it.
        #[test]
        fn openclaw_plans_leave_arbitrary_user_keys_alone(
            keys in proptest::collection::btree_map("[a-z]{1,8}", "[a-zA-Z0-9 ]{0,12}", 0..6),
            comment in "[a-zA-Z0-9 ]{0,20}",
        ) {
            let layout = layout(Product::OpenClaw);
            let user: Vec<String> = keys.iter().map(|(k, v)| format!("  \"x{k}\": \"{v}\",")).collect();
            let text = format!("{{\n  // {comment}\n{}\n  \"gateway\": {{\"mode\": \"local\"}}\n}}\n", user.join("\n"));
            let mut files = Files::new();
            files.insert(layout.config.clone(), text);
            let state = desired(Product::OpenClaw, &[("wecom", serde_json::json!({"botId": "b", "secret": "s"}))]);
            let owned = converge(&layout, &mut files, &state, &Owned::default());
            let after = files[&layout.config].clone();
            let comment_line = format!("// {comment}");
            prop_assert!(after.contains(&comment_line));
            for (k, v) in &keys {
                let entry = format!("\"x{k}\": \"{v}\"");
                prop_assert!(after.contains(&entry));
            }
            let applied = fingerprint(&layout, &files, &owned);
            files.insert(layout.config.clone(), after.replace("\"gateway\"", "\"xnew\": 1,\n  \"gateway\""));
            prop_assert_eq!(fingerprint(&layout, &files, &owned), applied);
        }
    }
}
