//! Office sites (`<region>+dir-…`) of a tenant: creating, reading, listing with their desktop
//! counts, deleting the ones that hold no desktops, and creating desktops inside one.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::query::Sql;
use crate::runtimes::Runtime;
use crate::{Store, StoreError, transact};

/// One office site as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeSite {
    pub tenant_id: String,
    /// Unique within the tenant.
    pub id: String,
    pub region_id: String,
    pub name: String,
    pub status: String,
    /// `SIMPLE` (convenience accounts).
    pub office_site_type: String,
    pub account_type: String,
    /// `basic`, `standard` or `cloudbox`.
    pub vpc_type: String,
    pub vpc_id: String,
    pub cidr_block: String,
    pub v_switch_ids: Vec<String>,
    pub desktop_access_type: String,
    pub enable_admin_access: bool,
    pub enable_internet_access: bool,
    /// Mbit/s; 0 without Internet access.
    pub bandwidth: i64,
    pub need_verify_zero_device: bool,
    pub cloud_box_office_site: bool,
    pub access_attribute: Option<String>,
    pub cen_id: Option<String>,
    pub cen_owner_id: Option<i64>,
    /// Identity provider settings, shown back as given (the client secret is never stored).
    pub authority_host: Option<String>,
    pub client_id: Option<String>,
    pub idp_tenant_id: Option<String>,
    pub domain_name: Option<String>,
    pub eid: Option<String>,
    pub created_at: i64,
}

/// A site of a `DescribeOfficeSites` page with the number of its (not deleted) desktops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeSiteListing {
    pub site: OfficeSite,
    pub desktop_count: i64,
}

/// What `DescribeDesktops` shows of a desktop's office site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeSiteSummary {
    pub name: String,
    pub office_site_type: String,
    pub vpc_type: String,
}

/// Filters of `DescribeOfficeSites`; `None` means "not filtered". Every field is ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficeSiteFilter {
    pub tenant_id: String,
    pub region_id: String,
    pub ids: Option<Vec<String>>,
    pub status: Option<String>,
    pub office_site_type: Option<String>,
    pub account_type: Option<String>,
    pub vpc_id: Option<String>,
}

/// What `delete_office_sites` did; nothing is deleted unless every site could be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeSiteDeletion {
    Deleted,
    /// The tenant has no site of this id in the region.
    NotFound(String),
    /// The site still holds this many (not deleted) desktops.
    HoldsDesktops {
        id: String,
        count: i64,
    },
}

const COLUMNS: &str = "s.tenant_id, s.id, s.region_id, s.name, s.status, s.office_site_type, s.account_type, \
    s.vpc_type, s.vpc_id, s.cidr_block, s.v_switch_ids, s.desktop_access_type, s.enable_admin_access, \
    s.enable_internet_access, s.bandwidth, s.need_verify_zero_device, s.cloud_box_office_site, \
    s.access_attribute, s.cen_id, s.cen_owner_id, s.authority_host, s.client_id, s.idp_tenant_id, \
    s.domain_name, s.eid, s.created_at";

/// The (not deleted) desktops of site `s`.
const DESKTOP_COUNT: &str = "(SELECT COUNT(*) FROM runtimes r WHERE r.tenant_id = s.tenant_id \
    AND r.office_site_id = s.id AND r.desktop_status <> 'Deleted')";

