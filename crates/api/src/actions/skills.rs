//! The skill center (ecd 2021-06-02): temporary upload credentials, package parse tasks, the
//! tenant's skills and their versions, grants to runtimes, and the runtimes under the skill
//! security policy.
//!
//! Uploads go to amc's own OSS-compatible endpoint (`/<bucket>/<key>` on the API's listener)
//! with the credentials `GetOssStsToken` mints: scoped to the tenant's prefix of the bucket and
//! valid for `SkillSettings::grant_ttl_ms`. Parsing runs on a worker (see the `skill_jobs` of the
//! server): `ParseSkillPackage` only records the task.

use std::collections::BTreeMap;

use domain::ids;
use domain::skills::{self as rules, CHANNELS, ParsedPackage};
use pop::{ApiError, List, Text};
use serde::{Deserialize, Serialize};
use store::Secret;
use store::skills::{ParseStatus, ParseTask, Skill, SkillCreated, SkillVersion, UploadGrant};

use super::Action;
use super::common::random_text;
use super::common::{Empty, non_empty, page, runtime_not_found, utc_seconds};
use super::limits::{Id, Ids, MAX_IDS, Token};
use crate::Ctx;
use crate::errors::{self, store_failure};

/// What the skill center's uploads are allowed: set by the server.
#[derive(Debug, Clone)]
pub struct SkillSettings {
    /// How long `GetOssStsToken`'s credentials last.
    pub grant_ttl_ms: i64,
    /// The largest object an upload may leave.
    pub max_object_bytes: i64,
    /// The region named in `OssRegion`.
    pub oss_region: String,
}

impl Default for SkillSettings {
    fn default() -> SkillSettings {
        SkillSettings {
            grant_ttl_ms: 3_600_000,
            max_object_bytes: 512 * 1024 * 1024,
            oss_region: "oss-cn-hangzhou".into(),
        }
    }
}

const FILE_TYPES: [&str; 2] = ["SKILL", "ICON"];

fn check_channel(value: Option<&str>, required: bool) -> Result<String, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None if required => Err(errors::MISSING_PARAMETER.error(&[&"SkillChannel"])),
        None => Ok("ENTERPRISE".into()),
        Some(v) if CHANNELS.contains(&v) => Ok(v.to_string()),
        Some(_) => Err(ApiError::invalid_parameter(
            "SkillChannel",
            "must be ENTERPRISE or BUSINESS",
        )),
    }
}

fn ids_of(list: Option<Ids<MAX_IDS>>) -> Vec<String> {
    let mut ids: Vec<String> = list
        .map(|l| l.into_vec().into_iter().map(Text::into_string).collect())
        .unwrap_or_default();
    ids.retain(|s| !s.is_empty());
    ids.sort();
    ids.dedup();
    ids
}

/// The skills among `ids` must all be the tenant's: a batch naming another is refused whole.
async fn check_skills(ctx: &Ctx, ids: &[String]) -> Result<(), ApiError> {
    let found = ctx
        .state
        .store
        .existing_skills(&ctx.tenant_id, ids)
        .await
        .map_err(store_failure)?;
    match ids.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(errors::SKILL_NOT_FOUND.error(&[missing])),
        None => Ok(()),
    }
}

