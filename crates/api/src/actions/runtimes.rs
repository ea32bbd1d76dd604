//! Runtimes: creating and operating agent hosts (ecd 2020-09-30 `*Desktops`) and the agent
//! runtime listing (appstream-center 2021-09-01 `ListDesktopAgentRuntime`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::catalogue::RuntimeTemplate;
use domain::ids;
use domain::runtime::{AgentStatus, DesktopStatus, Operation};
use pop::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::office_sites::OfficeSiteSummary;
use store::runtimes::{Runtime, RuntimeFilter, RuntimeListing, StepGuard};

use super::Action;
use super::common::{
    Empty, Paged, check_biz_type, encode_token, non_empty, non_empty_list, office_site_not_found,
    page, resource_group_not_found, token_page,
};
use super::limits::{Id, Ids, MAX_IDS, Name, Tags, Token, Tokens, UserId, UserIds, strings};
use crate::Ctx;
use crate::errors::{self, store_failure};
use pop::List;

const MAX_AMOUNT: i64 = 100;

fn desktop_not_found(id: &str) -> ApiError {
    errors::DESKTOP_NOT_FOUND.error(&[&id])
}

fn incorrect_status(id: &str, status: DesktopStatus) -> ApiError {
    errors::INCORRECT_DESKTOP_STATUS.error(&[&format_args!("{id} is {status}")])
}

/// The desktop's own status allows the operation, but another one is still under way on it;
/// the message says which, so the caller knows what to wait for.
fn operation_in_progress(id: &str, runtime: &Runtime, under_way: Operation) -> ApiError {
    let what = match under_way {
        Operation::Create => format!(
            "its agent is still being deployed (agent {})",
            runtime.agent_status
        ),
        Operation::Start => "it is still starting".to_string(),
        Operation::Stop => "it is still stopping".to_string(),
        Operation::Reboot => "it is still rebooting".to_string(),
        Operation::Delete => "it is being deleted".to_string(),
    };
    errors::INCORRECT_DESKTOP_STATUS.error(&[&format_args!(
        "{id} is {}, but {what}; try again when that is done",
        runtime.desktop_status
    )])
}

/// Desktop times as the cloud prints them: UTC to the minute.
fn cloud_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%MZ")
        .to_string()
}

/// A tag as responses show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// CreateDesktops

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesktopAttachment {
    pub image_id: Option<Id>,
    pub desktop_type: Option<Token>,
    pub system_disk_size: Option<i64>,
    pub data_disk_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDesktops {
    pub region_id: Token,
    pub bundle_id: Option<Id>,
    pub desktop_attachment: Option<DesktopAttachment>,
    pub desktop_name: Option<Name>,
    pub desktop_name_suffix: Option<bool>,
    pub amount: Option<i64>,
    pub office_site_id: Option<Id>,
    pub charge_type: Option<Token>,
    /// Documented: 1 to 100 users.
    pub end_user_id: Option<List<UserId, 100>>,
    pub user_assign_mode: Option<Token>,
    pub purchase_options: Option<Value>,
    pub tag: Option<Tags>,
    pub resource_group_id: Option<Id>,
    /// Documented as 2 to 15 characters once expanded; the `name[begin,bits]suffix` pattern is
    /// longer.
    pub hostname: Option<Name>,
    pub policy_group_id: Option<Id>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDesktopsResponse {
    pub desktop_id: Vec<String>,
    pub order_id: String,
}

fn charge_type(value: Option<&str>) -> Result<String, ApiError> {
    match value {
        None | Some("") => Ok("PostPaid".into()),
        Some(v) if v.eq_ignore_ascii_case("postpaid") => Ok("PostPaid".into()),
        Some(v) if v.eq_ignore_ascii_case("prepaid") => Ok("PrePaid".into()),
        Some(_) => Err(ApiError::invalid_parameter(
            "ChargeType",
            "must be PostPaid or PrePaid",
        )),
    }
}

impl CreateDesktops {
    fn template<'c>(&self, ctx: &'c Ctx) -> Result<&'c RuntimeTemplate, ApiError> {
        let catalogue = &ctx.state.catalogue;
        if let Some(bundle_id) = non_empty(self.bundle_id.clone()) {
            return catalogue
                .bundle(&bundle_id)
                .ok_or_else(|| errors::BUNDLE_NOT_FOUND.error(&[&bundle_id]));
        }
        match self
            .desktop_attachment
            .as_ref()
            .and_then(|a| non_empty(a.image_id.clone()))
        {
            Some(image_id) => catalogue
                .image(&image_id)
                .ok_or_else(|| errors::IMAGE_NOT_FOUND.error(&[&image_id])),
            None => Err(ApiError::missing_parameter("BundleId")),
        }
    }

    /// The tags, each key once (lengths and count are checked while decoding).
    fn validate_tags(&self) -> Result<Vec<(String, String)>, ApiError> {
        let tags = self.tag.clone().map(Tags::into_vec).unwrap_or_default();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(tags.len());
        for (i, tag) in tags.into_iter().enumerate() {
            let (key, value) = tag.into_pair();
            if !seen.insert(key.clone()) {
                return Err(ApiError::invalid_parameter(
                    &format!("Tag.{}.Key", i + 1),
                    "must be unique",
                ));
            }
            out.push((key, value.unwrap_or_default()));
        }
        Ok(out)
    }

    /// Authorised users of each of the `amount` desktops, following `UserAssignMode`.
    fn users_per_desktop(&self, amount: i64) -> Result<Vec<Vec<String>>, ApiError> {
        let users = self.end_user_id.clone().map(strings).unwrap_or_default();
        match self.user_assign_mode.as_deref() {
            None | Some("") | Some("ALL") => Ok(vec![users; amount as usize]),
            Some("PER_USER") => {
                if users.len() as i64 != amount {
                    return Err(ApiError::invalid_parameter(
                        "Amount",
                        "with PER_USER, Amount must equal the number of EndUserId",
                    ));
                }
                Ok(users.into_iter().map(|u| vec![u]).collect())
            }
            Some(_) => Err(ApiError::invalid_parameter(
                "UserAssignMode",
                "must be ALL or PER_USER",
            )),
        }
    }
}

