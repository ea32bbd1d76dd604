//! `amc agent run`: the convergence loop. One task long-polls the desired state; the loop wakes
//! on a new one or every `check_interval`, reads the agent's files, applies when the generation
//! is new (or when drift is to be repaired), and reports when what it found changed or the
//! report interval passed. Nothing is kept only in memory that a restart would need: the state
//! file says what was applied, the files say what is there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent_proto::{DesiredState, Report, Section};
use render::Files;
use tokio::sync::watch;

use crate::client::{Client, POLL_WAIT};
use crate::detect::Probe;
use crate::files::{list_dir, read_optional, write_atomic};
use crate::skills;
use crate::state::{Applied, Credentials, LocalState};
use crate::{DaemonError, Env};

pub struct RunOptions {
    pub dir: PathBuf,
    pub home: PathBuf,
    pub env: Env,
    /// How often files are compared when nothing else happens.
    pub check_interval: Duration,
    /// Stop after the first report that follows an apply of this generation (tests, demos).
    pub until_generation: Option<i64>,
    /// Told of what the daemon does (a simulated fleet counts with it).
    pub observer: Option<Observer>,
    /// A connection pool to share (the daemons of a simulated fleet); its own when `None`.
    pub http: Option<reqwest::Client>,
}

/// What a daemon did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Applied { generation: i64 },
    Reported,
}

pub type Observer = std::sync::Arc<dyn Fn(Event) + Send + Sync>;

/// What the poller tells the loop.
#[derive(Clone)]
enum Polled {
    Nothing,
    State(Box<DesiredState>),
    /// Refused for good: revoked credential, deleted runtime.
    Refused(String, String),
}

