//! Resource groups (`rg-…`) of a tenant and their tags; moving runtimes between groups.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::delivery::lock_resource_group;
use crate::locks::{lock_runtimes, runtime_ids};
use crate::query::Sql;
use crate::{Store, StoreError, transact};

/// One resource group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    pub id: String,
    pub tenant_id: String,
    /// Unique within the tenant.
    pub name: String,
    pub display_name: String,
    pub status: String,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

/// Filters of `ListResourceGroups`; `None` means "not filtered". Every field is ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceGroupFilter {
    pub tenant_id: String,
    pub ids: Option<Vec<String>>,
    /// Substring of the name, case-insensitive.
    pub name_contains: Option<String>,
    /// Substring of the display name, case-insensitive.
    pub display_name_contains: Option<String>,
    pub status: Option<String>,
    /// Each tag must be present (with this value when one is given).
    pub tags: Vec<(String, Option<String>)>,
}

/// What `delete_resource_group` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDeletion {
    Deleted(ResourceGroup),
    NotFound,
    /// The group still holds this many (not deleted) runtimes; nothing was deleted.
    HoldsRuntimes(i64),
}

const COLUMNS: &str = "g.id, g.tenant_id, g.name, g.display_name, g.status, g.created_at";

fn group_from_row(row: &AnyRow) -> Result<ResourceGroup, StoreError> {
    Ok(ResourceGroup {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        status: row.try_get("status")?,
        tags: Vec::new(),
        created_at: row.try_get("created_at")?,
    })
}

/// `%text%` for LIKE, with the wildcards of `text` escaped (`\` is the escape character).
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn push_filter(sql: &mut Sql, filter: &ResourceGroupFilter) {
    sql.push(" WHERE g.tenant_id = ")
        .bind_text(filter.tenant_id.clone());
    if let Some(ids) = &filter.ids {
        sql.push(" AND");
        sql.in_list("g.id", ids);
    }
    if let Some(name) = &filter.name_contains {
        sql.push(" AND LOWER(g.name) LIKE ")
            .bind_text(contains_pattern(name))
            .push(" ESCAPE '\\'");
    }
    if let Some(name) = &filter.display_name_contains {
        sql.push(" AND LOWER(g.display_name) LIKE ")
            .bind_text(contains_pattern(name))
            .push(" ESCAPE '\\'");
    }
    if let Some(status) = &filter.status {
        sql.push(" AND g.status = ").bind_text(status.clone());
    }
    sql.has_tags(
        "g.id",
        "resource_group_tags",
        "resource_group_id",
        &filter.tenant_id,
        &filter.tags,
    );
}

impl Store {
    /// Inserts `group` with its tags. `false` (and nothing written) when the tenant already has
    /// a group of that name.
    pub async fn create_resource_group(&self, group: &ResourceGroup) -> Result<bool, StoreError> {
        transact!(self, &[group.tenant_id.as_str()], |tx| {
            let inserted = sqlx::query(
                "INSERT INTO resource_groups (id, tenant_id, name, display_name, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, name) DO NOTHING",
            )
            .bind(&group.id)
            .bind(&group.tenant_id)
            .bind(&group.name)
            .bind(&group.display_name)
            .bind(&group.status)
            .bind(group.created_at)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Ok::<_, StoreError>(false);
            }
            for (key, value) in &group.tags {
                sqlx::query(
                    "INSERT INTO resource_group_tags (resource_group_id, tenant_id, tag_key, tag_value) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (resource_group_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                )
                .bind(&group.id)
                .bind(&group.tenant_id)
                .bind(key)
                .bind(value)
                .execute(&mut *tx.tx)
                .await?;
            }
            Ok(true)
        })
    }

    /// Fills the tags of `groups` with one query.
    async fn load_group_tags(
        &self,
        tenant_id: &str,
        groups: &mut [ResourceGroup],
    ) -> Result<(), StoreError> {
        if groups.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        let mut sql = Sql::new(
            "SELECT resource_group_id, tag_key, tag_value FROM resource_group_tags WHERE tenant_id = ",
        );
        sql.bind_text(tenant_id).push(" AND");
        sql.in_list("resource_group_id", &ids)
            .push(" ORDER BY tag_key");
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        let mut by_group: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for row in rows {
            by_group
                .entry(row.try_get("resource_group_id")?)
                .or_default()
                .push((row.try_get("tag_key")?, row.try_get("tag_value")?));
        }
        for group in groups {
            group.tags = by_group.remove(&group.id).unwrap_or_default();
        }
        Ok(())
    }

    /// The tenant's group `id`, with its tags.
    pub async fn resource_group(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ResourceGroup>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM resource_groups g WHERE g.tenant_id = $1 AND g.id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut groups = [group_from_row(&row)?];
        self.load_group_tags(tenant_id, &mut groups).await?;
        let [group] = groups;
        Ok(Some(group))
    }

