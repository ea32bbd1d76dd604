//! Model groups (`model_templates`), their provider templates (with encrypted API keys) and LLM
//! templates, the resource group bindings, and the desired-state generation bump every change to
//! a group causes on the runtimes that use it.
//!
//! Each mutation runs in one transaction together with its generation bump, so a runtime's
//! generation never lags behind a change of its model group. Every change to a group or to
//! anything in it locks the group's row first (on PostgreSQL): changes of one group take turns,
//! and every transaction takes its locks in one order — group, then its providers and models,
//! then runtimes (see [`lock_runtimes`]).

use domain::models::{CreditMultiplier, GroupConfig, ModelRef, Prices};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::locks::{lock_model_template, lock_runtimes};
use crate::query::Sql;
use crate::{Contention, Secret, Store, StoreError, WriteTx, transact};

/// A model group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTemplate {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: String,
    pub agent_platform: String,
    pub agent_provider: String,
    pub biz_type: i64,
    pub ref_scope: String,
    /// `User` (tenant-made) or `System` (preset).
    pub source: String,
    /// The Config JSON document (an object; `defaults.model.primary` names the default model).
    pub config: String,
    /// How many LLM templates the group holds (read side only; ignored on insert).
    pub model_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A provider template as stored, its API key decrypted. `Debug` redacts the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTemplate {
    pub id: String,
    pub tenant_id: String,
    pub model_template_id: String,
    pub provider_name: String,
    /// `WuyingCredit`, `Managed` or `Custom`.
    pub provider_type: String,
    pub name: String,
    pub description: String,
    pub agent_platform: String,
    pub agent_provider: String,
    pub biz_type: i64,
    pub base_url: String,
    pub api: String,
    pub api_key: Option<Secret>,
    pub enable_wuying_proxy: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProviderTemplate {
    /// The API key as every response shows it (see [`domain::models::mask_api_key`]).
    pub fn masked_api_key(&self) -> Option<String> {
        self.api_key
            .as_ref()
            .map(|k| domain::models::mask_api_key(k.expose()))
    }
}

/// An LLM template (one model of one provider of one group) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmTemplate {
    pub id: String,
    pub tenant_id: String,
    pub model_template_id: String,
    pub provider_template_id: String,
    /// The provider's `ProviderName` (read side only), for `provider/llmCode` references.
    pub provider_name: String,
    pub llm_code: String,
    pub name: String,
    pub description: String,
    pub config: String,
    pub is_default: bool,
    pub prices: Prices,
    pub credit_multiplier: Option<CreditMultiplier>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl LlmTemplate {
    pub fn model_ref(&self) -> ModelRef {
        ModelRef {
            provider: self.provider_name.clone(),
            llm_code: self.llm_code.clone(),
        }
    }
}

/// Filters of `ListModelTemplates`; `None` means "not filtered".
#[derive(Debug, Clone, Default)]
pub struct ModelTemplateFilter {
    pub tenant_id: String,
    pub biz_type: Option<i64>,
    pub agent_platforms: Option<Vec<String>>,
    pub agent_providers: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub name_contains: Option<String>,
    pub ref_scope: Option<String>,
    pub source: Option<String>,
    pub has_model: Option<bool>,
}

/// Filters of `ListModelProviderTemplates`.
#[derive(Debug, Clone, Default)]
pub struct ProviderTemplateFilter {
    pub tenant_id: String,
    pub agent_provider: Option<String>,
    pub agent_platform: Option<String>,
    pub biz_type: Option<i64>,
    pub model_template_id: Option<String>,
    pub provider_name: Option<String>,
    pub ids: Option<Vec<String>>,
}

/// Filters of `ListLlmTemplates`.
#[derive(Debug, Clone, Default)]
pub struct LlmTemplateFilter {
    pub tenant_id: String,
    pub model_template_id: Option<String>,
    pub provider_template_id: Option<String>,
    pub llm_code_contains: Option<String>,
    pub ids: Option<Vec<String>>,
}

/// Changes of `UpdateModelTemplate`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ModelTemplatePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub ref_scope: Option<String>,
    /// A new Config; its default model must be a model of the group, and becomes the group's
    /// default model (no default in the Config: the group has none).
    pub config: Option<GroupConfig>,
}

/// A model to add in `BatchCreateLlmTemplates`.
#[derive(Debug, Clone)]
pub struct NewLlmTemplate {
    pub id: String,
    pub llm_code: String,
    pub name: String,
    pub description: String,
    pub config: String,
    pub is_default: bool,
    pub prices: Prices,
    pub credit_multiplier: Option<CreditMultiplier>,
}

