//! The agents' own files from a runtime's desired state, and fingerprints of what amc owns in
//! them. Pure: the node daemon reads the files [`Layout::reads`] names, calls [`plan`], writes
//! [`Plan::writes`] and keeps [`Plan::owned`]; [`fingerprint`] of the files right after is what
//! it applied, of the files later what it finds — the two differing is drift.
//!
//! Renderers edit, never overwrite: only what amc owns changes, everything else the user (or the
//! agent itself, or its plugin installer) has in the file stays, comments included where the
//! format allows.
//! - OpenClaw (`openclaw.rs`): `openclaw.json` is JSON5; it is edited in place through a
//!   concrete syntax tree, so comments, formatting and other keys survive byte for byte.
//! - Hermes Agent (`hermes.rs`): the user's own `$HERMES_HOME/config.yaml` and `.env`, not the
//!   administrator layer (`/etc/hermes` or `$HERMES_MANAGED_DIR`). That layer would keep the
//!   user's file untouched and override it key by key, but it is one per machine (not per
//!   `HERMES_HOME` profile), needs root to write, is found by Hermes only where no home
//!   directory says so, and hides a user's own edit rather than showing it as drift, which is
//!   what an admin of a fleet asks to see. In `config.yaml` amc rewrites the top-level blocks
//!   it owns part of (`model`, `providers`, `platforms`) and leaves every other line as it was;
//!   in `.env` only its own lines.

mod hermes;
mod openclaw;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use agent_proto::{DesiredState, Product};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where an agent keeps its files, as the agent itself finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub product: Product,
    /// The agent's state directory (`~/.openclaw`, `~/.hermes`).
    pub state_dir: PathBuf,
    /// Its main config file.
    pub config: PathBuf,
    /// Its dotenv file of secrets, where it has one amc writes.
    pub env_file: Option<PathBuf>,
    pub skills_dir: PathBuf,
    /// The executable's name on PATH.
    pub executable: &'static str,
}

/// Contents of the files of [`Layout::reads`] that exist.
pub type Files = BTreeMap<PathBuf, String>;

/// What amc wrote into the agent's files, so that a later plan removes what is no longer
/// desired and leaves the user's own entries alone. The daemon keeps it between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// Provider ids (the API's `ProviderName`s).
    #[serde(default)]
    pub providers: BTreeSet<String>,
    /// amc set the default model.
    #[serde(default)]
    pub default_model: bool,
    /// API channel codes.
    #[serde(default)]
    pub channels: BTreeSet<String>,
    /// OpenClaw plugin entries amc created (an entry the user had stays the user's).
    #[serde(default)]
    pub plugins: BTreeSet<String>,
    /// Hermes `.env` keys amc wrote.
    #[serde(default)]
    pub env_keys: BTreeSet<String>,
}

impl Owned {
    pub fn is_empty(&self) -> bool {
        self == &Owned::default()
    }
}

/// One file to write whole, atomically.
#[derive(Clone, PartialEq, Eq)]
pub struct Write {
    pub path: PathBuf,
    pub contents: String,
    /// Holds (or may hold) a secret: written 0600.
    pub secret: bool,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Write")
            .field("path", &self.path)
            .field("bytes", &self.contents.len())
            .field("secret", &self.secret)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Only files whose content changes: empty when the files already say what is desired.
    pub writes: Vec<Write>,
    pub owned: Owned,
}

/// Fingerprints of what amc owns, as found: hex SHA-256 of a canonical form in which secrets
/// are hashed too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// `None` when amc owns no model configuration.
    pub model: Option<String>,
    /// Per API channel code amc owns.
    pub channels: BTreeMap<String, String>,
}

/// Why a plan could not be made. Never quotes a value: files and settings hold secrets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("{path}: not valid {format} ({reason})")]
    Unparsable {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: the top level is not an object")]
    NotAnObject { path: PathBuf },
    #[error("the desired state is for {desired:?}, the host runs {layout:?}")]
    WrongProduct { desired: Product, layout: Product },
    #[error("channel {0:?} is not one amc knows")]
    UnknownChannel(String),
}

