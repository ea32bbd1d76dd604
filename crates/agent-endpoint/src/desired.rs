//! A runtime's desired state, assembled from the store: its effective model group (own
//! assignment, else its resource group's) with providers and models, its channels, and its
//! drift policy, as of one generation. Providers amc proxies reach the host pointed at amc's
//! model gateway with the runtime's gateway key, never with their vendor's address and key.

use agent_proto::{
    Channel, DesiredState, Model, ModelConfig, Product, Provider, SecretText, SkillPackage,
};
use serde_json::{Map, Value};
use store::agents::AgentRuntime;
use store::skills::GrantedSkill;
use store::{Store, StoreError};

/// How often the state is re-read when a write lands between its parts.
const ATTEMPTS: usize = 5;
/// Model groups kept resolved at once.
const CACHED_GROUPS: usize = 256;

/// Resolved model groups by (tenant, group), each valid while its tenant's version is the one it
/// was read at: a change that reaches a whole fleet makes every daemon ask for the same group
/// in the same second.
#[derive(Default)]
pub struct ModelCache(
    std::sync::Mutex<std::collections::HashMap<(String, String), (u64, GroupModels)>>,
);

/// A resolved model group: what every runtime using it is given, and which of its providers
/// (by index) the gateway serves.
#[derive(Debug, Clone)]
struct GroupModels {
    config: ModelConfig,
    proxied: Vec<(usize, Protocol)>,
}

/// The protocol of a proxied provider: it decides the address an agent is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    OpenAi,
    Anthropic,
}

/// Where a runtime's host reaches the model gateway: `http://host:port`, without `/v1`.
pub struct GatewayAddress<'a>(pub &'a str);

impl ModelCache {
    fn get(&self, key: &(String, String), version: u64) -> Option<GroupModels> {
        let entries = self.0.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| *at == version)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, key: (String, String), version: u64, config: GroupModels) {
        if let Ok(mut entries) = self.0.lock() {
            if entries.len() >= CACHED_GROUPS {
                entries.retain(|_, (at, _)| *at == version);
                if entries.len() >= CACHED_GROUPS {
                    entries.clear();
                }
            }
            entries.insert(key, (version, config));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the runtime no longer exists")]
    Gone,
    #[error("the runtime's agent provider {0:?} is not one the daemon manages")]
    Unmanaged(String),
    #[error("stored {what} is not a JSON object")]
    Corrupt { what: &'static str },
    #[error("the runtime kept changing while its desired state was read")]
    Unsettled,
}

/// The desired state of runtime `runtime_id` at its current generation: read in parts, then
/// checked against the runtime read again — every change to a part bumps the generation — so no
/// part is older or newer than the number it carries. (Other writes of the tenant, reports
/// above all, do not make it read again.)
pub async fn desired_state(
    store: &Store,
    cache: &ModelCache,
    tenant_id: &str,
    runtime_id: &str,
    report_interval_secs: u64,
    gateway: GatewayAddress<'_>,
) -> Result<DesiredState, DesiredError> {
    let read_runtime = || async {
        store
            .agent_runtime(tenant_id, runtime_id)
            .await?
            .filter(|r| !r.deleted)
            .ok_or(DesiredError::Gone)
    };
    let mut current = read_runtime().await?;
    for _ in 0..ATTEMPTS {
        let product = Product::of_agent_provider(&current.agent_provider)
            .ok_or_else(|| DesiredError::Unmanaged(current.agent_provider.clone()))?;
        let state = read(
            store,
            cache,
            &current,
            product,
            report_interval_secs,
            &gateway,
        )
        .await?;
        let after = read_runtime().await?;
        if after == current {
            return Ok(state);
        }
        current = after;
    }
    Err(DesiredError::Unsettled)
}

async fn read(
    store: &Store,
    cache: &ModelCache,
    runtime: &AgentRuntime,
    product: Product,
    report_interval_secs: u64,
    gateway: &GatewayAddress<'_>,
) -> Result<DesiredState, DesiredError> {
    let tenant = &runtime.tenant_id;
    let model = match &runtime.model_template_id {
        Some(model_template_id) => {
            let key = (tenant.clone(), model_template_id.clone());
            // Read before the group: a write committing meanwhile makes the entry stale at once.
            let version = store.tenant_version(tenant).await?;
            let group = match cache.get(&key, version) {
                Some(group) => group,
                None => {
                    let group = model_config(store, tenant, model_template_id).await?;
                    cache.put(key, version, group.clone());
                    group
                }
            };
            Some(through_gateway(store, runtime, group, gateway).await?)
        }
        None => None,
    };
    let channels = store
        .runtime_channels(tenant, &runtime.id)
        .await?
        .into_iter()
        .map(|channel| {
            let settings = json_object(channel.config.expose(), "channel settings")?;
            Ok(Channel {
                code: channel.code,
                mode: channel.config_mode,
                settings,
            })
        })
        .collect::<Result<_, DesiredError>>()?;
    let skills = delivered_skills(store, tenant, &runtime.id).await?;
    Ok(DesiredState {
        runtime_id: runtime.id.clone(),
        generation: runtime.generation,
        product,
        repair_drift: runtime.repair_drift,
        report_interval_secs,
        model,
        channels,
        skills,
    })
}

/// The skills a runtime's daemon installs: granted with auto-install, enabled, at their default
/// versions; on a runtime under the security policy, without those whose scan found high risk
/// or worse.
pub(crate) async fn deliverable_skills(
    store: &Store,
    tenant: &str,
    runtime_id: &str,
) -> Result<Vec<GrantedSkill>, StoreError> {
    let (granted, secure) = store.runtime_skills(tenant, runtime_id).await?;
    let mut names = std::collections::HashSet::new();
    Ok(granted
        .into_iter()
        .filter(|skill| skill.auto_install)
        .filter(|skill| !secure || domain::skills::allowed_under_policy(&skill.scan_risk))
        // One folder per name: of two catalogues' skills of one name, the first (by id) wins.
        .filter(|skill| names.insert(skill.skill_name.clone()))
        .collect())
}

async fn delivered_skills(
    store: &Store,
    tenant: &str,
    runtime_id: &str,
) -> Result<Vec<SkillPackage>, DesiredError> {
    Ok(deliverable_skills(store, tenant, runtime_id)
        .await?
        .into_iter()
        .map(|skill| SkillPackage {
            env: skill
                .env_vars
                .as_ref()
                .and_then(|json| {
                    serde_json::from_str::<std::collections::BTreeMap<String, String>>(
                        json.expose(),
                    )
                    .ok()
                })
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, SecretText(value)))
                .collect(),
            api_key: skill
                .api_key
                .as_ref()
                .map(|key| SecretText(key.expose().to_string())),
            id: skill.skill_id,
            name: skill.skill_name,
            version: skill.version,
            sha256: skill.sha256,
            size: u64::try_from(skill.size).unwrap_or(0),
        })
        .collect())
}

