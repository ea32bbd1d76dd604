//! The catalogue of images and bundles `CreateDesktops` accepts, and what each one creates.
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalogue {
    pub images: Vec<RuntimeTemplate>,
    pub bundles: Vec<RuntimeTemplate>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("catalogue entry {0:?}: id prefix must be `ecd` or `jvs`")]
    BadPrefix(String),
    #[error("catalogue entry {0:?} appears twice")]
    Duplicate(String),
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
        Ok(catalogue)
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
