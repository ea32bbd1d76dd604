//! Who calls and where a call goes: gateway keys checked against their stored hashes, and each
//! runtime's routes — the models of its effective model group that amc proxies, with their
//! connection, price and place in the group's fallback order. Both are read from the store and
//! kept for [`FRESH`], so a change (a revoked key, an edited group, a new quota) reaches every
//! replica within that time without a read per call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use domain::credits::Rate;
use domain::models::{ModelRef, ProviderType};
use domain::secrets;
use serde_json::Value;
use store::Store;

use crate::error::GatewayError;
use crate::usage::Protocol;

/// How long a key check or a runtime's routes are reused.
pub const FRESH: Duration = Duration::from_secs(1);
/// How long past [`FRESH`] an entry still serves other callers while one reads it again (so
/// that many calls at once do not all go to the store when it turns stale).
const STALE: Duration = Duration::from_secs(5);
/// Entries kept per cache before it is emptied.
const MAX_ENTRIES: usize = 100_000;

/// The runtime a key belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub runtime_id: String,
}

/// One model the runtime may call through the gateway.
#[derive(Debug, Clone)]
pub struct Route {
    /// `provider/llmCode`, as deductions name it.
    pub model_ref: String,
    pub llm_code: String,
    pub provider_name: String,
    pub protocol: Protocol,
    /// Where calls go: the provider's base URL with the protocol's path; `None` when the base
    /// URL is not a URL.
    pub url: Option<reqwest::Url>,
    pub api_key: Option<String>,
    pub rate: Rate,
    /// The model's `maxTokens`, bounding what a call without its own bound reserves.
    pub max_output: Option<u64>,
}

/// A runtime's routes.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    pub agent_type: &'static str,
    pub routes: Vec<Route>,
    /// Index of the group's default model among `routes`.
    pub default: Option<usize>,
    /// Indices in the group's fallback order (`defaults.model.fallbacks`); empty: the group
    /// allows no fallback.
    pub fallbacks: Vec<usize>,
    /// The agent's per-minute limits.
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

impl Routes {
    /// The route `model` names: `default` (or nothing) for the group's default, else
    /// `provider/llmCode` or a bare `llmCode`.
    pub fn find(&self, model: &str) -> Option<usize> {
        if model.is_empty() || model == "default" {
            return self.default.or(if self.routes.is_empty() {
                None
            } else {
                Some(0)
            });
        }
        self.routes
            .iter()
            .position(|r| r.model_ref == model)
            .or_else(|| self.routes.iter().position(|r| r.llm_code == model))
    }

    /// The routes to try for `first`, in order: it, then the group's fallbacks after it.
    pub fn attempts(&self, first: usize) -> Vec<usize> {
        let mut order = vec![first];
        if self.fallbacks.contains(&first) || self.default == Some(first) {
            order.extend(self.fallbacks.iter().copied().filter(|i| *i != first));
        }
        order
    }
}

/// The address of a provider's calls: OpenAI's `…/chat/completions`; Anthropic's `…/v1/messages`,
/// or `…/messages` when the base URL already ends in `/v1`.
fn upstream_url(base_url: &str, protocol: Protocol) -> String {
    let base = base_url.trim_end_matches('/');
    match protocol {
        Protocol::OpenAi => format!("{base}/chat/completions"),
        Protocol::Anthropic if base.ends_with("/v1") => format!("{base}/messages"),
        Protocol::Anthropic => format!("{base}/v1/messages"),
    }
}

/// Where the gateway sends WuyingCredit providers that name no base URL of their own.
#[derive(Debug, Clone, Default)]
pub struct CreditUpstream {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

struct Entry<T> {
    value: T,
    read_at: Instant,
    /// One caller is reading a stale entry again.
    refreshing: AtomicBool,
}

type Cache<T> = RwLock<HashMap<String, Entry<T>>>;

/// The entry of `key` while fresh; while stale, to every caller but the one that reads it
/// again (which gets `None`).
fn cached<T: Clone>(cache: &Cache<T>, key: &str) -> Option<T> {
    let entries = cache.read().ok()?;
    let entry = entries.get(key)?;
    let age = entry.read_at.elapsed();
    if age < FRESH {
        return Some(entry.value.clone());
    }
    let someone_else = entry
        .refreshing
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err();
    (someone_else && age < FRESH + STALE).then(|| entry.value.clone())
}

fn keep<T>(cache: &Cache<T>, key: String, value: T) {
    if let Ok(mut entries) = cache.write() {
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                value,
                read_at: Instant::now(),
                refreshing: AtomicBool::new(false),
            },
        );
    }
}

/// The store, read through short-lived caches.
pub struct Directory {
    store: Store,
    credit_upstream: CreditUpstream,
    /// Key id → (secret hash, caller); `None` for an unknown or revoked key.
    keys: Cache<Option<(String, Caller)>>,
    routes: Cache<Arc<Routes>>,
}

impl Directory {
    pub fn new(store: Store, credit_upstream: CreditUpstream) -> Directory {
        Directory {
            store,
            credit_upstream,
            keys: RwLock::default(),
            routes: RwLock::default(),
        }
    }

