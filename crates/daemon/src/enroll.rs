//! `amc agent enroll`: trades an enrolment token for the runtime's credential and keeps it.

use std::path::PathBuf;

use agent_proto::{EnrollRequest, Product, SecretText};

use crate::client::Client;
use crate::detect::Probe;
use crate::state::{Credentials, LocalState};
use crate::{DaemonError, Env};

pub struct EnrollOptions {
    pub server: String,
    pub token: String,
    /// The agent the host runs; found on the host when `None`.
    pub product: Option<Product>,
    /// The daemon's directory (credentials, state).
    pub dir: PathBuf,
    /// The home directory whose agents the daemon manages.
    pub home: PathBuf,
    pub hostname: String,
    /// The environment the agents see (`PATH`, `OPENCLAW_STATE_DIR`, `HERMES_HOME`, ...).
    pub env: Env,
    /// PEM certificates an HTTPS server's certificate chains to, when not a public CA's; kept in
    /// the daemon's directory for `run`.
    pub ca_cert: Option<PathBuf>,
}

/// Where the daemon keeps the CA certificate it trusts the server by.
pub fn server_ca_path(dir: &std::path::Path) -> PathBuf {
    dir.join("server-ca.pem")
}

/// The agent installed on this host, OpenClaw first.
async fn installed_product(options: &EnrollOptions) -> Option<Product> {
    for product in [Product::OpenClaw, Product::Hermes] {
        let layout = render::locate(product, &options.home, &*options.env);
        let mut probe = Probe::new(layout, (options.env)("PATH"));
        let config = std::fs::read_to_string(&probe.layout().config).ok();
        if probe.facts(config.as_deref()).await.installed {
            return Some(product);
        }
    }
    None
}

/// Enrols the host; returns the credentials saved (0600 in the daemon's directory).
pub async fn enroll(options: EnrollOptions) -> Result<Credentials, DaemonError> {
    let product = match options.product {
        Some(product) => Some(product),
        None => installed_product(&options).await,
    };
    let ca = match &options.ca_cert {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            DaemonError::Usage(format!(
                "reading the CA certificate {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let client = Client::new(&options.server, None, ca.as_deref())?;
    let response = client
        .enroll(&EnrollRequest {
            token: SecretText(options.token.trim().to_string()),
            hostname: options.hostname.clone(),
            product,
        })
        .await?;
    if let Some(found) = product
        && found != response.product
    {
        tracing::warn!(
            found = ?found,
            runtime = ?response.product,
            "the runtime runs another agent than the one found here; managing the runtime's"
        );
    }
    let credentials = Credentials {
        server: options.server.trim_end_matches('/').to_string(),
        runtime_id: response.runtime_id,
        product: response.product,
        credential: response.credential,
    };
    credentials.save(&options.dir)?;
    match &ca {
        Some(pem) => crate::files::write_private(&server_ca_path(&options.dir), pem)?,
        None => match std::fs::remove_file(server_ca_path(&options.dir)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DaemonError::io(&server_ca_path(&options.dir), e)),
        },
    }
    // What amc owns in the agent's files stays owned; the new binding applies afresh.
    let mut state = LocalState::load(&options.dir).unwrap_or_default();
    state.runtime_id = Some(credentials.runtime_id.clone());
    state.applied_generation = None;
    state.save(&options.dir)?;
    Ok(credentials)
}
