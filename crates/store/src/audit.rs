//! The audit trail: who did what, from where, to which resources, with what result. Rows are
//! only ever added; `amc admin audit` reads them.

use sqlx::Row;

use crate::query::Sql;
use crate::{Store, StoreError, transact};

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditEntry {
    /// Epoch milliseconds.
    pub at: i64,
    /// The caller's tenant; none when the key was unknown.
    pub tenant_id: Option<String>,
    /// The access key id that signed (or claimed to).
    pub principal: String,
    pub source_ip: String,
    pub product: String,
    pub action: String,
    /// The resource ids the request named.
    pub resources: Vec<String>,
    /// `OK`, or the error code answered.
    pub code: String,
    pub request_id: String,
}

/// What to read of the trail; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub tenant_id: Option<String>,
    pub principal: Option<String>,
    pub action: Option<String>,
    /// Rows naming this resource id.
    pub resource: Option<String>,
    pub limit: i64,
}

/// `value` for a `LIKE … ESCAPE '\'` pattern, matched literally.
fn like_literal(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let resources = serde_json::to_string(&entry.resources)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        transact!(self, &[], |tx| {
            let mut sql = Sql::new(
                "INSERT INTO audit_log (at, tenant_id, principal, source_ip, product, action, resources, code, request_id) VALUES (",
            );
            sql.bind_int(entry.at).push(", ");
            match &entry.tenant_id {
                Some(tenant) => sql.bind_text(tenant.clone()),
                None => sql.push("NULL"),
            };
            for value in [
                &entry.principal,
                &entry.source_ip,
                &entry.product,
                &entry.action,
                &resources,
                &entry.code,
            ] {
                sql.push(", ").bind_text(value.clone());
            }
            sql.push(", ").bind_text(entry.request_id.clone()).push(")");
            sql.query()?.execute(&mut *tx.tx).await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Records `entry`; a row that cannot be written is logged, and the call it describes stands.
    pub async fn keep_audit(&self, entry: &AuditEntry) {
        if let Err(error) = self.record_audit(entry).await {
            tracing::error!(%error, action = %entry.action, "writing the audit trail failed");
        }
    }

    /// The entries matching `query`, oldest first.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = Sql::new(
            "SELECT at, tenant_id, principal, source_ip, product, action, resources, code, \
             request_id FROM audit_log WHERE 1 = 1",
        );
        if let Some(since) = query.since {
            sql.push(" AND at >= ").bind_int(since);
        }
        if let Some(until) = query.until {
            sql.push(" AND at < ").bind_int(until);
        }
        sql.and_equal(&[
            ("tenant_id", &query.tenant_id),
            ("principal", &query.principal),
            ("action", &query.action),
        ]);
        if let Some(resource) = &query.resource {
            let quoted =
                serde_json::to_string(resource).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sql.push(" AND resources LIKE ")
                .bind_text(format!("%{}%", like_literal(&quoted)))
                .push(" ESCAPE '\\'");
        }
        sql.page("id", 0, query.limit.max(1));
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let resources: String = row.try_get("resources")?;
                Ok(AuditEntry {
                    at: row.try_get("at")?,
                    tenant_id: row.try_get("tenant_id")?,
                    principal: row.try_get("principal")?,
                    source_ip: row.try_get("source_ip")?,
                    product: row.try_get("product")?,
                    action: row.try_get("action")?,
                    resources: serde_json::from_str(&resources)
                        .map_err(|e| StoreError::Corrupt(format!("audit resources: {e}")))?,
                    code: row.try_get("code")?,
                    request_id: row.try_get("request_id")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::test_store;

    fn entry(at: i64, principal: &str, action: &str, resources: &[&str]) -> AuditEntry {
        AuditEntry {
            at,
            tenant_id: (!principal.is_empty()).then(|| "t1".to_string()),
            principal: principal.into(),
            source_ip: "127.0.0.1".into(),
            product: "ecd".into(),
            action: action.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            code: "OK".into(),
            request_id: format!("R{at}"),
        }
    }

    #[tokio::test]
    async fn the_trail_is_read_back_by_time_principal_action_and_resource() -> Result<(), StoreError>
    {
        let (store, _, _dir) = test_store("audit").await?;
        let rows = [
            entry(10, "LTAI1", "DeleteDesktops", &["ecd-1", "ecd-2"]),
            entry(20, "LTAI2", "CreateTenantSkill", &["T_1"]),
            entry(30, "", "DeleteDesktops", &["ecd-1x"]),
        ];
        for row in &rows {
            store.record_audit(row).await?;
        }
        let all = store
            .audit(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .await?;
        assert_eq!(all, rows.to_vec());
        let by = |q: AuditQuery| {
            let store = store.clone();
            async move {
                store
                    .audit(&AuditQuery { limit: 10, ..q })
                    .await
                    .map(|r| r.iter().map(|e| e.at).collect::<Vec<_>>())
            }
        };
        assert_eq!(
            by(AuditQuery {
                since: Some(15),
                ..Default::default()
            })
            .await?,
            [20, 30]
        );
        assert_eq!(
            by(AuditQuery {
                until: Some(20),
                ..Default::default()
            })
            .await?,
            [10]
        );
        assert_eq!(
            by(AuditQuery {
                principal: Some("LTAI2".into()),
                ..Default::default()
            })
            .await?,
            [20]
        );
        assert_eq!(
            by(AuditQuery {
                action: Some("DeleteDesktops".into()),
                ..Default::default()
            })
            .await?,
            [10, 30]
        );
        // A resource matches whole: ecd-1 is not ecd-1x, and `_` is no wildcard.
        assert_eq!(
            by(AuditQuery {
                resource: Some("ecd-1".into()),
                ..Default::default()
            })
            .await?,
            [10]
        );
        assert_eq!(
            by(AuditQuery {
                resource: Some("T%1".into()),
                ..Default::default()
            })
            .await?,
            Vec::<i64>::new()
        );
        assert_eq!(
            by(AuditQuery {
                resource: Some("T_1".into()),
                ..Default::default()
            })
            .await?,
            [20]
        );
        assert_eq!(
            store
                .audit(&AuditQuery {
                    limit: 1,
                    ..Default::default()
                })
                .await?
                .len(),
            1
        );
        Ok(())
    }
}