/// The group as this runtime is given it: proxied providers pointed at the gateway, with the
/// runtime's gateway key (made the first time one is needed; none after all were revoked, so
/// that the gateway refuses the host until an operator issues a new one).
async fn through_gateway(
    store: &Store,
    runtime: &AgentRuntime,
    group: GroupModels,
    gateway: &GatewayAddress<'_>,
) -> Result<ModelConfig, DesiredError> {
    let GroupModels {
        mut config,
        proxied,
    } = group;
    if proxied.is_empty() {
        return Ok(config);
    }
    let key = match store
        .delivered_gateway_key(&runtime.tenant_id, &runtime.id)
        .await?
    {
        (Some((_, key)), _) => Some(key),
        (None, true) => None,
        (None, false) => Some(
            store
                .issue_gateway_key(&runtime.tenant_id, &runtime.id, false, crate::now_ms())
                .await?,
        ),
    };
    let root = gateway.0.trim_end_matches('/');
    for (index, protocol) in proxied {
        if let Some(provider) = config.providers.get_mut(index) {
            // Anthropic's clients add `/v1/messages` to the base URL themselves.
            provider.base_url = match protocol {
                Protocol::OpenAi => format!("{root}/v1"),
                Protocol::Anthropic => root.to_string(),
            };
            provider.api_key = key.clone().map(SecretText);
        }
    }
    Ok(config)
}

async fn model_config(
    store: &Store,
    tenant: &str,
    model_template_id: &str,
) -> Result<GroupModels, DesiredError> {
    let providers = store.providers_of(tenant, model_template_id).await?;
    let models = store.llm_templates_of(tenant, model_template_id).await?;
    let default_model = models
        .iter()
        .find(|m| m.is_default)
        .map(|m| m.model_ref().to_string());
    let mut delivered = Vec::with_capacity(providers.len());
    let mut proxied_at = Vec::new();
    for provider in providers {
        // Providers served through amc's gateway reach the host without their vendor's
        // address and key (set per runtime by `through_gateway`).
        let proxied = provider.provider_type == "WuyingCredit" || provider.enable_wuying_proxy;
        if provider.base_url.is_empty() && !proxied {
            continue;
        }
        if proxied {
            let protocol = if provider.api == "anthropic-messages" {
                Protocol::Anthropic
            } else {
                Protocol::OpenAi
            };
            proxied_at.push((delivered.len(), protocol));
        }
        let models = models
            .iter()
            .filter(|m| m.provider_template_id == provider.id)
            .map(|m| {
                Ok(Model {
                    id: m.llm_code.clone(),
                    name: m.name.clone(),
                    config: json_object(&m.config, "model config")?,
                })
            })
            .collect::<Result<_, DesiredError>>()?;
        delivered.push(Provider {
            id: provider.provider_name.clone(),
            name: provider.name.clone(),
            base_url: if proxied {
                String::new()
            } else {
                provider.base_url.clone()
            },
            api: provider.api.clone(),
            api_key: if proxied {
                None
            } else {
                provider
                    .api_key
                    .as_ref()
                    .map(|k| SecretText(k.expose().to_string()))
            },
            models,
        });
    }
    Ok(GroupModels {
        config: ModelConfig {
            model_template_id: model_template_id.to_string(),
            default_model,
            providers: delivered,
        },
        proxied: proxied_at,
    })
}

fn json_object(text: &str, what: &'static str) -> Result<Map<String, Value>, DesiredError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        // Never quote the text: channel settings hold secrets.
        _ => Err(DesiredError::Corrupt { what }),
    }
}
