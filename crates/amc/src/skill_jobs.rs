//! The parse worker: takes parse tasks (`ParseSkillPackage`) one at a time under a lease, so
//! that of several replicas exactly one parses each, reads the uploaded package out of the
//! object store into a temporary file, checks and scans it (`skills::inspect`, on a blocking
//! thread) and records what it found. A task whose replica dies is taken again once its lease
//! runs out, and fails after [`MAX_ATTEMPTS`] instead of staying in progress forever.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use domain::skills::{BUCKET, Finding, ParsedPackage};
use futures::StreamExt;
use md5::{Digest, Md5};
use object_store::ObjectStore;
use provision::Wakeup;
use store::Store;
use store::skills::{ParseOutcome, ParseTask};
use tokio::io::AsyncWriteExt;

/// How long a worker holds a task before another may take it; renewed while it works.
const LEASE: Duration = Duration::from_secs(60);
/// How often the worker looks for tasks when not woken.
const IDLE: Duration = Duration::from_secs(1);
/// Takes of one task (each by a worker that then died) before it is failed.
const MAX_ATTEMPTS: i64 = 3;

pub struct ParseWorker {
    pub store: Store,
    pub objects: Arc<dyn ObjectStore>,
    pub limits: skills::Limits,
    /// Where packages are copied while parsed.
    pub scratch: PathBuf,
    pub wakeup: Arc<Wakeup>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn lease_ms() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(60_000)
}

/// The outcome of a package amc could not read (what went wrong is logged, not told).
fn read_failed() -> ParseOutcome {
    failed(
        "Package.ReadFailed",
        "the uploaded object could not be read",
    )
}

fn failed(code: &str, message: impl Into<String>) -> ParseOutcome {
    ParseOutcome::Failed {
        code: code.into(),
        message: message.into(),
    }
}

