//! The catalogue of images and bundles `CreateDesktops` accepts, what each one creates, and the
//! regions amc serves (`DescribeRegions`; office sites are created in them).
//!
//! The built-in catalogue follows the cloud's usage notes: the OpenClaw community images make
//! `ecd-…` cloud desktops (platform ENTERPRISE), bundle `b-openclaw-linux` makes a JVS Claw
//! computer `jvs-…` (ENTERPRISE_JVS), and the Hermes bundle a `jvs-…` Hermes Agent computer.
//! Operators replace it with a JSON file of the same shape (`amc serve --catalogue FILE`).

use serde::{Deserialize, Serialize};

/// What one image or bundle provisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeTemplate {
    /// `ImageId` (in `DesktopAttachment`) or `BundleId` that selects this entry.
    pub id: String,
    pub name: String,
    /// Id prefix of the runtimes it makes: `ecd` or `jvs`.
    pub id_prefix: String,
    /// `Windows` or `Linux`.
    pub os_type: String,
    /// Operating system platform, e.g. `Ubuntu`, `Windows`.
    pub platform: String,
    /// `ENTERPRISE`, `ENTERPRISE_JVS`, ...
    pub agent_platform: String,
    /// `OpenClaw`, `HermesAgent`, ...
    pub agent_provider: String,
    /// Version of the agent the image ships.
    pub agent_version: String,
    pub desktop_type: String,
    pub cpu: i64,
    pub memory_mib: i64,
    pub system_disk_gib: i64,
    pub data_disk_gib: i64,
}

/// A region amc serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// `cn-hangzhou`, ...
    pub id: String,
    /// The display name in Chinese (`AcceptLanguage` `zh-CN`, the default).
    pub local_name: String,
    /// The display name in English (`AcceptLanguage` `en-US`).
    pub english_name: String,
    /// The `RegionEndpoint` clients are told; the cloud's `ecd.<id>.aliyuncs.com` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Region {
    pub fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("ecd.{}.aliyuncs.com", self.id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalogue {
    pub images: Vec<RuntimeTemplate>,
    pub bundles: Vec<RuntimeTemplate>,
    /// Absent from a catalogue file: the built-in regions.
    #[serde(default = "default_regions")]
    pub regions: Vec<Region>,
}

/// The regions of the built-in catalogue: those where the cloud offers agent hosts.
pub fn default_regions() -> Vec<Region> {
    [
        ("cn-hangzhou", "华东1（杭州）", "China (Hangzhou)"),
        ("cn-shanghai", "华东2（上海）", "China (Shanghai)"),
        ("cn-beijing", "华北2（北京）", "China (Beijing)"),
        ("cn-shenzhen", "华南1（深圳）", "China (Shenzhen)"),
        ("cn-hongkong", "中国香港", "China (Hong Kong)"),
        ("ap-southeast-1", "新加坡", "Singapore"),
    ]
    .into_iter()
    .map(|(id, local_name, english_name)| Region {
        id: id.into(),
        local_name: local_name.into(),
        english_name: english_name.into(),
        endpoint: None,
    })
    .collect()
}

/// A region id as the cloud spells them: lower-case letters, digits and inner hyphens. (An
/// office site id is `<region>+dir-<digits>`, so a region id must never hold a `+`.)
fn valid_region_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("catalogue entry {0:?}: id prefix must be `ecd` or `jvs`")]
    BadPrefix(String),
    #[error("catalogue entry {0:?} appears twice")]
    Duplicate(String),
    #[error("catalogue region {0:?}: ids are lower-case letters, digits and hyphens")]
    BadRegion(String),
    #[error("catalogue region {0:?} appears twice")]
    DuplicateRegion(String),
    #[error("catalogue has no region")]
    NoRegion,
}

impl Catalogue {
    pub fn from_json(text: &str) -> Result<Catalogue, CatalogueError> {
        let catalogue: Catalogue = serde_json::from_str(text)?;
        let mut seen = std::collections::HashSet::new();
        for entry in catalogue.images.iter().chain(&catalogue.bundles) {
            if entry.id_prefix != "ecd" && entry.id_prefix != "jvs" {
                return Err(CatalogueError::BadPrefix(entry.id.clone()));
            }
            if !seen.insert(entry.id.as_str()) {
                return Err(CatalogueError::Duplicate(entry.id.clone()));
            }
        }
        if catalogue.regions.is_empty() {
            return Err(CatalogueError::NoRegion);
        }
        let mut regions = std::collections::HashSet::new();
        for region in &catalogue.regions {
            if !valid_region_id(&region.id) {
                return Err(CatalogueError::BadRegion(region.id.clone()));
            }
            if !regions.insert(region.id.as_str()) {
                return Err(CatalogueError::DuplicateRegion(region.id.clone()));
            }
        }
        Ok(catalogue)
    }

