//! IM channels on runtimes (appstream-center 2021-09-01 `ConfigRuntimeChannel`,
//! `RemoveRuntimeChannel`, `GetRuntimeChannel`).
//!
//! The Config/Remove responses carry no per-runtime results, so a batch applies whole or fails
//! whole. Error codes chosen here:
//! - 400 `InvalidParameter` naming `Code`, `ConfigMode`, `Name`, `RuntimeIds`, `Config` or the
//!   Config field at fault (`Config.appSecret`);
//! - 404 `InvalidRuntimeId.NotFound`: a runtime id the tenant does not have (or deleted);
//! - 400 `InvalidAgentProvider.Mismatch` / `InvalidAgentPlatform.Mismatch`: a runtime runs
//!   another agent product / platform than the one named.
//!
//! Settings are masked (see `domain::channels::mask_config`: only the fields each connector is
//! known to take as non-secret are shown) on every way out; errors never quote them. A client
//! may send the settings back as it read them: a mask keeps the value stored at its place.

use std::collections::HashSet;

use domain::channels::{
    ChannelCode, ConfigMode, holds_mask, mask_config, restore_masked, validate_config,
};
use domain::runtime::DesktopStatus;
use pop::ApiError;
use serde::{Deserialize, Serialize};
use store::Secret;
use store::channels::{ChannelStatus, ChannelWrite, RuntimeSettings};
use store::runtimes::Runtime;

use super::Action;
use super::common::{
    Empty, check_agent_provider, check_optional_platform, check_runtime_type, non_empty,
    reported_state, required, runtime_not_found,
};
use super::limits::{ConfigJson, Id, Ids, Name, Token, strings};
use crate::Ctx;
use crate::errors::{self, internal, store_failure};

/// Runtimes one channel call configures: amc's cap, the SDK documents none.
const MAX_RUNTIMES: usize = 100;

fn parse_code(code: &str) -> Result<ChannelCode, ApiError> {
    required("Code", code)?;
    code.parse().map_err(|_| {
        let known: Vec<&str> = ChannelCode::ALL.iter().map(|c| c.as_str()).collect();
        ApiError::invalid_parameter("Code", format!("must be one of {}", known.join(", ")))
    })
}

/// Loads the tenant's runtimes `ids` and checks that each exists, is not deleted and runs the
/// named agent product (and platform, when one is named).
async fn target_runtimes(
    ctx: &Ctx,
    ids: &[String],
    ids_parameter: &str,
    agent_provider: &str,
    agent_platform: Option<&str>,
) -> Result<Vec<Runtime>, ApiError> {
    if ids.is_empty() || ids.iter().any(String::is_empty) {
        return Err(ApiError::missing_parameter(ids_parameter));
    }
    let mut seen = HashSet::new();
    let unique: Vec<String> = ids.iter().filter(|id| seen.insert(*id)).cloned().collect();
    let found = ctx
        .state
        .store
        .runtimes_by_ids(&ctx.tenant_id, &unique)
        .await
        .map_err(store_failure)?;
    let mut out = Vec::with_capacity(unique.len());
    for id in &unique {
        let runtime = found
            .iter()
            .find(|r| &r.id == id && r.desktop_status != DesktopStatus::Deleted)
            .ok_or_else(|| runtime_not_found(id))?;
        if runtime.agent_provider != agent_provider {
            return Err(errors::AGENT_PROVIDER_MISMATCH.error(&[
                id,
                &runtime.agent_provider,
                &agent_provider,
            ]));
        }
        if let Some(platform) = agent_platform.filter(|p| *p != runtime.agent_platform) {
            return Err(errors::AGENT_PLATFORM_MISMATCH.error(&[
                id,
                &runtime.agent_platform,
                &platform,
            ]));
        }
        out.push(runtime.clone());
    }
    Ok(out)
}

/// The settings each runtime of the batch gets. Masks sent back keep what that runtime has
/// stored at their place (see `domain::channels::restore_masked`); a mask with nothing behind it
/// on any runtime refuses the whole batch.
async fn settings_per_runtime(
    ctx: &Ctx,
    code: ChannelCode,
    config: serde_json::Map<String, serde_json::Value>,
    ids: &[String],
) -> Result<Vec<RuntimeSettings>, ApiError> {
    let settings =
        |runtime_id: &str, config: serde_json::Map<String, serde_json::Value>| RuntimeSettings {
            runtime_id: runtime_id.to_string(),
            config: Secret::new(serde_json::Value::Object(config).to_string()),
        };
    if !holds_mask(code, &config) {
        return Ok(ids.iter().map(|id| settings(id, config.clone())).collect());
    }
    let stored = ctx
        .state
        .store
        .channel_settings(&ctx.tenant_id, ids, code.as_str())
        .await
        .map_err(store_failure)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let kept = match stored.get(id).map(|s| serde_json::from_str(s.expose())) {
            None => None,
            Some(Ok(serde_json::Value::Object(map))) => Some(map),
            // Never log the text: it holds the secrets.
            Some(_) => return Err(internal("stored channel settings are not a JSON object")),
        };
        let restored = restore_masked(code, config.clone(), kept.as_ref()).map_err(|e| {
            ApiError::invalid_parameter(&e.parameter, format!("{} (runtime {id})", e.reason))
        })?;
        out.push(settings(id, restored));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// ConfigRuntimeChannel

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigRuntimeChannel {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub code: Token,
    pub config: ConfigJson,
    pub config_mode: Option<Token>,
    pub name: Option<Name>,
    pub runtime_ids: Ids<MAX_RUNTIMES>,
    pub runtime_type: Token,
}

/// Hand-written so that the settings (which may hold secrets) never reach a log via `Debug`.
impl std::fmt::Debug for ConfigRuntimeChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigRuntimeChannel")
            .field("code", &self.code)
            .field("config_mode", &self.config_mode)
            .field("runtime_ids", &self.runtime_ids)
            .finish_non_exhaustive()
    }
}

