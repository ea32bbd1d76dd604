//! Delivering model groups (appstream-center 2021-09-01): to runtimes directly
//! (`ConfigRuntimeModelTemplate` / `RemoveRuntimeModelTemplate`), to resource groups for the
//! runtimes in them (`ConfigResourceGroupModelTemplate` / `RemoveResourceGroupModelTemplate` /
//! `ListModelTemplateResourceGroup`), and a runtime's effective model configuration
//! (`GetRuntimeModelConfig`): its own assignment wins over its resource group's.
//!
//! Error codes chosen here:
//! - whole call: 404 `InvalidModelTemplateId.NotFound`, `EntityNotExists.ResourceGroup`,
//!   `InvalidRuntimeId.NotFound`; 400 `InvalidAgentProvider.Mismatch`;
//! - per runtime: `Runtime.NotFound` (404), `Runtime.AgentProviderMismatch` (400),
//!   `Runtime.ModelTemplateNotAssigned` (400); per resource group: `EntityNotExists.ResourceGroup`
//!   (404), `ModelTemplate.NotBound` (400). Every item of either list has the same shape:
//!   `Success`, `Code` ("200" on success), `HttpStatusCode`, and `Message` when it failed.

use std::collections::{HashMap, HashSet};

use domain::runtime::DesktopStatus;
use pop::ApiError;
use serde::{Deserialize, Serialize};
use store::delivery::{Delivery, ModelTemplateRef};
use store::models::ModelTemplate;
use store::runtimes::{Runtime, RuntimeFilter};

use super::Action;
use super::common::{
    Empty, Paged, check_agent_provider, check_optional_platform, check_runtime_type,
    model_template_not_found, non_empty_list, page, required, resource_group_not_found,
    runtime_not_found,
};
use super::limits::{Id, Ids, MAX_IDS, Token};
use super::models::{CreditMultiplierView, InferenceMetadataView, llm_view};
use crate::Ctx;
use crate::errors::{self, store_failure};

/// Runtimes one `ConfigRuntimeModelTemplate` may name (a whole department at once).
const MAX_RUNTIMES: usize = 1000;

async fn load_template(ctx: &Ctx, id: &str) -> Result<ModelTemplate, ApiError> {
    required("ModelTemplateId", id)?;
    ctx.state
        .store
        .model_template(&ctx.tenant_id, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| model_template_not_found(id))
}

/// The requested ids without repeats, in request order (their number is bounded while
/// decoding).
fn unique_ids(name: &str, ids: &[Id]) -> Result<Vec<String>, ApiError> {
    let mut seen = HashSet::new();
    let unique: Vec<String> = ids
        .iter()
        .filter(|id| !id.is_empty() && seen.insert(id.as_str()))
        .map(|id| id.to_string())
        .collect();
    if unique.is_empty() {
        return Err(ApiError::missing_parameter(name));
    }
    Ok(unique)
}

