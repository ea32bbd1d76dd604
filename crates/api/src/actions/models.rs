//! Model groups (appstream-center 2021-09-01): model templates (`mt-…`), their provider templates
//! (`mpt-…`, connection and encrypted API key), LLM templates (`llmt-…`), and the catalogue of
//! managed providers (`ListModelProviderEndpoints`).
//!
//! Error codes chosen here (the SDKs document none):
//! - 404 `InvalidModelTemplateId.NotFound`, `InvalidProviderTemplateId.NotFound`,
//!   `InvalidLlmTemplateId.NotFound`: unknown id, or an id of another tenant;
//! - 400 `ProviderName.AlreadyExists`: the group already has a provider of that name;
//! - 400 `DependencyViolation.Runtimes` / `.ResourceGroups` / `.ProviderTemplates` /
//!   `.LlmTemplates`: the object is still used by what the code names (nothing is cascaded);
//! - 400 `InvalidParameter` / `MissingParameter` naming the parameter, for everything else.
//!
//! Default model: at most one per group. Making a model the default (`IsDefaultModel`, or a
//! group Config naming it) takes the flag from the previous default, and the group Config's
//! `defaults.model.primary` always names the default model (`provider/llmCode`) or nothing.
//! API keys are masked in every response (`sk-1****abcd`), never echoed in an error.

use std::collections::HashSet;

use domain::ids;
use domain::models::{self, GroupConfig, LlmFacts, ModelError, ProviderConfigInput, ProviderType};
use domain::providers;
use pop::{ApiError, List, Text};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::models::{
    Dependency, LlmTemplate, LlmTemplateFilter, ModelChangeError, ModelTemplate,
    ModelTemplateFilter, ModelTemplatePatch, NewLlmTemplate, ProviderTemplate,
    ProviderTemplateFilter,
};
use store::{Secret, StoreError};

use super::Action;
use super::common::{
    Empty, Paged, check_agent_platform, check_agent_provider, check_biz_type, check_each,
    check_optional_platform, model_template_not_found, non_empty, non_empty_list, page, required,
};
use super::limits::{
    ConfigJson, Description, Filter, Id, Ids, LlmName, MAX_IDS, Name, Token, Tokens,
};
use crate::Ctx;
use crate::errors::{self, internal, store_failure};

/// Models one `BatchCreateLlmTemplates` adds: amc's cap, the SDK documents none.
const MAX_BATCH: usize = 100;

fn provider_not_found(id: &str) -> ApiError {
    errors::PROVIDER_TEMPLATE_NOT_FOUND.error(&[&id])
}

fn llm_not_found(id: &str) -> ApiError {
    errors::LLM_TEMPLATE_NOT_FOUND.error(&[&id])
}

fn model_error(error: ModelError) -> ApiError {
    match error {
        ModelError::Missing(param) => ApiError::missing_parameter(&param),
        ModelError::Invalid { param, reason } => ApiError::invalid_parameter(&param, reason),
    }
}

fn change_error(error: ModelChangeError) -> ApiError {
    match error {
        ModelChangeError::GroupNotFound(id) => model_template_not_found(&id),
        ModelChangeError::ProviderNotFound(id) => provider_not_found(&id),
        ModelChangeError::LlmNotFound(id) => llm_not_found(&id),
        ModelChangeError::DuplicateProviderName(name) => {
            errors::PROVIDER_NAME_EXISTS.error(&[&name])
        }
        ModelChangeError::InUse { id, what, count } => {
            let code = match what {
                Dependency::Runtimes => errors::DEPENDENCY_RUNTIMES,
                Dependency::ResourceGroups => errors::DEPENDENCY_RESOURCE_GROUPS,
                Dependency::ProviderTemplates => errors::DEPENDENCY_PROVIDER_TEMPLATES,
                Dependency::LlmTemplates => errors::DEPENDENCY_LLM_TEMPLATES,
            };
            code.error(&[&id, &count])
        }
        ModelChangeError::UnknownDefaultModel(model) => ApiError::invalid_parameter(
            "Config",
            format!(
                "defaults.model.primary names {model}, which is not a model of this model template"
            ),
        ),
        ModelChangeError::Invalid(e) => model_error(e),
        ModelChangeError::Store(e) => store_failure(e),
    }
}

async fn load_group(ctx: &Ctx, id: &str) -> Result<ModelTemplate, ApiError> {
    ctx.state
        .store
        .model_template(&ctx.tenant_id, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| model_template_not_found(id))
}

async fn load_provider(ctx: &Ctx, id: &str) -> Result<ProviderTemplate, ApiError> {
    ctx.state
        .store
        .provider_template(&ctx.tenant_id, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| provider_not_found(id))
}

