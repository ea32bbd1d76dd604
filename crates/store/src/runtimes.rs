//! The runtime inventory: agent hosts, their authorised users and tags, their lifecycle progress,
//! and the filtered, paged listing behind `DescribeDesktops` and `ListDesktopAgentRuntime`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::runtime::{AgentStatus, DesktopStatus, Operation, Progress};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::delivery::{EFFECTIVE_MODEL_TEMPLATE, EffectiveModelTemplate, ModelTemplateRef};
use crate::locks::{lock_runtimes, runtime_ids};
use crate::query::Sql;
use crate::{Backend, Store, StoreError, transact};

/// One runtime as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub region_id: String,
    pub office_site_id: Option<String>,
    pub bundle_id: Option<String>,
    pub image_id: Option<String>,
    pub template_name: String,
    pub os_type: String,
    pub platform: String,
    pub desktop_type: String,
    pub cpu: i64,
    pub memory_mib: i64,
    pub system_disk_gib: i64,
    pub data_disk_gib: i64,
    pub charge_type: String,
    pub hostname: Option<String>,
    pub policy_group_id: Option<String>,
    pub agent_platform: String,
    pub agent_provider: String,
    pub agent_version: String,
    pub agent_status: AgentStatus,
    pub deployment_source: String,
    pub desktop_status: DesktopStatus,
    pub resource_group_id: Option<String>,
    pub model_template_id: Option<String>,
    pub biz_type: i64,
    pub auth_users: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// The operation in progress and its step, when one is.
    pub progress: Option<Progress>,
    /// When the next step of `progress` is due (ms since the epoch).
    pub next_step_at: Option<i64>,
    /// Desired-state generation: bumped by every change to what the runtime should run.
    pub generation: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A runtime as `ListDesktopAgentRuntime` shows it: what the page needs and nothing more,
/// with its group's name, its effective model group and its channels, read in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeListing {
    pub id: String,
    pub name: String,
    pub region_id: String,
    pub os_type: String,
    pub agent_platform: String,
    pub agent_provider: String,
    pub agent_version: String,
    pub agent_status: AgentStatus,
    pub deployment_source: String,
    pub desktop_status: DesktopStatus,
    pub resource_group_id: Option<String>,
    pub resource_group_name: Option<String>,
    pub model_template: Option<EffectiveModelTemplate>,
    pub auth_users: Vec<String>,
    /// Channel codes configured, and those whose QR-code login is still in progress; sorted.
    pub channels_configured: Vec<String>,
    pub channels_configuring: Vec<String>,
    /// Drift, as the runtime's daemon last reported it.
    pub risk: Risk,
}

/// The drift a runtime's daemon reports: what `RiskInfo` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Risk {
    pub model_modified: bool,
    pub channel_modified: bool,
    pub agent_uninstalled: bool,
}

/// Which runtimes a lifecycle write may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepGuard {
    /// Beginning an operation: the runtime must be in one of `from`, and idle unless the
    /// operation may interrupt another (delete).
    Begin {
        from: Vec<DesktopStatus>,
        interrupting: bool,
    },
    /// Advancing an operation: the runtime must still be at this point of it.
    At(Progress),
}

impl StepGuard {
    /// The guard of beginning `operation`: the cloud's state rules, as the write's condition.
    pub fn begin(operation: Operation) -> StepGuard {
        StepGuard::Begin {
            from: DesktopStatus::ALL
                .iter()
                .copied()
                .filter(|s| operation.allowed_from(*s))
                .collect(),
            interrupting: operation.interrupts(),
        }
    }
}

