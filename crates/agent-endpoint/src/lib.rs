//! The agent endpoint (`/agent/v1`, wire types in `agent-proto`): node daemons enrol with a
//! token, then, with their runtime's credential, long-poll for its desired state by generation,
//! download the skill packages it names, and report what they find. Its own router,
//! authentication and error dialect; it imports no other surface (packages come from a
//! [`Packages`] the server gives it).

mod desired;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use agent_proto::{
    EnrollRequest, EnrollResponse, ErrorBody as WireError, ErrorDetail, PREFIX, Product, Report,
    ReportAck, SecretText,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::runtime::{AgentStatus, DesktopStatus};
use domain::secrets;
use serde::Deserialize;
use store::Store;
use store::agents::{AgentCredential, AgentRuntime, EnrolRefusal, ReportWrite};
use store::runtimes::Runtime;
use web::body::BodyLimits;
use web::{Dialect, ErrorBody, Failure};

pub use desired::{DesiredError, GatewayAddress, ModelCache, desired_state};
pub use watch::Watch;

/// The largest request body the endpoint reads.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Bounds of a report's lists and texts.
const MAX_SKILLS: usize = 1_000;
const MAX_TEXT: usize = 1_024;

/// How the endpoint behaves; `amc serve` sets it from its flags.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// How often a daemon reports when nothing changes.
    pub report_interval: Duration,
    /// How long a runtime may go without a report before its agent turns `Unavailable`.
    pub grace: Duration,
    /// How often waiting polls are checked for a new generation.
    pub watch_tick: Duration,
    /// Where agents reach the model gateway (`http://host:port`); by default the address the
    /// daemon itself reached this server at.
    pub gateway_url: Option<String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            report_interval: Duration::from_secs(30),
            grace: Duration::from_secs(90),
            watch_tick: Duration::from_millis(250),
            gateway_url: None,
        }
    }
}

/// A package's bytes, as they stream from the object store.
pub type PackageBytes =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send>>;

/// Where skill packages are read, by object key.
pub trait Packages: Send + Sync + 'static {
    /// The package's size and bytes; `None` when no object has that key.
    fn open<'a>(
        &'a self,
        object_key: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<(u64, PackageBytes)>, std::io::Error>>;
}

#[derive(Clone)]
pub struct AgentState {
    pub store: Store,
    pub watch: Arc<Watch>,
    pub models: Arc<ModelCache>,
    pub packages: Arc<dyn Packages>,
    pub config: AgentConfig,
}

impl AgentState {
    /// The state, with the tasks it needs (the generation watch and the silence sweep) spawned.
    pub fn start(store: Store, packages: Arc<dyn Packages>, config: AgentConfig) -> AgentState {
        let watch = Arc::new(Watch::default());
        tokio::spawn(watch.clone().run(store.clone(), config.watch_tick));
        tokio::spawn(sweep_silent(store.clone(), config.grace));
        AgentState {
            store,
            watch,
            models: Arc::default(),
            packages,
            config,
        }
    }
}

/// The endpoint's router, mounted under [`PREFIX`].
pub fn router(state: AgentState) -> Router {
    let router = Router::new()
        .route(&format!("{PREFIX}/enroll"), post(enroll))
        .route(&format!("{PREFIX}/desired"), get(desired))
        .route(&format!("{PREFIX}/report"), post(report))
        .route(
            &format!("{PREFIX}/skills/{{id}}/{{sha256}}"),
            get(skill_package),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), audited))
        .with_state(state);
    web::surface(router, Arc::new(AgentDialect))
}

/// What an enrolment tells the audit trail of itself: its token's id, tenant and runtime.
#[derive(Clone, Default)]
struct EnrolNote(Arc<std::sync::Mutex<Option<Enrolled>>>);

#[derive(Clone)]
struct Enrolled {
    token_id: String,
    tenant_id: Option<String>,
    runtime_id: Option<String>,
}

impl EnrolNote {
    fn set(&self, enrolled: Enrolled) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(enrolled);
        }
    }
}

