//! Delivery of model groups: to runtimes directly, to resource groups per agent product, and the
//! resolution of a runtime's effective model group — its own assignment wins over its group's.
//! Every change bumps the desired-state generation of exactly the runtimes whose effective
//! model group it changes, in the same transaction.

use sqlx::Row;

use crate::query::Sql;
use crate::{Store, StoreError};

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

impl Store {
    /// Sets (`Some`) or clears (`None`) the model group assigned to runtimes `ids` themselves.
    /// Runtimes already in that state are left alone; setting a group that does not exist (any
    /// more) changes nothing. Returns how many runtimes changed.
    pub async fn set_runtime_model_template(
        &self,
        tenant_id: &str,
        ids: &[String],
        model_template_id: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut sql = Sql::new("UPDATE runtimes SET generation = generation + 1, updated_at = ");
        sql.bind_int(now);
        match model_template_id {
            Some(mt) => sql.push(", model_template_id = ").bind_text(mt),
            None => sql.push(", model_template_id = NULL"),
        };
        sql.push(" WHERE tenant_id = ")
            .bind_text(tenant_id)
            .push(" AND");
        sql.in_list("id", ids);
        match model_template_id {
            Some(mt) => {
                sql.push(" AND (model_template_id IS NULL OR model_template_id <> ")
                    .bind_text(mt)
                    .push(")");
                sql.push(" AND EXISTS (SELECT 1 FROM model_templates m WHERE m.tenant_id = ")
                    .bind_text(tenant_id)
                    .push(" AND m.id = ")
                    .bind_text(mt)
                    .push(")")
            }
            None => sql.push(" AND model_template_id IS NOT NULL"),
        };
        let mut tx = self.write().await?;
        let changed = sql.query()?.execute(&mut *tx.tx).await?.rows_affected();
        tx.commit().await?;
        self.runtime_counts.invalidate(tenant_id);
        Ok(changed)
    }

    /// Binds model group `model_template_id` (for its agent product) to a resource group,
    /// replacing the group's previous binding for that product.
    pub async fn bind_resource_group_model_template(
        &self,
        tenant_id: &str,
        resource_group_id: &str,
        agent_provider: &str,
        model_template_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
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
            return tx.commit().await;
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
        bump_inheriting_runtimes(
            &mut tx.tx,
            tenant_id,
            resource_group_id,
            agent_provider,
            now,
        )
        .await?;
        tx.commit().await?;
        self.runtime_counts.invalidate(tenant_id);
        Ok(())
    }

    /// Unbinds model group `model_template_id` from a resource group; `false` when it was not bound.
    pub async fn unbind_resource_group_model_template(
        &self,
        tenant_id: &str,
        resource_group_id: &str,
        model_template_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
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
            tx.commit().await?;
            return Ok(false);
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
        for provider in &providers {
            bump_inheriting_runtimes(&mut tx.tx, tenant_id, resource_group_id, provider, now)
                .await?;
        }
        tx.commit().await?;
        self.runtime_counts.invalidate(tenant_id);
        Ok(true)
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

/// Bumps the runtimes of a resource group that inherit its binding for `agent_provider`.
async fn bump_inheriting_runtimes(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    resource_group_id: &str,
    agent_provider: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE runtimes SET generation = generation + 1, updated_at = $1 WHERE tenant_id = $2 \
         AND resource_group_id = $3 AND agent_provider = $4 AND model_template_id IS NULL",
    )
    .bind(now)
    .bind(tenant_id)
    .bind(resource_group_id)
    .bind(agent_provider)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