// ---------------------------------------------------------------------------------------------
// CreateModelTemplate

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateModelTemplate {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub biz_type: i64,
    pub description: Option<Description>,
    pub name: Name,
    pub ref_scope: Option<Token>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelTemplateIdData {
    pub model_template_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateModelTemplateResponse {
    pub data: ModelTemplateIdData,
}

impl Action for CreateModelTemplate {
    type Response = CreateModelTemplateResponse;

    async fn handle(self, ctx: &Ctx) -> Result<CreateModelTemplateResponse, ApiError> {
        let name = required("Name", &self.name)?;
        check_agent_provider("AgentProvider", &self.agent_provider)?;
        check_biz_type(self.biz_type)?;
        let platform = non_empty(self.agent_platform).unwrap_or_else(|| "ENTERPRISE".into());
        check_agent_platform("AgentPlatform", &platform)?;
        let ref_scope =
            models::ref_scope(&platform, self.ref_scope.as_deref()).map_err(model_error)?;
        let group = ModelTemplate {
            id: ids::resource_id("mt", &mut rand::rngs::OsRng),
            tenant_id: ctx.tenant_id.clone(),
            name: name.to_string(),
            description: self.description.map(Text::into_string).unwrap_or_default(),
            agent_platform: platform,
            agent_provider: self.agent_provider.into_string(),
            biz_type: self.biz_type,
            ref_scope,
            source: "User".into(),
            config: "{}".into(),
            model_count: 0,
            created_at: ctx.now_ms,
            updated_at: ctx.now_ms,
        };
        ctx.state
            .store
            .insert_model_template(&group)
            .await
            .map_err(store_failure)?;
        Ok(CreateModelTemplateResponse {
            data: ModelTemplateIdData {
                model_template_id: group.id,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// UpdateModelTemplate

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateModelTemplate {
    pub config: Option<ConfigJson>,
    pub description: Option<Description>,
    pub model_template_id: Id,
    pub name: Option<Name>,
    pub ref_scope: Option<Token>,
}

impl Action for UpdateModelTemplate {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let id = required("ModelTemplateId", &self.model_template_id)?;
        let name = non_empty(self.name);
        let config = non_empty(self.config)
            .map(|text| GroupConfig::parse(&text))
            .transpose()
            .map_err(model_error)?;
        let group = load_group(ctx, id).await?;
        let ref_scope = match non_empty(self.ref_scope) {
            Some(_) if group.agent_platform != "COMMON" => {
                return Err(ApiError::invalid_parameter(
                    "RefScope",
                    "only COMMON model templates take a RefScope; others are always RESOURCE_MIXED",
                ));
            }
            Some(scope) => {
                Some(models::ref_scope(&group.agent_platform, Some(&scope)).map_err(model_error)?)
            }
            None => None,
        };
        let patch = ModelTemplatePatch {
            name,
            description: self.description.map(Text::into_string),
            ref_scope,
            config,
        };
        ctx.state
            .store
            .update_model_template(&ctx.tenant_id, id, &patch, ctx.now_ms)
            .await
            .map_err(change_error)?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// DeleteModelTemplate

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteModelTemplate {
    pub model_template_id: Id,
}

impl Action for DeleteModelTemplate {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let id = required("ModelTemplateId", &self.model_template_id)?;
        ctx.state
            .store
            .delete_model_template(&ctx.tenant_id, id)
            .await
            .map_err(change_error)?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// ListModelTemplates

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListModelTemplates {
    pub agent_platform: Option<Token>,
    pub agent_platform_list: Option<Tokens>,
    pub agent_provider: Option<Token>,
    pub agent_provider_list: Option<Tokens>,
    pub biz_type: i64,
    pub has_model: Option<bool>,
    pub model_template_id_list: Option<Ids<MAX_IDS>>,
    pub name: Option<Filter>,
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub ref_scope: Option<Token>,
    pub source: Option<Token>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelTemplateView {
    pub agent_platform: String,
    pub agent_provider: String,
    pub config: String,
    pub description: String,
    pub has_model: bool,
    pub model_count: i64,
    pub model_template_id: String,
    pub name: String,
    pub ref_scope: String,
    pub source: String,
    /// Grants to users and user groups exist only for USER_MIXED groups; amc has none yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_group_count: Option<i64>,
}

pub type ListModelTemplatesResponse = Paged<Vec<ModelTemplateView>>;

fn model_template_view(group: ModelTemplate) -> ModelTemplateView {
    let user_mixed = group.ref_scope == "USER_MIXED";
    ModelTemplateView {
        agent_platform: group.agent_platform,
        agent_provider: group.agent_provider,
        config: group.config,
        description: group.description,
        has_model: group.model_count > 0,
        model_count: group.model_count,
        model_template_id: group.id,
        name: group.name,
        ref_scope: group.ref_scope,
        source: group.source,
        user_count: user_mixed.then_some(0),
        user_group_count: user_mixed.then_some(0),
    }
}

impl Action for ListModelTemplates {
    type Response = ListModelTemplatesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListModelTemplatesResponse, ApiError> {
        let page = page(self.page_number, self.page_size, 20)?;
        check_biz_type(self.biz_type)?;
        check_optional_platform(self.agent_platform.as_deref())?;
        check_each(
            "AgentPlatformList",
            self.agent_platform_list.as_deref(),
            check_agent_platform,
        )?;
        if let Some(provider) = self.agent_provider.as_deref().filter(|p| !p.is_empty()) {
            check_agent_provider("AgentProvider", provider)?;
        }
        check_each(
            "AgentProviderList",
            self.agent_provider_list.as_deref(),
            check_agent_provider,
        )?;
        let platforms = match (
            non_empty(self.agent_platform),
            non_empty_list(self.agent_platform_list),
        ) {
            (Some(platform), _) => vec![platform],
            (None, Some(list)) => list,
            (None, None) => vec!["ENTERPRISE".into()],
        };
        let providers = non_empty(self.agent_provider)
            .map(|p| vec![p])
            .or_else(|| non_empty_list(self.agent_provider_list));
        let ref_scope = non_empty(self.ref_scope);
        if let Some(scope) = &ref_scope
            && !matches!(scope.as_str(), "ALL_USER" | "USER_MIXED" | "RESOURCE_MIXED")
        {
            return Err(ApiError::invalid_parameter(
                "RefScope",
                "must be ALL_USER, USER_MIXED or RESOURCE_MIXED",
            ));
        }
        let source = non_empty(self.source).unwrap_or_else(|| "User".into());
        if !matches!(source.as_str(), "User" | "System") {
            return Err(ApiError::invalid_parameter(
                "Source",
                "must be User or System",
            ));
        }
        let ids = non_empty_list(self.model_template_id_list);
        let filter = ModelTemplateFilter {
            tenant_id: ctx.tenant_id.clone(),
            biz_type: Some(self.biz_type),
            agent_platforms: Some(platforms),
            agent_providers: providers,
            ids,
            name_contains: non_empty(self.name),
            ref_scope,
            source: Some(source),
            has_model: self.has_model,
        };
        let (groups, total_count) = ctx
            .state
            .store
            .list_model_templates(&filter, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        Ok(Paged::of(
            groups.into_iter().map(model_template_view).collect(),
            &page,
            total_count,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Provider templates

/// No `Debug`: `Config` holds the API key in clear.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateModelProviderTemplate {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub biz_type: i64,
    pub config: ConfigJson,
    pub description: Option<Description>,
    pub enable_wuying_proxy: Option<bool>,
    pub model_template_id: Id,
    pub name: Option<Name>,
    pub provider_name: Token,
    pub provider_type: Option<Token>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProviderTemplateIdData {
    pub provider_template_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateModelProviderTemplateResponse {
    pub data: ProviderTemplateIdData,
}

impl Action for CreateModelProviderTemplate {
    type Response = CreateModelProviderTemplateResponse;

    async fn handle(self, ctx: &Ctx) -> Result<CreateModelProviderTemplateResponse, ApiError> {
        let group_id = required("ModelTemplateId", &self.model_template_id)?;
        check_agent_provider("AgentProvider", &self.agent_provider)?;
        check_biz_type(self.biz_type)?;
        check_optional_platform(self.agent_platform.as_deref())?;
        models::validate_provider_name(&self.provider_name).map_err(model_error)?;
        let kind = match non_empty(self.provider_type) {
            Some(text) => ProviderType::parse(&text).ok_or_else(|| {
                ApiError::invalid_parameter("ProviderType", "must be WuyingCredit, Managed or Custom")
            })?,
            None => ProviderType::infer(&self.provider_name).ok_or_else(|| {
                ApiError::invalid_parameter(
                    "ProviderName",
                    "is neither a catalogue provider nor wuying-credit; Custom providers are named provider-...",
                )
            })?,
        };
        models::check_name_for_type(&self.provider_name, kind).map_err(model_error)?;
        let name = non_empty(self.name);
        let input = if kind == ProviderType::WuyingCredit && self.config.trim().is_empty() {
            ProviderConfigInput::default()
        } else {
            ProviderConfigInput::parse(required("Config", &self.config)?).map_err(model_error)?
        };
        let enable_proxy = self
            .enable_wuying_proxy
            .unwrap_or(kind == ProviderType::WuyingCredit);
        let connection =
            models::resolve_connection(kind, &self.provider_name, &input, enable_proxy)
                .map_err(model_error)?;

        let group = load_group(ctx, group_id).await?;
        if group.agent_provider != self.agent_provider.as_str() {
            return Err(ApiError::invalid_parameter(
                "AgentProvider",
                format!(
                    "model template {} is for {}",
                    group.id, group.agent_provider
                ),
            ));
        }
        if group.biz_type != self.biz_type {
            return Err(ApiError::invalid_parameter(
                "BizType",
                format!("model template {} has BizType {}", group.id, group.biz_type),
            ));
        }
        if let Some(platform) = non_empty(self.agent_platform)
            && platform != group.agent_platform
        {
            return Err(ApiError::invalid_parameter(
                "AgentPlatform",
                format!("model template {} is on {}", group.id, group.agent_platform),
            ));
        }
        let provider = ProviderTemplate {
            id: ids::resource_id("mpt", &mut rand::rngs::OsRng),
            tenant_id: ctx.tenant_id.clone(),
            model_template_id: group.id,
            name: name.unwrap_or_else(|| self.provider_name.to_string()),
            provider_name: self.provider_name.into_string(),
            provider_type: kind.as_str().into(),
            description: self.description.map(Text::into_string).unwrap_or_default(),
            agent_platform: group.agent_platform,
            agent_provider: group.agent_provider,
            biz_type: group.biz_type,
            base_url: connection.base_url,
            api: connection.api,
            api_key: connection.api_key.map(Secret::new),
            enable_wuying_proxy: enable_proxy,
            created_at: ctx.now_ms,
            updated_at: ctx.now_ms,
        };
        ctx.state
            .store
            .insert_provider_template(&provider)
            .await
            .map_err(change_error)?;
        Ok(CreateModelProviderTemplateResponse {
            data: ProviderTemplateIdData {
                provider_template_id: provider.id,
            },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateModelProviderTemplate {
    pub config: Option<ProviderConfigPatch>,
    pub description: Option<Description>,
    pub enable_wuying_proxy: Option<bool>,
    pub name: Option<Name>,
    pub provider_template_id: Id,
}

/// Update's `Config` (`Config.ApiKey`, or one JSON parameter), with the lengths the connection
/// rules allow; both key spellings, as [`ProviderConfigInput`] takes them. `Debug` redacts the
/// key.
#[derive(Default, Deserialize)]
pub struct ProviderConfigPatch {
    #[serde(default, alias = "baseUrl", alias = "BaseUrl", alias = "base_url")]
    pub base_url: Option<Text<0, { models::MAX_URL_LEN }>>,
    #[serde(default, alias = "apiKey", alias = "ApiKey", alias = "api_key")]
    pub api_key: Option<Text<0, { models::MAX_KEY_LEN }>>,
    #[serde(default, alias = "ApiType", alias = "apiType", alias = "Api")]
    pub api: Option<Token>,
}

impl std::fmt::Debug for ProviderConfigPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfigPatch")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("api", &self.api)
            .finish()
    }
}

impl From<ProviderConfigPatch> for ProviderConfigInput {
    fn from(patch: ProviderConfigPatch) -> ProviderConfigInput {
        ProviderConfigInput {
            base_url: patch.base_url.map(Text::into_string),
            api_key: patch.api_key.map(Text::into_string),
            api: patch.api.map(Text::into_string),
        }
    }
}

/// Update's Config uses the SDK's PascalCase names; errors name the parameter that way.
fn update_param(error: ModelError) -> ModelError {
    let rename = |param: String| match param.as_str() {
        "Config.apiKey" => "Config.ApiKey".to_string(),
        "Config.baseUrl" => "Config.BaseUrl".to_string(),
        "Config.api" => "Config.ApiType".to_string(),
        _ => param,
    };
    match error {
        ModelError::Missing(param) => ModelError::Missing(rename(param)),
        ModelError::Invalid { param, reason } => ModelError::Invalid {
            param: rename(param),
            reason,
        },
    }
}

impl Action for UpdateModelProviderTemplate {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let id = required("ProviderTemplateId", &self.provider_template_id)?;
        let name = non_empty(self.name);
        let patch = ProviderConfigInput::from(self.config.unwrap_or_default());
        // Merged with the template as stored, in the store's transaction: two updates of
        // different fields at once both land.
        let merge = |mut provider: ProviderTemplate| {
            let kind = ProviderType::parse(&provider.provider_type).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "provider type {:?} of {id}",
                    provider.provider_type
                ))
            })?;
            let current_key = provider.api_key.as_ref().map(|k| k.expose().to_string());
            // A caller that sends back the masked key it was shown means "keep the key".
            let api_key = match patch.api_key.clone().filter(|k| !k.is_empty()) {
                Some(key) if Some(&key) == provider.masked_api_key().as_ref() => current_key,
                Some(key) => Some(key),
                None => current_key,
            };
            let merged = ProviderConfigInput {
                base_url: non_empty(patch.base_url.clone())
                    .or_else(|| Some(provider.base_url.clone()).filter(|u| !u.is_empty())),
                api: non_empty(patch.api.clone()).or_else(|| Some(provider.api.clone())),
                api_key,
            };
            let enable_proxy = self
                .enable_wuying_proxy
                .unwrap_or(provider.enable_wuying_proxy);
            let connection =
                models::resolve_connection(kind, &provider.provider_name, &merged, enable_proxy)
                    .map_err(update_param)?;
            if let Some(name) = &name {
                provider.name = name.clone();
            }
            if let Some(description) = &self.description {
                provider.description = description.to_string();
            }
            provider.base_url = connection.base_url;
            provider.api = connection.api;
            provider.api_key = connection.api_key.map(Secret::new);
            provider.enable_wuying_proxy = enable_proxy;
            provider.updated_at = ctx.now_ms;
            Ok::<_, ModelChangeError>(provider)
        };
        ctx.state
            .store
            .update_provider_template(&ctx.tenant_id, id, merge)
            .await
            .map_err(change_error)?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteModelProviderTemplate {
    pub provider_template_id: Id,
}

impl Action for DeleteModelProviderTemplate {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let id = required("ProviderTemplateId", &self.provider_template_id)?;
        ctx.state
            .store
            .delete_provider_template(&ctx.tenant_id, id, ctx.now_ms)
            .await
            .map_err(change_error)?;
        Ok(Empty {})
    }
}

/// The connection JSON a response shows: the keys `CreateModelProviderTemplate` takes, the API
/// key masked.
fn config_view(provider: &ProviderTemplate) -> String {
    let mut map = Map::new();
    map.insert("api".into(), Value::String(provider.api.clone()));
    if let Some(masked) = provider.masked_api_key() {
        map.insert("apiKey".into(), Value::String(masked));
    }
    if !provider.base_url.is_empty() {
        map.insert("baseUrl".into(), Value::String(provider.base_url.clone()));
    }
    Value::Object(map).to_string()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProviderTemplateView {
    pub config: String,
    pub description: String,
    pub enable_wuying_proxy: bool,
    pub name: String,
    pub provider_name: String,
    pub provider_template_id: String,
    pub provider_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wuying_provider_key: Option<String>,
}

fn provider_view(provider: ProviderTemplate) -> ProviderTemplateView {
    ProviderTemplateView {
        config: config_view(&provider),
        description: provider.description,
        enable_wuying_proxy: provider.enable_wuying_proxy,
        name: provider.name,
        // The key amc's proxy will route this provider's traffic by.
        wuying_provider_key: provider
            .enable_wuying_proxy
            .then(|| provider.provider_name.clone()),
        provider_name: provider.provider_name,
        provider_template_id: provider.id,
        provider_type: provider.provider_type,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetModelProviderTemplate {
    pub provider_template_id: Id,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetModelProviderTemplateResponse {
    pub data: ProviderTemplateView,
}

impl Action for GetModelProviderTemplate {
    type Response = GetModelProviderTemplateResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GetModelProviderTemplateResponse, ApiError> {
        let id = required("ProviderTemplateId", &self.provider_template_id)?;
        let provider = load_provider(ctx, id).await?;
        Ok(GetModelProviderTemplateResponse {
            data: provider_view(provider),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListModelProviderTemplates {
    pub agent_platform: Option<Token>,
    pub agent_provider: Token,
    pub biz_type: i64,
    pub model_template_id: Option<Id>,
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub provider_name: Option<Token>,
    pub provider_template_ids: Option<Ids<MAX_IDS>>,
}

pub type ListModelProviderTemplatesResponse = Paged<Vec<ProviderTemplateView>>;

impl Action for ListModelProviderTemplates {
    type Response = ListModelProviderTemplatesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListModelProviderTemplatesResponse, ApiError> {
        check_agent_provider("AgentProvider", &self.agent_provider)?;
        check_biz_type(self.biz_type)?;
        check_optional_platform(self.agent_platform.as_deref())?;
        let page = page(self.page_number, self.page_size, 20)?;
        let ids = non_empty_list(self.provider_template_ids);
        let filter = ProviderTemplateFilter {
            tenant_id: ctx.tenant_id.clone(),
            agent_provider: Some(self.agent_provider.into_string()),
            agent_platform: non_empty(self.agent_platform),
            biz_type: Some(self.biz_type),
            model_template_id: non_empty(self.model_template_id),
            provider_name: non_empty(self.provider_name),
            ids,
        };
        let (providers, total_count) = ctx
            .state
            .store
            .list_provider_templates(&filter, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        Ok(Paged::of(
            providers.into_iter().map(provider_view).collect(),
            &page,
            total_count,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// ListModelProviderEndpoints

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListModelProviderEndpoints {
    pub agent_platform: Option<Token>,
    pub agent_provider: Option<Token>,
    pub biz_type: Option<i64>,
    pub provider_name: Option<Token>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointView {
    pub api_type: &'static str,
    pub base_url: &'static str,
    pub description: &'static str,
    pub name: &'static str,
    pub provider_url: &'static str,
    pub tags: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProviderEndpointsView {
    pub description: &'static str,
    pub endpoints: Vec<EndpointView>,
    pub provider_name: &'static str,
    pub provider_url: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListModelProviderEndpointsResponse {
    pub data: Vec<ProviderEndpointsView>,
}

impl Action for ListModelProviderEndpoints {
    type Response = ListModelProviderEndpointsResponse;

    async fn handle(self, _ctx: &Ctx) -> Result<ListModelProviderEndpointsResponse, ApiError> {
        check_optional_platform(self.agent_platform.as_deref())?;
        if let Some(biz_type) = self.biz_type {
            check_biz_type(biz_type)?;
        }
        let agent = non_empty(self.agent_provider);
        if let Some(agent) = &agent {
            check_agent_provider("AgentProvider", agent)?;
        }
        let wanted = non_empty(self.provider_name);
        let data = providers::CATALOGUE
            .iter()
            .filter(|vendor| match &wanted {
                Some(name) => providers::find(name).is_some_and(|v| v.name == vendor.name),
                None => true,
            })
            .map(|vendor| ProviderEndpointsView {
                description: vendor.description,
                endpoints: vendor
                    .endpoints
                    .iter()
                    .map(|e| EndpointView {
                        api_type: e.api,
                        base_url: e.base_url,
                        description: e.description,
                        name: e.name,
                        provider_url: vendor.provider_url,
                        tags: e.tags.to_vec(),
                    })
                    .collect(),
                provider_name: vendor.name_for(agent.as_deref()),
                provider_url: vendor.provider_url,
            })
            .collect();
        Ok(ListModelProviderEndpointsResponse { data })
    }
}

// ---------------------------------------------------------------------------------------------
// LLM templates

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LlmTemplateItem {
    pub config: Option<ConfigJson>,
    pub description: Option<Description>,
    pub is_default_model: Option<bool>,
    pub llm_code: Option<Text<0, { models::MAX_LLM_CODE_LEN }>>,
    pub name: Option<LlmName>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchCreateLlmTemplates {
    pub llm_template_items: Option<List<LlmTemplateItem, MAX_BATCH>>,
    pub model_template_id: Option<Id>,
    pub provider_template_id: Id,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkippedItem {
    pub llm_code: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchCreateLlmTemplatesData {
    pub llm_template_ids: Vec<String>,
    pub skipped_items: Vec<SkippedItem>,
    pub success_count: i64,
    pub total_count: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchCreateLlmTemplatesResponse {
    pub data: BatchCreateLlmTemplatesData,
}

/// Validates one item; `n` is its 1-based position for parameter names.
fn new_llm(n: usize, item: LlmTemplateItem) -> Result<NewLlmTemplate, ApiError> {
    let param = |field: &str| format!("LlmTemplateItems.{n}.{field}");
    let code =
        non_empty(item.llm_code).ok_or_else(|| ApiError::missing_parameter(&param("LlmCode")))?;
    models::validate_llm_code(&code).map_err(|e| match e {
        ModelError::Invalid { reason, .. } => {
            ApiError::invalid_parameter(&param("LlmCode"), reason)
        }
        ModelError::Missing(_) => ApiError::missing_parameter(&param("LlmCode")),
    })?;
    let name = non_empty(item.name).unwrap_or_else(|| code.clone());
    let config = non_empty(item.config).unwrap_or_else(|| "{}".into());
    let facts = LlmFacts::parse(&param("Config"), &config).map_err(model_error)?;
    Ok(NewLlmTemplate {
        id: ids::resource_id("llmt", &mut rand::rngs::OsRng),
        llm_code: code,
        name,
        description: item.description.map(Text::into_string).unwrap_or_default(),
        config,
        is_default: item.is_default_model == Some(true),
        prices: facts.prices,
        credit_multiplier: facts.credit_multiplier,
    })
}

impl Action for BatchCreateLlmTemplates {
    type Response = BatchCreateLlmTemplatesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<BatchCreateLlmTemplatesResponse, ApiError> {
        let provider_id = required("ProviderTemplateId", &self.provider_template_id)?;
        let items = self.llm_template_items.unwrap_or_default();
        if items.is_empty() {
            return Err(ApiError::missing_parameter("LlmTemplateItems"));
        }
        let total_count = items.len() as i64;
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(items.len());
        let mut skipped = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let model = new_llm(i + 1, item)?;
            if seen.insert(model.llm_code.clone()) {
                fresh.push(model);
            } else {
                skipped.push(SkippedItem {
                    llm_code: model.llm_code,
                    reason: "The same llmCode appears earlier in this request.".into(),
                });
            }
        }
        if fresh.iter().filter(|m| m.is_default).count() > 1 {
            return Err(ApiError::invalid_parameter(
                "LlmTemplateItems",
                "at most one item can be the default model",
            ));
        }
        let provider = load_provider(ctx, provider_id).await?;
        if let Some(group_id) = non_empty(self.model_template_id) {
            load_group(ctx, &group_id).await?;
            if group_id != provider.model_template_id {
                return Err(ApiError::invalid_parameter(
                    "ModelTemplateId",
                    format!(
                        "provider {} belongs to model template {}",
                        provider.id, provider.model_template_id
                    ),
                ));
            }
        }
        let outcome = ctx
            .state
            .store
            .batch_create_llm_templates(&ctx.tenant_id, provider_id, &fresh, ctx.now_ms)
            .await
            .map_err(change_error)?;
        skipped.extend(
            outcome
                .skipped
                .into_iter()
                .map(|(llm_code, reason)| SkippedItem { llm_code, reason }),
        );
        Ok(BatchCreateLlmTemplatesResponse {
            data: BatchCreateLlmTemplatesData {
                success_count: outcome.created.len() as i64,
                llm_template_ids: outcome.created,
                skipped_items: skipped,
                total_count,
            },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLlmTemplate {
    pub llm_template_id: Id,
}

impl Action for DeleteLlmTemplate {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let id = required("LlmTemplateId", &self.llm_template_id)?;
        ctx.state
            .store
            .delete_llm_template(&ctx.tenant_id, id, ctx.now_ms)
            .await
            .map_err(change_error)?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListLlmTemplates {
    pub biz_type: Option<i64>,
    pub llm_code: Option<Filter>,
    pub llm_template_ids: Option<Ids<MAX_IDS>>,
    pub model_template_id: Option<Id>,
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub provider_template_id: Option<Id>,
    pub smart_model: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreditMultiplierView {
    pub max: Option<f64>,
    pub min: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InferenceMetadataView {
    pub request_modality: Vec<String>,
    pub response_modality: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PriceView {
    pub price: String,
    pub price_name: &'static str,
    pub price_unit: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PriceBandView {
    pub prices: Vec<PriceView>,
    pub range_name: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LlmTemplateView {
    pub config: String,
    pub credit_multiplier: Option<CreditMultiplierView>,
    pub description: String,
    pub features: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_metadata: Option<InferenceMetadataView>,
    pub is_default_model: bool,
    pub llm_code: String,
    pub llm_template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_info: Option<Map<String, Value>>,
    pub name: String,
    pub prices: Vec<PriceBandView>,
    pub provider_template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_time: Option<String>,
}

pub type ListLlmTemplatesResponse = Paged<Vec<LlmTemplateView>>;

/// The view of a stored model. Its Config was validated on the way in: one that no longer
/// parses is corruption, reported rather than shown without its facts.
pub(crate) fn llm_view(model: LlmTemplate) -> Result<LlmTemplateView, ApiError> {
    let facts = LlmFacts::parse("Config", &model.config)
        .map_err(|e| internal(format!("stored Config of LLM template {}: {e}", model.id)))?;
    let number = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<f64>().ok());
    let priced = [
        ("Input", &model.prices.input),
        ("Output", &model.prices.output),
        ("CacheRead", &model.prices.cache_read),
        ("CacheWrite", &model.prices.cache_write),
    ];
    let prices: Vec<PriceView> = priced
        .into_iter()
        .filter_map(|(name, price)| {
            price.clone().map(|price| PriceView {
                price,
                price_name: name,
                price_unit: "per 1M tokens",
            })
        })
        .collect();
    Ok(LlmTemplateView {
        credit_multiplier: model
            .credit_multiplier
            .as_ref()
            .map(|c| CreditMultiplierView {
                max: number(&c.max),
                min: number(&c.min),
            }),
        config: model.config,
        description: model.description,
        features: facts.features,
        inference_metadata: (!facts.request_modality.is_empty()
            || !facts.response_modality.is_empty())
        .then_some(InferenceMetadataView {
            request_modality: facts.request_modality,
            response_modality: facts.response_modality,
        }),
        is_default_model: model.is_default,
        llm_code: model.llm_code,
        llm_template_id: model.id,
        model_info: (!facts.model_info.is_empty()).then_some(facts.model_info),
        name: model.name,
        prices: if prices.is_empty() {
            Vec::new()
        } else {
            vec![PriceBandView {
                prices,
                range_name: "Default",
            }]
        },
        provider_template_id: model.provider_template_id,
        published_time: facts.published_time,
    })
}

impl Action for ListLlmTemplates {
    type Response = ListLlmTemplatesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListLlmTemplatesResponse, ApiError> {
        let page = page(self.page_number, self.page_size, 20)?;
        let ids = non_empty_list(self.llm_template_ids);
        if let Some(biz_type) = self.biz_type {
            check_biz_type(biz_type)?;
        }
        if self.smart_model == Some(true) {
            if self.biz_type.is_none() {
                return Err(ApiError::missing_parameter("BizType"));
            }
            // Smart-model tiers are system presets amc does not have: nothing is behind them.
            return Ok(Paged::of(Vec::new(), &page, 0));
        }
        let filter = LlmTemplateFilter {
            tenant_id: ctx.tenant_id.clone(),
            model_template_id: non_empty(self.model_template_id),
            provider_template_id: non_empty(self.provider_template_id),
            llm_code_contains: non_empty(self.llm_code),
            ids,
        };
        let (models, total_count) = ctx
            .state
            .store
            .list_llm_templates(&filter, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        Ok(Paged::of(
            models.into_iter().map(llm_view).collect::<Result<_, _>>()?,
            &page,
            total_count,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_stored_model_config_is_an_internal_error() {
        // issue: contention (swallowed errors)
        let model = |config: &str| LlmTemplate {
            id: "llmt-1".into(),
            tenant_id: "t".into(),
            model_template_id: "mt-1".into(),
            provider_template_id: "mpt-1".into(),
            provider_name: "bailian".into(),
            llm_code: "qwen-max".into(),
            name: "Qwen".into(),
            description: String::new(),
            config: config.into(),
            is_default: false,
            prices: Default::default(),
            credit_multiplier: None,
            created_at: 0,
            updated_at: 0,
        };
        assert!(llm_view(model(r#"{"features":["function-calling"]}"#)).is_ok());
        let broken = llm_view(model("not json")).map(|_| ());
        assert_eq!(
            broken.map_err(|e| (e.status, e.code)),
            Err((500, "InternalError".into()))
        );
    }

    #[test]
    fn update_errors_use_the_sdk_names() {
        let e = update_param(ModelError::invalid("Config.baseUrl", "bad"));
        assert_eq!(e.param(), "Config.BaseUrl");
        let e = update_param(ModelError::Missing("Config.apiKey".into()));
        assert_eq!(e.param(), "Config.ApiKey");
        assert_eq!(
            update_param(ModelError::invalid("Name", "x")).param(),
            "Name"
        );
    }

    #[test]
    fn items_are_validated_with_their_position() {
        let item = |code: Option<&str>, config: Option<&str>| LlmTemplateItem {
            config: config.and_then(|c| Text::new(c).ok()),
            description: None,
            is_default_model: None,
            llm_code: code.and_then(|c| Text::new(c).ok()),
            name: None,
        };
        let missing = new_llm(3, item(None, None)).err();
        assert_eq!(
            missing.as_ref().map(|e| e.code.as_ref()),
            Some("MissingParameter")
        );
        assert!(missing.is_some_and(|e| e.message.contains("LlmTemplateItems.3.LlmCode")));
        let bad = new_llm(2, item(Some("m"), Some("{\"cost\":{\"input\":-2}}"))).err();
        assert!(bad.is_some_and(
            |e| e.code == "InvalidParameter" && e.message.contains("LlmTemplateItems.2.Config")
        ));
        let ok = new_llm(
            1,
            item(
                Some("qwen-max"),
                Some(r#"{"cost":{"input":1.6,"output":6.4}}"#),
            ),
        );
        let Ok(ok) = ok else {
            panic!("valid item refused")
        };
        assert_eq!(ok.name, "qwen-max");
        assert_eq!(ok.prices.output.as_deref(), Some("6.4"));
        assert!(ok.id.starts_with("llmt-"));
    }

    #[test]
    fn views_mask_the_key() {
        let provider = ProviderTemplate {
            id: "mpt-1".into(),
            tenant_id: "t".into(),
            model_template_id: "mt-1".into(),
            provider_name: "deepseek".into(),
            provider_type: "Managed".into(),
            name: "DeepSeek".into(),
            description: String::new(),
            agent_platform: "ENTERPRISE".into(),
            agent_provider: "OpenClaw".into(),
            biz_type: 1,
            base_url: "https://api.deepseek.com/v1".into(),
            api: "openai-completions".into(),
            api_key: Some(Secret::new("sk-planted-0123456789abcdef")),
            enable_wuying_proxy: false,
            created_at: 0,
            updated_at: 0,
        };
        let view = config_view(&provider);
        assert!(!view.contains("0123456789"), "{view}");
        assert_eq!(
            serde_json::from_str::<Value>(&view).ok(),
            Some(serde_json::json!({
                "api": "openai-completions",
                "apiKey": "sk-p****cdef",
                "baseUrl": "https://api.deepseek.com/v1"
            }))
        );
    }
}