/// Filters of the list actions; `None` means "not filtered". Every field is ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RuntimeFilter {
    pub tenant_id: String,
    pub ids: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    pub agent_providers: Option<Vec<String>>,
    pub agent_platforms: Option<Vec<String>>,
    pub agent_versions: Option<Vec<String>>,
    pub agent_statuses: Option<Vec<String>>,
    pub desktop_statuses: Option<Vec<String>>,
    /// Deleted runtimes are listed only when asked for by status or id.
    pub include_deleted: bool,
    pub auth_users: Option<Vec<String>>,
    pub excluded_users: Option<Vec<String>>,
    pub has_auth_user: Option<bool>,
    pub deployment_source: Option<String>,
    pub resource_group_id: Option<String>,
    pub office_site_id: Option<String>,
    pub region_id: Option<String>,
    pub biz_type: Option<i64>,
    pub model_configured: Option<bool>,
    pub model_template_id: Option<String>,
    pub channel_configured: Option<bool>,
    /// Runtimes with drift (`true`) or without (`false`).
    pub has_risk: Option<bool>,
    pub os_types: Option<Vec<String>>,
    pub image_ids: Option<Vec<String>>,
    pub charge_type: Option<String>,
    pub bundle_id: Option<String>,
    pub desktop_type: Option<String>,
    pub tags: Vec<(String, Option<String>)>,
}

const COLUMNS: &str = "id, tenant_id, name, region_id, office_site_id, bundle_id, image_id, template_name, os_type, \
    platform, desktop_type, cpu, memory_mib, system_disk_gib, data_disk_gib, charge_type, hostname, policy_group_id, \
    agent_platform, agent_provider, agent_version, agent_status, deployment_source, desktop_status, resource_group_id, \
    model_template_id, biz_type, auth_users, tags, operation, op_step, next_step_at, generation, created_at, updated_at";

/// Most entries a [`VersionedCache`] holds.
const CACHE_LIMIT: usize = 1024;

/// Values read from the database at a version of their tenant ([`Store::tenant_version`]): one
/// is served only while no write transaction of the tenant has committed since, on any replica,
/// so it is never staler than the database. Counting a large filtered set, or reading a page
/// with what it joins, costs more than the rest of a list call; dashboards repeat the same ones.
pub(crate) struct VersionedCache<K, V>(Mutex<HashMap<K, (u64, V)>>);