impl ParseWorker {
    /// Works until the process ends.
    pub async fn run(self: Arc<Self>) {
        let owner = format!("parse-{}", uuid::Uuid::new_v4());
        loop {
            match self
                .store
                .claim_parse_task(&owner, now_ms(), lease_ms(), MAX_ATTEMPTS)
                .await
            {
                Ok(Some(task)) => self.work(&owner, task).await,
                Ok(None) => {
                    let _ = tokio::time::timeout(IDLE, self.wakeup.notified()).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "taking a parse task failed; retrying");
                    tokio::time::sleep(IDLE).await;
                }
            }
        }
    }

    async fn work(&self, owner: &str, task: ParseTask) {
        let renew = {
            let store = self.store.clone();
            let (key, owner) = (task.task_key.clone(), owner.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE / 3).await;
                    match store
                        .renew_parse_lease(&key, &owner, now_ms() + lease_ms())
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(error) => tracing::warn!(%error, task = %key, "renewing a parse lease"),
                    }
                }
            })
        };
        let outcome = self.parse(&task).await;
        renew.abort();
        match &outcome {
            ParseOutcome::Completed { .. } => {
                tracing::info!(task = %task.task_key, "skill package parsed")
            }
            ParseOutcome::Failed { code, .. } => {
                tracing::info!(task = %task.task_key, %code, "skill package refused")
            }
        }
        match self
            .store
            .finish_parse_task(&task.task_key, owner, now_ms(), &outcome)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(task = %task.task_key, "parse lease lost; another replica's result stands")
            }
            Err(error) => {
                tracing::warn!(%error, task = %task.task_key, "recording a parse result failed; the task will be taken again")
            }
        }
    }

    async fn parse(&self, task: &ParseTask) -> ParseOutcome {
        let info =
            match upload::objects::object_info(self.objects.as_ref(), BUCKET, &task.object_key)
                .await
            {
                Ok(Some(info)) if info.tenant_id == task.tenant_id => info,
                Ok(_) => {
                    return failed(
                        "Package.NotFound",
                        format!("no uploaded object has the key {}", task.object_key),
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "reading an object's record");
                    return read_failed();
                }
            };
        if oss::multipart::normalise_etag(&info.etag) != task.etag {
            return failed(
                "Package.ETagMismatch",
                format!(
                    "the object at {} has ETag {}, not the one given",
                    task.object_key, info.etag
                ),
            );
        }
        let scratch = self
            .scratch
            .join(format!("{}.zip", uuid::Uuid::new_v4().simple()));
        let outcome = match self.copy_out(task, &info, &scratch).await {
            Ok(()) => self.inspect(&scratch).await,
            Err(outcome) => outcome,
        };
        let _ = tokio::fs::remove_file(&scratch).await;
        outcome
    }

    /// Copies the object into `scratch`, checking it is still the object of that ETag.
    async fn copy_out(
        &self,
        task: &ParseTask,
        info: &upload::objects::ObjectInfo,
        scratch: &std::path::Path,
    ) -> Result<(), ParseOutcome> {
        let read_failed = |error: &dyn std::fmt::Display| {
            tracing::warn!(%error, key = %task.object_key, "reading an uploaded package");
            read_failed()
        };
        let path =
            upload::objects::object_path(BUCKET, &task.object_key).map_err(|e| read_failed(&e))?;
        let got = self.objects.get(&path).await.map_err(|e| read_failed(&e))?;
        if let Some(dir) = scratch.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| read_failed(&e))?;
        }
        let mut file = tokio::fs::File::create(scratch)
            .await
            .map_err(|e| read_failed(&e))?;
        let mut md5 = Md5::new();
        let mut size = 0u64;
        let mut stream = got.into_stream();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| read_failed(&e))?;
            size += piece.len() as u64;
            md5.update(&piece);
            file.write_all(&piece).await.map_err(|e| read_failed(&e))?;
        }
        file.flush().await.map_err(|e| read_failed(&e))?;
        // An object put whole has its MD5 as ETag: what was read must be that object, not one
        // uploaded over it since.
        let whole = !info.etag.contains('-');
        let md5_matches = oss::etag_of_md5(&md5.finalize()) == info.etag;
        if size != info.size || (whole && !md5_matches) {
            return Err(failed(
                "Package.ETagMismatch",
                format!(
                    "the object at {} changed while it was read",
                    task.object_key
                ),
            ));
        }
        Ok(())
    }

    async fn inspect(&self, scratch: &std::path::Path) -> ParseOutcome {
        let limits = self.limits.clone();
        let path = scratch.to_path_buf();
        let inspected = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            Ok::<_, std::io::Error>(skills::inspect(std::io::BufReader::new(file), &limits))
        })
        .await;
        let package = match inspected {
            Ok(Ok(Ok(package))) => package,
            Ok(Ok(Err(refused))) => {
                let message = match &refused.file {
                    Some(file) => format!("{}: {}", file, refused.message),
                    None => refused.message.clone(),
                };
                return failed(refused.code, message);
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading a package copy");
                return read_failed();
            }
            Err(error) => {
                tracing::error!(%error, "the package check stopped");
                return failed("Package.ParseAborted", "the package check stopped");
            }
        };
        let record = ParsedPackage {
            name: package.name,
            description: package.description,
            version: package.version,
            required_env_vars: package.required_env_vars,
            requires_api_key: package.requires_api_key,
            sha256: package.sha256,
            size: package.size,
            files: package.files.len(),
            risk: package.scan.risk().to_string(),
            score: u8::try_from(package.scan.score()).unwrap_or(100),
            fail_reason: package.scan.fail_reason(),
            findings: package
                .scan
                .findings
                .iter()
                .map(|f| Finding {
                    rule: f.rule.to_string(),
                    severity: severity(f.severity).to_string(),
                    file: f.file.clone(),
                    line: f.line,
                })
                .collect(),
        };
        match serde_json::to_string(&record) {
            Ok(result) => ParseOutcome::Completed { result },
            Err(error) => failed("Package.ParseAborted", error.to_string()),
        }
    }
}

fn severity(s: skills::Severity) -> &'static str {
    match s {
        skills::Severity::Low => "LOW",
        skills::Severity::Medium => "MEDIUM",
        skills::Severity::High => "HIGH",
        skills::Severity::Critical => "CRITICAL",
    }
}
