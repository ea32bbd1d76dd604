//! What the daemon keeps on the host, in its own directory (0700, files 0600): the credentials
//! enrolment gave it, and its local state — which parts of the agent's files amc owns, and the
//! fingerprints of what it last applied (hashes only: the desired state, which holds secrets,
//! is never kept outside the agent's own files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agent_proto::{Product, SecretText};
use serde::{Deserialize, Serialize};

use crate::DaemonError;
use crate::files::{read_optional, write_private};

const CREDENTIALS: &str = "credentials.json";
const STATE: &str = "state.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The server's base URL, e.g. `http://amc.corp:8080`.
    pub server: String,
    pub runtime_id: String,
    pub product: Product,
    pub credential: SecretText,
}

impl Credentials {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CREDENTIALS)
    }

    pub fn load(dir: &Path) -> Result<Credentials, DaemonError> {
        let path = Credentials::path(dir);
        let text = read_optional(&path)?.ok_or_else(|| {
            DaemonError::Usage(format!(
                "{} does not exist: enrol first (amc agent enroll --server URL --token T)",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| DaemonError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    pub fn save(&self, dir: &Path) -> Result<(), DaemonError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| DaemonError::Corrupt {
            path: Credentials::path(dir),
            reason: e.to_string(),
        })?;
        write_private(&Credentials::path(dir), text.as_bytes())
    }
}

/// Fingerprints of what was applied, per section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
}

impl From<render::Fingerprints> for Applied {
    fn from(f: render::Fingerprints) -> Applied {
        Applied {
            model: f.model,
            channels: f.channels,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalState {
    /// The runtime this state belongs to.
    #[serde(default)]
    pub runtime_id: Option<String>,
    #[serde(default)]
    pub applied_generation: Option<i64>,
    #[serde(default)]
    pub applied: Applied,
    #[serde(default)]
    pub owned: render::Owned,
}

impl LocalState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE)
    }

    /// The saved state, or a fresh one when there is none.
    pub fn load(dir: &Path) -> Result<LocalState, DaemonError> {
        let path = LocalState::path(dir);
        match read_optional(&path)? {
            None => Ok(LocalState::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| DaemonError::Corrupt {
                path,
                reason: e.to_string(),
            }),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<(), DaemonError> {
        let path = LocalState::path(dir);
        let text = serde_json::to_string_pretty(self).map_err(|e| DaemonError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_private(&path, text.as_bytes())
    }
}