/// What `BatchCreateLlmTemplates` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub created: Vec<String>,
    /// `(llm_code, reason)` of each item not created.
    pub skipped: Vec<(String, String)>,
}

/// What still holds an object that was asked to be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Runtimes,
    ResourceGroups,
    ProviderTemplates,
    LlmTemplates,
}

/// Why a model-group change was refused (or failed).
#[derive(Debug, thiserror::Error)]
pub enum ModelChangeError {
    #[error("model group {0} not found")]
    GroupNotFound(String),
    #[error("provider template {0} not found")]
    ProviderNotFound(String),
    #[error("LLM template {0} not found")]
    LlmNotFound(String),
    #[error("provider name {0} already exists in the model group")]
    DuplicateProviderName(String),
    #[error("{id} is still used by {count} {what:?}")]
    InUse {
        id: String,
        what: Dependency,
        count: i64,
    },
    #[error("default model {0} is not a model of the group")]
    UnknownDefaultModel(String),
    /// The change asked for is not valid for the object as stored.
    #[error(transparent)]
    Invalid(#[from] domain::models::ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Contention for ModelChangeError {
    fn is_contention(&self) -> bool {
        matches!(self, ModelChangeError::Store(e) if e.is_contention())
    }
}

impl From<sqlx::Error> for ModelChangeError {
    fn from(e: sqlx::Error) -> Self {
        ModelChangeError::Store(StoreError::Database(e))
    }
}

const GROUP_COLUMNS: &str = "m.id, m.tenant_id, m.name, m.description, m.agent_platform, m.agent_provider, \
    m.biz_type, m.ref_scope, m.source, m.config, m.created_at, m.updated_at, \
    (SELECT COUNT(*) FROM llm_templates c WHERE c.model_template_id = m.id) AS model_count";

const PROVIDER_COLUMNS: &str = "p.id, p.tenant_id, p.model_template_id, p.provider_name, p.provider_type, \
    p.name, p.description, p.agent_platform, p.agent_provider, p.biz_type, p.base_url, p.api, p.api_key_enc, \
    p.enable_wuying_proxy, p.created_at, p.updated_at";

const LLM_COLUMNS: &str = "l.id, l.tenant_id, l.model_template_id, l.provider_template_id, p.provider_name, \
    l.llm_code, l.name, l.description, l.config, l.is_default, l.price_input, l.price_output, l.price_cache_read, \
    l.price_cache_write, l.credit_multiplier_min, l.credit_multiplier_max, l.created_at, l.updated_at";

fn group_from_row(row: &AnyRow) -> Result<ModelTemplate, StoreError> {
    Ok(ModelTemplate {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        agent_platform: row.try_get("agent_platform")?,
        agent_provider: row.try_get("agent_provider")?,
        biz_type: row.try_get("biz_type")?,
        ref_scope: row.try_get("ref_scope")?,
        source: row.try_get("source")?,
        config: row.try_get("config")?,
        model_count: row.try_get("model_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn llm_from_row(row: &AnyRow) -> Result<LlmTemplate, StoreError> {
    let min: Option<String> = row.try_get("credit_multiplier_min")?;
    let max: Option<String> = row.try_get("credit_multiplier_max")?;
    Ok(LlmTemplate {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        model_template_id: row.try_get("model_template_id")?,
        provider_template_id: row.try_get("provider_template_id")?,
        provider_name: row.try_get("provider_name")?,
        llm_code: row.try_get("llm_code")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        config: row.try_get("config")?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        prices: Prices {
            input: row.try_get("price_input")?,
            output: row.try_get("price_output")?,
            cache_read: row.try_get("price_cache_read")?,
            cache_write: row.try_get("price_cache_write")?,
        },
        credit_multiplier: (min.is_some() || max.is_some())
            .then_some(CreditMultiplier { min, max }),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// `%text%` for `LIKE … ESCAPE '\'`, with the pattern characters of `text` escaped.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Bumps the desired-state generation of every runtime that uses model group `model_template_id`,
/// directly or through its resource group's binding for its agent product, locking them first.
/// Call it in the transaction of the change.
pub(crate) async fn bump_generation_for_model_template(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    model_template_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let mut users = Sql::new(
        "tenant_id = $1 AND (model_template_id = $2 OR (model_template_id IS NULL AND EXISTS ( \
         SELECT 1 FROM resource_group_model_templates b \
         WHERE b.tenant_id = runtimes.tenant_id AND b.resource_group_id = runtimes.resource_group_id \
           AND b.agent_provider = runtimes.agent_provider AND b.model_template_id = $2)))",
    );
    users.preset(&[
        crate::query::Value::Text(tenant_id.to_string()),
        crate::query::Value::Text(model_template_id.to_string()),
    ]);
    lock_runtimes(tx, &users).await?;
    let mut update = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
    update.bind_int(now).push(" WHERE ").append(&users);
    let done = update.query()?.execute(&mut *tx.tx).await?;
    Ok(done.rows_affected())
}

/// Locks the group that row `id` of `table` (providers or models) belongs to, for a change of
/// that row: the group is found, locked, and the row read again under the lock (it may have
/// gone meanwhile). Returns the group id, `None` when the row does not exist.
async fn lock_group_of(
    tx: &mut WriteTx<'_>,
    table: &str,
    tenant_id: &str,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let find = format!("SELECT model_template_id FROM {table} WHERE tenant_id = $1 AND id = $2");
    let group: Option<String> = sqlx::query(&find)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await?
        .map(|r| r.try_get("model_template_id"))
        .transpose()?;
    let Some(group) = group else {
        return Ok(None);
    };
    if lock_model_template(tx, tenant_id, &group, "UPDATE")
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let still: Option<String> = sqlx::query(&find)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await?
        .map(|r| r.try_get("model_template_id"))
        .transpose()?;
    Ok(still.filter(|g| *g == group))
}

async fn count(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    tenant_id: &str,
    id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query(sql)
        .bind(tenant_id)
        .bind(id)
        .fetch_one(conn)
        .await?
        .try_get(0)
}

/// Rewrites `defaults.model.primary` of a group's Config to `model`. The group's row must be
/// locked already. A stored Config that no longer parses is corruption, reported, never
/// overwritten.
async fn set_group_default(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    id: &str,
    model: Option<&ModelRef>,
    now: i64,
) -> Result<(), ModelChangeError> {
    let text = lock_model_template(tx, tenant_id, id, "UPDATE")
        .await?
        .ok_or_else(|| ModelChangeError::GroupNotFound(id.to_string()))?;
    let mut config = GroupConfig::parse(&text)
        .map_err(|e| StoreError::Corrupt(format!("Config of model group {id}: {e}")))?;
    config.set_default_model(model);
    sqlx::query(
        "UPDATE model_templates SET config = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
    )
    .bind(config.to_json())
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

impl Store {
    fn provider_from_row(&self, row: &AnyRow) -> Result<ProviderTemplate, StoreError> {
        let key_enc: Option<String> = row.try_get("api_key_enc")?;
        Ok(ProviderTemplate {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            model_template_id: row.try_get("model_template_id")?,
            provider_name: row.try_get("provider_name")?,
            provider_type: row.try_get("provider_type")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            agent_platform: row.try_get("agent_platform")?,
            agent_provider: row.try_get("agent_provider")?,
            biz_type: row.try_get("biz_type")?,
            base_url: row.try_get("base_url")?,
            api: row.try_get("api")?,
            api_key: key_enc.map(|k| self.cipher.decrypt(&k)).transpose()?,
            enable_wuying_proxy: row.try_get::<i64, _>("enable_wuying_proxy")? != 0,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Model groups

    pub async fn insert_model_template(&self, group: &ModelTemplate) -> Result<(), StoreError> {
        transact!(self, &[group.tenant_id.as_str()], |tx| {
            sqlx::query(
                "INSERT INTO model_templates (id, tenant_id, name, description, agent_platform, agent_provider, \
                 biz_type, ref_scope, source, config, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&group.id)
            .bind(&group.tenant_id)
            .bind(&group.name)
            .bind(&group.description)
            .bind(&group.agent_platform)
            .bind(&group.agent_provider)
            .bind(group.biz_type)
            .bind(&group.ref_scope)
            .bind(&group.source)
            .bind(&group.config)
            .bind(group.created_at)
            .bind(group.updated_at)
            .execute(&mut *tx.tx)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The tenant's model group `id`.
    pub async fn model_template(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ModelTemplate>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM model_templates m WHERE m.tenant_id = $1 AND m.id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    fn push_group_filter(sql: &mut Sql, filter: &ModelTemplateFilter) {
        sql.push(" WHERE m.tenant_id = ")
            .bind_text(filter.tenant_id.clone());
        if let Some(biz_type) = filter.biz_type {
            sql.push(" AND m.biz_type = ").bind_int(biz_type);
        }
        let lists = [
            ("m.agent_platform", &filter.agent_platforms),
            ("m.agent_provider", &filter.agent_providers),
            ("m.id", &filter.ids),
        ];
        for (column, values) in lists {
            if let Some(values) = values {
                sql.push(" AND");
                sql.in_list(column, values);
            }
        }
        if let Some(name) = &filter.name_contains {
            sql.push(" AND LOWER(m.name) LIKE LOWER(")
                .bind_text(contains_pattern(name))
                .push(") ESCAPE '\\'");
        }
        if let Some(scope) = &filter.ref_scope {
            sql.push(" AND m.ref_scope = ").bind_text(scope.clone());
        }
        if let Some(source) = &filter.source {
            sql.push(" AND m.source = ").bind_text(source.clone());
        }
        match filter.has_model {
            Some(true) => sql.push(
                " AND EXISTS (SELECT 1 FROM llm_templates h WHERE h.model_template_id = m.id)",
            ),
            Some(false) => sql.push(
                " AND NOT EXISTS (SELECT 1 FROM llm_templates h WHERE h.model_template_id = m.id)",
            ),
            None => sql,
        };
    }

    /// A page of model groups, newest first, and the number of all that match.
    pub async fn list_model_templates(
        &self,
        filter: &ModelTemplateFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ModelTemplate>, i64), StoreError> {
        let mut count_sql = Sql::new("SELECT COUNT(*) FROM model_templates m");
        Self::push_group_filter(&mut count_sql, filter);
        let total: i64 = count_sql.query()?.fetch_one(&self.pool).await?.try_get(0)?;
        let mut sql = Sql::new(&format!("SELECT {GROUP_COLUMNS} FROM model_templates m"));
        Self::push_group_filter(&mut sql, filter);
        sql.page("m.created_at DESC, m.id DESC", offset, limit);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        let groups = rows.iter().map(group_from_row).collect::<Result<_, _>>()?;
        Ok((groups, total))
    }

    /// Applies `patch` to group `id`; a new Config's default model becomes the group's default.
    pub async fn update_model_template(
        &self,
        tenant_id: &str,
        id: &str,
        patch: &ModelTemplatePatch,
        now: i64,
    ) -> Result<(), ModelChangeError> {
        let mut update = Sql::new("UPDATE model_templates SET updated_at = ");
        update.bind_int(now);
        if let Some(name) = &patch.name {
            update.push(", name = ").bind_text(name.clone());
        }
        if let Some(description) = &patch.description {
            update
                .push(", description = ")
                .bind_text(description.clone());
        }
        if let Some(scope) = &patch.ref_scope {
            update.push(", ref_scope = ").bind_text(scope.clone());
        }
        if let Some(config) = &patch.config {
            update.push(", config = ").bind_text(config.to_json());
        }
        update
            .push(" WHERE tenant_id = ")
            .bind_text(tenant_id)
            .push(" AND id = ")
            .bind_text(id);
        let default = patch
            .config
            .as_ref()
            .map(|config| config.default_model())
            .transpose()
            .map_err(ModelChangeError::Invalid)?;
        transact!(self, &[tenant_id], |tx| {
            if lock_model_template(tx, tenant_id, id, "UPDATE")
                .await?
                .is_none()
            {
                return Err(ModelChangeError::GroupNotFound(id.to_string()));
            }
            update.query()?.execute(&mut *tx.tx).await?;
            if let Some(default) = &default {
                let target: Option<String> = match default {
                    Some(model) => {
                        let row = sqlx::query(
                            "SELECT l.id FROM llm_templates l JOIN model_provider_templates p \
                             ON p.id = l.provider_template_id \
                             WHERE l.tenant_id = $1 AND l.model_template_id = $2 AND p.provider_name = $3 \
                             AND l.llm_code = $4",
                        )
                        .bind(tenant_id)
                        .bind(id)
                        .bind(&model.provider)
                        .bind(&model.llm_code)
                        .fetch_optional(&mut *tx.tx)
                        .await?;
                        match row {
                            Some(row) => Some(row.try_get("id")?),
                            None => {
                                return Err(ModelChangeError::UnknownDefaultModel(
                                    model.to_string(),
                                ));
                            }
                        }
                    }
                    None => None,
                };
                sqlx::query(
                    "UPDATE llm_templates SET is_default = 0, updated_at = $1 \
                     WHERE tenant_id = $2 AND model_template_id = $3 AND is_default = 1",
                )
                .bind(now)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
                if let Some(target) = target {
                    sqlx::query(
                        "UPDATE llm_templates SET is_default = 1, updated_at = $1 WHERE id = $2",
                    )
                    .bind(now)
                    .bind(target)
                    .execute(&mut *tx.tx)
                    .await?;
                }
            }
            bump_generation_for_model_template(tx, tenant_id, id, now).await?;
            Ok(())
        })
    }

    /// Deletes group `id`, refused while runtimes, resource groups or provider templates hold it.
    pub async fn delete_model_template(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<(), ModelChangeError> {
        transact!(self, &[tenant_id], |tx| {
            if lock_model_template(tx, tenant_id, id, "UPDATE")
                .await?
                .is_none()
            {
                return Err(ModelChangeError::GroupNotFound(id.to_string()));
            }
            let checks = [
                (
                    Dependency::Runtimes,
                    "SELECT COUNT(*) FROM runtimes WHERE tenant_id = $1 AND model_template_id = $2 \
                     AND desktop_status <> 'Deleted'",
                ),
                (
                    Dependency::ResourceGroups,
                    "SELECT COUNT(*) FROM resource_group_model_templates WHERE tenant_id = $1 AND model_template_id = $2",
                ),
                (
                    Dependency::ProviderTemplates,
                    "SELECT COUNT(*) FROM model_provider_templates WHERE tenant_id = $1 AND model_template_id = $2",
                ),
            ];
            for (what, sql) in checks {
                let n = count(&mut tx.tx, sql, tenant_id, id).await?;
                if n > 0 {
                    return Err(ModelChangeError::InUse {
                        id: id.to_string(),
                        what,
                        count: n,
                    });
                }
            }
            // Deleted runtimes keep no reference to a group that no longer exists.
            let mut holders = Sql::new("tenant_id = $1 AND model_template_id = $2");
            holders.preset(&[
                crate::query::Value::Text(tenant_id.to_string()),
                crate::query::Value::Text(id.to_string()),
            ]);
            lock_runtimes(tx, &holders).await?;
            let mut release = Sql::new("UPDATE runtimes SET model_template_id = NULL WHERE ");
            release.append(&holders);
            release.query()?.execute(&mut *tx.tx).await?;
            sqlx::query("DELETE FROM model_templates WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
            Ok(())
        })
    }

    // -----------------------------------------------------------------------------------------
    // Provider templates

    /// Adds a provider template to its group; `ProviderName` is unique within the group.
    pub async fn insert_provider_template(
        &self,
        provider: &ProviderTemplate,
    ) -> Result<(), ModelChangeError> {
        let key_enc = provider
            .api_key
            .as_ref()
            .map(|k| self.cipher.encrypt(k.expose()))
            .transpose()
            .map_err(StoreError::from)?;
        transact!(self, &[provider.tenant_id.as_str()], |tx| {
            if lock_model_template(
                tx,
                &provider.tenant_id,
                &provider.model_template_id,
                "UPDATE",
            )
            .await?
            .is_none()
            {
                return Err(ModelChangeError::GroupNotFound(
                    provider.model_template_id.clone(),
                ));
            }
            let done = sqlx::query(
                "INSERT INTO model_provider_templates (id, tenant_id, model_template_id, provider_name, provider_type, \
                 name, description, agent_platform, agent_provider, biz_type, base_url, api, api_key_enc, \
                 enable_wuying_proxy, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (model_template_id, provider_name) DO NOTHING",
            )
            .bind(&provider.id)
            .bind(&provider.tenant_id)
            .bind(&provider.model_template_id)
            .bind(&provider.provider_name)
            .bind(&provider.provider_type)
            .bind(&provider.name)
            .bind(&provider.description)
            .bind(&provider.agent_platform)
            .bind(&provider.agent_provider)
            .bind(provider.biz_type)
            .bind(&provider.base_url)
            .bind(&provider.api)
            .bind(&key_enc)
            .bind(i64::from(provider.enable_wuying_proxy))
            .bind(provider.created_at)
            .bind(provider.updated_at)
            .execute(&mut *tx.tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(ModelChangeError::DuplicateProviderName(
                    provider.provider_name.clone(),
                ));
            }
            bump_generation_for_model_template(
                tx,
                &provider.tenant_id,
                &provider.model_template_id,
                provider.updated_at,
            )
            .await?;
            Ok(())
        })
    }

    /// The tenant's provider template `id`, its key decrypted.
    pub async fn provider_template(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ProviderTemplate>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM model_provider_templates p WHERE p.tenant_id = $1 AND p.id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| self.provider_from_row(r)).transpose()
    }

    /// The provider templates of group `model_template_id`, oldest first, keys decrypted.
    pub async fn providers_of(
        &self,
        tenant_id: &str,
        model_template_id: &str,
    ) -> Result<Vec<ProviderTemplate>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM model_provider_templates p \
             WHERE p.tenant_id = $1 AND p.model_template_id = $2 ORDER BY p.created_at, p.id"
        ))
        .bind(tenant_id)
        .bind(model_template_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.provider_from_row(r)).collect()
    }

    fn push_provider_filter(sql: &mut Sql, filter: &ProviderTemplateFilter) {
        sql.push(" WHERE p.tenant_id = ")
            .bind_text(filter.tenant_id.clone());
        let equals: [(&str, &Option<String>); 4] = [
            ("p.agent_provider", &filter.agent_provider),
            ("p.agent_platform", &filter.agent_platform),
            ("p.model_template_id", &filter.model_template_id),
            ("p.provider_name", &filter.provider_name),
        ];
        sql.and_equal(&equals);
        if let Some(biz_type) = filter.biz_type {
            sql.push(" AND p.biz_type = ").bind_int(biz_type);
        }
        if let Some(ids) = &filter.ids {
            sql.push(" AND");
            sql.in_list("p.id", ids);
        }
    }

    /// A page of provider templates, newest first, and the number of all that match.
    pub async fn list_provider_templates(
        &self,
        filter: &ProviderTemplateFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ProviderTemplate>, i64), StoreError> {
        let mut count_sql = Sql::new("SELECT COUNT(*) FROM model_provider_templates p");
        Self::push_provider_filter(&mut count_sql, filter);
        let total: i64 = count_sql.query()?.fetch_one(&self.pool).await?.try_get(0)?;
        let mut sql = Sql::new(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM model_provider_templates p"
        ));
        Self::push_provider_filter(&mut sql, filter);
        sql.page("p.created_at DESC, p.id DESC", offset, limit);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        let providers = rows
            .iter()
            .map(|r| self.provider_from_row(r))
            .collect::<Result<_, _>>()?;
        Ok((providers, total))
    }

    /// Changes provider template `id`: `change` gets the template as stored and returns what it
    /// becomes (or refuses). Read, decided and written in one transaction with the group's and
    /// the template's rows locked, so concurrent changes of different fields all land. Only the
    /// changeable fields are written (name, description, connection, key, proxy, `updated_at`).
    /// Returns the template as written.
    pub async fn update_provider_template(
        &self,
        tenant_id: &str,
        id: &str,
        change: impl Fn(ProviderTemplate) -> Result<ProviderTemplate, ModelChangeError>,
    ) -> Result<ProviderTemplate, ModelChangeError> {
        transact!(self, &[tenant_id], |tx| {
            let group = lock_group_of(tx, "model_provider_templates", tenant_id, id)
                .await?
                .ok_or_else(|| ModelChangeError::ProviderNotFound(id.to_string()))?;
            let row = sqlx::query(&format!(
                "SELECT {PROVIDER_COLUMNS} FROM model_provider_templates p \
                 WHERE p.tenant_id = $1 AND p.id = $2{}",
                tx.locking("NO KEY UPDATE")
            ))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or_else(|| ModelChangeError::ProviderNotFound(id.to_string()))?;
            let provider = change(self.provider_from_row(&row)?)?;
            let key_enc = provider
                .api_key
                .as_ref()
                .map(|k| self.cipher.encrypt(k.expose()))
                .transpose()
                .map_err(StoreError::from)?;
            sqlx::query(
                "UPDATE model_provider_templates SET name = $1, description = $2, base_url = $3, api = $4, \
                 api_key_enc = $5, enable_wuying_proxy = $6, updated_at = $7 WHERE tenant_id = $8 AND id = $9",
            )
            .bind(&provider.name)
            .bind(&provider.description)
            .bind(&provider.base_url)
            .bind(&provider.api)
            .bind(key_enc)
            .bind(i64::from(provider.enable_wuying_proxy))
            .bind(provider.updated_at)
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
            bump_generation_for_model_template(tx, tenant_id, &group, provider.updated_at).await?;
            Ok(provider)
        })
    }

    /// Deletes provider template `id`, refused while it still has models.
    pub async fn delete_provider_template(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> Result<(), ModelChangeError> {
        transact!(self, &[tenant_id], |tx| {
            let group = lock_group_of(tx, "model_provider_templates", tenant_id, id)
                .await?
                .ok_or_else(|| ModelChangeError::ProviderNotFound(id.to_string()))?;
            let models = count(
                &mut tx.tx,
                "SELECT COUNT(*) FROM llm_templates WHERE tenant_id = $1 AND provider_template_id = $2",
                tenant_id,
                id,
            )
            .await?;
            if models > 0 {
                return Err(ModelChangeError::InUse {
                    id: id.to_string(),
                    what: Dependency::LlmTemplates,
                    count: models,
                });
            }
            sqlx::query("DELETE FROM model_provider_templates WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
            bump_generation_for_model_template(tx, tenant_id, &group, now).await?;
            Ok(())
        })
    }

    // -----------------------------------------------------------------------------------------
    // LLM templates

    /// Adds models to provider `provider_template_id`. A model whose code the provider already
    /// has is skipped and reported; a new default model replaces the group's previous default
    /// and is written into the group Config as `defaults.model.primary`.
    pub async fn batch_create_llm_templates(
        &self,
        tenant_id: &str,
        provider_template_id: &str,
        items: &[NewLlmTemplate],
        now: i64,
    ) -> Result<BatchOutcome, ModelChangeError> {
        transact!(self, &[tenant_id], |tx| {
            let not_found = || ModelChangeError::ProviderNotFound(provider_template_id.to_string());
            let group = lock_group_of(
                tx,
                "model_provider_templates",
                tenant_id,
                provider_template_id,
            )
            .await?
            .ok_or_else(not_found)?;
            let provider_name: String = sqlx::query(
                "SELECT provider_name FROM model_provider_templates WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(provider_template_id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or_else(not_found)?
            .try_get("provider_name")?;
            let mut outcome = BatchOutcome::default();
            let mut new_default: Option<&NewLlmTemplate> = None;
            for item in items {
                let done = sqlx::query(
                    "INSERT INTO llm_templates (id, tenant_id, model_template_id, provider_template_id, llm_code, name, \
                     description, config, is_default, price_input, price_output, price_cache_read, price_cache_write, \
                     credit_multiplier_min, credit_multiplier_max, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (provider_template_id, llm_code) DO NOTHING",
                )
                .bind(&item.id)
                .bind(tenant_id)
                .bind(&group)
                .bind(provider_template_id)
                .bind(&item.llm_code)
                .bind(&item.name)
                .bind(&item.description)
                .bind(&item.config)
                .bind(&item.prices.input)
                .bind(&item.prices.output)
                .bind(&item.prices.cache_read)
                .bind(&item.prices.cache_write)
                .bind(item.credit_multiplier.as_ref().and_then(|c| c.min.clone()))
                .bind(item.credit_multiplier.as_ref().and_then(|c| c.max.clone()))
                .bind(now)
                .bind(now)
                .execute(&mut *tx.tx)
                .await?;
                if done.rows_affected() == 0 {
                    outcome.skipped.push((
                        item.llm_code.clone(),
                        "LLM template already exists with same providerTemplateId and llmCode."
                            .into(),
                    ));
                    continue;
                }
                outcome.created.push(item.id.clone());
                if item.is_default {
                    new_default = Some(item);
                }
            }
            if let Some(item) = new_default {
                sqlx::query(
                    "UPDATE llm_templates SET is_default = 0, updated_at = $1 \
                     WHERE tenant_id = $2 AND model_template_id = $3 AND is_default = 1",
                )
                .bind(now)
                .bind(tenant_id)
                .bind(&group)
                .execute(&mut *tx.tx)
                .await?;
                sqlx::query("UPDATE llm_templates SET is_default = 1 WHERE id = $1")
                    .bind(&item.id)
                    .execute(&mut *tx.tx)
                    .await?;
                let model = ModelRef {
                    provider: provider_name.clone(),
                    llm_code: item.llm_code.clone(),
                };
                set_group_default(tx, tenant_id, &group, Some(&model), now).await?;
            }
            if !outcome.created.is_empty() {
                bump_generation_for_model_template(tx, tenant_id, &group, now).await?;
            }
            Ok(outcome)
        })
    }

    /// Deletes model `id`; when it was the default, the group Config names no default any more.
    pub async fn delete_llm_template(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> Result<(), ModelChangeError> {
        transact!(self, &[tenant_id], |tx| {
            let not_found = || ModelChangeError::LlmNotFound(id.to_string());
            let group = lock_group_of(tx, "llm_templates", tenant_id, id)
                .await?
                .ok_or_else(not_found)?;
            let was_default = sqlx::query(
                "SELECT is_default FROM llm_templates WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or_else(not_found)?
            .try_get::<i64, _>("is_default")?
                != 0;
            sqlx::query("DELETE FROM llm_templates WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
            if was_default {
                set_group_default(tx, tenant_id, &group, None, now).await?;
            }
            bump_generation_for_model_template(tx, tenant_id, &group, now).await?;
            Ok(())
        })
    }

    fn push_llm_filter(sql: &mut Sql, filter: &LlmTemplateFilter) {
        sql.push(" WHERE l.tenant_id = ")
            .bind_text(filter.tenant_id.clone());
        if let Some(group) = &filter.model_template_id {
            sql.push(" AND l.model_template_id = ")
                .bind_text(group.clone());
        }
        if let Some(provider) = &filter.provider_template_id {
            sql.push(" AND l.provider_template_id = ")
                .bind_text(provider.clone());
        }
        if let Some(code) = &filter.llm_code_contains {
            sql.push(" AND LOWER(l.llm_code) LIKE LOWER(")
                .bind_text(contains_pattern(code))
                .push(") ESCAPE '\\'");
        }
        if let Some(ids) = &filter.ids {
            sql.push(" AND");
            sql.in_list("l.id", ids);
        }
    }

    /// A page of models, newest first, and the number of all that match.
    pub async fn list_llm_templates(
        &self,
        filter: &LlmTemplateFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<LlmTemplate>, i64), StoreError> {
        let mut count_sql = Sql::new("SELECT COUNT(*) FROM llm_templates l");
        Self::push_llm_filter(&mut count_sql, filter);
        let total: i64 = count_sql.query()?.fetch_one(&self.pool).await?.try_get(0)?;
        let mut sql = Sql::new(&format!(
            "SELECT {LLM_COLUMNS} FROM llm_templates l JOIN model_provider_templates p ON p.id = l.provider_template_id"
        ));
        Self::push_llm_filter(&mut sql, filter);
        sql.page("l.created_at DESC, l.id DESC", offset, limit);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        let models = rows.iter().map(llm_from_row).collect::<Result<_, _>>()?;
        Ok((models, total))
    }

    /// The models of group `model_template_id`, oldest first.
    pub async fn llm_templates_of(
        &self,
        tenant_id: &str,
        model_template_id: &str,
    ) -> Result<Vec<LlmTemplate>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {LLM_COLUMNS} FROM llm_templates l JOIN model_provider_templates p ON p.id = l.provider_template_id \
             WHERE l.tenant_id = $1 AND l.model_template_id = $2 ORDER BY l.created_at, l.id"
        ))
        .bind(tenant_id)
        .bind(model_template_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(llm_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::test_store;

    fn group(tenant: &str, id: &str) -> ModelTemplate {
        ModelTemplate {
            id: id.into(),
            tenant_id: tenant.into(),
            name: id.into(),
            description: String::new(),
            agent_platform: "ENTERPRISE".into(),
            agent_provider: "OpenClaw".into(),
            biz_type: 1,
            ref_scope: "RESOURCE_MIXED".into(),
            source: "User".into(),
            config: "{}".into(),
            model_count: 0,
            created_at: 1,
            updated_at: 1,
        }
    }

    fn provider(tenant: &str, id: &str, group: &str) -> ProviderTemplate {
        ProviderTemplate {
            id: id.into(),
            tenant_id: tenant.into(),
            model_template_id: group.into(),
            provider_name: "provider-x".into(),
            provider_type: "Custom".into(),
            name: "x".into(),
            description: String::new(),
            agent_platform: "ENTERPRISE".into(),
            agent_provider: "OpenClaw".into(),
            biz_type: 1,
            base_url: "https://x.example.com/v1".into(),
            api: "openai-completions".into(),
            api_key: None,
            enable_wuying_proxy: false,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn a_corrupt_group_config_is_reported_not_replaced() -> Result<(), StoreError> {
        // issue: contention (swallowed errors)
        let (store, tenant, _dir) = test_store("corrupt-config").await?;
        store.insert_model_template(&group(&tenant, "mt-c")).await?;
        store
            .insert_provider_template(&provider(&tenant, "mpt-c", "mt-c"))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE model_templates SET config = 'not json' WHERE id = 'mt-c'")
            .execute(&store.pool)
            .await?;
        let item = NewLlmTemplate {
            id: "llmt-c".into(),
            llm_code: "m".into(),
            name: "m".into(),
            description: String::new(),
            config: "{}".into(),
            is_default: true,
            prices: Prices::default(),
            credit_multiplier: None,
        };
        let made = store
            .batch_create_llm_templates(&tenant, "mpt-c", &[item], 2)
            .await;
        assert!(
            matches!(made, Err(ModelChangeError::Store(StoreError::Corrupt(_)))),
            "{made:?}"
        );
        // Nothing of the batch was kept, and the stored Config is as it was.
        let stored = store.model_template(&tenant, "mt-c").await?;
        assert_eq!(
            stored.map(|g| (g.config, g.model_count)),
            Some(("not json".to_string(), 0))
        );
        Ok(())
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
