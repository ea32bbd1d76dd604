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
//! Settings are masked (see `domain::channels::mask_config`) on every way out; errors never
//! quote them.

use std::collections::HashSet;

use domain::channels::{ChannelCode, ConfigMode, mask_config, validate_config};
use domain::runtime::DesktopStatus;
use pop::ApiError;
use serde::{Deserialize, Serialize};
use store::Secret;
use store::channels::{ChannelStatus, ChannelWrite};
use store::runtimes::Runtime;

use super::Action;
use super::common::{Empty, required, runtime_not_found};
use crate::Ctx;
use crate::errors::{internal, store_failure};

const MAX_RUNTIMES: usize = 100;
const MAX_NAME_LEN: usize = 64;

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
    if ids.len() > MAX_RUNTIMES {
        return Err(ApiError::invalid_parameter(
            ids_parameter,
            format!("at most {MAX_RUNTIMES} runtimes"),
        ));
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
            return Err(ApiError::new(
                400,
                "InvalidAgentProvider.Mismatch",
                format!(
                    "The runtime {id} runs {}, not the AgentProvider {agent_provider}.",
                    runtime.agent_provider
                ),
            ));
        }
        if let Some(platform) = agent_platform.filter(|p| *p != runtime.agent_platform) {
            return Err(ApiError::new(
                400,
                "InvalidAgentPlatform.Mismatch",
                format!(
                    "The runtime {id} is on platform {}, not the AgentPlatform {platform}.",
                    runtime.agent_platform
                ),
            ));
        }
        out.push(runtime.clone());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// ConfigRuntimeChannel

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigRuntimeChannel {
    pub agent_platform: Option<String>,
    pub agent_provider: String,
    pub code: String,
    pub config: String,
    pub config_mode: Option<String>,
    pub name: Option<String>,
    pub runtime_ids: Vec<String>,
    pub runtime_type: String,
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
        let provider = required("AgentProvider", &self.agent_provider)?;
        required("RuntimeType", &self.runtime_type)?;
        let code = parse_code(&self.code)?;
        let mode = match self.config_mode.as_deref().filter(|m| !m.is_empty()) {
            None => ConfigMode::Simple,
            Some(mode) => mode.parse().map_err(|_| {
                ApiError::invalid_parameter("ConfigMode", "must be Simple or Custom")
            })?,
        };
        let config = validate_config(code, mode, &self.config)
            .map_err(|e| ApiError::invalid_parameter(&e.parameter, e.reason))?;
        let name = self
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| code.as_str().to_string());
        if name.chars().count() > MAX_NAME_LEN {
            return Err(ApiError::invalid_parameter(
                "Name",
                format!("at most {MAX_NAME_LEN} characters"),
            ));
        }
        let runtimes = target_runtimes(
            ctx,
            &self.runtime_ids,
            "RuntimeIds",
            provider,
            self.agent_platform.as_deref().filter(|p| !p.is_empty()),
        )
        .await?;
        let ids: Vec<String> = runtimes.into_iter().map(|r| r.id).collect();
        let write = ChannelWrite {
            code: code.as_str().to_string(),
            name,
            config_mode: mode.as_str().to_string(),
            config: Secret::new(serde_json::Value::Object(config).to_string()),
            status: if code.configured_by_qr_code() {
                ChannelStatus::Configuring
            } else {
                ChannelStatus::Configured
            },
        };
        ctx.state
            .store
            .configure_channel(&ctx.tenant_id, &ids, &write, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// RemoveRuntimeChannel

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRuntimeChannel {
    pub agent_platform: Option<String>,
    pub agent_provider: String,
    pub code: String,
    pub runtime_ids: Vec<String>,
    pub runtime_type: String,
}

impl Action for RemoveRuntimeChannel {
    type Response = Empty;

    /// Removing a channel a runtime does not have is not an error: the runtime ends up
    /// without it either way.
    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let provider = required("AgentProvider", &self.agent_provider)?;
        required("RuntimeType", &self.runtime_type)?;
        let code = parse_code(&self.code)?;
        let runtimes = target_runtimes(
            ctx,
            &self.runtime_ids,
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
    pub agent_platform: Option<String>,
    pub agent_provider: String,
    pub include_risk_info: Option<bool>,
    pub runtime_id: String,
    pub runtime_type: String,
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
        let provider = required("AgentProvider", &self.agent_provider)?;
        required("RuntimeType", &self.runtime_type)?;
        required("RuntimeId", &self.runtime_id)?;
        let ids = [self.runtime_id.clone()];
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
        let mut data = Vec::with_capacity(channels.len());
        for channel in channels {
            let code: ChannelCode = channel
                .code
                .parse()
                .map_err(|_| internal(format!("stored channel code {:?}", channel.code)))?;
            let mode: ConfigMode = channel
                .config_mode
                .parse()
                .map_err(|_| internal(format!("stored config mode {:?}", channel.config_mode)))?;
            let config = match serde_json::from_str(channel.config.expose()) {
                Ok(serde_json::Value::Object(map)) => map,
                // Never log the text: it holds the secrets.
                _ => return Err(internal("stored channel settings are not a JSON object")),
            };
            let configuring = channel.status == ChannelStatus::Configuring;
            data.push(ChannelView {
                code: channel.code,
                config: mask_config(code, mode, &config).to_string(),
                config_mode: channel.config_mode,
                status: channel.status.as_str(),
                qr_code_status: configuring.then_some("Configuring"),
                // Drift is computed from the daemon's reports, which do not exist yet.
                risk_type: include_risk.then_some("Normal"),
            });
        }
        Ok(GetRuntimeChannelResponse {
            total_count: data.len() as i64,
            data,
        })
    }
}