/// The outcome for one runtime of a batch.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeResult {
    pub runtime_id: String,
    pub success: bool,
    pub code: String,
    pub http_status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RuntimeResult {
    fn ok(runtime_id: &str) -> RuntimeResult {
        RuntimeResult {
            runtime_id: runtime_id.into(),
            success: true,
            code: "200".into(),
            http_status_code: 200,
            message: None,
        }
    }

    fn failed(runtime_id: &str, error: ApiError) -> RuntimeResult {
        RuntimeResult {
            runtime_id: runtime_id.into(),
            success: false,
            code: error.code.into_owned(),
            http_status_code: error.status,
            message: Some(error.message),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeResults {
    pub data: Vec<RuntimeResult>,
    pub total_count: usize,
}

/// Splits a batch into the runtimes that may be changed and the per-item results, using `check`
/// for runtimes that exist; unknown and deleted runtimes fail alone with `Runtime.NotFound`.
async fn judge_runtimes(
    ctx: &Ctx,
    ids: &[String],
    check: impl Fn(&Runtime) -> Result<(), ApiError>,
) -> Result<(Vec<String>, Vec<RuntimeResult>), ApiError> {
    let found = ctx
        .state
        .store
        .runtimes_by_ids(&ctx.tenant_id, ids)
        .await
        .map_err(store_failure)?;
    let by_id: HashMap<&str, &Runtime> = found.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut accepted = Vec::new();
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let result = match by_id
            .get(id.as_str())
            .filter(|r| r.desktop_status != DesktopStatus::Deleted)
        {
            None => Err(errors::RUNTIME_ITEM_NOT_FOUND.error(&[id])),
            Some(runtime) => check(runtime),
        };
        match result {
            Ok(()) => {
                accepted.push(id.clone());
                results.push(RuntimeResult::ok(id));
            }
            Err(error) => results.push(RuntimeResult::failed(id, error)),
        }
    }
    Ok((accepted, results))
}

// ---------------------------------------------------------------------------------------------
// Runtimes

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigRuntimeModelTemplate {
    pub model_template_id: Id,
    pub runtime_ids: Ids<MAX_RUNTIMES>,
    pub runtime_type: Token,
}

impl Action for ConfigRuntimeModelTemplate {
    type Response = RuntimeResults;

    async fn handle(self, ctx: &Ctx) -> Result<RuntimeResults, ApiError> {
        check_runtime_type(&self.runtime_type)?;
        let ids = unique_ids("RuntimeIds", &self.runtime_ids)?;
        let template = load_template(ctx, &self.model_template_id).await?;
        let (accepted, results) = judge_runtimes(ctx, &ids, |runtime| {
            if runtime.agent_provider == template.agent_provider {
                Ok(())
            } else {
                Err(errors::RUNTIME_ITEM_PROVIDER_MISMATCH.error(&[
                    &runtime.id,
                    &runtime.agent_provider,
                    &template.agent_provider,
                ]))
            }
        })
        .await?;
        let delivered = ctx
            .state
            .store
            .assign_runtime_model_template(&ctx.tenant_id, &accepted, &template.id, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        if delivered == Delivery::NoModelTemplate {
            // Deleted since it was read above.
            return Err(model_template_not_found(&template.id));
        }
        Ok(RuntimeResults {
            total_count: results.len(),
            data: results,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRuntimeModelTemplate {
    pub model_template_id: Id,
    pub runtime_ids: Ids<MAX_RUNTIMES>,
    pub runtime_type: Token,
}

impl Action for RemoveRuntimeModelTemplate {
    type Response = RuntimeResults;

    async fn handle(self, ctx: &Ctx) -> Result<RuntimeResults, ApiError> {
        check_runtime_type(&self.runtime_type)?;
        required("ModelTemplateId", &self.model_template_id)?;
        let ids = unique_ids("RuntimeIds", &self.runtime_ids)?;
        let template_id = self.model_template_id.as_str();
        let (accepted, results) = judge_runtimes(ctx, &ids, |runtime| {
            if runtime.model_template_id.as_deref() == Some(template_id) {
                Ok(())
            } else {
                Err(errors::RUNTIME_ITEM_NOT_ASSIGNED.error(&[&template_id, &runtime.id]))
            }
        })
        .await?;
        ctx.state
            .store
            .unassign_runtime_model_template(&ctx.tenant_id, &accepted, template_id, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(RuntimeResults {
            total_count: results.len(),
            data: results,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Resource groups

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigResourceGroupModelTemplate {
    pub model_template_id: Id,
    pub resource_group_id: Id,
}

impl Action for ConfigResourceGroupModelTemplate {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        required("ResourceGroupId", &self.resource_group_id)?;
        let template = load_template(ctx, &self.model_template_id).await?;
        let store = &ctx.state.store;
        let group = store
            .resource_group(&ctx.tenant_id, &self.resource_group_id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| resource_group_not_found(&self.resource_group_id))?;
        let delivered = store
            .bind_resource_group_model_template(
                &ctx.tenant_id,
                &group.id,
                &template.agent_provider,
                &template.id,
                ctx.now_ms,
            )
            .await
            .map_err(store_failure)?;
        // Either may have been deleted since it was read above.
        match delivered {
            Delivery::Done => Ok(Empty {}),
            Delivery::NoModelTemplate => Err(model_template_not_found(&template.id)),
            Delivery::NoResourceGroup => Err(resource_group_not_found(&group.id)),
        }
    }
}

/// The outcome for one resource group of a batch, shaped as [`RuntimeResult`]: every item
/// carries `Code` ("200" on success) and `HttpStatusCode`, `Message` only when it failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceGroupResult {
    pub resource_group_id: String,
    pub success: bool,
    pub code: String,
    pub http_status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ResourceGroupResult {
    fn of(resource_group_id: String, failure: Option<ApiError>) -> ResourceGroupResult {
        match failure {
            None => ResourceGroupResult {
                resource_group_id,
                success: true,
                code: "200".into(),
                http_status_code: 200,
                message: None,
            },
            Some(error) => ResourceGroupResult {
                resource_group_id,
                success: false,
                code: error.code.to_string(),
                http_status_code: error.status,
                message: Some(error.message),
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceGroupResults {
    pub data: Vec<ResourceGroupResult>,
    pub total_count: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveResourceGroupModelTemplate {
    pub model_template_id: Id,
    pub resource_group_ids: Ids<MAX_IDS>,
}

impl Action for RemoveResourceGroupModelTemplate {
    type Response = ResourceGroupResults;

    async fn handle(self, ctx: &Ctx) -> Result<ResourceGroupResults, ApiError> {
        required("ModelTemplateId", &self.model_template_id)?;
        let ids = unique_ids("ResourceGroupIds", &self.resource_group_ids)?;
        let store = &ctx.state.store;
        let known = store
            .resource_group_names(&ctx.tenant_id, &ids)
            .await
            .map_err(store_failure)?;
        let mut data = Vec::with_capacity(ids.len());
        for id in ids {
            let failure = if !known.contains_key(&id) {
                Some(resource_group_not_found(&id))
            } else if store
                .unbind_resource_group_model_template(
                    &ctx.tenant_id,
                    &id,
                    &self.model_template_id,
                    ctx.now_ms,
                )
                .await
                .map_err(store_failure)?
            {
                None
            } else {
                Some(errors::MODEL_TEMPLATE_NOT_BOUND.error(&[&self.model_template_id, &id]))
            };
            data.push(ResourceGroupResult::of(id, failure));
        }
        Ok(ResourceGroupResults {
            total_count: data.len(),
            data,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListModelTemplateResourceGroup {
    pub model_template_id: Id,
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub resource_group_ids: Option<Ids<MAX_IDS>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundResourceGroup {
    pub resource_group_id: String,
}

pub type ListModelTemplateResourceGroupResponse = Paged<Vec<BoundResourceGroup>>;

impl Action for ListModelTemplateResourceGroup {
    type Response = ListModelTemplateResourceGroupResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListModelTemplateResourceGroupResponse, ApiError> {
        let page = page(self.page_number, self.page_size, 20)?;
        let template = load_template(ctx, &self.model_template_id).await?;
        let only = non_empty_list(self.resource_group_ids);
        let (ids, total_count) = ctx
            .state
            .store
            .resource_group_bindings(
                &ctx.tenant_id,
                &template.id,
                only.as_deref(),
                page.offset(),
                page.size,
            )
            .await
            .map_err(store_failure)?;
        Ok(Paged::of(
            ids.into_iter()
                .map(|resource_group_id| BoundResourceGroup { resource_group_id })
                .collect(),
            &page,
            total_count,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// GetRuntimeModelConfig

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRuntimeModelConfig {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub include_risk_info: Option<bool>,
    pub runtime_id: Id,
    pub runtime_type: Token,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LlmInfo {
    pub credit_multiplier: Option<CreditMultiplierView>,
    pub description: String,
    pub features: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_metadata: Option<InferenceMetadataView>,
    pub llm_code: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_type: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelProviderInfo {
    pub llm_info_list: Vec<LlmInfo>,
    pub model_provider_template_id: String,
    pub name: String,
    pub provider_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeModelConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    pub model_provider_list: Vec<ModelProviderInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_template_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_template_ref_type: Option<&'static str>,
    pub resource_group_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRuntimeModelConfigResponse {
    pub data: RuntimeModelConfig,
}

impl Action for GetRuntimeModelConfig {
    type Response = GetRuntimeModelConfigResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GetRuntimeModelConfigResponse, ApiError> {
        check_runtime_type(&self.runtime_type)?;
        required("RuntimeId", &self.runtime_id)?;
        check_agent_provider("AgentProvider", &self.agent_provider)?;
        check_optional_platform(self.agent_platform.as_deref())?;
        let store = &ctx.state.store;
        let filter = RuntimeFilter {
            tenant_id: ctx.tenant_id.clone(),
            ids: Some(vec![self.runtime_id.to_string()]),
            ..RuntimeFilter::default()
        };
        let runtime = store
            .list_runtime_listings(&filter, 0, 1)
            .await
            .map_err(store_failure)?
            .first()
            .cloned()
            .ok_or_else(|| runtime_not_found(&self.runtime_id))?;
        if runtime.agent_provider != self.agent_provider.as_str() {
            return Err(errors::AGENT_PROVIDER_MISMATCH.error(&[
                &runtime.id,
                &runtime.agent_provider,
                &self.agent_provider,
            ]));
        }
        if let Some(platform) = self
            .agent_platform
            .as_deref()
            .filter(|p| !p.is_empty() && *p != runtime.agent_platform)
        {
            return Err(errors::AGENT_PLATFORM_MISMATCH.error(&[
                &runtime.id,
                &runtime.agent_platform,
                &platform,
            ]));
        }
        let Some(effective) = runtime.model_template else {
            return Ok(GetRuntimeModelConfigResponse {
                data: RuntimeModelConfig {
                    default_model: None,
                    model_provider_list: Vec::new(),
                    model_template_id: None,
                    model_template_name: None,
                    model_template_ref_type: None,
                    resource_group_id: runtime.resource_group_id,
                },
            });
        };
        let mt = &effective.model_template_id;
        let providers = store
            .providers_of(&ctx.tenant_id, mt)
            .await
            .map_err(store_failure)?;
        let mut models = store
            .llm_templates_of(&ctx.tenant_id, mt)
            .await
            .map_err(store_failure)?;
        // The group's Config names the same model as its default (the model actions keep them in step).
        let default_model = models
            .iter()
            .find(|m| m.is_default)
            .map(|m| m.model_ref().to_string());
        let risk_type =
            (self.include_risk_info == Some(true)).then_some(if runtime.risk.model_modified {
                "ModelModified"
            } else {
                "Normal"
            });
        let model_provider_list = providers
            .into_iter()
            .map(|provider| {
                let (mine, rest): (Vec<_>, Vec<_>) = models
                    .drain(..)
                    .partition(|m| m.provider_template_id == provider.id);
                models = rest;
                Ok(ModelProviderInfo {
                    llm_info_list: mine
                        .into_iter()
                        .map(|model| {
                            let view = llm_view(model)?;
                            Ok(LlmInfo {
                                credit_multiplier: view.credit_multiplier,
                                description: view.description,
                                features: view.features,
                                inference_metadata: view.inference_metadata,
                                llm_code: view.llm_code,
                                name: view.name,
                                published_time: view.published_time,
                                risk_type,
                            })
                        })
                        .collect::<Result<_, ApiError>>()?,
                    model_provider_template_id: provider.id,
                    name: provider.name,
                    provider_name: provider.provider_name,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(GetRuntimeModelConfigResponse {
            data: RuntimeModelConfig {
                default_model,
                model_provider_list,
                model_template_id: Some(effective.model_template_id),
                model_template_name: Some(effective.name),
                model_template_ref_type: Some(match effective.ref_type {
                    ModelTemplateRef::Runtime => "Runtime",
                    ModelTemplateRef::ResourceGroup => "ResourceGroup",
                }),
                resource_group_id: runtime.resource_group_id,
            },
        })
    }
}
