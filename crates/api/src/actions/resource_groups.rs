//! Resource groups (resourcemanager 2020-03-31): create, read, list and delete a tenant's
//! groups, and move runtimes into them with `MoveResources`.
//!
//! Error codes chosen here (the cloud's where known):
//! - 404 `EntityNotExists.ResourceGroup`: no group of the tenant has this `ResourceGroupId`;
//! - 400 `NameAlreadyExists.ResourceGroup`: the tenant already has a group with this `Name`;
//! - 400 `DeleteConflict.ResourceGroup.Resource`: the group still holds runtimes (the message
//!   says how many); move or delete them first;
//! - per item of `MoveResources`: `EntityNotExists.Resource` (unknown, deleted or other-region
//!   runtime) and `InvalidResourceType.NotSupported` (a service/type amc does not hold).

use std::collections::HashMap;

use domain::ids;
use domain::paging::{Page, PageError};
use domain::resource_groups::{validate_display_name, validate_name, validate_tag};
use pop::ApiError;
use serde::{Deserialize, Serialize};
use store::resource_groups::{GroupDeletion, ResourceGroup, ResourceGroupFilter};

use super::Action;
use super::common::{non_empty, resource_group_not_found, utc_seconds};
use super::limits::{Id, Ids, MAX_IDS, Tags, Token};
use crate::Ctx;
use crate::errors::{self, store_failure};