    pub fn region(&self, region_id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == region_id)
    }

    pub fn image(&self, image_id: &str) -> Option<&RuntimeTemplate> {
        self.images.iter().find(|t| t.id == image_id)
    }

    pub fn bundle(&self, bundle_id: &str) -> Option<&RuntimeTemplate> {
        self.bundles.iter().find(|t| t.id == bundle_id)
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        let entry = |id: &str,
                     name: &str,
                     prefix: &str,
                     os: &str,
                     platform: &str,
                     agent_platform: &str,
                     provider: &str,
                     version: &str,
                     desktop_type: &str| RuntimeTemplate {
            id: id.into(),
            name: name.into(),
            id_prefix: prefix.into(),
            os_type: os.into(),
            platform: platform.into(),
            agent_platform: agent_platform.into(),
            agent_provider: provider.into(),
            agent_version: version.into(),
            desktop_type: desktop_type.into(),
            cpu: 4,
            memory_mib: 8192,
            system_disk_gib: 80,
            data_disk_gib: 40,
        };
        Catalogue {
            images: vec![
                entry(
                    "imgc-0aae4rxv3pz7idcot",
                    "OpenClaw_Windows 11",
                    "ecd",
                    "Windows",
                    "Windows",
                    "ENTERPRISE",
                    "OpenClaw",
                    "2026.3.13",
                    "eds.enterprise_office.4c8g",
                ),
                entry(
                    "imgc-0ae8jvkn4tzatayay",
                    "OpenClaw_Ubuntu 22.04",
                    "ecd",
                    "Linux",
                    "Ubuntu",
                    "ENTERPRISE",
                    "OpenClaw",
                    "2026.3.13",
                    "eds.enterprise_office.4c8g",
                ),
            ],
            bundles: vec![
                entry(
                    "b-openclaw-linux",
                    "JVS Claw",
                    "jvs",
                    "Linux",
                    "Ubuntu",
                    "ENTERPRISE_JVS",
                    "OpenClaw",
                    "2026.3.13",
                    "cloud.space.4c.8g",
                ),
                entry(
                    "b-hermes-linux",
                    "Hermes Agent",
                    "jvs",
                    "Linux",
                    "Ubuntu",
                    "ENTERPRISE_JVS",
                    "HermesAgent",
                    "0.19.0",
                    "cloud.space.4c.8g",
                ),
            ],
            regions: default_regions(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalogue_round_trips_through_json() {
        let catalogue = Catalogue::default();
        let text = serde_json::to_string(&catalogue).unwrap_or_default();
        let parsed = Catalogue::from_json(&text).map_err(|e| e.to_string());
        assert_eq!(parsed, Ok(catalogue));
    }

    #[test]
    fn rejects_unknown_prefix_and_duplicates() {
        let mut catalogue = Catalogue::default();
        catalogue.bundles[0].id_prefix = "vm".into();
        let text = serde_json::to_string(&catalogue).unwrap_or_default();
        assert!(matches!(
            Catalogue::from_json(&text),
            Err(CatalogueError::BadPrefix(_))
        ));
        let mut catalogue = Catalogue::default();
        catalogue.bundles.push(catalogue.images[0].clone());
        let text = serde_json::to_string(&catalogue).unwrap_or_default();
        assert!(matches!(
            Catalogue::from_json(&text),
            Err(CatalogueError::Duplicate(_))
        ));
    }

    #[test]
    fn regions_default_when_absent_and_are_checked() {
        let parsed = Catalogue::from_json(r#"{"images": [], "bundles": []}"#)
            .map(|c| c.regions)
            .map_err(|e| e.to_string());
        assert_eq!(parsed, Ok(default_regions()));
        assert!(Catalogue::default().region("cn-hangzhou").is_some());
        assert!(Catalogue::default().region("mars-1").is_none());
        let with = |regions: &str| {
            Catalogue::from_json(&format!(
                r#"{{"images": [], "bundles": [], "regions": {regions}}}"#
            ))
        };
        assert!(matches!(with("[]"), Err(CatalogueError::NoRegion)));
        let one = r#"{"id": "cn-x", "localName": "x", "englishName": "x"}"#;
        assert!(matches!(
            with(&format!("[{one}, {one}]")),
            Err(CatalogueError::DuplicateRegion(_))
        ));
        assert!(matches!(
            with(r#"[{"id": "cn+x", "localName": "x", "englishName": "x"}]"#),
            Err(CatalogueError::BadRegion(_))
        ));
        let custom = with(
            r#"[{"id": "cn-x", "localName": "x", "englishName": "x", "endpoint": "amc.example:8080"}]"#,
        )
        .ok()
        .and_then(|c| c.region("cn-x").map(Region::endpoint));
        assert_eq!(custom.as_deref(), Some("amc.example:8080"));
        assert_eq!(
            Catalogue::default()
                .region("cn-beijing")
                .map(Region::endpoint)
                .as_deref(),
            Some("ecd.cn-beijing.aliyuncs.com")
        );
    }

    #[test]
    fn built_in_entries_match_the_usage_notes() {
        let catalogue = Catalogue::default();
        let jvs = catalogue.bundle("b-openclaw-linux").map(|t| {
            (
                t.id_prefix.as_str(),
                t.agent_platform.as_str(),
                t.agent_provider.as_str(),
            )
        });
        assert_eq!(jvs, Some(("jvs", "ENTERPRISE_JVS", "OpenClaw")));
        let windows = catalogue
            .image("imgc-0aae4rxv3pz7idcot")
            .map(|t| (t.id_prefix.as_str(), t.os_type.as_str()));
        assert_eq!(windows, Some(("ecd", "Windows")));
        assert_eq!(
            catalogue
                .bundle("b-hermes-linux")
                .map(|t| t.agent_provider.as_str()),
            Some("HermesAgent")
        );
    }
}