impl Action for ConfigRuntimeChannel {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let provider = check_target(
            &self.agent_provider,
            self.agent_platform.as_deref(),
            &self.runtime_type,
        )?;
        let code = parse_code(&self.code)?;
        let mode = match self.config_mode.as_deref().filter(|m| !m.is_empty()) {
            None => ConfigMode::Simple,
            Some(mode) => mode.parse().map_err(|_| {
                ApiError::invalid_parameter("ConfigMode", "must be Simple or Custom")
            })?,
        };
        let config = validate_config(code, mode, &self.config)
            .map_err(|e| ApiError::invalid_parameter(&e.parameter, e.reason))?;
        let name = non_empty(self.name).unwrap_or_else(|| code.as_str().to_string());
        let runtimes = target_runtimes(
            ctx,
            &strings(self.runtime_ids),
            "RuntimeIds",
            provider,
            self.agent_platform.as_deref().filter(|p| !p.is_empty()),
        )
        .await?;
        let ids: Vec<String> = runtimes.into_iter().map(|r| r.id).collect();
        let settings = settings_per_runtime(ctx, code, config, &ids).await?;
        let write = ChannelWrite {
            code: code.as_str().to_string(),
            name,
            config_mode: mode.as_str().to_string(),
            status: if code.configured_by_qr_code() {
                ChannelStatus::Configuring
            } else {
                ChannelStatus::Configured
            },
        };
        ctx.state
            .store
            .configure_channel(&ctx.tenant_id, &write, &settings, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// RemoveRuntimeChannel

/// The agent product, platform and runtime type every channel action names; the product.
fn check_target<'a>(
    agent_provider: &'a str,
    agent_platform: Option<&str>,
    runtime_type: &str,
) -> Result<&'a str, ApiError> {
    check_agent_provider("AgentProvider", agent_provider)?;
    check_optional_platform(agent_platform)?;
    check_runtime_type(runtime_type)?;
    Ok(agent_provider)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRuntimeChannel {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub code: Token,
    pub runtime_ids: Ids<MAX_RUNTIMES>,
    pub runtime_type: Token,
}

impl Action for RemoveRuntimeChannel {
    type Response = Empty;

    /// Removing a channel a runtime does not have is not an error: the runtime ends up
    /// without it either way.
    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let provider = check_target(
            &self.agent_provider,
            self.agent_platform.as_deref(),
            &self.runtime_type,
        )?;
        let code = parse_code(&self.code)?;
        let runtimes = target_runtimes(
            ctx,
            &strings(self.runtime_ids),
            "RuntimeIds",
            provider,
            self.agent_platform.as_deref().filter(|p| !p.is_empty()),
        )
        .await?;
        let ids: Vec<String> = runtimes.into_iter().map(|r| r.id).collect();
        ctx.state
            .store
            .remove_channel(&ctx.tenant_id, &ids, code.as_str(), ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// GetRuntimeChannel

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRuntimeChannel {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub include_risk_info: Option<bool>,
    pub runtime_id: Id,
    pub runtime_type: Token,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelView {
    pub code: String,
    /// The settings as a JSON string, credentials masked.
    pub config: String,
    pub config_mode: String,
    pub status: &'static str,
    /// Present only while the QR-code login is not finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_type: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRuntimeChannelResponse {
    pub data: Vec<ChannelView>,
    pub total_count: i64,
}

impl Action for GetRuntimeChannel {
    type Response = GetRuntimeChannelResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GetRuntimeChannelResponse, ApiError> {
        let provider = check_target(
            &self.agent_provider,
            self.agent_platform.as_deref(),
            &self.runtime_type,
        )?;
        required("RuntimeId", &self.runtime_id)?;
        let ids = [self.runtime_id.to_string()];
        target_runtimes(
            ctx,
            &ids,
            "RuntimeId",
            provider,
            self.agent_platform.as_deref().filter(|p| !p.is_empty()),
        )
        .await?;
        let channels = ctx
            .state
            .store
            .runtime_channels(&ctx.tenant_id, &self.runtime_id)
            .await
            .map_err(store_failure)?;
        let include_risk = self.include_risk_info == Some(true);
        let report = if include_risk {
            reported_state(ctx, &self.runtime_id).await?
        } else {
            None
        };
        let mut data = Vec::with_capacity(channels.len());
        for channel in channels {
            let code: ChannelCode = channel
                .code
                .parse()
                .map_err(|_| internal(format!("stored channel code {:?}", channel.code)))?;
            let config = match serde_json::from_str(channel.config.expose()) {
                Ok(serde_json::Value::Object(map)) => map,
                // Never log the text: it holds the secrets.
                _ => return Err(internal("stored channel settings are not a JSON object")),
            };
            let configuring = channel.status == ChannelStatus::Configuring;
            data.push(ChannelView {
                code: channel.code,
                config: mask_config(code, &config).to_string(),
                config_mode: channel.config_mode,
                status: channel.status.as_str(),
                qr_code_status: configuring.then_some("Configuring"),
                risk_type: include_risk.then(|| {
                    let drifted = report
                        .as_ref()
                        .and_then(|r| r.channels.get(code.as_str()))
                        .is_some_and(agent_proto::Section::drifted);
                    if drifted { "ChannelModified" } else { "Normal" }
                }),
            });
        }
        Ok(GetRuntimeChannelResponse {
            total_count: data.len() as i64,
            data,
        })
    }
}