    /// The runtime whose key `text` is.
    pub async fn authenticate(&self, text: &str) -> Result<Caller, GatewayError> {
        let (id, secret) = secrets::split(text.trim(), secrets::GATEWAY_KEY_PREFIX)
            .ok_or(GatewayError::Unauthorized)?;
        let known = match cached(&self.keys, id) {
            Some(known) => known,
            None => {
                let known = self
                    .store
                    .gateway_key(id)
                    .await?
                    .filter(|k| k.revoked_at.is_none())
                    .map(|k| {
                        (
                            k.secret_hash,
                            Caller {
                                tenant_id: k.tenant_id,
                                runtime_id: k.runtime_id,
                            },
                        )
                    });
                keep(&self.keys, id.to_string(), known.clone());
                known
            }
        };
        match known {
            Some((hash, caller)) if secrets::matches(secret, &hash) => Ok(caller),
            _ => Err(GatewayError::Unauthorized),
        }
    }

    /// The routes of the caller's runtime.
    pub async fn routes(&self, caller: &Caller) -> Result<Arc<Routes>, GatewayError> {
        if let Some(routes) = cached(&self.routes, &caller.runtime_id) {
            return Ok(routes);
        }
        let routes = Arc::new(self.read_routes(caller).await?);
        keep(&self.routes, caller.runtime_id.clone(), routes.clone());
        Ok(routes)
    }

    async fn read_routes(&self, caller: &Caller) -> Result<Routes, GatewayError> {
        let store = &self.store;
        let Some(runtime) = store
            .agent_runtime(&caller.tenant_id, &caller.runtime_id)
            .await?
            .filter(|r| !r.deleted)
        else {
            return Err(GatewayError::Unauthorized);
        };
        let agent = store
            .credit_agent(&caller.tenant_id, &caller.runtime_id)
            .await?;
        let mut routes = Routes {
            agent_type: domain::credits::agent_type(&runtime.agent_provider, &runtime.id),
            rpm: agent
                .as_ref()
                .and_then(|a| a.rpm)
                .and_then(|v| u64::try_from(v).ok()),
            tpm: agent
                .as_ref()
                .and_then(|a| a.tpm)
                .and_then(|v| u64::try_from(v).ok()),
            ..Routes::default()
        };
        let Some(group_id) = runtime.model_template_id else {
            return Ok(routes);
        };
        let group = store.model_template(&caller.tenant_id, &group_id).await?;
        let providers = store.providers_of(&caller.tenant_id, &group_id).await?;
        let models = store.llm_templates_of(&caller.tenant_id, &group_id).await?;
        for model in &models {
            let Some(provider) = providers
                .iter()
                .find(|p| p.id == model.provider_template_id)
            else {
                continue;
            };
            let credit = provider.provider_type == ProviderType::WuyingCredit.as_str();
            if !(credit || provider.enable_wuying_proxy) {
                continue;
            }
            let protocol = match provider.api.as_str() {
                "anthropic-messages" => Protocol::Anthropic,
                _ => Protocol::OpenAi,
            };
            let (base_url, api_key) = if credit && provider.base_url.is_empty() {
                match &self.credit_upstream.base_url {
                    Some(url) => (url.clone(), self.credit_upstream.api_key.clone()),
                    None => continue,
                }
            } else if credit {
                (
                    provider.base_url.clone(),
                    self.credit_upstream.api_key.clone(),
                )
            } else {
                (
                    provider.base_url.clone(),
                    provider.api_key.as_ref().map(|k| k.expose().to_string()),
                )
            };
            let max_output = serde_json::from_str::<Value>(&model.config)
                .ok()
                .and_then(|c| c.get("maxTokens").and_then(Value::as_u64));
            if model.is_default {
                routes.default = Some(routes.routes.len());
            }
            routes.routes.push(Route {
                model_ref: model.model_ref().to_string(),
                llm_code: model.llm_code.clone(),
                provider_name: model.provider_name.clone(),
                protocol,
                url: reqwest::Url::parse(&upstream_url(&base_url, protocol)).ok(),
                api_key,
                rate: Rate::of(&model.prices, model.credit_multiplier.as_ref()),
                max_output,
            });
        }
        if let Some(group) = group
            && let Ok(config) = serde_json::from_str::<Value>(&group.config)
        {
            let model = config.get("defaults").and_then(|d| d.get("model"));
            if routes.default.is_none()
                && let Some(primary) = model
                    .and_then(|m| m.get("primary"))
                    .and_then(Value::as_str)
                    .and_then(ModelRef::parse)
            {
                let primary = primary.to_string();
                routes.default = routes.routes.iter().position(|r| r.model_ref == primary);
            }
            if let Some(Value::Array(list)) = model.and_then(|m| m.get("fallbacks")) {
                routes.fallbacks = list
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|name| routes.routes.iter().position(|r| r.model_ref == name))
                    .collect();
            }
        }
        Ok(routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(provider: &str, code: &str) -> Route {
        Route {
            model_ref: format!("{provider}/{code}"),
            llm_code: code.into(),
            provider_name: provider.into(),
            protocol: Protocol::OpenAi,
            url: None,
            api_key: None,
            rate: Rate::default(),
            max_output: None,
        }
    }

    #[test]
    fn models_are_found_by_reference_code_or_default() {
        let routes = Routes {
            routes: vec![route("a", "m1"), route("b", "m1"), route("b", "m2")],
            default: Some(2),
            fallbacks: vec![2, 0],
            ..Routes::default()
        };
        assert_eq!(routes.find("default"), Some(2));
        assert_eq!(routes.find(""), Some(2));
        assert_eq!(routes.find("b/m1"), Some(1));
        assert_eq!(routes.find("m1"), Some(0));
        assert_eq!(routes.find("nope"), None);
        // The default falls back along the list; a model outside it does not fall back.
        assert_eq!(routes.attempts(2), vec![2, 0]);
        assert_eq!(routes.attempts(1), vec![1]);
    }
}
