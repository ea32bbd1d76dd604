//! Delivery of model groups: to runtimes directly, to resource groups per agent product, and the
//! resolution of a runtime's effective model group — its own assignment wins over its group's.
//! Every change bumps the desired-state generation of exactly the runtimes whose effective
//! model group it changes, in the same transaction.

use sqlx::Row;

use crate::locks::lock_model_template;
use crate::locks::{lock_runtimes, runtime_ids};
use crate::query::Sql;
use crate::{Store, StoreError, WriteTx, transact};

/// How a runtime got its model group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelTemplateRef {
    /// Assigned to the runtime itself (`ConfigRuntimeModelTemplate`).
    Runtime,
    /// Inherited from the runtime's resource group (`ConfigResourceGroupModelTemplate`).
    ResourceGroup,
}

/// The SQL expression of a runtime's effective model group (runtimes aliased `r`).
pub(crate) const EFFECTIVE_MODEL_TEMPLATE: &str = "COALESCE(r.model_template_id, (SELECT b.model_template_id \
     FROM resource_group_model_templates b WHERE b.tenant_id = r.tenant_id AND b.resource_group_id = r.resource_group_id \
     AND b.agent_provider = r.agent_provider))";

/// What a delivery change found when it came to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Done,
    /// The model group does not exist (any more): nothing changed.
    NoModelTemplate,
    /// The resource group does not exist (any more): nothing changed.
    NoResourceGroup,
}

/// Locks resource group `id` against deletion (`FOR KEY SHARE` on PostgreSQL) for the rest of
/// the transaction; `false` when it does not exist.
pub(crate) async fn lock_resource_group(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    id: &str,
    strength: &str,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT id FROM resource_groups WHERE tenant_id = $1 AND id = $2{}",
        tx.locking(strength)
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    Ok(row.is_some())
}

impl Store {
    /// Assigns model group `model_template_id` to runtimes `ids` themselves. Runtimes that
    /// already have it are left alone. The group is locked against changes and deletion while
    /// this runs, so a runtime never gets a group that is being deleted.
    pub async fn assign_runtime_model_template(
        &self,
        tenant_id: &str,
        ids: &[String],
        model_template_id: &str,
        now: i64,
    ) -> Result<Delivery, StoreError> {
        if ids.is_empty() {
            return Ok(Delivery::Done);
        }
        let mut update = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
        update
            .bind_int(now)
            .push(", model_template_id = ")
            .bind_text(model_template_id)
            .push(" WHERE tenant_id = ")
            .bind_text(tenant_id)
            .push(" AND");
        update.in_list("id", ids);
        update
            .push(" AND (model_template_id IS NULL OR model_template_id <> ")
            .bind_text(model_template_id)
            .push(")");
        let done = transact!(self, &[tenant_id], |tx| {
            if lock_model_template(tx, tenant_id, model_template_id, "SHARE")
                .await?
                .is_none()
            {
                return Ok::<_, StoreError>(Delivery::NoModelTemplate);
            }
            lock_runtimes(tx, &runtime_ids(tenant_id, ids)).await?;
            update.query()?.execute(&mut *tx.tx).await?;
            Ok(Delivery::Done)
        })?;
        Ok(done)
    }

    /// Takes model group `model_template_id` away from those of runtimes `ids` that have it
    /// assigned themselves; a runtime meanwhile given another group keeps that one. Returns how
    /// many runtimes changed.
    pub async fn unassign_runtime_model_template(
        &self,
        tenant_id: &str,
        ids: &[String],
        model_template_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut update = Sql::new(
            "UPDATE runtimes SET generation = generation + 1, model_template_id = NULL, updated_at = ",
        );
        update
            .bind_int(now)
            .push(" WHERE tenant_id = ")
            .bind_text(tenant_id)
            .push(" AND model_template_id = ")
            .bind_text(model_template_id)
            .push(" AND");
        update.in_list("id", ids);
        let changed = transact!(self, &[tenant_id], |tx| {
            lock_runtimes(tx, &runtime_ids(tenant_id, ids)).await?;
            Ok::<_, StoreError>(update.query()?.execute(&mut *tx.tx).await?.rows_affected())
        })?;
        Ok(changed)
    }