    /// Display names of the tenant's groups among `ids` (one query; unknown ids are absent).
    pub async fn resource_group_names(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new("SELECT id, display_name FROM resource_groups WHERE tenant_id = ");
        sql.bind_text(tenant_id).push(" AND");
        sql.in_list("id", ids);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("display_name")?)))
            .collect()
    }

    /// A page of groups matching `filter`, oldest first, with their tags.
    pub async fn list_resource_groups(
        &self,
        filter: &ResourceGroupFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ResourceGroup>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM resource_groups g"));
        push_filter(&mut sql, filter);
        sql.page("g.created_at, g.id", offset, limit);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        let mut groups = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.load_group_tags(&filter.tenant_id, &mut groups).await?;
        Ok(groups)
    }

    pub async fn count_resource_groups(
        &self,
        filter: &ResourceGroupFilter,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM resource_groups g");
        push_filter(&mut sql, filter);
        Ok(sql.query()?.fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Deletes the group unless it still holds runtimes (deleted runtimes do not count). The
    /// group's row is locked first, so no runtime moves in and no model group is bound to it
    /// while this decides.
    pub async fn delete_resource_group(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<GroupDeletion, StoreError> {
        let Some(group) = self.resource_group(tenant_id, id).await? else {
            return Ok(GroupDeletion::NotFound);
        };
        transact!(self, &[tenant_id], |tx| {
            if !lock_resource_group(tx, tenant_id, id, "UPDATE").await? {
                return Ok::<_, StoreError>(GroupDeletion::NotFound);
            }
            let held: i64 = sqlx::query(
                "SELECT COUNT(*) FROM runtimes WHERE tenant_id = $1 AND resource_group_id = $2 \
                 AND desktop_status <> 'Deleted'",
            )
            .bind(tenant_id)
            .bind(id)
            .fetch_one(&mut *tx.tx)
            .await?
            .try_get(0)?;
            if held > 0 {
                return Ok(GroupDeletion::HoldsRuntimes(held));
            }
            sqlx::query("DELETE FROM resource_group_tags WHERE resource_group_id = $1")
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
            // A group without runtimes takes its model group bindings with it: nothing inherits them.
            sqlx::query(
                "DELETE FROM resource_group_model_templates WHERE tenant_id = $1 AND resource_group_id = $2",
            )
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
            let deleted =
                sqlx::query("DELETE FROM resource_groups WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant_id)
                    .bind(id)
                    .execute(&mut *tx.tx)
                    .await?
                    .rows_affected();
            Ok(if deleted == 0 {
                GroupDeletion::NotFound
            } else {
                GroupDeletion::Deleted(group.clone())
            })
        })
    }

    /// Puts the tenant's (not deleted) runtimes `ids` into group `group_id`, bumping the
    /// desired-state generation of each runtime whose group changes (its effective model group
    /// may change with it). Returns the ids of the runtimes now in the group; nothing is moved
    /// when the group does not exist (any more). The group is locked against deletion meanwhile.
    pub async fn move_runtimes_to_group(
        &self,
        tenant_id: &str,
        group_id: &str,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut update = Sql::new("UPDATE runtimes SET resource_group_id = ");
        update
            .bind_text(group_id)
            .push(", generation = generation + 1, updated_at = ")
            .bind_int(now)
            .push(" WHERE tenant_id = ")
            .bind_text(tenant_id)
            .push(" AND desktop_status <> 'Deleted' AND (resource_group_id IS NULL OR resource_group_id <> ")
            .bind_text(group_id)
            .push(") AND");
        update.in_list("id", ids);
        let mut check = Sql::new("SELECT id FROM runtimes WHERE tenant_id = ");
        check
            .bind_text(tenant_id)
            .push(" AND resource_group_id = ")
            .bind_text(group_id)
            .push(" AND desktop_status <> 'Deleted' AND");
        check.in_list("id", ids);
        let moved = transact!(self, &[tenant_id], |tx| {
            if !lock_resource_group(tx, tenant_id, group_id, "KEY SHARE").await? {
                return Ok::<_, StoreError>(Vec::new());
            }
            lock_runtimes(tx, &runtime_ids(tenant_id, ids)).await?;
            update.query()?.execute(&mut *tx.tx).await?;
            let rows = check.query()?.fetch_all(&mut *tx.tx).await?;
            rows.iter()
                .map(|r| Ok(r.try_get("id")?))
                .collect::<Result<Vec<String>, StoreError>>()
        })?;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{runtime, test_store};

    fn group(tenant: &str, id: &str, name: &str) -> ResourceGroup {
        ResourceGroup {
            id: id.into(),
            tenant_id: tenant.into(),
            name: name.into(),
            display_name: format!("{name} display"),
            status: "OK".into(),
            tags: vec![("env".into(), "prod".into())],
            created_at: 1,
        }
    }

    #[tokio::test]
    async fn names_are_unique_per_tenant() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("rg-unique").await?;
        let other = crate::test_support::add_tenant(&store, "t2").await?;
        assert!(
            store
                .create_resource_group(&group(&tenant, "rg-a", "one"))
                .await?
        );
        assert!(
            !store
                .create_resource_group(&group(&tenant, "rg-b", "one"))
                .await?
        );
        assert!(
            store
                .create_resource_group(&group(&other, "rg-c", "one"))
                .await?
        );
        assert_eq!(store.resource_group(&tenant, "rg-b").await?, None);
        assert_eq!(store.resource_group(&other, "rg-a").await?, None);
        let got = store.resource_group(&tenant, "rg-a").await?;
        assert_eq!(
            got.map(|g| g.tags),
            Some(vec![("env".into(), "prod".into())])
        );
        Ok(())
    }

    #[tokio::test]
    async fn list_filters() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("rg-list").await?;
        store
            .create_resource_group(&group(&tenant, "rg-a", "alpha-1"))
            .await?;
        let mut b = group(&tenant, "rg-b", "beta_1");
        b.tags = vec![("env".into(), "dev".into())];
        b.created_at = 2;
        store.create_resource_group(&b).await?;
        let base = ResourceGroupFilter {
            tenant_id: tenant.clone(),
            ..Default::default()
        };
        let ids = |groups: Vec<ResourceGroup>| groups.into_iter().map(|g| g.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_resource_groups(&base, 0, 10).await?),
            ["rg-a", "rg-b"]
        );
        let f = ResourceGroupFilter {
            name_contains: Some("ALPHA".into()),
            ..base.clone()
        };
        assert_eq!(ids(store.list_resource_groups(&f, 0, 10).await?), ["rg-a"]);
        // `_` is literal, not a wildcard
        let f = ResourceGroupFilter {
            name_contains: Some("a_1".into()),
            ..base.clone()
        };
        assert_eq!(store.count_resource_groups(&f).await?, 1);
        let f = ResourceGroupFilter {
            tags: vec![("env".into(), Some("dev".into()))],
            ..base.clone()
        };
        assert_eq!(ids(store.list_resource_groups(&f, 0, 10).await?), ["rg-b"]);
        let f = ResourceGroupFilter {
            tags: vec![("env".into(), None)],
            ..base.clone()
        };
        assert_eq!(store.count_resource_groups(&f).await?, 2);
        assert_eq!(
            ids(store.list_resource_groups(&base, 1, 10).await?),
            ["rg-b"]
        );
        Ok(())
    }

    #[tokio::test]
    async fn delete_refuses_while_runtimes_are_held_and_move_bumps_generation()
    -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("rg-delete").await?;
        store
            .create_resource_group(&group(&tenant, "rg-a", "alpha"))
            .await?;
        store
            .create_resource_group(&group(&tenant, "rg-b", "beta"))
            .await?;
        store
            .insert_runtimes(&[runtime(&tenant, "ecd-1", Some("rg-a"))])
            .await?;
        assert_eq!(
            store.delete_resource_group(&tenant, "rg-a").await?,
            GroupDeletion::HoldsRuntimes(1)
        );
        let moved = store
            .move_runtimes_to_group(&tenant, "rg-b", &["ecd-1".into(), "ecd-x".into()], 5)
            .await?;
        assert_eq!(moved, ["ecd-1"]);
        let rt = store.runtimes_by_ids(&tenant, &["ecd-1".into()]).await?;
        assert_eq!(
            rt.iter()
                .map(|r| (r.resource_group_id.clone(), r.generation))
                .collect::<Vec<_>>(),
            [(Some("rg-b".to_string()), 2)]
        );
        // moving into the group it is already in changes nothing
        store
            .move_runtimes_to_group(&tenant, "rg-b", &["ecd-1".into()], 6)
            .await?;
        let rt = store.runtimes_by_ids(&tenant, &["ecd-1".into()]).await?;
        assert_eq!(rt.first().map(|r| r.generation), Some(2));
        // a group that does not exist takes nothing
        assert!(
            store
                .move_runtimes_to_group(&tenant, "rg-zz", &["ecd-1".into()], 7)
                .await?
                .is_empty()
        );
        assert!(matches!(
            store.delete_resource_group(&tenant, "rg-a").await?,
            GroupDeletion::Deleted(_)
        ));
        assert_eq!(
            store.delete_resource_group(&tenant, "rg-a").await?,
            GroupDeletion::NotFound
        );
        Ok(())
    }
}