impl Action for CreateDesktops {
    type Response = CreateDesktopsResponse;

    async fn handle(self, ctx: &Ctx) -> Result<CreateDesktopsResponse, ApiError> {
        if self.region_id.is_empty() {
            return Err(ApiError::missing_parameter("RegionId"));
        }
        let amount = self.amount.unwrap_or(1);
        if !(1..=MAX_AMOUNT).contains(&amount) {
            return Err(ApiError::invalid_parameter(
                "Amount",
                format!("must be between 1 and {MAX_AMOUNT}"),
            ));
        }
        let template = self.template(ctx)?;
        let office_site_id = non_empty(self.office_site_id.clone());
        if let Some(site_id) = &office_site_id {
            ctx.state
                .store
                .office_site(&ctx.tenant_id, &self.region_id, site_id)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| office_site_not_found(site_id))?;
        }
        let charge_type = charge_type(self.charge_type.as_deref())?;
        let resource_group_id = non_empty(self.resource_group_id.clone());
        if let Some(group_id) = &resource_group_id {
            ctx.state
                .store
                .resource_group(&ctx.tenant_id, group_id)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| resource_group_not_found(group_id))?;
        }
        let tags = self.validate_tags()?;
        let users = self.users_per_desktop(amount)?;
        let attachment = self.desktop_attachment.as_ref();
        let disk = |size: Option<i64>, default: i64, name: &str| match size {
            None => Ok(default),
            Some(s) if (1..=16_384).contains(&s) => Ok(s),
            Some(_) => Err(ApiError::invalid_parameter(
                name,
                "must be between 1 and 16384 GiB",
            )),
        };
        let system_disk = disk(
            attachment.and_then(|a| a.system_disk_size),
            template.system_disk_gib,
            "DesktopAttachment.SystemDiskSize",
        )?;
        let data_disk = disk(
            attachment.and_then(|a| a.data_disk_size),
            template.data_disk_gib,
            "DesktopAttachment.DataDiskSize",
        )?;

        let (progress, next_step_at) = ctx.state.driver.begin(Operation::Create, ctx.now_ms);
        let step = progress.current().ok_or_else(ApiError::internal)?;
        let mut rng = rand::rngs::OsRng;
        let mut runtimes = Vec::with_capacity(amount as usize);
        for (index, auth_users) in users.into_iter().enumerate() {
            let id = ids::resource_id(&template.id_prefix, &mut rng);
            let name = match non_empty(self.desktop_name.clone()) {
                Some(name) if self.desktop_name_suffix == Some(true) && amount > 1 => {
                    format!("{name}-{:04}", index + 1)
                }
                Some(name) => name,
                None => id.clone(),
            };
            runtimes.push(Runtime {
                id,
                tenant_id: ctx.tenant_id.clone(),
                name,
                region_id: self.region_id.to_string(),
                office_site_id: office_site_id.clone(),
                bundle_id: non_empty(self.bundle_id.clone()),
                image_id: self
                    .bundle_id
                    .as_ref()
                    .filter(|b| !b.is_empty())
                    .is_none()
                    .then(|| template.id.clone()),
                template_name: template.name.clone(),
                os_type: template.os_type.clone(),
                platform: template.platform.clone(),
                desktop_type: attachment
                    .and_then(|a| non_empty(a.desktop_type.clone()))
                    .unwrap_or_else(|| template.desktop_type.clone()),
                cpu: template.cpu,
                memory_mib: template.memory_mib,
                system_disk_gib: system_disk,
                data_disk_gib: data_disk,
                charge_type: charge_type.clone(),
                hostname: non_empty(self.hostname.clone()),
                policy_group_id: non_empty(self.policy_group_id.clone()),
                agent_platform: template.agent_platform.clone(),
                agent_provider: template.agent_provider.clone(),
                agent_version: template.agent_version.clone(),
                agent_status: step.agent.unwrap_or(AgentStatus::Undeployed),
                deployment_source: "Admin".into(),
                desktop_status: step.desktop,
                resource_group_id: resource_group_id.clone(),
                model_template_id: None,
                biz_type: 1,
                auth_users,
                tags: tags.clone(),
                progress: next_step_at.map(|_| progress),
                next_step_at,
                generation: 1,
                created_at: ctx.now_ms,
                updated_at: ctx.now_ms,
            });
        }
        let store = &ctx.state.store;
        match &office_site_id {
            // Inserted under the site's lock: a DeleteOfficeSites meanwhile cannot leave
            // desktops in a site that no longer exists.
            Some(site_id) => {
                let inserted = store
                    .insert_runtimes_in_office_site(
                        &ctx.tenant_id,
                        &self.region_id,
                        site_id,
                        &runtimes,
                    )
                    .await
                    .map_err(store_failure)?;
                if !inserted {
                    return Err(office_site_not_found(site_id));
                }
            }
            None => store
                .insert_runtimes(&runtimes)
                .await
                .map_err(store_failure)?,
        }
        ctx.state.lifecycle.notify();
        let order_id: u64 = rand::Rng::gen_range(&mut rng, 100_000_000_000..999_999_999_999);
        Ok(CreateDesktopsResponse {
            desktop_id: runtimes.into_iter().map(|r| r.id).collect(),
            order_id: order_id.to_string(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Start / Stop / Reboot / Delete

/// Loads the desktops named in a batch operation and checks the operation may begin on every
/// one of them: the batch applies whole or not at all.
async fn operate(
    ctx: &Ctx,
    region_id: &str,
    desktop_ids: &[String],
    operation: Operation,
) -> Result<(), ApiError> {
    if region_id.is_empty() {
        return Err(ApiError::missing_parameter("RegionId"));
    }
    if desktop_ids.is_empty() {
        return Err(ApiError::missing_parameter("DesktopId"));
    }
    let unique: Vec<String> = desktop_ids
        .iter()
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let found = ctx
        .state
        .store
        .runtimes_by_ids(&ctx.tenant_id, &unique)
        .await
        .map_err(store_failure)?;
    let by_id: HashMap<&str, &Runtime> = found.iter().map(|r| (r.id.as_str(), r)).collect();
    for id in desktop_ids {
        let runtime = by_id
            .get(id.as_str())
            .filter(|r| r.region_id == region_id)
            .ok_or_else(|| desktop_not_found(id))?;
        if !operation.allowed_from(runtime.desktop_status) {
            return Err(incorrect_status(id, runtime.desktop_status));
        }
        // Only deleting interrupts an operation under way (e.g. a new desktop that is Running
        // while its agent is still being deployed).
        if let Some(under_way) = runtime.progress.filter(|_| !operation.interrupts()) {
            return Err(operation_in_progress(id, runtime, under_way.operation));
        }
    }
    let (progress, next_step_at) = ctx.state.driver.begin(operation, ctx.now_ms);
    let guard = StepGuard::begin(operation);
    let begun = ctx
        .state
        .store
        .set_progress(
            &ctx.tenant_id,
            &unique,
            progress,
            next_step_at,
            ctx.now_ms,
            &guard,
        )
        .await
        .map_err(store_failure)?;
    if !begun {
        // Another call changed one of the desktops since they were read above.
        return Err(errors::INCORRECT_DESKTOP_STATUS.error(&[&"it changed meanwhile"]));
    }
    ctx.state.lifecycle.notify();
    Ok(())
}

macro_rules! batch_operation {
    ($name:ident, $operation:expr, { $($extra:ident: $ty:ty),* }) => {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name {
            pub region_id: Token,
            /// Documented: 1 to 100 ids.
            pub desktop_id: Ids<MAX_IDS>,
            $(#[allow(dead_code)] pub $extra: $ty,)*
        }

        impl Action for $name {
            type Response = Empty;

            async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
                let ids = strings(self.desktop_id);
                operate(ctx, &self.region_id, &ids, $operation).await?;
                Ok(Empty {})
            }
        }
    };
}

batch_operation!(StartDesktops, Operation::Start, {});
batch_operation!(StopDesktops, Operation::Stop, { stopped_mode: Option<Token> });
batch_operation!(RebootDesktops, Operation::Reboot, {});
batch_operation!(DeleteDesktops, Operation::Delete, {});

// ---------------------------------------------------------------------------------------------
// DescribeDesktops

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDesktops {
    pub region_id: Token,
    /// Documented: 1 to 100 ids.
    pub desktop_id: Option<Ids<MAX_IDS>>,
    pub desktop_name: Option<Name>,
    pub desktop_status: Option<Token>,
    pub desktop_status_list: Option<Tokens>,
    /// Documented: 1 to 100 users.
    pub end_user_id: Option<List<UserId, 100>>,
    pub excluded_end_user_id: Option<List<UserId, 100>>,
    pub office_site_id: Option<Id>,
    pub resource_group_id: Option<Id>,
    pub image_id: Option<Ids<MAX_IDS>>,
    pub os_types: Option<Tokens>,
    pub charge_type: Option<Token>,
    pub desktop_type: Option<Token>,
    /// Each tag must be present (with that value when one is given).
    pub tag: Option<Tags>,
    pub fill_resource_group: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<Token>,
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDesktopsResponse {
    pub desktops: Vec<DesktopView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_number: Option<i64>,
    pub page_size: i64,
    pub total_count: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Disk {
    pub disk_id: String,
    pub disk_category: &'static str,
    pub disk_size: i64,
    pub disk_type: &'static str,
    pub performance_level: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceGroupRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesktopView {
    pub desktop_id: String,
    pub desktop_name: String,
    pub desktop_status: String,
    pub desktop_type: String,
    pub region_id: String,
    pub os_type: String,
    pub platform: String,
    pub bundle_id: Option<String>,
    pub bundle_name: String,
    pub image_id: Option<String>,
    pub charge_type: String,
    pub cpu: i64,
    pub memory: i64,
    pub creation_time: String,
    pub start_time: String,
    pub end_user_ids: Vec<String>,
    pub office_site_id: Option<String>,
    /// The same as the office site id, as the cloud reports it.
    pub directory_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_site_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_site_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_site_vpc_type: Option<String>,
    pub policy_group_id: Option<String>,
    pub host_name: Option<String>,
    pub tags: Vec<Tag>,
    pub agent_provider_list: Vec<String>,
    pub disks: Vec<Disk>,
    pub system_disk_size: i64,
    pub system_disk_category: &'static str,
    pub data_disk_size: String,
    pub data_disk_category: &'static str,
    pub session_type: &'static str,
    pub protocol_type: &'static str,
    pub connection_status: &'static str,
    pub management_flag: &'static str,
    pub progress: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_groups: Option<Vec<ResourceGroupRef>>,
}

fn progress_percent(runtime: &Runtime) -> String {
    match runtime.progress {
        Some(p) if p.operation == Operation::Create => {
            let steps = p.operation.steps().len().max(1);
            format!("{}%", (p.step_index * 100) / steps)
        }
        _ => "100%".into(),
    }
}

/// Display names of the resource groups of `runtimes`, in one query.
async fn group_names(ctx: &Ctx, runtimes: &[Runtime]) -> Result<HashMap<String, String>, ApiError> {
    let ids: Vec<String> = runtimes
        .iter()
        .filter_map(|r| r.resource_group_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    ctx.state
        .store
        .resource_group_names(&ctx.tenant_id, &ids)
        .await
        .map_err(store_failure)
}

/// Names and types of the office sites of `runtimes`, in one query.
async fn office_sites_of(
    ctx: &Ctx,
    runtimes: &[Runtime],
) -> Result<HashMap<String, OfficeSiteSummary>, ApiError> {
    let ids: Vec<String> = runtimes
        .iter()
        .filter_map(|r| r.office_site_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    ctx.state
        .store
        .office_site_summaries(&ctx.tenant_id, &ids)
        .await
        .map_err(store_failure)
}

/// `group_names` is `None` when not asked to fill the groups in.
fn desktop_view(
    runtime: Runtime,
    group_names: Option<&HashMap<String, String>>,
    office_sites: &HashMap<String, OfficeSiteSummary>,
) -> DesktopView {
    let site = runtime
        .office_site_id
        .as_ref()
        .and_then(|id| office_sites.get(id));
    let disk_id = |kind: &str| {
        format!(
            "d-{}{}",
            kind,
            &runtime.id[runtime.id.len().saturating_sub(15)..]
        )
    };
    let disks = vec![
        Disk {
            disk_id: disk_id("s"),
            disk_category: "cloud_auto",
            disk_size: runtime.system_disk_gib,
            disk_type: "SYSTEM",
            performance_level: "PL0",
        },
        Disk {
            disk_id: disk_id("d"),
            disk_category: "cloud_auto",
            disk_size: runtime.data_disk_gib,
            disk_type: "DATA",
            performance_level: "PL0",
        },
    ];
    let progress = progress_percent(&runtime);
    DesktopView {
        desktop_name: runtime.name,
        desktop_status: runtime.desktop_status.to_string(),
        desktop_type: runtime.desktop_type,
        region_id: runtime.region_id,
        os_type: runtime.os_type,
        platform: runtime.platform,
        bundle_id: runtime.bundle_id,
        bundle_name: runtime.template_name,
        image_id: runtime.image_id,
        charge_type: runtime.charge_type,
        cpu: runtime.cpu,
        memory: runtime.memory_mib,
        creation_time: cloud_time(runtime.created_at),
        start_time: cloud_time(runtime.created_at),
        end_user_ids: runtime.auth_users,
        directory_id: runtime.office_site_id.clone(),
        office_site_id: runtime.office_site_id,
        office_site_name: site.map(|s| s.name.clone()),
        office_site_type: site.map(|s| s.office_site_type.clone()),
        office_site_vpc_type: site.map(|s| s.vpc_type.clone()),
        policy_group_id: runtime.policy_group_id,
        host_name: runtime.hostname,
        tags: runtime
            .tags
            .into_iter()
            .map(|(key, value)| Tag {
                key,
                value: Some(value),
            })
            .collect(),
        agent_provider_list: vec![runtime.agent_provider],
        disks,
        system_disk_size: runtime.system_disk_gib,
        system_disk_category: "cloud_auto",
        data_disk_size: runtime.data_disk_gib.to_string(),
        data_disk_category: "cloud_auto",
        session_type: "SINGLE_SESSION",
        protocol_type: "ASP",
        connection_status: "Disconnected",
        management_flag: "NoFlag",
        progress,
        resource_groups: group_names.map(|names| {
            runtime
                .resource_group_id
                .map(|id| {
                    vec![ResourceGroupRef {
                        name: names.get(&id).cloned(),
                        id,
                    }]
                })
                .unwrap_or_default()
        }),
        desktop_id: runtime.id,
    }
}

fn parse_status_list(name: &str, values: Vec<String>) -> Result<Vec<String>, ApiError> {
    values
        .into_iter()
        .map(|v| {
            v.parse::<DesktopStatus>()
                .map(|s| s.to_string())
                .map_err(|_| ApiError::invalid_parameter(name, format!("unknown status {v:?}")))
        })
        .collect()
}

impl Action for DescribeDesktops {
    type Response = DescribeDesktopsResponse;

    async fn handle(self, ctx: &Ctx) -> Result<DescribeDesktopsResponse, ApiError> {
        if self.region_id.is_empty() {
            return Err(ApiError::missing_parameter("RegionId"));
        }
        let mut statuses = self
            .desktop_status_list
            .clone()
            .map(strings)
            .filter(|l| !l.is_empty());
        if let Some(status) = non_empty(self.desktop_status.clone()) {
            statuses = Some(vec![status]);
        }
        let statuses = statuses
            .map(|s| parse_status_list("DesktopStatus", s))
            .transpose()?;
        let ids = non_empty_list(self.desktop_id.clone());
        let include_deleted = ids.is_some()
            || statuses
                .as_ref()
                .is_some_and(|s| s.iter().any(|s| s == "Deleted"));
        let filter = RuntimeFilter {
            tenant_id: ctx.tenant_id.clone(),
            region_id: Some(self.region_id.to_string()),
            ids,
            names: non_empty(self.desktop_name.clone()).map(|n| vec![n]),
            desktop_statuses: statuses,
            include_deleted,
            auth_users: non_empty_list(self.end_user_id.clone()),
            excluded_users: non_empty_list(self.excluded_end_user_id.clone()),
            office_site_id: non_empty(self.office_site_id.clone()),
            resource_group_id: non_empty(self.resource_group_id.clone()),
            image_ids: non_empty_list(self.image_id.clone()),
            os_types: non_empty_list(self.os_types.clone()),
            charge_type: self
                .charge_type
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| charge_type(Some(c)))
                .transpose()?,
            desktop_type: non_empty(self.desktop_type.clone()),
            tags: self
                .tag
                .clone()
                .map(|tags| tags.into_iter().map(|t| t.into_pair()).collect())
                .unwrap_or_default(),
            ..RuntimeFilter::default()
        };
        let token_paging =
            self.max_results.is_some() || self.next_token.as_deref().is_some_and(|t| !t.is_empty());
        let (offset, size, page_number) = if token_paging {
            let (offset, size) = token_page(self.max_results, self.next_token.as_deref(), 10)?;
            (offset, size, None)
        } else {
            let page = page(self.page_number, self.page_size, 10)?;
            (page.offset(), page.size, Some(page.number))
        };
        let store = &ctx.state.store;
        let total_count = store.count_runtimes(&filter).await.map_err(store_failure)?;
        // One row past the page tells whether there is a next one. The count may lag behind
        // other replicas' writes (within its cache lifetime); the rows never do, and the total
        // shown is at least what the rows prove.
        let mut runtimes = store
            .list_runtimes(&filter, offset, size + 1)
            .await
            .map_err(store_failure)?;
        let more = runtimes.len() as i64 > size;
        runtimes.truncate(size as usize);
        let next_offset = offset + runtimes.len() as i64;
        let total_count = total_count.max(next_offset + i64::from(more));
        let next_token = (token_paging && more).then(|| encode_token(next_offset));
        let names = if self.fill_resource_group.unwrap_or(false) {
            Some(group_names(ctx, &runtimes).await?)
        } else {
            None
        };
        let office_sites = office_sites_of(ctx, &runtimes).await?;
        Ok(DescribeDesktopsResponse {
            desktops: runtimes
                .into_iter()
                .map(|r| desktop_view(r, names.as_ref(), &office_sites))
                .collect(),
            next_token,
            page_number,
            page_size: size,
            total_count,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// ListDesktopAgentRuntime

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDesktopAgentRuntime {
    pub agent_provider: Option<Token>,
    pub agent_provider_list: Option<Tokens>,
    pub agent_platform: Option<Token>,
    pub agent_platform_list: Option<Tokens>,
    pub agent_im_online_status: Option<Token>,
    pub agent_instance_statuses: Option<Tokens>,
    pub agent_instance_versions: Option<Tokens>,
    pub agent_template_ids: Option<Ids<MAX_IDS>>,
    pub auth_users: Option<UserIds>,
    pub biz_region_id: Option<Token>,
    pub biz_type: Option<i64>,
    pub channel_configure: Option<bool>,
    pub deployment_source: Option<Token>,
    pub desktop_ids: Option<Ids<MAX_IDS>>,
    pub desktop_names: Option<List<Name, MAX_IDS>>,
    pub desktop_statuses: Option<Tokens>,
    pub has_auth_user: Option<bool>,
    pub has_risk: Option<bool>,
    pub include_risk_info: Option<bool>,
    pub management_status: Option<Token>,
    pub model_configure: Option<bool>,
    pub model_template_id: Option<Id>,
    pub office_site_id: Option<Id>,
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub resource_group_id: Option<Id>,
    pub resource_ids: Option<Ids<MAX_IDS>>,
}

pub type ListDesktopAgentRuntimeResponse = Paged<RuntimePage>;

/// A page of runtimes, shared with the store's page cache and written out through views that
/// borrow from it: a page served from the cache costs no copy.
#[derive(Debug)]
pub struct RuntimePage {
    runtimes: Arc<Vec<RuntimeListing>>,
    include_risk: bool,
}

impl Serialize for RuntimePage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.runtimes
                .iter()
                .map(|runtime| agent_runtime_view(runtime, self.include_risk)),
        )
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentImInfo {
    pub agent_im_online_status: &'static str,
    pub agent_im_status: &'static str,
    pub cloud_space_status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentInstanceView<'a> {
    pub agent_instance_status: &'static str,
    pub agent_instance_version: &'a str,
    pub agent_platform: &'a str,
    pub agent_provider: &'a str,
    pub channel_configure: bool,
    pub channel_configured_list: &'a [String],
    pub deployment_source: &'a str,
    pub model_configure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_template_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceGroupView<'a> {
    pub resource_group_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group_name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RiskInfo {
    pub agent_uninstalled: bool,
    pub channel_modified: bool,
    pub model_modified: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentRuntimeView<'a> {
    pub agent_im_info: AgentImInfo,
    pub agent_instance_info_list: [AgentInstanceView<'a>; 1],
    pub auth_users: &'a [String],
    pub channel_configure: bool,
    pub channel_configured_list: &'a [String],
    pub desktop_id: &'a str,
    pub desktop_name: &'a str,
    pub desktop_status: &'static str,
    pub has_auth_user: bool,
    pub management_statuses: [&'static str; 0],
    pub model_configure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_template_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_template_name: Option<&'a str>,
    pub os_type: &'a str,
    pub qr_code_configuring_list: &'a [String],
    pub region_id: &'a str,
    pub region_location: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<ResourceGroupView<'a>>,
    pub resource_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_info: Option<RiskInfo>,
}

/// Intersection of two optional id filters (`DesktopIds` and `ResourceIds` name the same ids).
fn intersect(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let b: HashSet<String> = b.into_iter().collect();
            Some(a.into_iter().filter(|id| b.contains(id)).collect())
        }
        (a, b) => a.or(b),
    }
}

fn agent_runtime_view(runtime: &RuntimeListing, include_risk: bool) -> AgentRuntimeView<'_> {
    let channel_configure = !runtime.channels_configured.is_empty();
    let model = runtime.model_template.as_ref();
    let model_template_id = model.map(|m| m.model_template_id.as_str());
    let region_location =
        if runtime.region_id.starts_with("cn-") && runtime.region_id != "cn-hongkong" {
            "Mainland"
        } else {
            "Overseas"
        };
    AgentRuntimeView {
        agent_im_info: AgentImInfo {
            agent_im_online_status: "Offline",
            agent_im_status: "Disabled",
            cloud_space_status: "Disabled",
        },
        agent_instance_info_list: [AgentInstanceView {
            agent_instance_status: runtime.agent_status.as_str(),
            agent_instance_version: &runtime.agent_version,
            agent_platform: &runtime.agent_platform,
            agent_provider: &runtime.agent_provider,
            channel_configure,
            channel_configured_list: &runtime.channels_configured,
            deployment_source: &runtime.deployment_source,
            model_configure: model.is_some(),
            model_template_id,
        }],
        has_auth_user: !runtime.auth_users.is_empty(),
        auth_users: &runtime.auth_users,
        channel_configure,
        channel_configured_list: &runtime.channels_configured,
        desktop_name: &runtime.name,
        desktop_status: runtime.desktop_status.as_str(),
        management_statuses: [],
        model_configure: model.is_some(),
        model_template_id,
        model_template_name: model.map(|m| m.name.as_str()),
        os_type: &runtime.os_type,
        qr_code_configuring_list: &runtime.channels_configuring,
        region_id: &runtime.region_id,
        region_location,
        resource_group: runtime
            .resource_group_id
            .as_deref()
            .map(|id| ResourceGroupView {
                resource_group_name: runtime.resource_group_name.as_deref(),
                resource_group_id: id,
            }),
        resource_id: &runtime.id,
        risk_info: include_risk.then_some(RiskInfo {
            agent_uninstalled: runtime.risk.agent_uninstalled,
            channel_modified: runtime.risk.channel_modified,
            model_modified: runtime.risk.model_modified,
        }),
        desktop_id: &runtime.id,
    }
}

impl ListDesktopAgentRuntime {
    fn filter(&self, tenant_id: &str) -> Result<RuntimeFilter, ApiError> {
        if let Some(biz_type) = self.biz_type {
            check_biz_type(biz_type)?;
        }
        let providers = match (
            non_empty(self.agent_provider.clone()),
            non_empty_list(self.agent_provider_list.clone()),
        ) {
            (Some(provider), _) => vec![provider],
            (None, Some(list)) => list,
            (None, None) => return Err(ApiError::missing_parameter("AgentProvider")),
        };
        let platforms = non_empty(self.agent_platform.clone())
            .map(|p| vec![p])
            .or_else(|| non_empty_list(self.agent_platform_list.clone()));
        let statuses = non_empty_list(self.desktop_statuses.clone())
            .map(|s| parse_status_list("DesktopStatuses", s))
            .transpose()?;
        let agent_statuses = non_empty_list(self.agent_instance_statuses.clone())
            .map(|list| {
                list.into_iter()
                    .map(|v| {
                        v.parse::<AgentStatus>()
                            .map(|s| s.to_string())
                            .map_err(|_| {
                                ApiError::invalid_parameter(
                                    "AgentInstanceStatuses",
                                    format!("unknown status {v:?}"),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let ids = intersect(
            non_empty_list(self.desktop_ids.clone()),
            non_empty_list(self.resource_ids.clone()),
        );
        // Filters on state that no runtime has yet (agent templates, management states, IM
        // presence other than Offline) match nothing when they ask for it.
        let asks_for_absent_state = non_empty_list(self.agent_template_ids.clone()).is_some()
            || non_empty(self.management_status.clone()).is_some()
            || self
                .agent_im_online_status
                .as_deref()
                .is_some_and(|s| !s.is_empty() && !s.eq_ignore_ascii_case("Offline"));
        Ok(RuntimeFilter {
            tenant_id: tenant_id.to_string(),
            ids: if asks_for_absent_state {
                Some(Vec::new())
            } else {
                ids
            },
            names: non_empty_list(self.desktop_names.clone()),
            agent_providers: Some(providers),
            agent_platforms: platforms,
            agent_versions: non_empty_list(self.agent_instance_versions.clone()),
            agent_statuses,
            include_deleted: statuses
                .as_ref()
                .is_some_and(|s| s.iter().any(|s| s == "Deleted")),
            desktop_statuses: statuses,
            auth_users: non_empty_list(self.auth_users.clone()),
            has_auth_user: self.has_auth_user,
            deployment_source: non_empty(self.deployment_source.clone()),
            resource_group_id: non_empty(self.resource_group_id.clone()),
            office_site_id: non_empty(self.office_site_id.clone()),
            region_id: non_empty(self.biz_region_id.clone()),
            biz_type: self.biz_type,
            model_configured: self.model_configure,
            model_template_id: non_empty(self.model_template_id.clone()),
            channel_configured: self.channel_configure,
            // HasRisk filters only together with IncludeRiskInfo, as the cloud documents.
            has_risk: self
                .has_risk
                .filter(|_| self.include_risk_info == Some(true)),
            ..RuntimeFilter::default()
        })
    }
}

impl Action for ListDesktopAgentRuntime {
    type Response = ListDesktopAgentRuntimeResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListDesktopAgentRuntimeResponse, ApiError> {
        let filter = self.filter(&ctx.tenant_id)?;
        let page = page(self.page_number, self.page_size, 20)?;
        let store = &ctx.state.store;
        // The count and the page as of one version of the tenant; the total shown is at least
        // what the page proves all the same.
        let (total_count, runtimes) = store
            .runtime_listing_page(&filter, page.offset(), page.size)
            .await
            .map_err(store_failure)?;
        let total_count = total_count.max(page.offset() + runtimes.len() as i64);
        let include_risk = self.include_risk_info == Some(true);
        Ok(Paged::of(
            RuntimePage {
                runtimes,
                include_risk,
            },
            &page,
            total_count,
        ))
    }
}