/// The error code a refusal answered, for the audit trail.
#[derive(Clone, Copy)]
struct Refused(&'static str);

/// Records enrolments, whatever they answered, and every refused call that names a
/// credential; reports and reads that succeed are the runtime's own telemetry, not kept.
async fn audited(
    State(state): State<AgentState>,
    mut request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let action = if path.ends_with("/enroll") {
        "Enroll"
    } else if path.ends_with("/desired") {
        "GetDesiredState"
    } else if path.ends_with("/report") {
        "Report"
    } else {
        "GetSkillPackage"
    };
    // The credential's id only (`nc-…`), never its secret.
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|text| secrets::split(text.trim(), secrets::CREDENTIAL_PREFIX))
        .map(|(id, _)| id.to_string());
    let source_ip = web::client_ip(&request)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let request_id = web::RequestId::of(&request).as_str().to_string();
    let note = EnrolNote::default();
    request.extensions_mut().insert(note.clone());
    let response = next.run(request).await;
    let refused = response.extensions().get::<Refused>().map(|r| r.0);
    let enrolled = note.0.lock().ok().and_then(|n| n.clone());
    let (principal, tenant_id, resources) = match enrolled {
        Some(e) => (
            Some(e.token_id),
            e.tenant_id,
            e.runtime_id.into_iter().collect(),
        ),
        None => (bearer, None, Vec::new()),
    };
    let keep = action == "Enroll" || refused.is_some();
    if let (true, Some(principal)) = (keep, principal) {
        let entry = store::audit::AuditEntry {
            at: now_ms(),
            tenant_id,
            principal,
            source_ip,
            product: "agent".into(),
            action: action.into(),
            resources,
            code: refused.unwrap_or("OK").into(),
            request_id,
        };
        state.store.keep_audit(&entry).await;
    }
    response
}

/// Every error of the endpoint, with its status.
#[derive(Debug, thiserror::Error)]
enum AgentError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("missing, unknown or revoked credential")]
    Unauthorized,
    #[error("the enrolment token is unknown, used, revoked or expired")]
    EnrolmentRefused,
    #[error("the runtime no longer exists")]
    RuntimeNotFound,
    #[error("the runtime is not given that skill package")]
    SkillNotFound,
    #[error("{0}")]
    Stack(String, StatusCode),
    #[error("internal error")]
    Internal,
}

