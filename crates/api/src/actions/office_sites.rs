//! Office sites (ecd 2020-09-30 `CreateSimpleOfficeSite`, `DescribeOfficeSites`,
//! `DeleteOfficeSites`): the convenience-account office networks desktops are created in.
//!
//! A site is registered as soon as it exists: a convenience-account site configures no
//! directory trust, and the provisioning driver walks runtimes, not sites, so there is no
//! simulated `REGISTERING` phase.
//!
//! Error codes chosen here (the cloud does not publish its own for these cases):
//! - 404 `InvalidOfficeSiteId.NotFound`: no site of the tenant has this id in `RegionId`;
//! - 404 `InvalidRegionId.NotFound`: `CreateSimpleOfficeSite` in a region amc does not serve;
//! - 400 `DependencyViolation.Desktops`: `DeleteOfficeSites` of a site that still holds desktops
//!   (deleted ones do not count); nothing is deleted.

use domain::office_sites::{self as rules, OfficeSiteFieldError};
use pop::ApiError;
use serde::{Deserialize, Serialize};
use store::office_sites::{OfficeSite, OfficeSiteDeletion, OfficeSiteFilter, OfficeSiteListing};

use super::Action;
use super::common::{
    Empty, at_most, list_at_most, next_token, non_empty, non_empty_list, office_site_not_found,
    required, token_page, utc_seconds,
};
use crate::Ctx;
use crate::errors::{self, internal, store_failure};

/// The cloud takes 1 to 100 office site ids per call.
const MAX_IDS: usize = 100;
const MAX_ID_LEN: usize = 64;
const MAX_V_SWITCHES: usize = 10;
/// Bound of free-form identifiers (CEN, vSwitch, account type, access attribute, ...).
const MAX_TOKEN_LEN: usize = 64;
/// Bound of host names, URLs and the identity provider's client id and secret.
const MAX_TEXT_LEN: usize = 255;
/// How many times a new id is drawn when it collides with one of the tenant's sites.
const ID_ATTEMPTS: usize = 5;

fn field_error(name: &str) -> impl Fn(OfficeSiteFieldError) -> ApiError + '_ {
    move |e| ApiError::invalid_parameter(name, e)
}

fn check_region(region_id: &str) -> Result<&str, ApiError> {
    let region_id = required("RegionId", region_id)?;
    at_most("RegionId", Some(region_id), MAX_TOKEN_LEN)?;
    Ok(region_id)
}

/// A secret parameter: read, bounded, never stored, never printed.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redacted")
    }
}

