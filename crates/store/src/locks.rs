//! Row locks every write transaction takes, on PostgreSQL, in one global order before writing:
//! model group, then resource group, then the group's providers and models, then runtimes in id
//! order. (On SQLite writers take turns, and these take nothing.)

use sqlx::Row;

use crate::query::Sql;
use crate::{Backend, WriteTx};

/// Reads the Config of group `id` and locks the group's row (`FOR {strength}` on PostgreSQL)
/// until the transaction ends; `None` when the tenant has no such group.
pub(crate) async fn lock_model_template(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    id: &str,
    strength: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT config FROM model_templates WHERE tenant_id = $1 AND id = $2{}",
        tx.locking(strength)
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    row.map(|r| r.try_get("config")).transpose()
}

/// Locks, on PostgreSQL, the `runtimes` rows that `condition` (a condition on the table, not
/// aliased, with its values) matches, in id order: the one order in which every transaction takes
/// runtime rows, so that transactions writing overlapping sets of runtimes queue instead of
/// deadlocking. Take it before writing any of them, after the rows of model groups and resource
/// groups the transaction locks. Nothing on SQLite, whose writers take turns.
pub(crate) async fn lock_runtimes(
    tx: &mut WriteTx<'_>,
    condition: &Sql,
) -> Result<(), sqlx::Error> {
    if tx.backend != Backend::Postgres {
        return Ok(());
    }
    let mut lock = Sql::new("SELECT COUNT(*) FROM (SELECT id FROM runtimes WHERE ");
    lock.append(condition)
        .push(" ORDER BY id FOR NO KEY UPDATE) locked");
    lock.query()?.fetch_one(&mut *tx.tx).await?;
    Ok(())
}

/// The condition "runtime `ids` of tenant `tenant_id`", for [`lock_runtimes`].
pub(crate) fn runtime_ids(tenant_id: &str, ids: &[String]) -> Sql {
    let mut sql = Sql::new("tenant_id = ");
    sql.bind_text(tenant_id).push(" AND");
    sql.in_list("id", ids);
    sql
}