fn site_from_row(row: &AnyRow) -> Result<OfficeSite, StoreError> {
    let flag = |name: &str| -> Result<bool, StoreError> { Ok(row.try_get::<i64, _>(name)? != 0) };
    let v_switch_ids: String = row.try_get("v_switch_ids")?;
    Ok(OfficeSite {
        tenant_id: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        region_id: row.try_get("region_id")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        office_site_type: row.try_get("office_site_type")?,
        account_type: row.try_get("account_type")?,
        vpc_type: row.try_get("vpc_type")?,
        vpc_id: row.try_get("vpc_id")?,
        cidr_block: row.try_get("cidr_block")?,
        v_switch_ids: serde_json::from_str(&v_switch_ids)
            .map_err(|_| StoreError::Corrupt(format!("v_switch_ids {v_switch_ids:?}")))?,
        desktop_access_type: row.try_get("desktop_access_type")?,
        enable_admin_access: flag("enable_admin_access")?,
        enable_internet_access: flag("enable_internet_access")?,
        bandwidth: row.try_get("bandwidth")?,
        need_verify_zero_device: flag("need_verify_zero_device")?,
        cloud_box_office_site: flag("cloud_box_office_site")?,
        access_attribute: row.try_get("access_attribute")?,
        cen_id: row.try_get("cen_id")?,
        cen_owner_id: row.try_get("cen_owner_id")?,
        authority_host: row.try_get("authority_host")?,
        client_id: row.try_get("client_id")?,
        idp_tenant_id: row.try_get("idp_tenant_id")?,
        domain_name: row.try_get("domain_name")?,
        eid: row.try_get("eid")?,
        created_at: row.try_get("created_at")?,
    })
}

fn push_filter(sql: &mut Sql, filter: &OfficeSiteFilter) {
    sql.push(" WHERE s.tenant_id = ")
        .bind_text(filter.tenant_id.clone())
        .push(" AND s.region_id = ")
        .bind_text(filter.region_id.clone());
    if let Some(ids) = &filter.ids {
        sql.push(" AND");
        sql.in_list("s.id", ids);
    }
    let equals: [(&str, &Option<String>); 4] = [
        ("s.status", &filter.status),
        ("s.office_site_type", &filter.office_site_type),
        ("s.account_type", &filter.account_type),
        ("s.vpc_id", &filter.vpc_id),
    ];
    sql.and_equal(&equals);
}

impl Store {
    /// Inserts `site`. `false` (and nothing written) when the tenant already has a site of that id.
    pub async fn create_office_site(&self, site: &OfficeSite) -> Result<bool, StoreError> {
        let v_switch_ids = serde_json::to_string(&site.v_switch_ids)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = transact!(self, &[site.tenant_id.as_str()], |tx| {
            sqlx::query(
            "INSERT INTO office_sites (tenant_id, id, region_id, name, status, office_site_type, account_type, \
             vpc_type, vpc_id, cidr_block, v_switch_ids, desktop_access_type, enable_admin_access, \
             enable_internet_access, bandwidth, need_verify_zero_device, cloud_box_office_site, access_attribute, \
             cen_id, cen_owner_id, authority_host, client_id, idp_tenant_id, domain_name, eid, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22, $23, $24, $25, $26) ON CONFLICT (tenant_id, id) DO NOTHING",
        )
        .bind(&site.tenant_id)
        .bind(&site.id)
        .bind(&site.region_id)
        .bind(&site.name)
        .bind(&site.status)
        .bind(&site.office_site_type)
        .bind(&site.account_type)
        .bind(&site.vpc_type)
        .bind(&site.vpc_id)
        .bind(&site.cidr_block)
        .bind(&v_switch_ids)
        .bind(&site.desktop_access_type)
        .bind(i64::from(site.enable_admin_access))
        .bind(i64::from(site.enable_internet_access))
        .bind(site.bandwidth)
        .bind(i64::from(site.need_verify_zero_device))
        .bind(i64::from(site.cloud_box_office_site))
        .bind(&site.access_attribute)
        .bind(&site.cen_id)
        .bind(site.cen_owner_id)
        .bind(&site.authority_host)
        .bind(&site.client_id)
        .bind(&site.idp_tenant_id)
        .bind(&site.domain_name)
        .bind(&site.eid)
        .bind(site.created_at)
        .execute(&mut *tx.tx)
        .await
        .map(|done| done.rows_affected())
        .map_err(StoreError::from)
        })?;
        Ok(inserted == 1)
    }