// ---------------------------------------------------------------------------------------------
// CreateSimpleOfficeSite

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSimpleOfficeSite {
    pub region_id: String,
    pub office_site_name: Option<String>,
    pub cidr_block: Option<String>,
    pub vpc_type: Option<String>,
    pub desktop_access_type: Option<String>,
    pub enable_admin_access: Option<bool>,
    pub enable_internet_access: Option<bool>,
    pub bandwidth: Option<i64>,
    pub need_verify_zero_device: Option<bool>,
    pub cloud_box_office_site: Option<bool>,
    pub v_switch_id: Option<Vec<String>>,
    pub cen_id: Option<String>,
    pub cen_owner_id: Option<i64>,
    pub verify_code: Option<Redacted>,
    pub access_attribute: Option<String>,
    pub account_type: Option<String>,
    pub authority_host: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Redacted>,
    /// The identity provider's tenant, not amc's.
    #[serde(rename = "TenantId")]
    pub idp_tenant_id: Option<String>,
    pub domain_name: Option<String>,
    pub eid: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSimpleOfficeSiteResponse {
    pub office_site_id: String,
}

impl CreateSimpleOfficeSite {
    fn check_bounds(&self) -> Result<(), ApiError> {
        let tokens = [
            ("CenId", &self.cen_id),
            ("AccessAttribute", &self.access_attribute),
            ("AccountType", &self.account_type),
            ("Eid", &self.eid),
            ("VpcType", &self.vpc_type),
            ("DesktopAccessType", &self.desktop_access_type),
            ("CidrBlock", &self.cidr_block),
        ];
        for (name, value) in tokens {
            at_most(name, value.as_deref(), MAX_TOKEN_LEN)?;
        }
        let texts = [
            ("AuthorityHost", &self.authority_host),
            ("ClientId", &self.client_id),
            ("TenantId", &self.idp_tenant_id),
            ("DomainName", &self.domain_name),
        ];
        for (name, value) in texts {
            at_most(name, value.as_deref(), MAX_TEXT_LEN)?;
        }
        at_most(
            "ClientSecret",
            self.client_secret.as_ref().map(|s| s.0.as_str()),
            MAX_TEXT_LEN,
        )?;
        at_most(
            "VerifyCode",
            self.verify_code.as_ref().map(|s| s.0.as_str()),
            MAX_TOKEN_LEN,
        )?;
        list_at_most(
            "VSwitchId",
            self.v_switch_id.as_deref(),
            MAX_V_SWITCHES,
            MAX_TOKEN_LEN,
        )?;
        if self.cen_owner_id.is_some_and(|id| id <= 0) {
            return Err(ApiError::invalid_parameter(
                "CenOwnerId",
                "must be an account id",
            ));
        }
        Ok(())
    }
}

impl Action for CreateSimpleOfficeSite {
    type Response = CreateSimpleOfficeSiteResponse;

    async fn handle(self, ctx: &Ctx) -> Result<CreateSimpleOfficeSiteResponse, ApiError> {
        let region_id = check_region(&self.region_id)?.to_string();
        self.check_bounds()?;
        if ctx.state.catalogue.region(&region_id).is_none() {
            return Err(errors::REGION_NOT_FOUND.error(&[&region_id]));
        }
        let name = non_empty(self.office_site_name.clone());
        if let Some(name) = &name {
            rules::validate_name(name).map_err(field_error("OfficeSiteName"))?;
        }
        let cloud_box = self.cloud_box_office_site == Some(true);
        let vpc_type = match non_empty(self.vpc_type.clone()) {
            Some(v) => rules::vpc_type(&v).ok_or_else(|| {
                ApiError::invalid_parameter("VpcType", "must be standard, basic or cloudbox")
            })?,
            None if cloud_box => "cloudbox",
            None => "basic",
        };
        if cloud_box && vpc_type != "cloudbox" {
            return Err(ApiError::invalid_parameter(
                "VpcType",
                "a CloudBox office site (CloudBoxOfficeSite=true) has VpcType cloudbox",
            ));
        }
        let v_switch_ids = non_empty_list(self.v_switch_id.clone()).unwrap_or_default();
        if vpc_type == "cloudbox" && v_switch_ids.is_empty() {
            return Err(ApiError::missing_parameter("VSwitchId"));
        }
        let cidr_block = match non_empty(self.cidr_block.clone()) {
            Some(text) => rules::validate_cidr_block(&text)
                .map_err(field_error("CidrBlock"))?
                .to_string(),
            // An advanced office network's VPC is created from the block it is given.
            None if vpc_type == "standard" => return Err(ApiError::missing_parameter("CidrBlock")),
            None => rules::DEFAULT_CIDR_BLOCK.to_string(),
        };
        let desktop_access_type = match non_empty(self.desktop_access_type.clone()) {
            Some(v) => rules::desktop_access_type(&v).ok_or_else(|| {
                ApiError::invalid_parameter("DesktopAccessType", "must be Internet, VPC or Any")
            })?,
            None => "Internet",
        };
        let enable_internet_access = self.enable_internet_access == Some(true);
        // Bandwidth only means something with Internet access; without, the site has none.
        let bandwidth = match (enable_internet_access, self.bandwidth) {
            (true, Some(b)) => rules::validate_bandwidth(b).map_err(field_error("Bandwidth"))?,
            (true, None) => rules::DEFAULT_BANDWIDTH,
            (false, Some(b)) => {
                rules::validate_bandwidth(b).map_err(field_error("Bandwidth"))?;
                0
            }
            (false, None) => 0,
        };
        let mut rng = rand::rngs::OsRng;
        let given_name = name;
        let mut site = OfficeSite {
            tenant_id: ctx.tenant_id.clone(),
            id: String::new(),
            region_id: region_id.clone(),
            name: String::new(),
            status: rules::REGISTERED.into(),
            office_site_type: rules::SIMPLE.into(),
            account_type: non_empty(self.account_type.clone())
                .unwrap_or_else(|| rules::SIMPLE.into()),
            vpc_type: vpc_type.into(),
            vpc_id: rules::vpc_id(&mut rng),
            cidr_block,
            v_switch_ids,
            desktop_access_type: desktop_access_type.into(),
            enable_admin_access: self.enable_admin_access.unwrap_or(true),
            enable_internet_access,
            bandwidth,
            need_verify_zero_device: self.need_verify_zero_device == Some(true),
            cloud_box_office_site: vpc_type == "cloudbox",
            access_attribute: non_empty(self.access_attribute.clone()),
            cen_id: non_empty(self.cen_id.clone()),
            cen_owner_id: self.cen_owner_id,
            authority_host: non_empty(self.authority_host.clone()),
            client_id: non_empty(self.client_id.clone()),
            idp_tenant_id: non_empty(self.idp_tenant_id.clone()),
            domain_name: non_empty(self.domain_name.clone()),
            eid: non_empty(self.eid.clone()),
            created_at: ctx.now_ms,
        };
        for _ in 0..ID_ATTEMPTS {
            site.id = rules::office_site_id(&region_id, &mut rng);
            // An unnamed site is named after its id.
            site.name = given_name.clone().unwrap_or_else(|| site.id.clone());
            if ctx
                .state
                .store
                .create_office_site(&site)
                .await
                .map_err(store_failure)?
            {
                return Ok(CreateSimpleOfficeSiteResponse {
                    office_site_id: site.id,
                });
            }
        }
        Err(internal("no free office site id after several attempts"))
    }
}

// ---------------------------------------------------------------------------------------------
// DescribeOfficeSites

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOfficeSites {
    pub region_id: String,
    pub office_site_id: Option<Vec<String>>,
    pub status: Option<String>,
    pub office_site_type: Option<String>,
    pub account_type: Option<String>,
    pub vpc_id: Option<String>,
    pub security_protection: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOfficeSitesResponse {
    pub office_sites: Vec<OfficeSiteView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub total_count: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OfficeSiteView {
    pub office_site_id: String,
    pub name: String,
    pub status: String,
    pub office_site_type: String,
    pub account_type: String,
    pub creation_time: String,
    pub cidr_block: String,
    pub vpc_id: String,
    pub vpc_type: String,
    #[serde(rename = "VSwitchIds")]
    pub v_switch_ids: Vec<String>,
    pub desktop_access_type: String,
    pub enable_admin_access: bool,
    pub enable_internet_access: bool,
    pub bandwidth: i64,
    pub need_verify_zero_device: bool,
    pub need_verify_login_risk: bool,
    pub cloud_box_office_site: bool,
    pub enable_cross_desktop_access: bool,
    pub enable_service_route: bool,
    pub mfa_enabled: bool,
    pub sso_enabled: bool,
    pub is_ldap: bool,
    pub protocol_type: &'static str,
    pub desktop_count: i64,
    pub total_eds_count: i64,
    pub total_eds_count_for_group: i64,
    /// One network interface per desktop.
    pub total_resource_amount: i64,
    pub dns_address: Vec<String>,
    pub file_system_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_attribute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cen_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eid: Option<String>,
}

fn office_site_view(listing: OfficeSiteListing) -> OfficeSiteView {
    let site = listing.site;
    OfficeSiteView {
        office_site_id: site.id,
        name: site.name,
        status: site.status,
        office_site_type: site.office_site_type,
        account_type: site.account_type,
        creation_time: utc_seconds(site.created_at),
        cidr_block: site.cidr_block,
        vpc_id: site.vpc_id,
        vpc_type: site.vpc_type,
        v_switch_ids: site.v_switch_ids,
        desktop_access_type: site.desktop_access_type,
        enable_admin_access: site.enable_admin_access,
        enable_internet_access: site.enable_internet_access,
        bandwidth: site.bandwidth,
        need_verify_zero_device: site.need_verify_zero_device,
        need_verify_login_risk: false,
        cloud_box_office_site: site.cloud_box_office_site,
        enable_cross_desktop_access: false,
        enable_service_route: false,
        mfa_enabled: false,
        sso_enabled: false,
        is_ldap: false,
        protocol_type: "ASP",
        desktop_count: listing.desktop_count,
        total_eds_count: listing.desktop_count,
        total_eds_count_for_group: 0,
        total_resource_amount: listing.desktop_count,
        dns_address: Vec::new(),
        file_system_ids: Vec::new(),
        access_attribute: site.access_attribute,
        cen_id: site.cen_id,
        authority_host: site.authority_host,
        client_id: site.client_id,
        tenant_id: site.idp_tenant_id,
        domain_name: site.domain_name,
        eid: site.eid,
    }
}

impl Action for DescribeOfficeSites {
    type Response = DescribeOfficeSitesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<DescribeOfficeSitesResponse, ApiError> {
        let region_id = check_region(&self.region_id)?.to_string();
        list_at_most(
            "OfficeSiteId",
            self.office_site_id.as_deref(),
            MAX_IDS,
            MAX_ID_LEN,
        )?;
        for (name, value) in [
            ("Status", &self.status),
            ("OfficeSiteType", &self.office_site_type),
            ("AccountType", &self.account_type),
            ("VpcId", &self.vpc_id),
            ("SecurityProtection", &self.security_protection),
        ] {
            at_most(name, value.as_deref(), MAX_TOKEN_LEN)?;
        }
        let status = non_empty(self.status.clone())
            .map(|s| {
                rules::status(&s).ok_or_else(|| {
                    ApiError::invalid_parameter("Status", "not an office site status")
                })
            })
            .transpose()?;
        let office_site_type = non_empty(self.office_site_type.clone())
            .map(|t| {
                rules::office_site_type(&t).ok_or_else(|| {
                    ApiError::invalid_parameter("OfficeSiteType", "must be SIMPLE or AD_CONNECTOR")
                })
            })
            .transpose()?;
        let (offset, size) = token_page(self.max_results, self.next_token.as_deref(), 10)?;
        let mut filter = OfficeSiteFilter {
            tenant_id: ctx.tenant_id.clone(),
            region_id,
            ids: non_empty_list(self.office_site_id.clone()),
            status: status.map(str::to_string),
            office_site_type: office_site_type.map(str::to_string),
            account_type: non_empty(self.account_type.clone()),
            vpc_id: non_empty(self.vpc_id.clone()),
        };
        // No site has a security protection configuration: asking for one matches nothing.
        if non_empty(self.security_protection.clone()).is_some() {
            filter.ids = Some(Vec::new());
        }
        let store = &ctx.state.store;
        let total_count = store
            .count_office_sites(&filter)
            .await
            .map_err(store_failure)?;
        let sites = if offset < total_count {
            store
                .list_office_sites(&filter, offset, size)
                .await
                .map_err(store_failure)?
        } else {
            Vec::new()
        };
        Ok(DescribeOfficeSitesResponse {
            next_token: next_token(offset, sites.len(), total_count),
            office_sites: sites.into_iter().map(office_site_view).collect(),
            total_count,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DeleteOfficeSites

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteOfficeSites {
    pub region_id: String,
    pub office_site_id: Vec<String>,
}

impl Action for DeleteOfficeSites {
    type Response = Empty;

    async fn handle(self, ctx: &Ctx) -> Result<Empty, ApiError> {
        let region_id = check_region(&self.region_id)?;
        let ids = non_empty_list(Some(self.office_site_id.clone()))
            .ok_or_else(|| ApiError::missing_parameter("OfficeSiteId"))?;
        list_at_most("OfficeSiteId", Some(&ids), MAX_IDS, MAX_ID_LEN)?;
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        match ctx
            .state
            .store
            .delete_office_sites(&ctx.tenant_id, region_id, &unique)
            .await
            .map_err(store_failure)?
        {
            OfficeSiteDeletion::Deleted => Ok(Empty {}),
            OfficeSiteDeletion::NotFound(id) => Err(office_site_not_found(&id)),
            OfficeSiteDeletion::HoldsDesktops { id, count } => {
                Err(errors::OFFICE_SITE_NOT_EMPTY.error(&[&id, &count]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_times_are_utc_seconds() {
        assert_eq!(utc_seconds(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Redacted("hunter2".into());
        assert_eq!(format!("{secret:?}"), "Redacted");
    }
}