pub async fn run(options: RunOptions) -> Result<(), DaemonError> {
    let credentials = Credentials::load(&options.dir)?;
    let ca_path = crate::enroll::server_ca_path(&options.dir);
    let ca = match std::fs::read(&ca_path) {
        Ok(pem) => Some(pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(DaemonError::io(&ca_path, e)),
    };
    let client = Client::new(
        &credentials.server,
        Some(credentials.credential.expose().to_string()),
        ca.as_deref(),
    )?;
    let layout = render::locate(credentials.product, &options.home, &*options.env);
    let mut probe = Probe::new(layout.clone(), (options.env)("PATH"));
    let mut local = LocalState::load(&options.dir)?;
    if local.runtime_id.as_deref() != Some(credentials.runtime_id.as_str()) {
        local.runtime_id = Some(credentials.runtime_id.clone());
        local.applied_generation = None;
    }
    tracing::info!(
        runtime = %credentials.runtime_id,
        product = ?credentials.product,
        config = %layout.config.display(),
        "managing the agent"
    );
    let (sender, mut polled) = watch::channel(Polled::Nothing);
    let poller = tokio::spawn(poll(client.clone(), sender));
    let result = converge_forever(&options, &client, &mut probe, &mut local, &mut polled).await;
    poller.abort();
    result
}

async fn poll(client: Client, sender: watch::Sender<Polled>) {
    let mut held: Option<i64> = None;
    let mut backoff = Duration::from_millis(500);
    loop {
        match client.desired(held, POLL_WAIT).await {
            Ok(Some(state)) => {
                backoff = Duration::from_millis(500);
                held = Some(state.generation);
                if sender.send(Polled::State(Box::new(state))).is_err() {
                    return;
                }
            }
            Ok(None) => backoff = Duration::from_millis(500),
            Err(DaemonError::Refused { code, message }) => {
                let _ = sender.send(Polled::Refused(code, message));
                return;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "fetching the desired state");
                tokio::time::sleep(jitter(backoff)).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// A runtime's own delay within a second, the same on every apply.
fn spread(runtime_id: &str) -> Duration {
    let hash = runtime_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Duration::from_millis(hash % 1000)
}

/// Spreads retries of a fleet over time: between 50% and 100% of `base`.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base / 2 + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

async fn converge_forever(
    options: &RunOptions,
    client: &Client,
    probe: &mut Probe,
    local: &mut LocalState,
    polled: &mut watch::Receiver<Polled>,
) -> Result<(), DaemonError> {
    let mut desired: Option<DesiredState> = None;
    let mut last_sent: Option<(Report, Instant)> = None;
    let mut failed_generation: Option<i64> = None;
    loop {
        match polled.borrow_and_update().clone() {
            Polled::Nothing => {}
            Polled::State(state) => desired = Some(*state),
            Polled::Refused(code, message) => return Err(DaemonError::Refused { code, message }),
        }
        let applied_before = local.applied_generation;
        // A pass that cannot finish (the daemon's own directory unwritable, descriptors
        // exhausted) is tried again at the next check: the daemon outlives passing trouble.
        let report = match converge(probe, client, desired.as_ref(), local, &options.dir).await {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%error, "comparing the agent's files");
                tokio::time::sleep(options.check_interval).await;
                continue;
            }
        };
        if let (Some(observer), Some(generation)) = (&options.observer, local.applied_generation)
            && applied_before != Some(generation)
        {
            observer(Event::Applied { generation });
        }
        if let Some(error) = &report.error {
            if failed_generation != report.applied_generation.or(Some(-1)) {
                tracing::error!(%error, "applying the desired state");
            }
            failed_generation = report.applied_generation.or(Some(-1));
        }
        let interval = desired.as_ref().map_or(Duration::from_secs(30), |d| {
            Duration::from_secs(d.report_interval_secs.max(1))
        });
        let due = match &last_sent {
            Some((sent, at)) => *sent != report || at.elapsed() >= interval,
            None => true,
        };
        if due {
            if applied_before != local.applied_generation && applied_before.is_some() {
                // A new generation reaches a whole fleet at once: spreading the reports that
                // follow over a second spares the server a herd (and each daemon is done
                // applying by then).
                tokio::time::sleep(spread(local.runtime_id.as_deref().unwrap_or(""))).await;
            }
            match client.report(&report).await {
                Ok(_) => {
                    last_sent = Some((report.clone(), Instant::now()));
                    if let Some(observer) = &options.observer {
                        observer(Event::Reported);
                    }
                }
                Err(DaemonError::Refused { code, message }) => {
                    return Err(DaemonError::Refused { code, message });
                }
                // Sent again at the next check: a report is the whole state, never a delta.
                Err(error) => {
                    tracing::warn!(%error, "reporting");
                    last_sent = None;
                }
            }
        }
        if let (Some(until), Some((sent, _))) = (options.until_generation, &last_sent)
            && sent.applied_generation.is_some_and(|g| g >= until)
        {
            return Ok(());
        }
        tokio::select! {
            changed = polled.changed() => {
                if changed.is_err() {
                    // The poller ended without a refusal: it only does when the loop is gone.
                    return Ok(());
                }
            }
            () = tokio::time::sleep(options.check_interval) => {}
        }
    }
}

fn read_files(layout: &render::Layout) -> Result<Files, DaemonError> {
    let mut files = Files::new();
    for path in layout.reads(&|dir: &Path| list_dir(dir)) {
        if let Some(text) = read_optional(&path)? {
            files.insert(path, text);
        }
    }
    Ok(files)
}

/// Runs file work off the async threads: a fleet of daemons in one process (or a daemon beside
/// a server) must not stall on each other's fsyncs.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DaemonError> + Send + 'static,
) -> Result<T, DaemonError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DaemonError::Usage(format!("file work: {e}")))?
}

