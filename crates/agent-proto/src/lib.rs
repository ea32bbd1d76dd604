//! The agent endpoint's wire types: what a node daemon (`amc agent`) and `amc serve` say to each
//! other. Versioned by path ([`PREFIX`]): a change that an older peer would misread gets a new
//! prefix; new optional fields may be added within one (unknown fields are ignored on both ends).
//!
//! - `POST {PREFIX}/enroll` with an [`EnrollRequest`] (no credential) answers an
//!   [`EnrollResponse`].
//! - `GET {PREFIX}/desired?generation=G&wait=S` answers the runtime's [`DesiredState`] at once when
//!   its generation is not `G`, else waits up to `S` seconds (at most [`MAX_WAIT_SECS`]) for it to
//!   change and answers `204 No Content` if it did not.
//! - `POST {PREFIX}/report` with a [`Report`] answers a [`ReportAck`].
//! - `GET {PREFIX}/skills/{id}/{sha256}` answers the package of a skill the desired state names
//!   (`application/zip`), while the runtime is still granted that version of it.
//!
//! Every call but enrolment carries `Authorization: Bearer <credential>`. Errors are
//! [`ErrorBody`] with an HTTP status: 400 bad input, 401 unknown or revoked credential, 404 the
//! runtime is gone, 429/503 come back later.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Path prefix of this version of the protocol.
pub const PREFIX: &str = "/agent/v1";
/// The longest a desired-state request may wait for a change.
pub const MAX_WAIT_SECS: u64 = 60;

/// The agent product a runtime runs, as the daemon manages it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Product {
    /// OpenClaw, and JVS Claw (an OpenClaw distribution): `openclaw.json`.
    OpenClaw,
    /// Hermes Agent: `config.yaml` and `.env`.
    Hermes,
}

impl Product {
    /// The product of an API `AgentProvider`; providers amc does not deliver to have none.
    pub fn of_agent_provider(provider: &str) -> Option<Product> {
        match provider {
            "OpenClaw" => Some(Product::OpenClaw),
            "HermesAgent" => Some(Product::Hermes),
            _ => None,
        }
    }

    /// The API `AgentProvider` of a product.
    pub fn agent_provider(self) -> &'static str {
        match self {
            Product::OpenClaw => "OpenClaw",
            Product::Hermes => "HermesAgent",
        }
    }
}

/// A secret on the wire: serialised in clear (the endpoint is the one place it travels), never
/// shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Binds a host to a runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// A runtime's one-time enrolment token, or a tenant's enrolment secret (bring your own
    /// host: a new runtime is registered).
    pub token: SecretText,
    /// The host's name, shown as the new runtime's name when one is registered.
    pub hostname: String,
    /// The agent the host runs, when the daemon found one (required to register a new runtime).
    #[serde(default)]
    pub product: Option<Product>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub runtime_id: String,
    pub product: Product,
    /// The runtime's credential for every later call; shown once, stored hashed on the server.
    pub credential: SecretText,
}

/// What a runtime should run, as of one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    pub runtime_id: String,
    /// Bumped by every change to what the runtime should run.
    pub generation: i64,
    pub product: Product,
    /// Repair drift at once (`true`) or report it and leave it in place (`false`, the default).
    #[serde(default)]
    pub repair_drift: bool,
    /// How often the daemon reports when nothing changes.
    pub report_interval_secs: u64,
    /// The effective model group; `None`: amc delivers no model configuration.
    #[serde(default)]
    pub model: Option<ModelConfig>,
    /// The channels configured, in code order.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// The skills to install, by name; amc removes the ones it installed that are not listed.
    #[serde(default)]
    pub skills: Vec<SkillPackage>,
}

/// A skill the runtime is granted and may install under its security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillPackage {
    /// The skill's id (`GET {PREFIX}/skills/{id}/{sha256}` downloads it).
    pub id: String,
    /// Its name: the folder it is installed in.
    pub name: String,
    pub version: String,
    /// Hex SHA-256 and size of the package (a zip): what the daemon checks before installing.
    pub sha256: String,
    pub size: u64,
    /// The environment the skill is given (OpenClaw's `skills.entries.<name>.env`, Hermes's
    /// `.env`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, SecretText>,
    /// The API key the skill is given (OpenClaw's `skills.entries.<name>.apiKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretText>,
}

impl SkillPackage {
    /// Where the package downloads, under [`PREFIX`].
    pub fn download_path(&self) -> String {
        format!("/skills/{}/{}", self.id, self.sha256)
    }
}

/// A model group resolved for one runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub model_template_id: String,
    /// `<provider id>/<model id>`, the agent's default model.
    #[serde(default)]
    pub default_model: Option<String>,
    pub providers: Vec<Provider>,
}