impl AgentError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            AgentError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "InvalidRequest"),
            AgentError::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            AgentError::EnrolmentRefused => (StatusCode::UNAUTHORIZED, "EnrolmentRefused"),
            AgentError::RuntimeNotFound => (StatusCode::NOT_FOUND, "RuntimeNotFound"),
            AgentError::SkillNotFound => (StatusCode::NOT_FOUND, "SkillNotFound"),
            AgentError::Stack(_, status) => (*status, "RequestRefused"),
            AgentError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }

    fn body(&self) -> (StatusCode, Vec<u8>) {
        let (status, code) = self.parts();
        let body = WireError {
            error: ErrorDetail {
                code: code.to_string(),
                message: self.to_string(),
            },
        };
        (status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

impl From<store::StoreError> for AgentError {
    fn from(error: store::StoreError) -> Self {
        tracing::error!(%error, "agent endpoint: store");
        AgentError::Internal
    }
}

impl From<Failure> for AgentError {
    fn from(failure: Failure) -> Self {
        AgentError::Stack(failure_message(failure), failure.status())
    }
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let mut response =
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        response.extensions_mut().insert(Refused(self.parts().1));
        response
    }
}

fn failure_message(failure: Failure) -> String {
    match failure {
        Failure::BodyTooLarge(limit) => format!("the body exceeds {limit} bytes"),
        Failure::BodyTimeout => "the body did not arrive in time".into(),
        Failure::Busy => "the server is busy; retry later".into(),
        Failure::Panic => "internal error".into(),
        Failure::Protocol(_) | Failure::Bodiless(_) => "the request could not be handled".into(),
    }
}

/// The endpoint's words for what the HTTP stack refuses.
pub struct AgentDialect;

impl Dialect for AgentDialect {
    fn render(&self, failure: Failure, _request_id: &str) -> ErrorBody {
        let (status, body) = AgentError::from(failure).body();
        ErrorBody {
            status,
            content_type: "application/json",
            body,
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn json_body<T: serde::de::DeserializeOwned>(
    request: Request<Body>,
) -> Result<T, AgentError> {
    let limits = BodyLimits::of(&request);
    let body = web::body::read(request.into_body(), &limits, MAX_BODY_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| AgentError::InvalidRequest(format!("body: {e}")))
}

/// The runtime whose credential signs the request.
async fn authenticate(
    state: &AgentState,
    headers: &HeaderMap,
) -> Result<AgentCredential, AgentError> {
    let text = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AgentError::Unauthorized)?;
    let (id, secret) =
        secrets::split(text.trim(), secrets::CREDENTIAL_PREFIX).ok_or(AgentError::Unauthorized)?;
    let credential = state
        .store
        .agent_credential(id)
        .await?
        .filter(|c| c.revoked_at.is_none())
        .ok_or(AgentError::Unauthorized)?;
    if !secrets::matches(secret, &credential.secret_hash) {
        return Err(AgentError::Unauthorized);
    }
    Ok(credential)
}

async fn live_runtime(
    state: &AgentState,
    credential: &AgentCredential,
) -> Result<AgentRuntime, AgentError> {
    state
        .store
        .agent_runtime(&credential.tenant_id, &credential.runtime_id)
        .await?
        .filter(|r| !r.deleted)
        .ok_or(AgentError::RuntimeNotFound)
}

async fn enroll(
    State(state): State<AgentState>,
    request: Request<Body>,
) -> Result<axum::Json<EnrollResponse>, AgentError> {
    let note = request.extensions().get::<EnrolNote>().cloned();
    let enrol: EnrollRequest = json_body(request).await?;
    let hostname = enrol.hostname.trim();
    if hostname.is_empty() || hostname.len() > 128 || hostname.chars().any(char::is_control) {
        return Err(AgentError::InvalidRequest(
            "hostname must be 1 to 128 printable characters".into(),
        ));
    }
    let (id, secret) = secrets::split(enrol.token.expose().trim(), secrets::ENROLMENT_PREFIX)
        .ok_or(AgentError::EnrolmentRefused)?;
    let note = note.unwrap_or_default();
    note.set(Enrolled {
        token_id: id.to_string(),
        tenant_id: None,
        runtime_id: None,
    });
    let enrolment = state
        .store
        .enrolment(id)
        .await?
        .filter(|e| secrets::matches(secret, &e.secret_hash))
        .ok_or(AgentError::EnrolmentRefused)?;
    note.set(Enrolled {
        token_id: enrolment.id.clone(),
        tenant_id: Some(enrolment.tenant_id.clone()),
        runtime_id: None,
    });
    let now = now_ms();
    let (runtime_id, product, new_runtime) = match &enrolment.runtime_id {
        Some(runtime_id) => {
            let runtime = state
                .store
                .agent_runtime(&enrolment.tenant_id, runtime_id)
                .await?
                .filter(|r| !r.deleted)
                .ok_or(AgentError::RuntimeNotFound)?;
            let product = Product::of_agent_provider(&runtime.agent_provider).ok_or_else(|| {
                AgentError::InvalidRequest(format!(
                    "the runtime runs {}, which the daemon does not manage",
                    runtime.agent_provider
                ))
            })?;
            (runtime.id, product, None)
        }
        None => {
            let product = enrol.product.ok_or_else(|| {
                AgentError::InvalidRequest(
                    "product: a new host must say which agent it runs".into(),
                )
            })?;
            let runtime = own_host(&enrolment.tenant_id, hostname, product, now);
            (runtime.id.clone(), product, Some(runtime))
        }
    };
    note.set(Enrolled {
        token_id: enrolment.id.clone(),
        tenant_id: Some(enrolment.tenant_id.clone()),
        runtime_id: Some(runtime_id.clone()),
    });
    let issued = secrets::issue(secrets::CREDENTIAL_PREFIX, &mut rand::rngs::OsRng);
    let credential = AgentCredential {
        id: issued.id.clone(),
        tenant_id: enrolment.tenant_id.clone(),
        runtime_id: runtime_id.clone(),
        secret_hash: issued.secret_hash,
        revoked_at: None,
        created_at: now,
    };
    match state
        .store
        .enroll(&enrolment, new_runtime.as_ref(), &credential, now)
        .await?
    {
        Ok(()) => {}
        Err(EnrolRefusal::TokenSpent) => return Err(AgentError::EnrolmentRefused),
        Err(EnrolRefusal::RuntimeGone) => return Err(AgentError::RuntimeNotFound),
    }
    tracing::info!(runtime = %runtime_id, enrolment = %enrolment.id, "host enrolled");
    Ok(axum::Json(EnrollResponse {
        runtime_id,
        product,
        credential: SecretText(issued.text),
    }))
}

/// A runtime for a host amc did not create (bring your own host).
fn own_host(tenant_id: &str, hostname: &str, product: Product, now: i64) -> Runtime {
    let (prefix, platform) = match product {
        Product::OpenClaw => ("ecd", "ENTERPRISE"),
        Product::Hermes => ("jvs", "ENTERPRISE_JVS"),
    };
    Runtime {
        id: domain::ids::resource_id(prefix, &mut rand::rngs::OsRng),
        tenant_id: tenant_id.to_string(),
        name: hostname.to_string(),
        region_id: "cn-hangzhou".into(),
        office_site_id: None,
        bundle_id: None,
        image_id: None,
        template_name: "Own host".into(),
        os_type: "Linux".into(),
        platform: "Linux".into(),
        desktop_type: "own-host".into(),
        cpu: 0,
        memory_mib: 0,
        system_disk_gib: 0,
        data_disk_gib: 0,
        charge_type: "PostPaid".into(),
        hostname: Some(hostname.to_string()),
        policy_group_id: None,
        agent_platform: platform.into(),
        agent_provider: product.agent_provider().into(),
        agent_version: String::new(),
        agent_status: AgentStatus::Deployed,
        deployment_source: "Enrolled".into(),
        desktop_status: DesktopStatus::Running,
        resource_group_id: None,
        model_template_id: None,
        biz_type: 1,
        auth_users: Vec::new(),
        tags: Vec::new(),
        progress: None,
        next_step_at: None,
        generation: 1,
        created_at: now,
        updated_at: now,
    }
}

#[derive(Debug, Deserialize)]
struct DesiredQuery {
    generation: Option<i64>,
    wait: Option<u64>,
}

async fn desired(
    State(state): State<AgentState>,
    headers: HeaderMap,
    Query(query): Query<DesiredQuery>,
) -> Result<Response, AgentError> {
    let credential = authenticate(&state, &headers).await?;
    let runtime = live_runtime(&state, &credential).await?;
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(agent_proto::MAX_WAIT_SECS));
    let held = query.generation;
    if let Some(held) = held
        && held == runtime.generation
        && !wait.is_zero()
    {
        let changed = state.watch.subscribe(&runtime.tenant_id, &runtime.id, held);
        if tokio::time::timeout(wait, changed).await.is_err() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
    let desired = desired_state(
        &state.store,
        &state.models,
        &credential.tenant_id,
        &credential.runtime_id,
        state.config.report_interval.as_secs().max(1),
        GatewayAddress(&gateway_address(&state.config, &headers)),
    )
    .await
    .map_err(|error| match error {
        DesiredError::Gone => AgentError::RuntimeNotFound,
        DesiredError::Store(error) => AgentError::from(error),
        other => {
            tracing::error!(runtime = %runtime.id, error = %other, "building desired state");
            AgentError::Internal
        }
    })?;
    if held == Some(desired.generation) && !wait.is_zero() {
        // Woken by the runtime going away and coming back the same, or by a race: nothing new.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(axum::Json(desired).into_response())
}

/// A skill package the runtime's desired state names, as long as it still does.
async fn skill_package(
    State(state): State<AgentState>,
    headers: HeaderMap,
    axum::extract::Path((id, sha256)): axum::extract::Path<(String, String)>,
) -> Result<Response, AgentError> {
    let credential = authenticate(&state, &headers).await?;
    let runtime = live_runtime(&state, &credential).await?;
    let skill = desired::deliverable_skills(&state.store, &runtime.tenant_id, &runtime.id)
        .await?
        .into_iter()
        .find(|s| s.skill_id == id && s.sha256 == sha256)
        .ok_or(AgentError::SkillNotFound)?;
    let (size, bytes) = state
        .packages
        .open(&skill.object_key)
        .await
        .map_err(|error| {
            tracing::error!(skill = %skill.skill_id, %error, "reading a skill package");
            AgentError::Internal
        })?
        .ok_or_else(|| {
            tracing::error!(skill = %skill.skill_id, "a granted skill's package is missing");
            AgentError::SkillNotFound
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(bytes),
    )
        .into_response())
}

/// The gateway's address for a daemon's agent: the configured one, else the server as the
/// daemon addressed it (its `Host`), which its host can reach.
fn gateway_address(config: &AgentConfig, headers: &HeaderMap) -> String {
    if let Some(url) = &config.gateway_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

fn check_report(report: &Report) -> Result<(), AgentError> {
    let invalid = |what: &str| Err(AgentError::InvalidRequest(what.to_string()));
    if report.skills.len() > MAX_SKILLS || report.skills.iter().any(|s| s.len() > 128) {
        return invalid("skills: at most 1000 names of at most 128 bytes");
    }
    let known = |code: &String| code.parse::<domain::channels::ChannelCode>().is_ok();
    if !report.channels.keys().all(known) || !report.qr_completed.iter().all(known) {
        return invalid("channels: unknown channel code");
    }
    let long = |text: &Option<String>| text.as_ref().is_some_and(|t| t.len() > MAX_TEXT);
    let sections = report.model.iter().chain(report.channels.values());
    if long(&report.agent.version)
        || long(&report.error)
        || sections
            .into_iter()
            .any(|s| long(&s.applied) || long(&s.found))
    {
        return invalid("texts are limited to 1024 bytes");
    }
    Ok(())
}

async fn report(
    State(state): State<AgentState>,
    request: Request<Body>,
) -> Result<axum::Json<ReportAck>, AgentError> {
    let credential = authenticate(&state, request.headers()).await?;
    let report: Report = json_body(request).await?;
    check_report(&report)?;
    let runtime = live_runtime(&state, &credential).await?;
    let risk = report.risk();
    let agent_status = match (report.agent.installed, report.agent.running) {
        (false, _) => AgentStatus::Undeployed,
        (true, true) => AgentStatus::Running,
        (true, false) => AgentStatus::Stopped,
    };
    let body = serde_json::to_string(&report).map_err(|_| AgentError::Internal)?;
    let mut qr_completed = report.qr_completed.clone();
    qr_completed.sort_unstable();
    qr_completed.dedup();
    state
        .store
        .record_report(&ReportWrite {
            tenant_id: runtime.tenant_id.clone(),
            runtime_id: runtime.id.clone(),
            received_at: now_ms(),
            digest: secrets::hash(&body),
            body,
            agent_status,
            agent_version: report.agent.version.clone().filter(|v| !v.is_empty()),
            risk: store::runtimes::Risk {
                model_modified: risk.model_modified,
                channel_modified: risk.channel_modified,
                agent_uninstalled: risk.agent_uninstalled,
            },
            qr_completed,
        })
        .await?;
    Ok(axum::Json(ReportAck {
        generation: runtime.generation,
    }))
}

/// Turns `Unavailable` the agents whose daemons stopped reporting, every quarter of `grace`.
async fn sweep_silent(store: Store, grace: Duration) {
    let every = (grace / 4).max(Duration::from_secs(1));
    let grace_ms = grace.as_millis() as i64;
    loop {
        tokio::time::sleep(every).await;
        match store.mark_silent_unavailable(now_ms() - grace_ms).await {
            Ok(0) => {}
            Ok(marked) => tracing::info!(marked, "agents without reports turned Unavailable"),
            Err(error) => tracing::warn!(%error, "sweeping silent agents"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use agent_proto::DesiredState;
    use axum::body::to_bytes;
    use store::skills::{Skill, SkillVersion};
    use store::{Cipher, MasterKey, Secret, StoreError};
    use tower::ServiceExt;

    use super::*;

    /// Packages held in memory, by object key.
    struct MemoryPackages(HashMap<String, Vec<u8>>);

    impl Packages for MemoryPackages {
        fn open<'a>(
            &'a self,
            object_key: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<(u64, PackageBytes)>, std::io::Error>>
        {
            let found = self.0.get(object_key).map(|bytes| {
                let piece = Ok(bytes::Bytes::from(bytes.clone()));
                (
                    bytes.len() as u64,
                    Box::pin(futures::stream::iter([piece])) as PackageBytes,
                )
            });
            Box::pin(async move { Ok(found) })
        }
    }

    fn skill(tenant: &str, id: &str, risk: &str) -> (Skill, SkillVersion) {
        let skill = Skill {
            id: id.into(),
            tenant_id: tenant.into(),
            channel: "ENTERPRISE".into(),
            slug: id.into(),
            skill_name: id.into(),
            display_name: id.into(),
            description: "d".into(),
            author: "a".into(),
            enabled: true,
            env_vars: None,
            api_key: None,
            icon_key: None,
            default_version: "1.0.0".into(),
            created_at: 1,
            versions: Vec::new(),
        };
        let version = SkillVersion {
            version: "1.0.0".into(),
            task_key: format!("task-{id}"),
            object_key: format!("tenants/{tenant}/skill/{id}.zip"),
            sha256: format!("{:064x}", id.len()),
            size: 4,
            scan_status: domain::skills::scan_status(risk).into(),
            scan_score: 50,
            scan_risk: risk.into(),
            scan_fail_reason: String::new(),
            findings: "[]".into(),
            created_at: 1,
        };
        (skill, version)
    }

    async fn call(app: &Router, uri: &str, credential: &str) -> (StatusCode, Vec<u8>) {
        let request = Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {credential}"))
            .body(Body::empty());
        let Ok(request) = request else {
            return (StatusCode::BAD_REQUEST, Vec::new());
        };
        match app.clone().oneshot(request).await {
            Ok(response) => {
                let status = response.status();
                let body = to_bytes(response.into_body(), usize::MAX).await;
                (status, body.map(|b| b.to_vec()).unwrap_or_default())
            }
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn a_runtime_downloads_the_skills_it_is_given_and_no_other() -> Result<(), StoreError> {
        let dir = std::env::temp_dir().join(format!("amc-endpoint-skills-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let url = format!("sqlite://{}/amc.db?mode=rwc", dir.display());
        let store = Store::connect(
            &url,
            Cipher::new(MasterKey::generate(&mut rand::rngs::OsRng)),
        )
        .await?;
        store
            .create_tenant(&store::tenants::NewTenant {
                account_id: "t1".into(),
                name: "t1".into(),
                access_key_id: "LTAIt1".into(),
                access_key_secret: Secret::new("x"),
                created_at: 0,
            })
            .await?;
        let runtime = own_host("t1", "host-1", Product::OpenClaw, 1);
        let issued = secrets::issue(secrets::CREDENTIAL_PREFIX, &mut rand::rngs::OsRng);
        let enrolment = store::agents::Enrolment {
            id: "en-1".into(),
            tenant_id: "t1".into(),
            runtime_id: None,
            secret_hash: "h".into(),
            expires_at: None,
            used_at: None,
            revoked_at: None,
            created_at: 1,
        };
        store.create_enrolment(&enrolment).await?;
        let credential = AgentCredential {
            id: issued.id.clone(),
            tenant_id: "t1".into(),
            runtime_id: runtime.id.clone(),
            secret_hash: issued.secret_hash.clone(),
            revoked_at: None,
            created_at: 1,
        };
        assert_eq!(
            store
                .enroll(&enrolment, Some(&runtime), &credential, 1)
                .await?,
            Ok(())
        );

        let mut packages = HashMap::new();
        let mut ids = Vec::new();
        for (id, risk) in [
            ("weather", "LOW"),
            ("stealer", "CRITICAL"),
            ("notgiven", "NONE"),
        ] {
            let (skill, version) = skill("t1", id, risk);
            packages.insert(version.object_key.clone(), id.as_bytes().to_vec());
            store.create_skill(&skill, &version).await?;
            if id != "notgiven" {
                ids.push(id.to_string());
            }
        }
        store
            .set_skill_grants("t1", &ids, std::slice::from_ref(&runtime.id), true, true, 2)
            .await?;
        let state = AgentState::start(
            store.clone(),
            Arc::new(MemoryPackages(packages)),
            AgentConfig::default(),
        );
        let app = router(state);
        let desired_names = |body: &[u8]| -> Vec<String> {
            serde_json::from_slice::<DesiredState>(body)
                .map(|d| d.skills.into_iter().map(|s| s.name).collect())
                .unwrap_or_default()
        };

        let (status, body) = call(&app, "/agent/v1/desired", &issued.text).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(desired_names(&body), vec!["stealer", "weather"]);
        let download = |id: &str| format!("/agent/v1/skills/{id}/{:064x}", id.len());
        assert_eq!(
            call(&app, &download("weather"), &issued.text).await,
            (StatusCode::OK, b"weather".to_vec())
        );
        // Not granted; granted but at another checksum; another runtime's credential.
        assert_eq!(
            call(&app, &download("notgiven"), &issued.text).await.0,
            StatusCode::NOT_FOUND
        );
        let wrong = format!("/agent/v1/skills/weather/{:064x}", 1);
        assert_eq!(
            call(&app, &wrong, &issued.text).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&app, &download("weather"), "nc-x.y").await.0,
            StatusCode::UNAUTHORIZED
        );

        // Under the security policy the critical skill is neither named nor served.
        store
            .set_secure_identities(
                "t1",
                "ENTERPRISE",
                std::slice::from_ref(&runtime.id),
                true,
                3,
            )
            .await?;
        let (_, body) = call(&app, "/agent/v1/desired", &issued.text).await;
        assert_eq!(desired_names(&body), vec!["weather"]);
        assert_eq!(
            call(&app, &download("stealer"), &issued.text).await.0,
            StatusCode::NOT_FOUND
        );
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