/// One pass: look, apply if due, and say what was found.
async fn converge(
    probe: &mut Probe,
    client: &Client,
    desired: Option<&DesiredState>,
    local: &mut LocalState,
    dir: &Path,
) -> Result<Report, DaemonError> {
    let layout = probe.layout().clone();
    let mut error = None;
    let read = {
        let layout = layout.clone();
        blocking(move || read_files(&layout)).await
    };
    let files = match read {
        Ok(files) => files,
        Err(e) => {
            error = Some(e.to_string());
            Files::new()
        }
    };
    let config_text = files.get(&layout.config).cloned();
    let agent = probe.facts(config_text.as_deref()).await;
    let skills_root = skills::root(&layout);
    let installed = {
        let root = skills_root.clone();
        blocking(move || Ok(skills::installed(&root))).await?
    };
    let found: Applied = render::fingerprint(&layout, &files, &local.owned).into();
    // Due: a new generation, or drift (of the files or of the skills) to repair.
    let due = desired
        .filter(|_| agent.installed && error.is_none())
        .filter(|desired| {
            local.applied_generation != Some(desired.generation)
                || (desired.repair_drift
                    && (found != local.applied || skills::differ(&installed, &desired.skills)))
        })
        .cloned();
    let mut apply_error = None;
    let mut downloads = Vec::new();
    if let Some(desired) = &due {
        for skill in skills::to_install(&installed, &desired.skills) {
            match skills::download(client, skill, dir).await {
                Ok(path) => downloads.push((skill.clone(), path)),
                Err(e) => {
                    apply_error = Some(e.to_string());
                    break;
                }
            }
        }
    }
    let due = due.filter(|_| apply_error.is_none());
    let (layout_for_work, version, dir) =
        (layout.clone(), agent.version.clone(), dir.to_path_buf());
    let mut state = local.clone();
    let (files, found, apply_error, state, installed) = blocking(move || {
        let layout = layout_for_work;
        let mut files = files;
        let mut found = found;
        let mut apply_error = apply_error;
        if let Some(desired) = due {
            match apply(&layout, &files, &desired, &mut state, version.as_deref())
                .and_then(|after| install_skills(&skills_root, &desired, downloads).map(|()| after))
            {
                Ok(after) => {
                    files = after;
                    found = render::fingerprint(&layout, &files, &state.owned).into();
                    state.applied = found.clone();
                    state.applied_generation = Some(desired.generation);
                    state.save(&dir)?;
                    tracing::info!(generation = desired.generation, "applied");
                }
                Err(e) => apply_error = Some(e),
            }
        }
        let installed = skills::installed(&skills_root);
        Ok((files, found, apply_error, state, installed))
    })
    .await?;
    *local = state;
    Ok(report(
        &layout,
        &files,
        local,
        &found,
        installed.into_keys().collect(),
        agent,
        error.or(apply_error),
    ))
}

/// Installs the downloaded packages and removes the skills amc installed that are no longer
/// given.
fn install_skills(
    root: &Path,
    desired: &DesiredState,
    downloads: Vec<(agent_proto::SkillPackage, PathBuf)>,
) -> Result<(), String> {
    for (skill, package) in downloads {
        skills::install(root, &skill, &package).map_err(|e| e.to_string())?;
        tracing::info!(skill = %skill.name, version = %skill.version, "installed a skill");
    }
    skills::remove_unlisted(root, &desired.skills).map_err(|e| e.to_string())
}

/// Plans against the files as read, writes what changed, and reads them back.
fn apply(
    layout: &render::Layout,
    files: &Files,
    desired: &DesiredState,
    local: &mut LocalState,
    version: Option<&str>,
) -> Result<Files, String> {
    let plan =
        render::plan(layout, files, desired, &local.owned, version).map_err(|e| e.to_string())?;
    for write in &plan.writes {
        write_atomic(&write.path, write.contents.as_bytes(), write.secret)
            .map_err(|e| e.to_string())?;
    }
    local.owned = plan.owned;
    read_files(layout).map_err(|e| e.to_string())
}

fn report(
    layout: &render::Layout,
    files: &Files,
    local: &LocalState,
    found: &Applied,
    skills: Vec<String>,
    agent: agent_proto::AgentFacts,
    error: Option<String>,
) -> Report {
    let model = (local.applied.model.is_some() || found.model.is_some()).then(|| Section {
        applied: local.applied.model.clone(),
        found: found.model.clone(),
    });
    let codes: BTreeSet<&String> = local
        .applied
        .channels
        .keys()
        .chain(found.channels.keys())
        .collect();
    let channels = codes
        .into_iter()
        .map(|code| {
            (
                code.clone(),
                Section {
                    applied: local.applied.channels.get(code).cloned(),
                    found: found.channels.get(code).cloned(),
                },
            )
        })
        .collect();
    Report {
        applied_generation: local.applied_generation,
        agent,
        model,
        channels,
        skills,
        qr_completed: render::qr_completed(layout, files),
        error,
    }
}
