//! The runtime catalogue as the cloud's discovery actions show it (ecd 2020-09-30
//! `DescribeBundles`, `DescribeImages`, `DescribeRegions`): the bundles and images
//! `CreateDesktops` accepts and the regions amc serves, from `domain::catalogue` (built in, or
//! `amc serve --catalogue FILE`).
//!
//! The catalogue is the same in every served region; outside them nothing is offered. Filters on
//! things no entry has (GPUs, disk encryption, custom or pooled templates, image versions) match
//! nothing; the rest of the model's parameters are accepted and bounded.

use domain::catalogue::{Region, RuntimeTemplate};
use pop::ApiError;
use serde::{Deserialize, Serialize};

use super::Action;
use super::common::{at_most, list_at_most, next_token, non_empty, non_empty_list, token_page};
use crate::Ctx;

const MAX_IDS: usize = 100;
const MAX_ID_LEN: usize = 64;
const MAX_TEXT_LEN: usize = 128;

const PROTOCOL: &str = "ASP";
const SESSION: &str = "SINGLE_SESSION";
/// Catalogue entries are the provider's own: `SYSTEM` bundles and images, not `CUSTOM` ones.
const SYSTEM: &str = "SYSTEM";
const DISK_CATEGORY: &str = "cloud_auto";

/// An optional enumerated parameter: `None`, or its value among `allowed` (ignoring case).
fn one_of(
    name: &str,
    value: &Option<String>,
    allowed: &'static [&'static str],
) -> Result<Option<&'static str>, ApiError> {
    at_most(name, value.as_deref(), MAX_TEXT_LEN)?;
    match non_empty(value.clone()) {
        None => Ok(None),
        Some(v) => allowed
            .iter()
            .copied()
            .find(|a| a.eq_ignore_ascii_case(&v))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_parameter(name, format!("must be one of {}", allowed.join(", ")))
            }),
    }
}

/// Whether an entry with `actual` passes the filter `wanted` (case-insensitive).
fn passes(wanted: Option<&str>, actual: &str) -> bool {
    wanted.is_none_or(|w| w.eq_ignore_ascii_case(actual))
}

/// The instance type without its size segments (those starting with a digit):
/// `eds.enterprise_office.4c8g` -> `eds.enterprise_office`, `cloud.space.4c.8g` -> `cloud.space`.
fn desktop_type_family(desktop_type: &str) -> &str {
    let mut family = desktop_type;
    while let Some((rest, last)) = family.rsplit_once('.') {
        if !last.starts_with(|c: char| c.is_ascii_digit()) {
            break;
        }
        family = rest;
    }
    family
}

/// The catalogue is offered in served regions only.
fn served(ctx: &Ctx, region_id: &str) -> Result<bool, ApiError> {
    if region_id.is_empty() {
        return Err(ApiError::missing_parameter("RegionId"));
    }
    at_most("RegionId", Some(region_id), MAX_ID_LEN)?;
    Ok(ctx.state.catalogue.region(region_id).is_some())
}

/// One page of `entries` and the token of the next.
fn page_of<T>(
    entries: Vec<T>,
    max_results: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let (offset, size) = token_page(max_results, token, 10)?;
    let total = entries.len() as i64;
    let page: Vec<T> = entries
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(0))
        .collect();
    let next = next_token(offset, page.len(), total);
    Ok((page, next))
}