    /// Binds model group `model_template_id` (for its agent product) to a resource group,
    /// replacing the group's previous binding for that product. Both groups are locked against
    /// deletion while this runs.
    pub async fn bind_resource_group_model_template(
        &self,
        tenant_id: &str,
        resource_group_id: &str,
        agent_provider: &str,
        model_template_id: &str,
        now: i64,
    ) -> Result<Delivery, StoreError> {
        let done = transact!(self, &[tenant_id], |tx| {
            if lock_model_template(tx, tenant_id, model_template_id, "SHARE")
                .await?
                .is_none()
            {
                return Ok::<_, StoreError>(Delivery::NoModelTemplate);
            }
            if !lock_resource_group(tx, tenant_id, resource_group_id, "KEY SHARE").await? {
                return Ok(Delivery::NoResourceGroup);
            }
            let previous: Option<String> = sqlx::query(
                "SELECT model_template_id FROM resource_group_model_templates \
                     WHERE tenant_id = $1 AND resource_group_id = $2 AND agent_provider = $3",
            )
            .bind(tenant_id)
            .bind(resource_group_id)
            .bind(agent_provider)
            .fetch_optional(&mut *tx.tx)
            .await?
            .map(|row| row.try_get("model_template_id"))
            .transpose()?;
            if previous.as_deref() == Some(model_template_id) {
                return Ok(Delivery::Done);
            }
            sqlx::query(
                    "INSERT INTO resource_group_model_templates (tenant_id, resource_group_id, agent_provider, model_template_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (resource_group_id, agent_provider) \
                     DO UPDATE SET model_template_id = excluded.model_template_id, created_at = excluded.created_at",
                )
                .bind(tenant_id)
                .bind(resource_group_id)
                .bind(agent_provider)
                .bind(model_template_id)
                .bind(now)
                .execute(&mut *tx.tx)
                .await?;
            bump_inheriting_runtimes(tx, tenant_id, resource_group_id, agent_provider, now).await?;
            Ok(Delivery::Done)
        })?;
        Ok(done)
    }

    /// Unbinds model group `model_template_id` from a resource group; `false` when it was not bound.
    pub async fn unbind_resource_group_model_template(
        &self,
        tenant_id: &str,
        resource_group_id: &str,
        model_template_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let unbound = transact!(self, &[tenant_id], |tx| {
            let providers: Vec<String> = sqlx::query(
                "SELECT agent_provider FROM resource_group_model_templates \
                     WHERE tenant_id = $1 AND resource_group_id = $2 AND model_template_id = $3",
            )
            .bind(tenant_id)
            .bind(resource_group_id)
            .bind(model_template_id)
            .fetch_all(&mut *tx.tx)
            .await?
            .iter()
            .map(|row| row.try_get("agent_provider"))
            .collect::<Result<_, _>>()?;
            if providers.is_empty() {
                return Ok::<_, StoreError>(false);
            }
            sqlx::query(
                "DELETE FROM resource_group_model_templates \
                     WHERE tenant_id = $1 AND resource_group_id = $2 AND model_template_id = $3",
            )
            .bind(tenant_id)
            .bind(resource_group_id)
            .bind(model_template_id)
            .execute(&mut *tx.tx)
            .await?;
            // Every runtime the bumps below may touch, locked at once and in order.
            lock_runtimes(tx, &inheriting(tenant_id, resource_group_id, None)).await?;
            for provider in &providers {
                bump_inheriting_runtimes(tx, tenant_id, resource_group_id, provider, now).await?;
            }
            Ok(true)
        })?;
        Ok(unbound)
    }

    /// A page of the resource groups bound to a model group (optionally among `only`), and how
    /// many there are.
    pub async fn resource_group_bindings(
        &self,
        tenant_id: &str,
        model_template_id: &str,
        only: Option<&[String]>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<String>, i64), StoreError> {
        let filter = |select: &str| {
            let mut sql = Sql::new(select);
            sql.push(" FROM resource_group_model_templates WHERE tenant_id = ")
                .bind_text(tenant_id);
            sql.push(" AND model_template_id = ")
                .bind_text(model_template_id);
            if let Some(only) = only {
                sql.push(" AND");
                sql.in_list("resource_group_id", only);
            }
            sql
        };
        let total: i64 = filter("SELECT COUNT(*)")
            .query()?
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let mut page = filter("SELECT resource_group_id");
        page.page("created_at, resource_group_id", offset, limit);
        let ids = page
            .query()?
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get("resource_group_id"))
            .collect::<Result<_, _>>()?;
        Ok((ids, total))
    }
}

/// A runtime's model group in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveModelTemplate {
    pub model_template_id: String,
    pub name: String,
    pub ref_type: ModelTemplateRef,
}

/// The runtimes of a resource group that inherit its binding (for `agent_provider`, or for any
/// product), as a condition for [`lock_runtimes`] and the bump.
fn inheriting(tenant_id: &str, resource_group_id: &str, agent_provider: Option<&str>) -> Sql {
    let mut sql = Sql::new("tenant_id = ");
    sql.bind_text(tenant_id)
        .push(" AND resource_group_id = ")
        .bind_text(resource_group_id);
    if let Some(provider) = agent_provider {
        sql.push(" AND agent_provider = ").bind_text(provider);
    }
    sql.push(" AND model_template_id IS NULL");
    sql
}

/// Bumps the runtimes of a resource group that inherit its binding for `agent_provider`.
async fn bump_inheriting_runtimes(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    resource_group_id: &str,
    agent_provider: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let condition = inheriting(tenant_id, resource_group_id, Some(agent_provider));
    lock_runtimes(tx, &condition).await?;
    let mut update = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
    update.bind_int(now).push(" WHERE ").append(&condition);
    let done = update.query()?.execute(&mut *tx.tx).await?;
    Ok(done.rows_affected())
}