/// The cloud moves at most 10 resources per call.
const MAX_MOVE: usize = 10;
/// Names, display names and their filters: documented as at most 50 characters (the domain
/// rules say which).
type GroupName = pop::Text<0, 50>;
const STATUS_OK: &str = "OK";
const STATUSES: [&str; 3] = ["Creating", "OK", "PendingDelete"];

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupTag {
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupTags {
    pub tag: Vec<GroupTag>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupView {
    pub account_id: String,
    pub create_date: String,
    pub display_name: String,
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<GroupTags>,
}

fn group_view(group: ResourceGroup, include_tags: bool, status: Option<&str>) -> GroupView {
    GroupView {
        account_id: group.tenant_id,
        create_date: utc_seconds(group.created_at),
        display_name: group.display_name,
        id: group.id,
        name: group.name,
        status: status.map(str::to_string).unwrap_or(group.status),
        tags: include_tags.then(|| GroupTags {
            tag: group
                .tags
                .into_iter()
                .map(|(tag_key, tag_value)| GroupTag { tag_key, tag_value })
                .collect(),
        }),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupResponse {
    pub resource_group: GroupView,
}

fn validate_tags(tags: Option<Tags>) -> Result<Vec<(String, String)>, ApiError> {
    let tags = tags.map(Tags::into_vec).unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.into_iter().enumerate() {
        let (key, value) = tag.into_pair();
        let value = value.unwrap_or_default();
        validate_tag(&key, &value)
            .map_err(|e| ApiError::invalid_parameter(&format!("Tag.{}", i + 1), e))?;
        if out.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::invalid_parameter(
                &format!("Tag.{}.Key", i + 1),
                "tag keys must be unique",
            ));
        }
        out.push((key, value));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// CreateResourceGroup

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResourceGroup {
    pub name: GroupName,
    pub display_name: GroupName,
    pub tag: Option<Tags>,
}

impl Action for CreateResourceGroup {
    type Response = GroupResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GroupResponse, ApiError> {
        if self.name.is_empty() {
            return Err(ApiError::missing_parameter("Name"));
        }
        if self.display_name.is_empty() {
            return Err(ApiError::missing_parameter("DisplayName"));
        }
        validate_name(&self.name).map_err(|e| ApiError::invalid_parameter("Name", e))?;
        validate_display_name(&self.display_name)
            .map_err(|e| ApiError::invalid_parameter("DisplayName", e))?;
        let tags = validate_tags(self.tag)?;
        let group = ResourceGroup {
            id: ids::resource_id("rg", &mut rand::rngs::OsRng),
            tenant_id: ctx.tenant_id.clone(),
            name: self.name.into_string(),
            display_name: self.display_name.into_string(),
            status: STATUS_OK.into(),
            tags,
            created_at: ctx.now_ms,
        };
        let created = ctx
            .state
            .store
            .create_resource_group(&group)
            .await
            .map_err(store_failure)?;
        if !created {
            return Err(errors::RESOURCE_GROUP_NAME_EXISTS.error(&[&group.name]));
        }
        Ok(GroupResponse {
            resource_group: group_view(group, false, None),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// GetResourceGroup

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourceGroup {
    pub resource_group_id: Id,
    pub include_tags: Option<bool>,
}

impl Action for GetResourceGroup {
    type Response = GroupResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GroupResponse, ApiError> {
        if self.resource_group_id.is_empty() {
            return Err(ApiError::missing_parameter("ResourceGroupId"));
        }
        let group = ctx
            .state
            .store
            .resource_group(&ctx.tenant_id, &self.resource_group_id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| resource_group_not_found(&self.resource_group_id))?;
        Ok(GroupResponse {
            resource_group: group_view(group, self.include_tags == Some(true), None),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// ListResourceGroups

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceGroups {
    pub page_number: Option<i64>,
    pub page_size: Option<i64>,
    pub name: Option<GroupName>,
    pub display_name: Option<GroupName>,
    pub resource_group_id: Option<Id>,
    /// Documented: up to 100 ids.
    pub resource_group_ids: Option<Ids<MAX_IDS>>,
    pub status: Option<Token>,
    /// Documented: up to 20 tags.
    pub tag: Option<Tags>,
    pub include_tags: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupList {
    pub resource_group: Vec<GroupView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceGroupsResponse {
    pub page_number: i64,
    pub page_size: i64,
    pub total_count: i64,
    pub resource_groups: GroupList,
}

impl Action for ListResourceGroups {
    type Response = ListResourceGroupsResponse;

    async fn handle(self, ctx: &Ctx) -> Result<ListResourceGroupsResponse, ApiError> {
        let page = Page::new(self.page_number, self.page_size, 10, 100).map_err(|e| match e {
            PageError::Number => ApiError::invalid_parameter("PageNumber", e),
            PageError::Size(_) => ApiError::invalid_parameter("PageSize", e),
        })?;
        let status = non_empty(self.status);
        if let Some(status) = &status
            && !STATUSES.contains(&status.as_str())
        {
            return Err(ApiError::invalid_parameter(
                "Status",
                "must be Creating, OK or PendingDelete",
            ));
        }
        // ResourceGroupIds wins over ResourceGroupId, as the SDK documents.
        let ids = match (
            self.resource_group_ids
                .map(super::limits::strings)
                .filter(|l| !l.is_empty()),
            non_empty(self.resource_group_id),
        ) {
            (Some(list), _) => Some(list),
            (None, Some(id)) => Some(vec![id]),
            (None, None) => None,
        };
        let tags = self.tag.map(Tags::into_vec).unwrap_or_default();
        // Tag filters always return the tags, as the SDK documents.
        let include_tags = self.include_tags == Some(true) || !tags.is_empty();
        let filter = ResourceGroupFilter {
            tenant_id: ctx.tenant_id.clone(),
            ids,
            name_contains: non_empty(self.name),
            display_name_contains: non_empty(self.display_name),
            status,
            tags: tags.into_iter().map(|t| t.into_pair()).collect(),
        };
        let store = &ctx.state.store;
        let total_count = store
            .count_resource_groups(&filter)
            .await
            .map_err(store_failure)?;
        let groups = if page.offset() < total_count {
            store
                .list_resource_groups(&filter, page.offset(), page.size)
                .await
                .map_err(store_failure)?
        } else {
            Vec::new()
        };
        Ok(ListResourceGroupsResponse {
            page_number: page.number,
            page_size: page.size,
            total_count,
            resource_groups: GroupList {
                resource_group: groups
                    .into_iter()
                    .map(|g| group_view(g, include_tags, None))
                    .collect(),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DeleteResourceGroup

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteResourceGroup {
    pub resource_group_id: Id,
}

impl Action for DeleteResourceGroup {
    type Response = GroupResponse;

    async fn handle(self, ctx: &Ctx) -> Result<GroupResponse, ApiError> {
        let id = self.resource_group_id;
        if id.is_empty() {
            return Err(ApiError::missing_parameter("ResourceGroupId"));
        }
        match ctx
            .state
            .store
            .delete_resource_group(&ctx.tenant_id, &id)
            .await
            .map_err(store_failure)?
        {
            // The cloud deletes asynchronously and answers PendingDelete; amc deletes at once
            // and answers the same, so clients written for the cloud keep working.
            GroupDeletion::Deleted(group) => Ok(GroupResponse {
                resource_group: group_view(group, false, Some("PendingDelete")),
            }),
            GroupDeletion::NotFound => Err(resource_group_not_found(&id)),
            GroupDeletion::HoldsRuntimes(count) => {
                Err(errors::RESOURCE_GROUP_NOT_EMPTY.error(&[&id, &count]))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MoveResources

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoveResource {
    pub resource_id: Option<Id>,
    pub region_id: Option<Token>,
    pub service: Option<Token>,
    pub resource_type: Option<Token>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoveResources {
    pub resource_group_id: Id,
    /// Documented: at most 10 per call.
    pub resources: pop::List<MoveResource, MAX_MOVE>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoveResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    pub region_id: String,
    pub request_id: String,
    pub resource_id: String,
    pub resource_type: String,
    pub service: String,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoveResourcesResponse {
    pub responses: Vec<MoveResult>,
}

/// Runtimes are the only resources amc holds: cloud desktops (`ecd`, `desktop`) and agent
/// runtimes (`appstream-center`/`wuying`, `runtime`/`desktop`), which are the same hosts.
fn movable(service: &str, resource_type: &str) -> bool {
    let service = service.to_ascii_lowercase();
    let resource_type = resource_type.to_ascii_lowercase();
    matches!(service.as_str(), "ecd" | "appstream-center" | "wuying")
        && matches!(resource_type.as_str(), "desktop" | "runtime")
}

impl Action for MoveResources {
    type Response = MoveResourcesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<MoveResourcesResponse, ApiError> {
        let group_id = self.resource_group_id;
        if group_id.is_empty() {
            return Err(ApiError::missing_parameter("ResourceGroupId"));
        }
        if self.resources.is_empty() {
            return Err(ApiError::missing_parameter("Resources"));
        }
        for (i, r) in self.resources.iter().enumerate() {
            for (field, value) in [
                ("ResourceId", &r.resource_id),
                ("Service", &r.service),
                ("ResourceType", &r.resource_type),
                ("RegionId", &r.region_id),
            ] {
                if value.as_deref().is_none_or(str::is_empty) {
                    return Err(ApiError::missing_parameter(&format!(
                        "Resources.{}.{field}",
                        i + 1
                    )));
                }
            }
        }
        let store = &ctx.state.store;
        store
            .resource_group(&ctx.tenant_id, &group_id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| resource_group_not_found(&group_id))?;

        let text = |v: &Option<pop::Text<0, 64>>| v.as_deref().unwrap_or_default().to_string();
        let wanted: Vec<String> = self
            .resources
            .iter()
            .map(|r| text(&r.resource_id))
            .collect();
        let found = store
            .runtimes_by_ids(&ctx.tenant_id, &wanted)
            .await
            .map_err(store_failure)?;
        let regions: HashMap<String, String> = found
            .into_iter()
            .filter(|r| r.desktop_status != domain::runtime::DesktopStatus::Deleted)
            .map(|r| (r.id, r.region_id))
            .collect();
        let mut movable_ids = Vec::new();
        let mut failures: HashMap<usize, (&'static str, String)> = HashMap::new();
        for (i, r) in self.resources.iter().enumerate() {
            let id = text(&r.resource_id);
            if !movable(&text(&r.service), &text(&r.resource_type)) {
                failures.insert(
                    i,
                    (
                        "InvalidResourceType.NotSupported",
                        "Only runtimes (Service ecd, ResourceType desktop) can be moved.".into(),
                    ),
                );
            } else if regions.get(&id) != Some(&text(&r.region_id)) {
                failures.insert(
                    i,
                    (
                        "EntityNotExists.Resource",
                        format!("The resource {id} does not exist in this region."),
                    ),
                );
            } else {
                movable_ids.push(id);
            }
        }
        let moved = store
            .move_runtimes_to_group(&ctx.tenant_id, &group_id, &movable_ids, ctx.now_ms)
            .await
            .map_err(store_failure)?;
        let responses = self
            .resources
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let id = text(&r.resource_id);
                let failure = failures.remove(&i).or_else(|| {
                    // The group vanished between the check and the move.
                    (!moved.contains(&id)).then(|| {
                        (
                            "EntityNotExists.ResourceGroup",
                            format!("The resource group {group_id} does not exist."),
                        )
                    })
                });
                let (error_code, error_msg) = match failure {
                    Some((code, message)) => (Some(code), Some(message)),
                    None => (None, None),
                };
                MoveResult {
                    status: if error_code.is_some() {
                        "FAIL"
                    } else {
                        "SUCCESS"
                    },
                    error_code,
                    error_msg,
                    region_id: text(&r.region_id),
                    request_id: ctx.request_id.clone(),
                    resource_id: id,
                    resource_type: text(&r.resource_type),
                    service: text(&r.service),
                }
            })
            .collect();
        Ok(MoveResourcesResponse { responses })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movable_services() {
        assert!(movable("ecd", "desktop"));
        assert!(movable("ECD", "Desktop"));
        assert!(movable("appstream-center", "runtime"));
        assert!(!movable("ecs", "instance"));
        assert!(!movable("ecd", "image"));
    }

    #[test]
    fn create_dates_are_utc_seconds() {
        assert_eq!(utc_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_seconds(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }
}