impl<K, V> Default for VersionedCache<K, V> {
    fn default() -> Self {
        VersionedCache(Mutex::default())
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> VersionedCache<K, V> {
    fn get(&self, key: &K, version: u64) -> Option<V> {
        let entries = self.0.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (*at == version).then(|| value.clone())
    }

    fn put(&self, key: K, version: u64, value: V) {
        if let Ok(mut entries) = self.0.lock() {
            if entries.len() >= CACHE_LIMIT {
                entries.retain(|_, (at, _)| *at == version);
                if entries.len() >= CACHE_LIMIT {
                    entries.clear();
                }
            }
            entries.insert(key, (version, value));
        }
    }
}

/// `TotalCount`s by filter.
pub(crate) type CountCache = VersionedCache<RuntimeFilter, i64>;
/// Pages of `ListDesktopAgentRuntime` by filter, offset and size.
pub(crate) type PageCache = VersionedCache<(RuntimeFilter, i64, i64), Arc<Vec<RuntimeListing>>>;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn runtime_from_row(row: &AnyRow) -> Result<Runtime, StoreError> {
    let agent_status: String = row.try_get("agent_status")?;
    let desktop_status: String = row.try_get("desktop_status")?;
    let auth_users: String = row.try_get("auth_users")?;
    let tags: String = row.try_get("tags")?;
    let operation: Option<String> = row.try_get("operation")?;
    let op_step: Option<i64> = row.try_get("op_step")?;
    let progress = match operation {
        None => None,
        Some(op) => Some(Progress {
            operation: op
                .parse::<Operation>()
                .map_err(|_| corrupt("operation", &op))?,
            step_index: op_step
                .and_then(|step| usize::try_from(step).ok())
                .ok_or_else(|| corrupt("op_step of operation", &op))?,
        }),
    };
    Ok(Runtime {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        region_id: row.try_get("region_id")?,
        office_site_id: row.try_get("office_site_id")?,
        bundle_id: row.try_get("bundle_id")?,
        image_id: row.try_get("image_id")?,
        template_name: row.try_get("template_name")?,
        os_type: row.try_get("os_type")?,
        platform: row.try_get("platform")?,
        desktop_type: row.try_get("desktop_type")?,
        cpu: row.try_get("cpu")?,
        memory_mib: row.try_get("memory_mib")?,
        system_disk_gib: row.try_get("system_disk_gib")?,
        data_disk_gib: row.try_get("data_disk_gib")?,
        charge_type: row.try_get("charge_type")?,
        hostname: row.try_get("hostname")?,
        policy_group_id: row.try_get("policy_group_id")?,
        agent_platform: row.try_get("agent_platform")?,
        agent_provider: row.try_get("agent_provider")?,
        agent_version: row.try_get("agent_version")?,
        agent_status: agent_status
            .parse()
            .map_err(|_| corrupt("agent status", &agent_status))?,
        deployment_source: row.try_get("deployment_source")?,
        desktop_status: desktop_status
            .parse()
            .map_err(|_| corrupt("desktop status", &desktop_status))?,
        resource_group_id: row.try_get("resource_group_id")?,
        model_template_id: row.try_get("model_template_id")?,
        biz_type: row.try_get("biz_type")?,
        auth_users: serde_json::from_str(&auth_users)
            .map_err(|_| corrupt("auth users", &auth_users))?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("tags", &tags))?,
        progress,
        next_step_at: row.try_get("next_step_at")?,
        generation: row.try_get("generation")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One runtime of a page as the database renders it in JSON.
#[derive(serde::Deserialize)]
struct ListingRow {
    id: String,
    name: String,
    region_id: String,
    os_type: String,
    agent_platform: String,
    agent_provider: String,
    agent_version: String,
    agent_status: String,
    deployment_source: String,
    desktop_status: String,
    resource_group_id: Option<String>,
    resource_group_name: Option<String>,
    direct_model_template: Option<String>,
    inherited_model_template: Option<String>,
    model_template_name: Option<String>,
    channels: Option<String>,
    auth_users: Vec<String>,
    risk_model: i64,
    risk_channel: i64,
    risk_uninstalled: i64,
}

impl ListingRow {
    fn into_listing(self) -> Result<RuntimeListing, StoreError> {
        let model_template = match (self.direct_model_template, self.inherited_model_template) {
            (Some(id), _) => Some((id, ModelTemplateRef::Runtime)),
            (None, Some(id)) => Some((id, ModelTemplateRef::ResourceGroup)),
            (None, None) => None,
        }
        .map(|(model_template_id, ref_type)| {
            // Model groups in use cannot be deleted: a reference to none is corruption.
            let name = self
                .model_template_name
                .ok_or_else(|| corrupt("model group reference", &model_template_id))?;
            Ok::<_, StoreError>(EffectiveModelTemplate {
                model_template_id,
                name,
                ref_type,
            })
        })
        .transpose()?;
        let (mut configured, mut configuring) = (Vec::new(), Vec::new());
        for pair in self
            .channels
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.is_empty())
        {
            match pair.split_once(':') {
                Some(("Configured", code)) => configured.push(code.to_string()),
                Some(("Configuring", code)) => configuring.push(code.to_string()),
                _ => return Err(corrupt("channel state", pair)),
            }
        }
        configured.sort();
        configuring.sort();
        Ok(RuntimeListing {
            agent_status: self
                .agent_status
                .parse()
                .map_err(|_| corrupt("agent status", &self.agent_status))?,
            desktop_status: self
                .desktop_status
                .parse()
                .map_err(|_| corrupt("desktop status", &self.desktop_status))?,
            id: self.id,
            name: self.name,
            region_id: self.region_id,
            os_type: self.os_type,
            agent_platform: self.agent_platform,
            agent_provider: self.agent_provider,
            agent_version: self.agent_version,
            deployment_source: self.deployment_source,
            resource_group_id: self.resource_group_id,
            resource_group_name: self.resource_group_name,
            model_template,
            auth_users: self.auth_users,
            channels_configured: configured,
            channels_configuring: configuring,
            risk: Risk {
                model_modified: self.risk_model != 0,
                channel_modified: self.risk_channel != 0,
                agent_uninstalled: self.risk_uninstalled != 0,
            },
        })
    }
}

fn push_filter(sql: &mut Sql, filter: &RuntimeFilter) {
    sql.push(" WHERE r.tenant_id = ")
        .bind_text(filter.tenant_id.clone());
    let lists: [(&str, &Option<Vec<String>>); 9] = [
        ("r.id", &filter.ids),
        ("r.name", &filter.names),
        ("r.agent_provider", &filter.agent_providers),
        ("r.agent_platform", &filter.agent_platforms),
        ("r.agent_version", &filter.agent_versions),
        ("r.agent_status", &filter.agent_statuses),
        ("r.desktop_status", &filter.desktop_statuses),
        ("r.os_type", &filter.os_types),
        ("r.image_id", &filter.image_ids),
    ];
    for (column, values) in lists {
        if let Some(values) = values {
            sql.push(" AND");
            sql.in_list(column, values);
        }
    }
    if !filter.include_deleted {
        sql.push(" AND r.desktop_status <> 'Deleted'");
    }
    let equals: [(&str, &Option<String>); 7] = [
        ("r.region_id", &filter.region_id),
        ("r.deployment_source", &filter.deployment_source),
        ("r.resource_group_id", &filter.resource_group_id),
        ("r.office_site_id", &filter.office_site_id),
        ("r.charge_type", &filter.charge_type),
        ("r.bundle_id", &filter.bundle_id),
        ("r.desktop_type", &filter.desktop_type),
    ];
    sql.and_equal(&equals);
    if let Some(biz_type) = filter.biz_type {
        sql.push(" AND r.biz_type = ").bind_int(biz_type);
    }
    if let Some(has) = filter.has_auth_user {
        sql.push(" AND r.has_auth_user = ").bind_int(i64::from(has));
    }
    if let Some(users) = &filter.auth_users {
        sql.push(" AND EXISTS (SELECT 1 FROM runtime_users u WHERE u.runtime_id = r.id AND");
        sql.in_list("u.user_id", users).push(")");
    }
    if let Some(users) = filter.excluded_users.as_ref().filter(|u| !u.is_empty()) {
        sql.push(" AND NOT EXISTS (SELECT 1 FROM runtime_users u WHERE u.runtime_id = r.id AND");
        sql.in_list("u.user_id", users).push(")");
    }
    // The runtime's own model group wins over its resource group's.
    match filter.model_configured {
        Some(true) => sql
            .push(" AND ")
            .push(EFFECTIVE_MODEL_TEMPLATE)
            .push(" IS NOT NULL"),
        Some(false) => sql
            .push(" AND ")
            .push(EFFECTIVE_MODEL_TEMPLATE)
            .push(" IS NULL"),
        None => sql,
    };
    if let Some(template) = &filter.model_template_id {
        sql.push(" AND ")
            .push(EFFECTIVE_MODEL_TEMPLATE)
            .push(" = ")
            .bind_text(template.clone());
    }
    match filter.has_risk {
        Some(true) => {
            sql.push(" AND (r.risk_model <> 0 OR r.risk_channel <> 0 OR r.risk_uninstalled <> 0)")
        }
        Some(false) => {
            sql.push(" AND r.risk_model = 0 AND r.risk_channel = 0 AND r.risk_uninstalled = 0")
        }
        None => sql,
    };
    // A channel still waiting for its QR-code login is not configured yet.
    match filter.channel_configured {
        Some(configured) => sql
            .push(if configured { " AND EXISTS" } else { " AND NOT EXISTS" })
            .push(
                " (SELECT 1 FROM runtime_channels c WHERE c.runtime_id = r.id AND c.status = 'Configured')",
            ),
        None => sql,
    };
    sql.has_tags(
        "r.id",
        "runtime_tags",
        "runtime_id",
        &filter.tenant_id,
        &filter.tags,
    );
}

/// ` tenant_id = … AND id IN (…)` and the condition of `guard`: the runtimes a lifecycle write
/// may touch.
fn push_guarded_ids(sql: &mut Sql, tenant_id: &str, ids: &[String], guard: &StepGuard) {
    sql.push("tenant_id = ").bind_text(tenant_id).push(" AND");
    sql.in_list("id", ids);
    match guard {
        StepGuard::Begin { from, interrupting } => {
            let from: Vec<String> = from.iter().map(|s| s.as_str().to_string()).collect();
            sql.push(" AND");
            sql.in_list("desktop_status", &from);
            if !interrupting {
                sql.push(" AND operation IS NULL");
            }
        }
        StepGuard::At(at) => {
            sql.push(" AND operation = ")
                .bind_text(at.operation.as_str());
            sql.push(" AND op_step = ").bind_int(at.step_index as i64);
        }
    }
}

/// Writes new runtimes (with their users and tags) inside `tx`.
pub(crate) async fn insert_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    runtimes: &[Runtime],
) -> Result<(), StoreError> {
    for rt in runtimes {
        let auth_users = serde_json::to_string(&rt.auth_users)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tags =
            serde_json::to_string(&rt.tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!(
                "INSERT INTO runtimes ({COLUMNS}, has_auth_user) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, \
                 $31, $32, $33, $34, $35, $36)"
            ))
            .bind(&rt.id)
            .bind(&rt.tenant_id)
            .bind(&rt.name)
            .bind(&rt.region_id)
            .bind(&rt.office_site_id)
            .bind(&rt.bundle_id)
            .bind(&rt.image_id)
            .bind(&rt.template_name)
            .bind(&rt.os_type)
            .bind(&rt.platform)
            .bind(&rt.desktop_type)
            .bind(rt.cpu)
            .bind(rt.memory_mib)
            .bind(rt.system_disk_gib)
            .bind(rt.data_disk_gib)
            .bind(&rt.charge_type)
            .bind(&rt.hostname)
            .bind(&rt.policy_group_id)
            .bind(&rt.agent_platform)
            .bind(&rt.agent_provider)
            .bind(&rt.agent_version)
            .bind(rt.agent_status.as_str())
            .bind(&rt.deployment_source)
            .bind(rt.desktop_status.as_str())
            .bind(&rt.resource_group_id)
            .bind(&rt.model_template_id)
            .bind(rt.biz_type)
            .bind(auth_users)
            .bind(tags)
            .bind(rt.progress.map(|p| p.operation.as_str()))
            .bind(rt.progress.map(|p| p.step_index as i64))
            .bind(rt.next_step_at)
            .bind(rt.generation)
            .bind(rt.created_at)
            .bind(rt.updated_at)
            .bind(i64::from(!rt.auth_users.is_empty()))
            .execute(&mut **tx)
            .await?;
        for user in &rt.auth_users {
            sqlx::query(
                    "INSERT INTO runtime_users (runtime_id, tenant_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(&rt.id)
                .bind(&rt.tenant_id)
                .bind(user)
                .execute(&mut **tx)
                .await?;
        }
        for (key, value) in &rt.tags {
            sqlx::query(
                    "INSERT INTO runtime_tags (runtime_id, tenant_id, tag_key, tag_value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (runtime_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                )
                .bind(&rt.id)
                .bind(&rt.tenant_id)
                .bind(key)
                .bind(value)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Inserts new runtimes in one transaction.
    pub async fn insert_runtimes(&self, runtimes: &[Runtime]) -> Result<(), StoreError> {
        let mut tenants: Vec<&str> = runtimes.iter().map(|r| r.tenant_id.as_str()).collect();
        tenants.dedup();
        transact!(self, &tenants, |tx| insert_rows(&mut tx.tx, runtimes).await)?;
        Ok(())
    }

    /// The tenant's runtimes among `ids`, deleted ones included, in no particular order.
    pub async fn runtimes_by_ids(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<Runtime>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM runtimes r WHERE r.tenant_id = "
        ));
        sql.bind_text(tenant_id).push(" AND");
        sql.in_list("r.id", ids);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter().map(runtime_from_row).collect()
    }

    /// A page of runtimes matching `filter`, newest first.
    pub async fn list_runtimes(
        &self,
        filter: &RuntimeFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Runtime>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM runtimes r"));
        push_filter(&mut sql, filter);
        sql.page("r.created_at DESC, r.id DESC", offset, limit);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter().map(runtime_from_row).collect()
    }

    /// A page of [`RuntimeListing`]s matching `filter`, newest first, in one query.
    pub async fn list_runtime_listings(
        &self,
        filter: &RuntimeFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Arc<Vec<RuntimeListing>>, StoreError> {
        // Read before the page: a write committing meanwhile makes the page stale at once.
        let version = self.tenant_version(&filter.tenant_id).await?;
        self.list_runtime_listings_at(filter, offset, limit, version)
            .await
    }

    /// How many runtimes match `filter`, and the page of them at `offset` (see
    /// [`Store::list_runtime_listings`]), both as of one version of the tenant.
    pub async fn runtime_listing_page(
        &self,
        filter: &RuntimeFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Arc<Vec<RuntimeListing>>), StoreError> {
        let version = self.tenant_version(&filter.tenant_id).await?;
        let count = self.count_runtimes_at(filter, version).await?;
        let page = self
            .list_runtime_listings_at(filter, offset, limit, version)
            .await?;
        Ok((count, page))
    }

    async fn list_runtime_listings_at(
        &self,
        filter: &RuntimeFilter,
        offset: i64,
        limit: i64,
        version: u64,
    ) -> Result<Arc<Vec<RuntimeListing>>, StoreError> {
        let key = (filter.clone(), offset, limit);
        if let Some(page) = self.runtime_pages.get(&key, version) {
            return Ok(page);
        }
        let page = Arc::new(self.read_runtime_listings(filter, offset, limit).await?);
        self.runtime_pages.put(key, version, page.clone());
        Ok(page)
    }

    async fn read_runtime_listings(
        &self,
        filter: &RuntimeFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RuntimeListing>, StoreError> {
        // First the ids of the page: a one-table query the database plans in no time. Then its
        // rows, with their group's name, effective model group and channels joined in: planned
        // once per connection (the shape no longer depends on the filter), where planning the
        // joins together with the filter cost PostgreSQL more than running them.
        let mut ids = Sql::new("SELECT r.id FROM runtimes r");
        push_filter(&mut ids, filter);
        ids.page("r.created_at DESC, r.id DESC", offset, limit);
        let ids: Vec<String> = ids
            .query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The page comes back as ONE JSON document built by the database: decoding rows and
        // columns one by one costs more than the query itself. `channels` holds `status:code`
        // pairs (codes and statuses never contain ',' or ':').
        let (channels, page_json, object, auth_users) = match self.backend {
            Backend::Sqlite => (
                "group_concat(c.status || ':' || c.code, ',')",
                "json_group_array",
                "json_object",
                "json(auth_users)",
            ),
            Backend::Postgres => (
                "string_agg(c.status || ':' || c.code, ',')",
                "json_agg",
                "json_build_object",
                "auth_users::json",
            ),
        };
        let fields = [
            "id",
            "name",
            "region_id",
            "os_type",
            "agent_platform",
            "agent_provider",
            "agent_version",
            "agent_status",
            "deployment_source",
            "desktop_status",
            "resource_group_id",
            "resource_group_name",
            "direct_model_template",
            "inherited_model_template",
            "model_template_name",
            "channels",
            "risk_model",
            "risk_channel",
            "risk_uninstalled",
        ]
        .iter()
        .map(|f| format!("'{f}', {f}"))
        .collect::<Vec<_>>()
        .join(", ");
        let mut sql = Sql::new(&format!(
            "SELECT CAST(COALESCE({page_json}({object}({fields}, 'auth_users', {auth_users}) \
             ORDER BY created_at DESC, id DESC), '[]') AS TEXT) FROM ( \
             SELECT r.id, r.name, r.region_id, r.os_type, r.agent_platform, r.agent_provider, r.agent_version, \
             r.agent_status, r.deployment_source, r.desktop_status, r.resource_group_id, r.auth_users, r.created_at, \
             r.risk_model, r.risk_channel, r.risk_uninstalled, \
             g.display_name AS resource_group_name, r.model_template_id AS direct_model_template, \
             b.model_template_id AS inherited_model_template, m.name AS model_template_name, \
             (SELECT {channels} FROM runtime_channels c WHERE c.runtime_id = r.id) AS channels \
             FROM runtimes r \
             LEFT JOIN resource_groups g ON g.id = r.resource_group_id \
             LEFT JOIN resource_group_model_templates b ON r.model_template_id IS NULL \
               AND b.tenant_id = r.tenant_id AND b.resource_group_id = r.resource_group_id AND b.agent_provider = r.agent_provider \
             LEFT JOIN model_templates m ON m.id = COALESCE(r.model_template_id, b.model_template_id)"
        ));
        sql.push(" WHERE r.tenant_id = ")
            .bind_text(filter.tenant_id.clone())
            .push(" AND");
        sql.in_list("r.id", &ids).push(") page");
        let text: String = sql.query()?.fetch_one(&self.pool).await?.try_get(0)?;
        let rows: Vec<ListingRow> = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("runtime page: {e}")))?;
        rows.into_iter().map(ListingRow::into_listing).collect()
    }

    /// How many runtimes match `filter` (cached, see [`VersionedCache`]).
    pub async fn count_runtimes(&self, filter: &RuntimeFilter) -> Result<i64, StoreError> {
        let version = self.tenant_version(&filter.tenant_id).await?;
        self.count_runtimes_at(filter, version).await
    }

    async fn count_runtimes_at(
        &self,
        filter: &RuntimeFilter,
        version: u64,
    ) -> Result<i64, StoreError> {
        if let Some(count) = self.runtime_counts.get(filter, version) {
            return Ok(count);
        }
        let mut sql = Sql::new("SELECT COUNT(*) FROM runtimes r");
        push_filter(&mut sql, filter);
        let count: i64 = sql.query()?.fetch_one(&self.pool).await?.try_get(0)?;
        self.runtime_counts.put(filter.clone(), version, count);
        Ok(count)
    }

    /// Moves runtimes to `progress`, scheduling the next step at `next_step_at` (or ending the
    /// operation when `progress` is its last step), but only runtimes that `guard` admits, so a
    /// write never lands on a state newer than the one it was decided on. Beginning an
    /// operation is all or nothing: `false` (and no change) when any runtime no longer qualifies.
    pub async fn set_progress(
        &self,
        tenant_id: &str,
        ids: &[String],
        progress: Progress,
        next_step_at: Option<i64>,
        now: i64,
        guard: &StepGuard,
    ) -> Result<bool, StoreError> {
        let Some(step) = progress.current() else {
            return Ok(true);
        };
        let ongoing = progress.next().is_some();
        let mut update = Sql::new("UPDATE runtimes SET desktop_status = ");
        update.bind_text(step.desktop.as_str());
        if let Some(agent) = step.agent {
            update.push(", agent_status = ").bind_text(agent.as_str());
        }
        if ongoing {
            update
                .push(", operation = ")
                .bind_text(progress.operation.as_str());
            update
                .push(", op_step = ")
                .bind_int(progress.step_index as i64);
            match next_step_at {
                Some(at) => update.push(", next_step_at = ").bind_int(at),
                None => update.push(", next_step_at = NULL"),
            };
        } else {
            update.push(", operation = NULL, op_step = NULL, next_step_at = NULL");
        }
        update.push(", updated_at = ").bind_int(now);
        update.push(" WHERE ");
        push_guarded_ids(&mut update, tenant_id, ids, guard);
        let mut admitted = Sql::new("SELECT COUNT(*) FROM runtimes WHERE ");
        push_guarded_ids(&mut admitted, tenant_id, ids, guard);
        let whole = transact!(self, &[tenant_id], |tx| {
            lock_runtimes(tx, &runtime_ids(tenant_id, ids)).await?;
            if matches!(guard, StepGuard::Begin { .. }) {
                // All or nothing: with the rows locked, the count is what the update would do.
                let count: i64 = admitted.query()?.fetch_one(&mut *tx.tx).await?.try_get(0)?;
                if count != ids.len() as i64 {
                    return Ok::<_, StoreError>(false);
                }
            }
            let changed = update.query()?.execute(&mut *tx.tx).await?.rows_affected();
            Ok(changed == ids.len() as u64)
        })?;
        Ok(whole)
    }

    /// Runtimes whose next lifecycle step is due at `now`, oldest first.
    pub async fn due_runtimes(&self, now: i64, limit: i64) -> Result<Vec<Runtime>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM runtimes r WHERE next_step_at IS NOT NULL AND next_step_at <= $1 \
             ORDER BY next_step_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(runtime_from_row).collect()
    }

    /// The earliest pending step, to know how long the lifecycle driver may sleep.
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT MIN(next_step_at) FROM runtimes WHERE next_step_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{runtime, test_store};

    /// Pages are cached on SQLite, but never outlive a write: whatever a write changes, the next
    /// read sees it.
    #[tokio::test]
    async fn a_cached_page_never_outlives_a_write() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("page-cache").await?;
        store
            .insert_runtimes(&[runtime(&tenant, "ecd-1", None)])
            .await?;
        let filter = RuntimeFilter {
            tenant_id: tenant.clone(),
            ..RuntimeFilter::default()
        };
        let ids =
            |page: Arc<Vec<RuntimeListing>>| page.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_runtime_listings(&filter, 0, 10).await?),
            ["ecd-1"]
        );
        assert_eq!(
            ids(store.list_runtime_listings(&filter, 0, 10).await?),
            ["ecd-1"]
        );
        let mut newer = runtime(&tenant, "ecd-2", None);
        newer.created_at = 1;
        store.insert_runtimes(&[newer]).await?;
        assert_eq!(
            ids(store.list_runtime_listings(&filter, 0, 10).await?),
            ["ecd-2", "ecd-1"]
        );
        let stop = Progress::begin(Operation::Stop);
        store
            .set_progress(
                &tenant,
                &["ecd-1".into()],
                stop.last(),
                None,
                5,
                &StepGuard::begin(Operation::Stop),
            )
            .await?;
        let page = store.list_runtime_listings(&filter, 0, 10).await?;
        assert_eq!(page[1].desktop_status, DesktopStatus::Stopped);
        Ok(())
    }

