//! The node daemon (`amc agent`): binds a host to a runtime (`enroll`), then (`run`) fetches the
//! runtime's desired state by generation, writes it into the agent's own files through
//! `render`, and reports what it finds — level-triggered, like a Kubernetes controller: after a
//! restart, a lost connection or a local edit it compares and converges again. It never depends
//! on the store: all it knows of the server is the agent endpoint (`agent-proto`).

mod client;
mod detect;
mod enroll;
mod files;
mod run;
mod skills;
mod state;

pub use enroll::{EnrollOptions, enroll};
pub use run::{Event, Observer, RunOptions, run};
pub use state::{Credentials, LocalState};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment the agents see (`PATH`, `OPENCLAW_STATE_DIR`, `HERMES_HOME`, ...): the
/// process's own for `amc agent`, a made-up one for each daemon of a simulated fleet.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process's environment.
pub fn process_env() -> Env {
    Arc::new(|name| std::env::var(name).ok())
}

/// Everything that stops the daemon or one of its steps.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the server at {server} could not be reached: {reason}")]
    Unreachable { server: String, reason: String },
    /// The server refused the call for good (bad token, revoked credential, runtime deleted).
    #[error("the server refused: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("{0}")]
    Usage(String),
}

impl DaemonError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> DaemonError {
        DaemonError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The daemon's own directory: `$AMC_AGENT_DIR`, else `<home>/.amc-agent`.
pub fn default_dir(home: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("AMC_AGENT_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".amc-agent"))
}
