//! The agent endpoint as the daemon calls it.

use std::time::Duration;

use agent_proto::{
    DesiredState, EnrollRequest, EnrollResponse, ErrorBody, PREFIX, Report, ReportAck,
};
use reqwest::StatusCode;

use crate::DaemonError;

/// Longest wait the daemon asks of a desired-state poll.
pub const POLL_WAIT: Duration = Duration::from_secs(30);
/// Longest a package download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The HTTP client a daemon makes for itself.
/// The daemon's HTTP client: HTTPS trusts the usual roots and, when given, the PEM certificates
/// of `ca` (a server with a certificate of the organisation's own CA).
pub fn http_client(ca: Option<&[u8]>) -> Result<reqwest::Client, DaemonError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(50));
    if let Some(pem) = ca {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| DaemonError::Usage(format!("the server's CA certificate: {e}")))?;
        if certificates.is_empty() {
            return Err(DaemonError::Usage(
                "the server's CA certificate file holds no PEM certificate".into(),
            ));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .map_err(|e| DaemonError::Usage(format!("HTTP client: {e}")))
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    server: String,
    credential: Option<String>,
}

impl Client {
    pub fn new(
        server: &str,
        credential: Option<String>,
        ca: Option<&[u8]>,
    ) -> Result<Client, DaemonError> {
        Ok(Client::with_http(http_client(ca)?, server, credential))
    }

    /// A client over an existing connection pool (the daemons of a simulated fleet share one).
    pub fn with_http(http: reqwest::Client, server: &str, credential: Option<String>) -> Client {
        Client {
            http,
            server: server.trim_end_matches('/').to_string(),
            credential,
        }
    }

    fn unreachable(&self, error: impl std::fmt::Display) -> DaemonError {
        DaemonError::Unreachable {
            server: self.server.clone(),
            reason: error.to_string(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{PREFIX}{path}", self.server));
        match &self.credential {
            Some(credential) => builder.bearer_auth(credential),
            None => builder,
        }
    }

    /// A refusal the server words; retrying the same call will not help (4xx but 408/429).
    async fn refusal(&self, response: reqwest::Response) -> DaemonError {
        let status = response.status();
        let body: Option<ErrorBody> = response.json().await.ok();
        let (code, message) = body
            .map(|b| (b.error.code, b.error.message))
            .unwrap_or_else(|| (status.as_str().to_string(), "no error body".into()));
        if status.is_client_error()
            && status != StatusCode::REQUEST_TIMEOUT
            && status != StatusCode::TOO_MANY_REQUESTS
        {
            DaemonError::Refused { code, message }
        } else {
            self.unreachable(format!("{status}: {code}: {message}"))
        }
    }

    /// POSTs `body` as JSON and reads the answer as JSON.
    async fn post<B: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
        body: &B,
    ) -> Result<R, DaemonError> {
        let response = self
            .request(reqwest::Method::POST, path)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(self.refusal(response).await);
        }
        response.json().await.map_err(|e| self.unreachable(e))
    }

    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, DaemonError> {
        self.post("/enroll", Duration::from_secs(30), request).await
    }

    /// The desired state once its generation is not `held` (at once when `held` is `None`);
    /// `None` when `wait` passed without a change.
    pub async fn desired(
        &self,
        held: Option<i64>,
        wait: Duration,
    ) -> Result<Option<DesiredState>, DaemonError> {
        let mut query = vec![("wait", wait.as_secs().to_string())];
        if let Some(generation) = held {
            query.push(("generation", generation.to_string()));
        }
        let response = self
            .request(reqwest::Method::GET, "/desired")
            .query(&query)
            .timeout(wait + Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(None),
            status if status.is_success() => response
                .json()
                .await
                .map(Some)
                .map_err(|e| self.unreachable(e)),
            _ => Err(self.refusal(response).await),
        }
    }

    /// Starts a download of `path` (under the endpoint's prefix); its body is read in pieces.
    pub async fn download(&self, path: &str) -> Result<reqwest::Response, DaemonError> {
        let response = self
            .request(reqwest::Method::GET, path)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(self.refusal(response).await);
        }
        Ok(response)
    }

    pub async fn report(&self, report: &Report) -> Result<ReportAck, DaemonError> {
        self.post("/report", Duration::from_secs(20), report).await
    }
}