/// One provider of a model group, as the agent should reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// The provider's key in the agent's config (the API's `ProviderName`, e.g. `provider-corp`),
    /// the part before `/` of a model reference.
    pub id: String,
    /// Display name.
    pub name: String,
    pub base_url: String,
    /// OpenClaw's protocol names: `openai-completions`, `openai-responses`, `anthropic-messages`, ...
    pub api: String,
    /// The key the agent sends; `None` for providers that take none.
    #[serde(default)]
    pub api_key: Option<SecretText>,
    pub models: Vec<Model>,
}

/// One model of a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The model's id at the provider (the API's `LlmCode`).
    pub id: String,
    pub name: String,
    /// The LLM template's Config, verbatim (OpenClaw's model-definition fields: `contextWindow`,
    /// `maxTokens`, `reasoning`, `input`, `cost`, plus amc's own).
    #[serde(default)]
    pub config: Map<String, Value>,
}

/// One IM channel of a runtime, in the API's terms (the renderer maps it to the agent's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// The API's channel `Code`: `dingtalk-connector`, `wechat`, `feishu`, `qqbot`, `wecom`.
    pub code: String,
    /// `Simple` or `Custom`.
    pub mode: String,
    /// The validated settings, secrets in clear.
    pub settings: Map<String, Value>,
}

/// Fingerprints of one section of configuration (the model configuration, or one channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Of what the daemon wrote (or, when it wrote nothing, found and accepted) at its last apply.
    #[serde(default)]
    pub applied: Option<String>,
    /// Of what is on disk now.
    #[serde(default)]
    pub found: Option<String>,
}

impl Section {
    /// The configuration on disk is not what was applied.
    pub fn drifted(&self) -> bool {
        self.applied.is_some() && self.applied != self.found
    }
}

/// What the daemon found about the agent itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFacts {
    pub product: Product,
    /// Its executable is on PATH, or its state directory holds its config file.
    pub installed: bool,
    /// Its process (gateway) runs.
    pub running: bool,
    #[serde(default)]
    pub version: Option<String>,
}

/// The actual state of a runtime, as its daemon found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The generation last applied; `None` before the first apply.
    #[serde(default)]
    pub applied_generation: Option<i64>,
    pub agent: AgentFacts,
    /// The model configuration; `None` when amc delivers none.
    #[serde(default)]
    pub model: Option<Section>,
    /// Per channel code.
    #[serde(default)]
    pub channels: BTreeMap<String, Section>,
    /// Names of the skills installed in the agent's skills folder by amc.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Channel codes whose QR-code login has completed on the host.
    #[serde(default)]
    pub qr_completed: Vec<String>,
    /// Why the last apply failed, when it did (never a secret).
    #[serde(default)]
    pub error: Option<String>,
}

/// The drift a report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Risk {
    pub model_modified: bool,
    pub channel_modified: bool,
    pub agent_uninstalled: bool,
}

impl Risk {
    pub fn any(self) -> bool {
        self.model_modified || self.channel_modified || self.agent_uninstalled
    }
}

impl Report {
    pub fn risk(&self) -> Risk {
        Risk {
            model_modified: self.model.as_ref().is_some_and(Section::drifted),
            channel_modified: self.channels.values().any(Section::drifted),
            agent_uninstalled: !self.agent.installed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAck {
    /// The runtime's current generation: a daemon behind it fetches the desired state again.
    pub generation: i64,
}

/// Every error of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `InvalidRequest`, `Unauthorized`, `RuntimeNotFound`, ...
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(installed: bool, model: Option<Section>) -> Report {
        Report {
            applied_generation: Some(3),
            agent: AgentFacts {
                product: Product::OpenClaw,
                installed,
                running: installed,
                version: Some("2026.9.6".into()),
            },
            model,
            channels: BTreeMap::new(),
            skills: Vec::new(),
            qr_completed: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn drift_is_found_differing_from_applied() {
        let same = Section {
            applied: Some("a".into()),
            found: Some("a".into()),
        };
        let edited = Section {
            applied: Some("a".into()),
            found: Some("b".into()),
        };
        let removed = Section {
            applied: Some("a".into()),
            found: None,
        };
        let never_applied = Section {
            applied: None,
            found: Some("b".into()),
        };
        assert!(!same.drifted());
        assert!(edited.drifted());
        assert!(removed.drifted());
        assert!(!never_applied.drifted());
        assert!(report(true, Some(edited)).risk().model_modified);
        assert!(!report(true, Some(same)).risk().any());
        assert!(report(false, None).risk().agent_uninstalled);
    }

    #[test]
    fn secrets_stay_out_of_debug_and_unknown_fields_are_ignored() {
        let text = r#"{"token":"enrol-secret","hostname":"h","product":"Hermes","future":1}"#;
        let request: EnrollRequest = serde_json::from_str(text).expect("parses");
        assert_eq!(request.product, Some(Product::Hermes));
        assert!(!format!("{request:?}").contains("enrol-secret"));
    }
}