    #[tokio::test]
    async fn corrupt_rows_are_reported_not_papered_over() -> Result<(), StoreError> {
        // issue: contention (swallowed errors)
        let (store, tenant, _dir) = test_store("corrupt-runtime").await?;
        store
            .insert_runtimes(&[
                runtime(&tenant, "ecd-1", None),
                runtime(&tenant, "ecd-2", None),
            ])
            .await?;
        // An operation without its step is not "step 0".
        sqlx::query("UPDATE runtimes SET operation = 'Stop', op_step = NULL WHERE id = 'ecd-1'")
            .execute(&store.pool)
            .await?;
        let read = store.runtimes_by_ids(&tenant, &["ecd-1".into()]).await;
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
        // A model group reference to no model group is not a group without a name.
        sqlx::query("UPDATE runtimes SET model_template_id = 'mt-gone' WHERE id = 'ecd-2'")
            .execute(&store.pool)
            .await?;
        let filter = RuntimeFilter {
            tenant_id: tenant.clone(),
            ids: Some(vec!["ecd-2".into()]),
            ..RuntimeFilter::default()
        };
        let page = store.list_runtime_listings(&filter, 0, 10).await;
        assert!(matches!(page, Err(StoreError::Corrupt(_))), "{page:?}");
        Ok(())
    }
}