/// The runtimes named must all be the tenant's live runtimes.
async fn check_runtimes(ctx: &Ctx, ids: &[String]) -> Result<(), ApiError> {
    let found = ctx
        .state
        .store
        .runtimes_by_ids(&ctx.tenant_id, ids)
        .await
        .map_err(store_failure)?;
    for id in ids {
        let live = found
            .iter()
            .any(|r| &r.id == id && r.desktop_status != domain::runtime::DesktopStatus::Deleted);
        if !live {
            return Err(runtime_not_found(id));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GetOssStsToken

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetOssStsToken {
    pub file_type: Option<Token>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OssStsToken {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    pub bucket: String,
    pub object_key_prefix: String,
    pub oss_region: String,
}

impl Action for GetOssStsToken {
    type Response = OssStsToken;

    async fn handle(self, ctx: &Ctx) -> Result<OssStsToken, ApiError> {
        let file_type = non_empty(self.file_type).unwrap_or_else(|| "SKILL".into());
        if !FILE_TYPES.contains(&file_type.as_str()) {
            return Err(ApiError::invalid_parameter(
                "FileType",
                "must be SKILL or ICON",
            ));
        }
        let settings = &ctx.state.skills;
        let key_id = format!("STS.{}", random_text(24));
        let secret = random_text(40);
        let token = random_text(96);
        let prefix = rules::upload_prefix(&ctx.tenant_id, &file_type);
        let grant = UploadGrant {
            key_id: key_id.clone(),
            tenant_id: ctx.tenant_id.clone(),
            token_hash: domain::secrets::hash(&token),
            bucket: rules::BUCKET.into(),
            prefix: prefix.clone(),
            file_type,
            max_bytes: settings.max_object_bytes,
            expires_at: ctx.now_ms + settings.grant_ttl_ms,
            created_at: ctx.now_ms,
        };
        ctx.state
            .store
            .create_upload_grant(&grant, &secret)
            .await
            .map_err(store_failure)?;
        Ok(OssStsToken {
            access_key_id: key_id,
            access_key_secret: secret,
            security_token: token,
            bucket: rules::BUCKET.into(),
            object_key_prefix: prefix,
            oss_region: settings.oss_region.clone(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// ParseSkillPackage

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParseSkillPackage {
    pub oss_object_e_tag: Text<1, 128>,
    pub oss_object_key: Text<1, 1024>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskStarted {
    pub task_key: String,
}

impl Action for ParseSkillPackage {
    type Response = TaskStarted;

    async fn handle(self, ctx: &Ctx) -> Result<TaskStarted, ApiError> {
        let key = self.oss_object_key.into_string();
        let key = key.trim_start_matches('/');
        let key = key
            .strip_prefix(rules::BUCKET)
            .and_then(|k| k.strip_prefix('/'))
            .unwrap_or(key)
            .to_string();
        // Only the tenant's own uploads: a key elsewhere would read another tenant's package.
        if !key.starts_with(&rules::upload_prefix(&ctx.tenant_id, "SKILL")) || key.contains("..") {
            return Err(ApiError::invalid_parameter(
                "OssObjectKey",
                "must be a key under the ObjectKeyPrefix GetOssStsToken gave for FileType SKILL",
            ));
        }
        let etag = self
            .oss_object_e_tag
            .into_string()
            .trim_matches('"')
            .to_ascii_uppercase();
        let task_key = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
        ctx.state
            .store
            .create_parse_task(&ParseTask {
                task_key: task_key.clone(),
                tenant_id: ctx.tenant_id.clone(),
                object_key: key,
                etag,
                status: ParseStatus::Parsing,
                result: None,
                error_code: None,
                error_message: None,
                attempts: 0,
                created_at: ctx.now_ms,
            })
            .await
            .map_err(store_failure)?;
        ctx.state.parse_jobs.notify();
        Ok(TaskStarted { task_key })
    }
}

// ---------------------------------------------------------------------------------------------
// GetParseProgress

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParseProgress {
    pub task_key: Text<1, 64>,
}

#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ParseProgress {
    pub task_key: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_env_vars: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_api_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParseProgressResponse {
    pub data: ParseProgress,
}

async fn task(ctx: &Ctx, task_key: &str) -> Result<ParseTask, ApiError> {
    ctx.state
        .store
        .parse_task(&ctx.tenant_id, task_key)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| errors::PARSE_TASK_NOT_FOUND.error(&[&task_key]))
}

fn parsed(task: &ParseTask) -> Result<Option<ParsedPackage>, ApiError> {
    task.result
        .as_deref()
        .map(serde_json::from_str::<ParsedPackage>)
        .transpose()
        .map_err(errors::internal)
}

impl Action for GetParseProgress {
    type Response = ParseProgressResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ParseProgressResponse, ApiError> {
        let task = task(ctx, &self.task_key).await?;
        let mut data = ParseProgress {
            task_key: task.task_key.clone(),
            status: task.status.as_str().into(),
            error_code: task.error_code.clone(),
            error_message: task.error_message.clone(),
            ..ParseProgress::default()
        };
        if let Some(package) = parsed(&task)? {
            data.slug = Some(package.name.clone());
            data.skill_name = Some(package.name);
            data.description = Some(package.description);
            data.version = package.version;
            data.required_env_vars = Some(package.required_env_vars);
            data.requires_api_key = Some(package.requires_api_key);
        }
        Ok(ParseProgressResponse { data })
    }
}

// ---------------------------------------------------------------------------------------------
// CreateTenantSkill

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTenantSkill {
    pub api_key: Option<Text<0, 1024>>,
    pub description: Option<Text<0, 500>>,
    pub display_name: Option<Text<0, 128>>,
    /// A JSON object of names to values.
    pub env_vars: Option<Text<0, 16384>>,
    pub icon_e_tag: Option<Text<0, 128>>,
    pub skill_channel: Option<Token>,
    pub skill_icon: Option<Text<0, 1024>>,
    pub skill_version: Option<Text<0, 64>>,
    pub slug: Option<Text<0, 64>>,
    pub task_key: Option<Text<0, 64>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkillCreatedResponse {
    pub skill_id: String,
}

fn env_vars(text: Option<&str>) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let vars: BTreeMap<String, String> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid_parameter("EnvVars", "must be a JSON object of names to text values")
    })?;
    if vars.len() > 100 {
        return Err(ApiError::invalid_parameter(
            "EnvVars",
            "holds at most 100 variables",
        ));
    }
    for name in vars.keys() {
        let valid = !name.is_empty()
            && name.len() <= 128
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ApiError::invalid_parameter(
                "EnvVars",
                format!("{name:?} is not a variable name (letters, digits and _)"),
            ));
        }
    }
    Ok(Some(vars))
}

fn slug_valid(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

impl Action for CreateTenantSkill {
    type Response = SkillCreatedResponse;

    async fn handle(self, ctx: &Ctx) -> Result<SkillCreatedResponse, ApiError> {
        let channel = check_channel(self.skill_channel.as_deref(), false)?;
        let task_key = non_empty(self.task_key)
            .ok_or_else(|| errors::MISSING_PARAMETER.error(&[&"TaskKey"]))?;
        let vars = env_vars(self.env_vars.as_deref())?;
        let task = task(ctx, &task_key).await?;
        let package = match (task.status, parsed(&task)?) {
            (ParseStatus::Completed, Some(package)) => package,
            (status, _) => {
                return Err(errors::PARSE_TASK_NOT_COMPLETED.error(&[&task_key, &status.as_str()]));
            }
        };
        let slug = non_empty(self.slug).unwrap_or_else(|| package.name.clone());
        if !slug_valid(&slug) {
            return Err(ApiError::invalid_parameter(
                "Slug",
                "must be 1 to 64 of a-z, 0-9 and -, not starting or ending with -",
            ));
        }
        let version = non_empty(self.skill_version)
            .or(package.version.clone())
            .unwrap_or_else(|| "1.0.0".into());
        if let Some(missing) = package
            .required_env_vars
            .iter()
            .find(|name| !vars.as_ref().is_some_and(|v| v.contains_key(*name)))
            .filter(|_| vars.is_some())
        {
            return Err(ApiError::invalid_parameter(
                "EnvVars",
                format!("the package requires {missing}"),
            ));
        }
        let icon = non_empty(self.skill_icon);
        if icon.is_some() && non_empty(self.icon_e_tag).is_none() {
            return Err(errors::MISSING_PARAMETER.error(&[&"IconETag"]));
        }
        let skill = Skill {
            id: ids::resource_id("s", &mut rand::rngs::OsRng),
            tenant_id: ctx.tenant_id.clone(),
            channel,
            slug,
            skill_name: package.name.clone(),
            display_name: non_empty(self.display_name).unwrap_or_else(|| package.name.clone()),
            description: non_empty(self.description)
                .unwrap_or_else(|| package.description.chars().take(500).collect()),
            author: ctx.tenant_id.clone(),
            enabled: true,
            env_vars: vars
                .map(|v| serde_json::to_string(&v).map(Secret::new))
                .transpose()
                .map_err(errors::internal)?,
            api_key: non_empty(self.api_key).map(Secret::new),
            icon_key: icon,
            default_version: version.clone(),
            created_at: ctx.now_ms,
            versions: Vec::new(),
        };
        let findings = serde_json::to_string(&package.findings).map_err(errors::internal)?;
        let skill_version = SkillVersion {
            version: version.clone(),
            task_key: task.task_key.clone(),
            object_key: task.object_key.clone(),
            sha256: package.sha256.clone(),
            size: i64::try_from(package.size).unwrap_or(i64::MAX),
            scan_status: rules::scan_status(&package.risk).into(),
            scan_score: i64::from(package.score),
            scan_risk: package.risk.clone(),
            scan_fail_reason: package.fail_reason.clone().unwrap_or_default(),
            findings,
            created_at: ctx.now_ms,
        };
        match ctx
            .state
            .store
            .create_skill(&skill, &skill_version)
            .await
            .map_err(store_failure)?
        {
            SkillCreated::New(id) | SkillCreated::Version(id) => {
                Ok(SkillCreatedResponse { skill_id: id })
            }
            SkillCreated::VersionExists(id) => {
                Err(errors::SKILL_VERSION_EXISTS.error(&[&id, &version]))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ListSkills

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSkills {
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub skill_channel: Token,
    pub skill_ids: Option<Ids<MAX_IDS>>,
    pub supplier_type: Option<Token>,
    pub tag_codes: Option<List<Token, 50>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionView {
    pub change_log: String,
    pub created_at: i64,
    pub publish_status: String,
    pub security_scan_fail_reason: String,
    pub security_scan_score: i64,
    pub security_scan_status: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkillView {
    pub api_key: String,
    pub author: String,
    pub default_version: String,
    pub description: String,
    pub display_name: String,
    pub enable: bool,
    pub env_vars: BTreeMap<String, String>,
    pub gmt_created: String,
    pub skill_icon_url: String,
    pub skill_id: String,
    pub skill_name: String,
    pub skill_versions: Vec<VersionView>,
    pub slug: String,
    pub source_market: String,
    pub source_market_name: String,
    pub supplier_type: String,
    pub support_agent_list: Vec<TagView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagView {
    pub tag_id: String,
    pub tag_value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkillsPage {
    pub skills: Vec<SkillView>,
    pub total_count: i64,
}

/// Values are masked on every read: environment variables of skills are often credentials.
fn masked_vars(vars: Option<&Secret>) -> BTreeMap<String, String> {
    vars.and_then(|v| serde_json::from_str::<BTreeMap<String, String>>(v.expose()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, domain::models::mask_api_key(&v)))
        .collect()
}

impl Action for ListSkills {
    type Response = SkillsPage;

    async fn handle(self, ctx: &Ctx) -> Result<SkillsPage, ApiError> {
        let channel = check_channel(Some(&self.skill_channel), true)?;
        let page = page(self.page_number, self.page_size, 20)?;
        let supplier = non_empty(self.supplier_type);
        // amc holds the tenant's own skills only; no WUYING catalogue is served.
        if supplier.as_deref().is_some_and(|s| s != "TENANT") {
            return Ok(SkillsPage {
                skills: Vec::new(),
                total_count: 0,
            });
        }
        let ids = ids_of(self.skill_ids);
        let (skills, total) = ctx
            .state
            .store
            .list_skills(&ctx.tenant_id, &channel, &ids, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        let skills = skills
            .into_iter()
            .map(|s| SkillView {
                api_key: s
                    .api_key
                    .as_ref()
                    .map(|k| domain::models::mask_api_key(k.expose()))
                    .unwrap_or_default(),
                author: s.author,
                default_version: s.default_version,
                description: s.description,
                display_name: s.display_name,
                enable: s.enabled,
                env_vars: masked_vars(s.env_vars.as_ref()),
                gmt_created: utc_seconds(s.created_at),
                skill_icon_url: s.icon_key.unwrap_or_default(),
                skill_id: s.id,
                skill_name: s.skill_name,
                skill_versions: s
                    .versions
                    .into_iter()
                    .map(|v| VersionView {
                        change_log: String::new(),
                        created_at: v.created_at / 1000,
                        publish_status: "PUBLISHED".into(),
                        security_scan_fail_reason: v.scan_fail_reason,
                        security_scan_score: v.scan_score,
                        security_scan_status: v.scan_status,
                        version: v.version,
                    })
                    .collect(),
                slug: s.slug,
                source_market: "TENANT".into(),
                source_market_name: "Tenant upload".into(),
                supplier_type: "TENANT".into(),
                support_agent_list: ["OpenClaw", "Hermes"]
                    .iter()
                    .map(|a| TagView {
                        tag_id: a.to_ascii_uppercase(),
                        tag_value: (*a).into(),
                    })
                    .collect(),
            })
            .collect();
        Ok(SkillsPage {
            skills,
            total_count: total,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DeleteTenantSkills, SetTenantSkillEnabled

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteTenantSkills {
    pub skill_channel: Option<Token>,
    pub skill_ids: Option<Ids<MAX_IDS>>,
}

impl Action for DeleteTenantSkills {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        check_channel(self.skill_channel.as_deref(), false)?;
        let ids = ids_of(self.skill_ids);
        if ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"SkillIds"]));
        }
        check_skills(ctx, &ids).await?;
        ctx.state
            .store
            .delete_skills(&ctx.tenant_id, &ids, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetTenantSkillEnabled {
    pub enabled: Option<bool>,
    pub skill_channel: Option<Token>,
    pub skill_ids: Option<Ids<MAX_IDS>>,
}

impl Action for SetTenantSkillEnabled {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        check_channel(self.skill_channel.as_deref(), false)?;
        let enabled = self
            .enabled
            .ok_or_else(|| errors::MISSING_PARAMETER.error(&[&"Enabled"]))?;
        let ids = ids_of(self.skill_ids);
        if ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"SkillIds"]));
        }
        check_skills(ctx, &ids).await?;
        ctx.state
            .store
            .set_skills_enabled(&ctx.tenant_id, &ids, enabled, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

// ---------------------------------------------------------------------------------------------
// SetIdentitySkillAuth, ListSkillAuthedIdentities

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Identity {
    pub identity_id: Option<Id>,
    pub region_id: Option<Text<0, 64>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetIdentitySkillAuth {
    pub auto_install: bool,
    pub identities: List<Identity, MAX_IDS>,
    pub operation_type: Token,
    pub skill_channel: Token,
    pub skill_ids: Ids<MAX_IDS>,
}

/// The runtime ids of `param`'s identities, each with its `IdentityId` and `RegionId`.
fn identity_ids(param: &str, identities: Vec<Identity>) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::with_capacity(identities.len());
    for (i, identity) in identities.into_iter().enumerate() {
        let Some(id) = non_empty(identity.identity_id) else {
            return Err(
                errors::MISSING_PARAMETER.error(&[&format!("{param}.{}.IdentityId", i + 1)])
            );
        };
        if non_empty(identity.region_id).is_none() {
            return Err(errors::MISSING_PARAMETER.error(&[&format!("{param}.{}.RegionId", i + 1)]));
        }
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

impl Action for SetIdentitySkillAuth {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        check_channel(Some(&self.skill_channel), true)?;
        let grant = match self.operation_type.as_ref() {
            "SET_AUTH" => true,
            "CANCEL_AUTH" | "REMOVE_AUTH" => false,
            _ => {
                return Err(ApiError::invalid_parameter(
                    "OperationType",
                    "must be SET_AUTH or CANCEL_AUTH",
                ));
            }
        };
        let skill_ids = ids_of(Some(self.skill_ids));
        let runtime_ids = identity_ids("Identities", self.identities.into_vec())?;
        if skill_ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"SkillIds"]));
        }
        if runtime_ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"Identities"]));
        }
        check_skills(ctx, &skill_ids).await?;
        check_runtimes(ctx, &runtime_ids).await?;
        ctx.state
            .store
            .set_skill_grants(
                &ctx.tenant_id,
                &skill_ids,
                &runtime_ids,
                grant,
                self.auto_install,
                ctx.now_ms,
            )
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSkillAuthedIdentities {
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub skill_channel: Token,
    pub skill_id: Id,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthedIdentity {
    pub auto_install: bool,
    pub identity_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthedIdentities {
    pub identities: Vec<AuthedIdentity>,
    pub total_count: i64,
}

impl Action for ListSkillAuthedIdentities {
    type Response = AuthedIdentities;

    async fn handle(self, ctx: &Ctx) -> Result<AuthedIdentities, ApiError> {
        check_channel(Some(&self.skill_channel), true)?;
        let page = page(self.page_number, self.page_size, 20)?;
        let skill_id = self.skill_id.into_string();
        check_skills(ctx, std::slice::from_ref(&skill_id)).await?;
        let (grants, total) = ctx
            .state
            .store
            .skill_grants(&ctx.tenant_id, &skill_id, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        Ok(AuthedIdentities {
            identities: grants
                .into_iter()
                .map(|(identity_id, auto_install)| AuthedIdentity {
                    auto_install,
                    identity_id,
                })
                .collect(),
            total_count: total,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// SetIdentitySkillSecurity, ListSecureSkillIdentities

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetIdentitySkillSecurity {
    pub enabled: bool,
    pub identity_ids: List<Identity, MAX_IDS>,
    pub skill_channel: Token,
}

impl Action for SetIdentitySkillSecurity {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let channel = check_channel(Some(&self.skill_channel), true)?;
        let runtime_ids = identity_ids("IdentityIds", self.identity_ids.into_vec())?;
        if runtime_ids.is_empty() {
            return Err(errors::MISSING_PARAMETER.error(&[&"IdentityIds"]));
        }
        check_runtimes(ctx, &runtime_ids).await?;
        ctx.state
            .store
            .set_secure_identities(
                &ctx.tenant_id,
                &channel,
                &runtime_ids,
                self.enabled,
                ctx.now_ms,
            )
            .await
            .map_err(store_failure)?;
        Ok(Empty {})
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecureSkillIdentities {
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub skill_channel: Token,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecureIdentities {
    pub identities: Vec<String>,
    pub total_count: i64,
}

impl Action for ListSecureSkillIdentities {
    type Response = SecureIdentities;

    async fn handle(self, ctx: &Ctx) -> Result<SecureIdentities, ApiError> {
        let channel = check_channel(Some(&self.skill_channel), true)?;
        let page = page(self.page_number, self.page_size, 20)?;
        let (identities, total) = ctx
            .state
            .store
            .secure_identities(&ctx.tenant_id, &channel, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        Ok(SecureIdentities {
            identities,
            total_count: total,
        })
    }
}