    /// The tenant's site `id` in `region_id`.
    pub async fn office_site(
        &self,
        tenant_id: &str,
        region_id: &str,
        id: &str,
    ) -> Result<Option<OfficeSite>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM office_sites s WHERE s.tenant_id = $1 AND s.region_id = $2 AND s.id = $3"
        ))
        .bind(tenant_id)
        .bind(region_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(site_from_row).transpose()
    }

    /// A page of sites matching `filter`, newest first, each with its desktop count.
    pub async fn list_office_sites(
        &self,
        filter: &OfficeSiteFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<OfficeSiteListing>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS}, {DESKTOP_COUNT} AS desktop_count FROM office_sites s"
        ));
        push_filter(&mut sql, filter);
        sql.page("s.created_at DESC, s.id DESC", offset, limit);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(OfficeSiteListing {
                    site: site_from_row(row)?,
                    desktop_count: row.try_get("desktop_count")?,
                })
            })
            .collect()
    }

    pub async fn count_office_sites(&self, filter: &OfficeSiteFilter) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM office_sites s");
        push_filter(&mut sql, filter);
        Ok(sql.query()?.fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Name and types of the tenant's sites among `ids` (one query; unknown ids are absent).
    pub async fn office_site_summaries(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<HashMap<String, OfficeSiteSummary>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new(
            "SELECT id, name, office_site_type, vpc_type FROM office_sites WHERE tenant_id = ",
        );
        sql.bind_text(tenant_id).push(" AND");
        sql.in_list("id", ids);
        let rows = sql.query()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    OfficeSiteSummary {
                        name: row.try_get("name")?,
                        office_site_type: row.try_get("office_site_type")?,
                        vpc_type: row.try_get("vpc_type")?,
                    },
                ))
            })
            .collect()
    }

    /// Deletes the tenant's sites `ids` of `region_id`, all or none: none when one of them does
    /// not exist or still holds desktops (deleted desktops do not count).
    pub async fn delete_office_sites(
        &self,
        tenant_id: &str,
        region_id: &str,
        ids: &[String],
    ) -> Result<OfficeSiteDeletion, StoreError> {
        let mut existing = Sql::new("SELECT id FROM office_sites WHERE tenant_id = ");
        existing
            .bind_text(tenant_id)
            .push(" AND region_id = ")
            .bind_text(region_id)
            .push(" AND");
        existing.in_list("id", ids).push(" ORDER BY id");
        let mut held = Sql::new(
            "SELECT office_site_id, COUNT(*) AS desktops FROM runtimes WHERE tenant_id = ",
        );
        held.bind_text(tenant_id)
            .push(" AND desktop_status <> 'Deleted' AND");
        held.in_list("office_site_id", ids)
            .push(" GROUP BY office_site_id");
        let mut delete = Sql::new("DELETE FROM office_sites WHERE tenant_id = ");
        delete
            .bind_text(tenant_id)
            .push(" AND region_id = ")
            .bind_text(region_id)
            .push(" AND");
        delete.in_list("id", ids);
        transact!(self, &[tenant_id], |tx| {
            // The sites' rows locked first: a concurrent CreateDesktops into one of them either
            // committed before (its desktops are counted below) or waits and then finds the site
            // gone (see `insert_runtimes_in_office_site`).
            let mut locking = Sql::new("");
            locking.append(&existing).push(&tx.locking("UPDATE"));
            let found: Vec<String> = locking
                .query()?
                .fetch_all(&mut *tx.tx)
                .await?
                .iter()
                .map(|row| row.try_get("id"))
                .collect::<Result<_, _>>()?;
            if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                return Ok::<_, StoreError>(OfficeSiteDeletion::NotFound(missing.clone()));
            }
            let counts: HashMap<String, i64> = held
                .query()?
                .fetch_all(&mut *tx.tx)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("office_site_id")?, row.try_get("desktops")?)))
                .collect::<Result<_, StoreError>>()?;
            if let Some((id, count)) = ids
                .iter()
                .find_map(|id| counts.get(id).map(|count| (id.clone(), *count)))
            {
                return Ok(OfficeSiteDeletion::HoldsDesktops { id, count });
            }
            delete.query()?.execute(&mut *tx.tx).await?;
            Ok(OfficeSiteDeletion::Deleted)
        })
    }

    /// Inserts new runtimes of the tenant's site `site_id` in `region_id`, in one transaction
    /// that holds the site's row lock, so the site cannot be deleted meanwhile. `false` (and
    /// nothing written) when the site does not exist (any more).
    pub async fn insert_runtimes_in_office_site(
        &self,
        tenant_id: &str,
        region_id: &str,
        site_id: &str,
        runtimes: &[Runtime],
    ) -> Result<bool, StoreError> {
        let inserted = transact!(self, &[tenant_id], |tx| {
            // A no-op update: it takes the row's write lock for the rest of the transaction.
            let locked = sqlx::query(
                "UPDATE office_sites SET status = status WHERE tenant_id = $1 AND region_id = $2 AND id = $3",
            )
            .bind(tenant_id)
            .bind(region_id)
            .bind(site_id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            if locked != 1 {
                return Ok::<_, StoreError>(false);
            }
            crate::runtimes::insert_rows(&mut tx.tx, runtimes).await?;
            Ok(true)
        })?;
        if !inserted {
            return Ok(false);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{add_tenant, runtime, test_store};
    use domain::runtime::DesktopStatus;

    fn site(tenant: &str, id: &str, region: &str) -> OfficeSite {
        OfficeSite {
            tenant_id: tenant.into(),
            id: id.into(),
            region_id: region.into(),
            name: format!("site-{id}"),
            status: "REGISTERED".into(),
            office_site_type: "SIMPLE".into(),
            account_type: "SIMPLE".into(),
            vpc_type: "basic".into(),
            vpc_id: format!("vpc-{id}"),
            cidr_block: "172.16.0.0/12".into(),
            v_switch_ids: vec!["vsw-1".into()],
            desktop_access_type: "Internet".into(),
            enable_admin_access: true,
            enable_internet_access: false,
            bandwidth: 0,
            need_verify_zero_device: false,
            cloud_box_office_site: false,
            access_attribute: None,
            cen_id: Some("cen-1".into()),
            cen_owner_id: Some(42),
            authority_host: None,
            client_id: None,
            idp_tenant_id: None,
            domain_name: None,
            eid: None,
            created_at: 1,
        }
    }

    fn in_site(tenant: &str, id: &str, site: &str) -> Runtime {
        let mut rt = runtime(tenant, id, None);
        rt.office_site_id = Some(site.into());
        rt
    }

    #[tokio::test]
    async fn sites_round_trip_per_tenant_and_region() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("os-read").await?;
        let other = add_tenant(&store, "t2").await?;
        let a = site(&tenant, "cn-hangzhou+dir-1", "cn-hangzhou");
        assert!(store.create_office_site(&a).await?);
        // the same id again is refused; another tenant may hold it
        assert!(!store.create_office_site(&a).await?);
        assert!(
            store
                .create_office_site(&site(&other, "cn-hangzhou+dir-1", "cn-hangzhou"))
                .await?
        );
        assert_eq!(
            store
                .office_site(&tenant, "cn-hangzhou", "cn-hangzhou+dir-1")
                .await?,
            Some(a.clone())
        );
        assert_eq!(
            store
                .office_site(&tenant, "cn-shanghai", "cn-hangzhou+dir-1")
                .await?,
            None
        );
        assert_eq!(
            store
                .office_site(&other, "cn-hangzhou", "cn-hangzhou+dir-1")
                .await?
                .map(|s| s.tenant_id),
            Some(other.clone())
        );
        Ok(())
    }

    #[tokio::test]
    async fn listing_filters_pages_and_counts_desktops() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("os-list").await?;
        let a = site(&tenant, "cn-hangzhou+dir-1", "cn-hangzhou");
        let mut b = site(&tenant, "cn-hangzhou+dir-2", "cn-hangzhou");
        b.created_at = 2;
        b.account_type = "OTHER".into();
        let c = site(&tenant, "cn-shanghai+dir-3", "cn-shanghai");
        for s in [&a, &b, &c] {
            store.create_office_site(s).await?;
        }
        assert!(
            store
                .insert_runtimes_in_office_site(
                    &tenant,
                    "cn-hangzhou",
                    &a.id,
                    &[
                        in_site(&tenant, "ecd-1", &a.id),
                        in_site(&tenant, "ecd-2", &a.id)
                    ],
                )
                .await?
        );
        let mut gone = in_site(&tenant, "ecd-3", &a.id);
        gone.desktop_status = DesktopStatus::Deleted;
        store.insert_runtimes(&[gone]).await?;
        let base = OfficeSiteFilter {
            tenant_id: tenant.clone(),
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        };
        let page = store.list_office_sites(&base, 0, 10).await?;
        assert_eq!(
            page.iter()
                .map(|l| (l.site.id.as_str(), l.desktop_count))
                .collect::<Vec<_>>(),
            [("cn-hangzhou+dir-2", 0), ("cn-hangzhou+dir-1", 2)]
        );
        assert_eq!(store.count_office_sites(&base).await?, 2);
        assert_eq!(store.list_office_sites(&base, 1, 10).await?.len(), 1);
        let f = OfficeSiteFilter {
            account_type: Some("OTHER".into()),
            ..base.clone()
        };
        assert_eq!(store.count_office_sites(&f).await?, 1);
        let f = OfficeSiteFilter {
            ids: Some(vec![a.id.clone(), c.id.clone()]),
            ..base.clone()
        };
        assert_eq!(store.count_office_sites(&f).await?, 1);
        let f = OfficeSiteFilter {
            vpc_id: Some(b.vpc_id.clone()),
            ..base.clone()
        };
        assert_eq!(store.count_office_sites(&f).await?, 1);
        let summaries = store
            .office_site_summaries(&tenant, &[a.id.clone(), "cn-x+dir-9".into()])
            .await?;
        assert_eq!(
            summaries.get(&a.id).map(|s| s.name.as_str()),
            Some("site-cn-hangzhou+dir-1")
        );
        assert_eq!(summaries.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn delete_is_all_or_nothing() -> Result<(), StoreError> {
        let (store, tenant, _dir) = test_store("os-delete").await?;
        let a = site(&tenant, "cn-hangzhou+dir-1", "cn-hangzhou");
        let b = site(&tenant, "cn-hangzhou+dir-2", "cn-hangzhou");
        store.create_office_site(&a).await?;
        store.create_office_site(&b).await?;
        store
            .insert_runtimes_in_office_site(
                &tenant,
                "cn-hangzhou",
                &a.id,
                &[in_site(&tenant, "ecd-1", &a.id)],
            )
            .await?;
        let both = [a.id.clone(), b.id.clone()];
        assert_eq!(
            store
                .delete_office_sites(&tenant, "cn-hangzhou", &both)
                .await?,
            OfficeSiteDeletion::HoldsDesktops {
                id: a.id.clone(),
                count: 1
            }
        );
        assert_eq!(
            store
                .delete_office_sites(&tenant, "cn-hangzhou", &[b.id.clone(), "cn-x+dir-9".into()])
                .await?,
            OfficeSiteDeletion::NotFound("cn-x+dir-9".into())
        );
        assert_eq!(
            store
                .delete_office_sites(&tenant, "cn-shanghai", std::slice::from_ref(&b.id))
                .await?,
            OfficeSiteDeletion::NotFound(b.id.clone())
        );
        // nothing was deleted by the refused calls
        assert_eq!(
            store
                .count_office_sites(&OfficeSiteFilter {
                    tenant_id: tenant.clone(),
                    region_id: "cn-hangzhou".into(),
                    ..Default::default()
                })
                .await?,
            2
        );
        store
            .set_progress(
                &tenant,
                &["ecd-1".into()],
                domain::runtime::Progress::begin(domain::runtime::Operation::Delete).last(),
                None,
                5,
                &crate::runtimes::StepGuard::begin(domain::runtime::Operation::Delete),
            )
            .await?;
        assert_eq!(
            store
                .delete_office_sites(&tenant, "cn-hangzhou", &both)
                .await?,
            OfficeSiteDeletion::Deleted
        );
        assert_eq!(
            store.office_site(&tenant, "cn-hangzhou", &a.id).await?,
            None
        );
        // a deleted site takes no new desktops
        assert!(
            !store
                .insert_runtimes_in_office_site(
                    &tenant,
                    "cn-hangzhou",
                    &a.id,
                    &[in_site(&tenant, "ecd-2", &a.id)],
                )
                .await?
        );
        assert!(
            store
                .runtimes_by_ids(&tenant, &["ecd-2".into()])
                .await?
                .is_empty()
        );
        Ok(())
    }
}