/// Where `product` keeps its files for a user whose home is `home`, honouring the environment
/// variables the agent itself honours.
pub fn locate(product: Product, home: &Path, env: &dyn Fn(&str) -> Option<String>) -> Layout {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    match product {
        Product::OpenClaw => {
            let state_dir = var("OPENCLAW_STATE_DIR").unwrap_or_else(|| {
                var("OPENCLAW_HOME")
                    .unwrap_or_else(|| home.to_path_buf())
                    .join(".openclaw")
            });
            Layout {
                product,
                config: var("OPENCLAW_CONFIG_PATH")
                    .unwrap_or_else(|| state_dir.join("openclaw.json")),
                env_file: None,
                skills_dir: state_dir.join("skills"),
                state_dir,
                executable: "openclaw",
            }
        }
        Product::Hermes => {
            let state_dir = var("HERMES_HOME").unwrap_or_else(|| home.join(".hermes"));
            Layout {
                product,
                config: state_dir.join("config.yaml"),
                env_file: Some(state_dir.join(".env")),
                skills_dir: state_dir.join("skills"),
                state_dir,
                executable: "hermes",
            }
        }
    }
}

impl Layout {
    /// Every file [`plan`] and [`fingerprint`] look at; `list_dir` lists a directory's entry
    /// names (none when it does not exist).
    pub fn reads(&self, list_dir: &dyn Fn(&Path) -> Vec<String>) -> Vec<PathBuf> {
        let mut files = vec![self.config.clone()];
        files.extend(self.env_file.clone());
        if self.product == Product::OpenClaw {
            files.extend(openclaw::agent_model_files(self, list_dir));
        }
        files
    }
}

/// The writes that make `files` say what `desired` says, touching only what amc owns.
pub fn plan(
    layout: &Layout,
    files: &Files,
    desired: &DesiredState,
    owned: &Owned,
    installed_version: Option<&str>,
) -> Result<Plan, RenderError> {
    if desired.product != layout.product {
        return Err(RenderError::WrongProduct {
            desired: desired.product,
            layout: layout.product,
        });
    }
    match layout.product {
        Product::OpenClaw => openclaw::plan(layout, files, desired, owned, installed_version),
        Product::Hermes => hermes::plan(layout, files, desired, owned),
    }
}

/// What amc owns, as found in `files`. A file that does not parse fingerprints as what can be
/// read of it (nothing): drift, not an error.
pub fn fingerprint(layout: &Layout, files: &Files, owned: &Owned) -> Fingerprints {
    match layout.product {
        Product::OpenClaw => openclaw::fingerprint(layout, files, owned),
        Product::Hermes => hermes::fingerprint(layout, files, owned),
    }
}

/// API channel codes whose QR-code login has completed on the host.
pub fn qr_completed(layout: &Layout, files: &Files) -> Vec<String> {
    match layout.product {
        Product::OpenClaw => openclaw::qr_completed(layout, files),
        Product::Hermes => hermes::qr_completed(layout, files),
    }
}

/// Hex SHA-256 of a value's canonical JSON (serde_json's maps are ordered by key).
pub(crate) fn digest(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// A secret as fingerprints carry it.
pub(crate) fn hashed(secret: &str) -> Value {
    Value::String(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(secret.as_bytes()))
    ))
}

/// The parsed channel code of the desired state.
pub(crate) fn channel_code(code: &str) -> Result<domain::channels::ChannelCode, RenderError> {
    code.parse()
        .map_err(|_| RenderError::UnknownChannel(code.to_string()))
}

/// The config mode of a channel (`Simple` unless it says `Custom`).
pub(crate) fn config_mode(mode: &str) -> domain::channels::ConfigMode {
    if mode.eq_ignore_ascii_case("Custom") {
        domain::channels::ConfigMode::Custom
    } else {
        domain::channels::ConfigMode::Simple
    }
}

/// A number out of a model Config value: a JSON number or a numeric string.
pub(crate) fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}
