//! `amc serve --sim-daemons DIR`: every running runtime of the simulated cloud gets a node daemon,
//! in this process, over a directory of its own (`DIR/<runtime id>`, the agent pre-installed as its
//! state directory and config file), talking to this server over HTTP like a real one. Runtimes
//! that stop or go away lose theirs. A whole fleet on one machine, for demos and load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_proto::{Product, SecretText};
use store::Store;
use store::agents::{AgentCredential, Enrolment};
use tokio::task::JoinHandle;

pub async fn run(store: Store, dir: PathBuf, server: String) {
    // One connection pool for the fleet: each waiting poll holds a connection, reports share.
    let http = reqwest::Client::new();
    let mut daemons: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    loop {
        interval.tick().await;
        let running = match store.running_agent_runtimes().await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(%error, "simulated fleet: listing runtimes");
                continue;
            }
        };
        let wanted: HashMap<String, (String, String)> = running
            .into_iter()
            .map(|(tenant, id, provider)| (id, (tenant, provider)))
            .collect();
        daemons.retain(|id, task| {
            let keep = wanted.contains_key(id) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for (id, (tenant, provider)) in wanted {
            if daemons.contains_key(&id) {
                continue;
            }
            let Some(product) = Product::of_agent_provider(&provider) else {
                continue;
            };
            match start(&store, &dir, &server, &http, (&tenant, &id, product)).await {
                Ok(task) => {
                    daemons.insert(id, task);
                }
                Err(error) => {
                    tracing::warn!(runtime = %id, %error, "simulated fleet: starting a daemon")
                }
            }
        }
    }
}

/// Installs the agent in the runtime's directory and binds a daemon to the runtime the way
/// `amc agent enroll` would (a one-time token, spent at once).
async fn start(
    store: &Store,
    dir: &Path,
    server: &str,
    http: &reqwest::Client,
    (tenant, runtime, product): (&str, &str, Product),
) -> anyhow::Result<JoinHandle<()>> {
    let root = dir.join(runtime);
    let home = root.join("home");
    let agent_dir = root.join("amc-agent");
    let (state_dir, config, minimal) = match product {
        Product::OpenClaw => (
            ".openclaw",
            "openclaw.json",
            "{\"gateway\": {\"mode\": \"local\"}}\n",
        ),
        Product::Hermes => (".hermes", "config.yaml", "model:\n  default: local\n"),
    };
    let config_path = home.join(state_dir).join(config);
    if !config_path.exists() {
        std::fs::create_dir_all(home.join(state_dir))?;
        std::fs::write(&config_path, minimal)?;
    }
    if daemon::Credentials::load(&agent_dir).is_err() {
        let now = crate::enrolment::now_ms();
        let token =
            domain::secrets::issue(domain::secrets::ENROLMENT_PREFIX, &mut rand::rngs::OsRng);
        let enrolment = Enrolment {
            id: token.id,
            tenant_id: tenant.to_string(),
            runtime_id: Some(runtime.to_string()),
            secret_hash: token.secret_hash,
            expires_at: Some(now + 60_000),
            used_at: None,
            revoked_at: None,
            created_at: now,
        };
        store.create_enrolment(&enrolment).await?;
        let issued =
            domain::secrets::issue(domain::secrets::CREDENTIAL_PREFIX, &mut rand::rngs::OsRng);
        let credential = AgentCredential {
            id: issued.id,
            tenant_id: tenant.to_string(),
            runtime_id: runtime.to_string(),
            secret_hash: issued.secret_hash,
            revoked_at: None,
            created_at: now,
        };
        if let Err(refusal) = store.enroll(&enrolment, None, &credential, now).await? {
            anyhow::bail!("enrolment refused: {refusal:?}");
        }
        daemon::Credentials {
            server: server.to_string(),
            runtime_id: runtime.to_string(),
            product,
            credential: SecretText(issued.text),
        }
        .save(&agent_dir)?;
    }
    let options = daemon::RunOptions {
        dir: agent_dir,
        home,
        // No executables: the agent is found by its files, as on a host without it on PATH.
        env: Arc::new(|_| None),
        check_interval: Duration::from_secs(10),
        until_generation: None,
        observer: None,
        http: Some(http.clone()),
    };
    let runtime = runtime.to_string();
    Ok(tokio::spawn(async move {
        if let Err(error) = daemon::run(options).await {
            tracing::warn!(runtime = %runtime, %error, "simulated daemon stopped");
        }
    }))
}