// ---------------------------------------------------------------------------------------------
// DescribeBundles

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeBundles {
    pub region_id: String,
    pub bundle_id: Option<Vec<String>>,
    pub bundle_type: Option<String>,
    pub check_stock: Option<bool>,
    pub cpu_count: Option<i64>,
    pub desktop_type_family: Option<String>,
    pub fota_channel: Option<String>,
    pub from_desktop_group: Option<bool>,
    pub gpu_count: Option<f64>,
    pub gpu_driver_type: Option<String>,
    pub image_id: Option<Vec<String>>,
    pub max_results: Option<i64>,
    pub memory_size: Option<i64>,
    pub next_token: Option<String>,
    pub os_type: Option<String>,
    pub protocol_type: Option<String>,
    pub scope: Option<String>,
    pub selected_bundle: Option<bool>,
    pub session_type: Option<String>,
    pub support_multi_session: Option<bool>,
    pub volume_encryption_enabled: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeBundlesResponse {
    pub bundles: Vec<BundleView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesktopTypeAttribute {
    pub cpu_count: i64,
    /// MiB.
    pub memory_size: i64,
    pub gpu_count: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BundleDisk {
    pub disk_type: &'static str,
    /// GiB.
    pub disk_size: i64,
    pub disk_performance_level: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BundleView {
    pub bundle_id: String,
    pub bundle_name: String,
    pub bundle_type: &'static str,
    pub description: String,
    pub desktop_type: String,
    pub desktop_type_family: String,
    pub desktop_type_attribute: DesktopTypeAttribute,
    pub disks: Vec<BundleDisk>,
    pub os_type: String,
    pub platform: String,
    pub protocol_type: &'static str,
    pub session_type: &'static str,
    pub system_disk_category: &'static str,
    pub data_disk_category: &'static str,
    pub volume_encryption_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_state: Option<&'static str>,
}

/// What the entry runs, for the `Description` fields.
fn describe(template: &RuntimeTemplate) -> String {
    format!(
        "{} {} ({}) on {}",
        template.agent_provider, template.agent_version, template.agent_platform, template.platform
    )
}

fn disks(template: &RuntimeTemplate) -> Vec<BundleDisk> {
    let mut disks = vec![BundleDisk {
        disk_type: "SYSTEM",
        disk_size: template.system_disk_gib,
        disk_performance_level: "PL0",
    }];
    if template.data_disk_gib > 0 {
        disks.push(BundleDisk {
            disk_type: "DATA",
            disk_size: template.data_disk_gib,
            disk_performance_level: "PL0",
        });
    }
    disks
}

fn bundle_view(template: &RuntimeTemplate, check_stock: bool) -> BundleView {
    BundleView {
        bundle_id: template.id.clone(),
        bundle_name: template.name.clone(),
        bundle_type: SYSTEM,
        description: describe(template),
        desktop_type: template.desktop_type.clone(),
        desktop_type_family: desktop_type_family(&template.desktop_type).to_string(),
        desktop_type_attribute: DesktopTypeAttribute {
            cpu_count: template.cpu,
            memory_size: template.memory_mib,
            gpu_count: 0.0,
        },
        disks: disks(template),
        os_type: template.os_type.clone(),
        platform: template.platform.clone(),
        protocol_type: PROTOCOL,
        session_type: SESSION,
        system_disk_category: DISK_CATEGORY,
        data_disk_category: DISK_CATEGORY,
        volume_encryption_enabled: false,
        stock_state: check_stock.then_some("Available"),
    }
}

impl Action for DescribeBundles {
    type Response = DescribeBundlesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<DescribeBundlesResponse, ApiError> {
        let served = served(ctx, &self.region_id)?;
        list_at_most("BundleId", self.bundle_id.as_deref(), MAX_IDS, MAX_ID_LEN)?;
        list_at_most("ImageId", self.image_id.as_deref(), MAX_IDS, MAX_ID_LEN)?;
        for (name, value) in [
            ("DesktopTypeFamily", &self.desktop_type_family),
            ("FotaChannel", &self.fota_channel),
            ("GpuDriverType", &self.gpu_driver_type),
            ("Scope", &self.scope),
        ] {
            at_most(name, value.as_deref(), MAX_TEXT_LEN)?;
        }
        let bundle_type = one_of("BundleType", &self.bundle_type, &["SYSTEM", "CUSTOM"])?;
        let os_type = one_of("OsType", &self.os_type, &["Windows", "Linux"])?;
        let protocol = one_of("ProtocolType", &self.protocol_type, &["ASP", "HDX"])?;
        let session = one_of(
            "SessionType",
            &self.session_type,
            &["SINGLE_SESSION", "MULTIPLE_SESSION"],
        )?;
        for (name, value) in [
            ("CpuCount", self.cpu_count),
            ("MemorySize", self.memory_size),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(ApiError::invalid_parameter(name, "must not be negative"));
            }
        }
        let gpu_count = match self.gpu_count {
            Some(g) if !g.is_finite() || g < 0.0 => {
                return Err(ApiError::invalid_parameter(
                    "GpuCount",
                    "must not be negative",
                ));
            }
            other => other,
        };
        let ids = non_empty_list(self.bundle_id.clone());
        let family = non_empty(self.desktop_type_family.clone());
        // Bundles carry no image of their own, no GPU, no encrypted disks, and none belongs to
        // a desktop pool: filters asking for those match nothing.
        let asks_for_absent = non_empty_list(self.image_id.clone()).is_some()
            || gpu_count.is_some_and(|g| g > 0.0)
            || self.volume_encryption_enabled == Some(true)
            || self.from_desktop_group == Some(true);
        // Every bundle is a single-session SYSTEM bundle over ASP.
        let kind_matches =
            passes(bundle_type, SYSTEM) && passes(protocol, PROTOCOL) && passes(session, SESSION);
        let entries: Vec<&RuntimeTemplate> = if served && kind_matches && !asks_for_absent {
            ctx.state
                .catalogue
                .bundles
                .iter()
                .filter(|t| ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
                .filter(|t| passes(os_type, &t.os_type))
                .filter(|t| passes(family.as_deref(), desktop_type_family(&t.desktop_type)))
                .filter(|t| self.cpu_count.is_none_or(|c| c == t.cpu))
                .filter(|t| {
                    self.memory_size
                        .is_none_or(|gib| gib * 1024 == t.memory_mib)
                })
                .collect()
        } else {
            Vec::new()
        };
        let (page, next_token) = page_of(entries, self.max_results, self.next_token.as_deref())?;
        let check_stock = self.check_stock == Some(true);
        Ok(DescribeBundlesResponse {
            bundles: page
                .into_iter()
                .map(|t| bundle_view(t, check_stock))
                .collect(),
            next_token,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DescribeImages

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImages {
    pub region_id: String,
    pub desktop_instance_type: Option<String>,
    pub fota_version: Option<String>,
    pub gpu_category: Option<bool>,
    pub gpu_driver_version: Option<String>,
    pub image_id: Option<Vec<String>>,
    pub image_name: Option<String>,
    pub image_status: Option<String>,
    pub image_type: Option<String>,
    pub language_type: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub os_type: Option<String>,
    pub protocol_type: Option<String>,
    pub session_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImagesResponse {
    pub images: Vec<ImageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageView {
    pub image_id: String,
    pub name: String,
    pub description: String,
    pub image_type: &'static str,
    pub os_type: String,
    pub platform: String,
    pub status: &'static str,
    pub progress: &'static str,
    pub protocol_type: &'static str,
    pub session_type: &'static str,
    /// GiB: the system disk the image needs.
    pub size: i64,
    pub data_disk_size: i64,
    pub gpu_category: bool,
    pub volume_encryption_enabled: bool,
    pub shared_count: i64,
}

fn image_view(template: &RuntimeTemplate) -> ImageView {
    ImageView {
        image_id: template.id.clone(),
        name: template.name.clone(),
        description: describe(template),
        image_type: SYSTEM,
        os_type: template.os_type.clone(),
        platform: template.platform.clone(),
        status: "Available",
        progress: "100%",
        protocol_type: PROTOCOL,
        session_type: SESSION,
        size: template.system_disk_gib,
        data_disk_size: template.data_disk_gib,
        gpu_category: false,
        volume_encryption_enabled: false,
        shared_count: 0,
    }
}

impl Action for DescribeImages {
    type Response = DescribeImagesResponse;

    async fn handle(self, ctx: &Ctx) -> Result<DescribeImagesResponse, ApiError> {
        let served = served(ctx, &self.region_id)?;
        list_at_most("ImageId", self.image_id.as_deref(), MAX_IDS, MAX_ID_LEN)?;
        for (name, value) in [
            ("DesktopInstanceType", &self.desktop_instance_type),
            ("FotaVersion", &self.fota_version),
            ("GpuDriverVersion", &self.gpu_driver_version),
            ("ImageName", &self.image_name),
            ("LanguageType", &self.language_type),
        ] {
            at_most(name, value.as_deref(), MAX_TEXT_LEN)?;
        }
        let image_type = one_of("ImageType", &self.image_type, &["SYSTEM", "CUSTOM"])?;
        let status = one_of(
            "ImageStatus",
            &self.image_status,
            &["Available", "Creating", "CreateFailed"],
        )?;
        let os_type = one_of("OsType", &self.os_type, &["Windows", "Linux"])?;
        let protocol = one_of("ProtocolType", &self.protocol_type, &["ASP", "HDX"])?;
        let session = one_of(
            "SessionType",
            &self.session_type,
            &["SINGLE_SESSION", "MULTIPLE_SESSION"],
        )?;
        let ids = non_empty_list(self.image_id.clone());
        let name = non_empty(self.image_name.clone()).map(|n| n.to_lowercase());
        let instance_type = non_empty(self.desktop_instance_type.clone());
        // No image is a GPU image or carries an image (FOTA) or GPU driver version.
        let asks_for_absent = self.gpu_category == Some(true)
            || non_empty(self.fota_version.clone()).is_some()
            || non_empty(self.gpu_driver_version.clone()).is_some();
        // Every image is an available single-session SYSTEM image over ASP.
        let kind_matches = passes(image_type, SYSTEM)
            && passes(status, "Available")
            && passes(protocol, PROTOCOL)
            && passes(session, SESSION);
        let entries: Vec<&RuntimeTemplate> = if served && kind_matches && !asks_for_absent {
            ctx.state
                .catalogue
                .images
                .iter()
                .filter(|t| ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
                .filter(|t| {
                    name.as_ref()
                        .is_none_or(|n| t.name.to_lowercase().contains(n.as_str()))
                })
                .filter(|t| passes(os_type, &t.os_type))
                .filter(|t| passes(instance_type.as_deref(), &t.desktop_type))
                .collect()
        } else {
            Vec::new()
        };
        let (page, next_token) = page_of(entries, self.max_results, self.next_token.as_deref())?;
        Ok(DescribeImagesResponse {
            images: page.into_iter().map(image_view).collect(),
            next_token,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// DescribeRegions

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRegions {
    pub region_id: String,
    pub accept_language: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRegionsResponse {
    pub regions: Vec<RegionView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegionView {
    pub region_id: String,
    pub local_name: String,
    pub region_endpoint: String,
}

fn region_view(region: &Region, english: bool) -> RegionView {
    RegionView {
        region_id: region.id.clone(),
        local_name: if english {
            region.english_name.clone()
        } else {
            region.local_name.clone()
        },
        region_endpoint: region.endpoint(),
    }
}

impl Action for DescribeRegions {
    type Response = DescribeRegionsResponse;

    async fn handle(self, ctx: &Ctx) -> Result<DescribeRegionsResponse, ApiError> {
        if self.region_id.is_empty() {
            return Err(ApiError::missing_parameter("RegionId"));
        }
        at_most("RegionId", Some(&self.region_id), MAX_ID_LEN)?;
        at_most("AcceptLanguage", self.accept_language.as_deref(), 16)?;
        // Chinese unless asked otherwise, as the cloud answers.
        let english = match non_empty(self.accept_language) {
            None => false,
            Some(l) if l.to_ascii_lowercase().starts_with("zh") => false,
            Some(l) if l.to_ascii_lowercase().starts_with("en") => true,
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "AcceptLanguage",
                    "must be zh-CN or en-US",
                ));
            }
        };
        Ok(DescribeRegionsResponse {
            regions: ctx
                .state
                .catalogue
                .regions
                .iter()
                .map(|r| region_view(r, english))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_drop_the_size() {
        assert_eq!(
            desktop_type_family("eds.enterprise_office.4c8g"),
            "eds.enterprise_office"
        );
        assert_eq!(desktop_type_family("cloud.space.4c.8g"), "cloud.space");
        assert_eq!(desktop_type_family("plain"), "plain");
        assert_eq!(desktop_type_family("4c.8g"), "4c");
    }

    #[test]
    fn enumerations_name_their_parameter() {
        assert_eq!(
            one_of("OsType", &Some("linux".into()), &["Windows", "Linux"]),
            Ok(Some("Linux"))
        );
        assert_eq!(one_of("OsType", &Some(String::new()), &["Linux"]), Ok(None));
        let error = one_of("OsType", &Some("Solaris".into()), &["Windows", "Linux"]).err();
        assert!(
            error.is_some_and(|e| e.code == "InvalidParameter" && e.message.contains("OsType"))
        );
    }

    #[test]
    fn pages_carry_a_token_until_the_end() {
        let (page, next) = page_of((0..5).collect(), Some(2), None).unwrap_or_default();
        assert_eq!(page, [0, 1]);
        let (page, next) = page_of((0..5).collect(), Some(2), next.as_deref()).unwrap_or_default();
        assert_eq!(page, [2, 3]);
        let (page, next) = page_of((0..5).collect(), Some(2), next.as_deref()).unwrap_or_default();
        assert_eq!((page, next), (vec![4], None));
        assert!(page_of((0..5).collect::<Vec<i32>>(), Some(101), None).is_err());
    }
}
