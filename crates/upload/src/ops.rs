//! The operations: put, multipart (initiate, part, complete, abort), head, get and delete of an
//! object, each after [`authorise`](crate::auth::authorise).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use md5::{Digest, Md5};
use object_store::{ObjectStore, WriteMultipart};
use web::RequestId;

use oss::multipart::{self, MAX_PARTS};
use oss::{OssError, Request as Signed};

use crate::objects::{self, ObjectInfo, PartInfo, UploadRecord};
use crate::receive::{self, CRC64, Expect, receive, store_failure};
use crate::{AuditedCall, Grant, UploadState, auth};

/// Largest `CompleteMultipartUpload` document read (10,000 parts fit in well under this).
const MAX_COMPLETE_BODY: usize = 2 * 1024 * 1024;

pub async fn handle(State(state): State<UploadState>, request: Request) -> Response {
    let id = RequestId::of(&request);
    let head = request.method() == Method::HEAD;
    let has_body = request.headers().contains_key(header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|n| n.as_bytes() != b"0");
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("amc")
        .to_string();
    let source_ip = web::client_ip(&request)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let params = oss::signature::query_params(request.uri().query().unwrap_or(""));
    let operation = Operation::of(request.method(), &params);
    let mut trail = Trail::default();
    let result = serve(&state, request, operation, &params, &mut trail).await;
    let code = match &result {
        Ok(_) => "OK".to_string(),
        Err(error) => error.code.to_string(),
    };
    // Writes whatever they answered, and every refusal; reads that succeed are not kept.
    let keep =
        result.is_err() || !matches!(operation, Operation::GetObject | Operation::HeadObject);
    if let (true, Some(principal)) = (keep, trail.principal) {
        state
            .grants
            .record(AuditedCall {
                at: now_ms(),
                tenant_id: trail.tenant_id,
                principal,
                source_ip,
                action: operation.name(),
                object: trail.object,
                code,
                request_id: id.as_str().to_string(),
            })
            .await;
    }
    match result {
        Ok(mut response) => {
            set(&mut response, "x-oss-request-id", id.as_str());
            response
        }
        Err(error) => {
            let mut response = error_response(&error, id.as_str(), &host, head);
            // A refused body may be left unread: the client must not send its next request
            // on this connection behind it.
            if has_body {
                set(&mut response, "connection", "close");
            }
            response
        }
    }
}

/// What the audit trail learns of a call as it is served.
#[derive(Default)]
struct Trail {
    principal: Option<String>,
    tenant_id: Option<String>,
    object: String,
}

/// What a request asks for, by its method and query (`uploadId`, `uploads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    PutObject,
    UploadPart,
    InitiateMultipartUpload,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    DeleteObject,
    HeadObject,
    GetObject,
    Unsupported,
}

impl Operation {
    fn of(method: &Method, params: &[(String, String)]) -> Operation {
        let has = |name: &str| params.iter().any(|(k, _)| k == name);
        match (method, has("uploadId"), has("uploads")) {
            (&Method::PUT, false, _) => Operation::PutObject,
            (&Method::PUT, true, _) => Operation::UploadPart,
            (&Method::POST, false, true) => Operation::InitiateMultipartUpload,
            (&Method::POST, true, _) => Operation::CompleteMultipartUpload,
            (&Method::DELETE, true, _) => Operation::AbortMultipartUpload,
            (&Method::DELETE, false, _) => Operation::DeleteObject,
            (&Method::HEAD, false, _) => Operation::HeadObject,
            (&Method::GET, false, _) => Operation::GetObject,
            _ => Operation::Unsupported,
        }
    }

    /// OSS's name of it, as the audit trail records it.
    fn name(self) -> &'static str {
        match self {
            Operation::PutObject => "PutObject",
            Operation::UploadPart => "UploadPart",
            Operation::InitiateMultipartUpload => "InitiateMultipartUpload",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::DeleteObject => "DeleteObject",
            Operation::HeadObject => "HeadObject",
            Operation::GetObject => "GetObject",
            Operation::Unsupported => "Unsupported",
        }
    }
}

fn error_response(error: &OssError, request_id: &str, host: &str, head: bool) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = if head {
        Body::empty()
    } else {
        Body::from(error.to_xml(request_id, host))
    };
    let mut response = (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response();
    set(&mut response, "x-oss-request-id", request_id);
    if let Some(ec) = error.ec {
        set(&mut response, "x-oss-ec", ec);
    }
    response
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn serve(
    state: &UploadState,
    request: Request,
    operation: Operation,
    params: &[(String, String)],
    trail: &mut Trail,
) -> Result<Response, OssError> {
    let (parts, body) = request.into_parts();
    trail.principal = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| oss::Authorization::parse(h).ok())
        .map(|auth| auth.key_id().to_string());
    let raw_path = parts.uri.path();
    let (bucket, key) = oss::split_path(raw_path).ok_or_else(OssError::invalid_object_name)?;
    trail.object = format!("{bucket}/{key}");
    if !state.config.buckets.contains(&bucket) {
        return Err(OssError::no_such_bucket(&bucket));
    }
    if !oss::valid_object_key(&key) {
        return Err(OssError::invalid_object_name());
    }
    let headers = web::header_pairs(&parts.headers);
    let signed = Signed {
        method: parts.method.as_str(),
        bucket: &bucket,
        key: &key,
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let now = now_ms();
    let grant = auth::authorise(state, &signed, now).await?;
    trail.tenant_id = Some(grant.tenant_id.clone());
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // Present whenever the operation is one of the multipart ones that take it.
    let upload_id = param("uploadId").unwrap_or_default();
    let op = Op {
        state,
        grant: &grant,
        bucket: &bucket,
        key: &key,
        signed: &signed,
        now,
    };
    match operation {
        Operation::PutObject => op.put(body).await,
        Operation::UploadPart => {
            let number = param("partNumber")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=MAX_PARTS).contains(n))
                .ok_or_else(|| {
                    OssError::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive.",
                    )
                })?;
            op.upload_part(upload_id, number, body).await
        }
        Operation::InitiateMultipartUpload => op.initiate().await,
        Operation::CompleteMultipartUpload => op.complete(upload_id, body).await,
        Operation::AbortMultipartUpload => op.abort(upload_id).await,
        Operation::DeleteObject => op.delete().await,
        Operation::HeadObject => op.head().await,
        Operation::GetObject => op.get().await,
        Operation::Unsupported => Err(OssError::method_not_allowed()),
    }
}

struct Op<'a> {
    state: &'a UploadState,
    grant: &'a Grant,
    bucket: &'a str,
    key: &'a str,
    signed: &'a Signed<'a>,
    now: i64,
}

fn path_error(_: object_store::path::Error) -> OssError {
    OssError::invalid_object_name()
}

fn io_error(e: objects::StoreIoError) -> OssError {
    tracing::error!(error = %e, "object store");
    OssError::internal_error()
}

impl Op<'_> {
    fn store(&self) -> &dyn ObjectStore {
        self.state.objects.as_ref()
    }

    fn content_type(&self) -> String {
        self.signed
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string()
    }

    fn expect(&self) -> Result<Expect, OssError> {
        let content_length = match self.signed.header("content-length") {
            None => None,
            Some(n) => Some(
                n.parse::<u64>()
                    .map_err(|_| OssError::invalid_argument("Content-Length is not a number."))?,
            ),
        };
        let md5 = match self.signed.header("content-md5") {
            None => None,
            Some(b64) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .ok()
                    .filter(|m| m.len() == 16)
                    .ok_or_else(|| OssError::invalid_digest("Content-MD5"))?,
            ),
        };
        let sha256 = match self.signed.header("x-oss-content-sha256") {
            None | Some("UNSIGNED-PAYLOAD") => None,
            Some(h) => Some(
                hex::decode(h)
                    .ok()
                    .filter(|m| m.len() == 32)
                    .ok_or_else(|| OssError::invalid_digest("x-oss-content-sha256"))?,
            ),
        };
        Ok(Expect {
            max_bytes: self.grant.max_bytes,
            content_length,
            md5,
            sha256,
            idle: self.state.config.idle_timeout,
        })
    }

    async fn record(
        &self,
        etag: &str,
        size: u64,
        crc64: u64,
        content_type: String,
    ) -> Result<(), OssError> {
        let info = ObjectInfo {
            etag: etag.to_string(),
            size,
            crc64,
            content_type,
            tenant_id: self.grant.tenant_id.clone(),
            uploaded_at: self.now,
        };
        let path = objects::info_path(self.bucket, self.key).map_err(path_error)?;
        objects::write_json(self.store(), &path, &info)
            .await
            .map_err(io_error)
    }

    /// A place among the bodies streamed at once.
    fn body_place(&self) -> Result<tokio::sync::OwnedSemaphorePermit, OssError> {
        self.state
            .bodies
            .clone()
            .try_acquire_owned()
            .map_err(|_| OssError::service_unavailable())
    }

    async fn put(&self, body: Body) -> Result<Response, OssError> {
        let expect = self.expect()?;
        let _place = self.body_place()?;
        let path = objects::object_path(self.bucket, self.key).map_err(path_error)?;
        let got = receive(self.store(), &path, body, &expect).await?;
        let etag = oss::etag_of_md5(&got.md5);
        self.record(&etag, got.size, got.crc64, self.content_type())
            .await?;
        tracing::info!(
            bucket = self.bucket,
            key = self.key,
            size = got.size,
            "object put"
        );
        Ok(stored(&etag, got.crc64, Some(&got.md5)))
    }

    async fn initiate(&self) -> Result<Response, OssError> {
        let upload_id = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase();
        let dir = objects::upload_dir(self.bucket, &upload_id).map_err(path_error)?;
        let record = UploadRecord {
            bucket: self.bucket.to_string(),
            key: self.key.to_string(),
            tenant_id: self.grant.tenant_id.clone(),
            content_type: self.content_type(),
            created_at: self.now,
        };
        objects::write_json(self.store(), &objects::upload_record_path(&dir), &record)
            .await
            .map_err(io_error)?;
        Ok(xml(multipart::initiate_result(
            self.bucket,
            self.key,
            &upload_id,
        )))
    }

    /// The upload `upload_id`, if it is one of this object's, started under this tenant.
    async fn upload(
        &self,
        upload_id: &str,
    ) -> Result<(object_store::path::Path, UploadRecord), OssError> {
        let id_ok = !upload_id.is_empty()
            && upload_id.len() <= 64
            && upload_id.chars().all(|c| c.is_ascii_alphanumeric());
        if !id_ok {
            return Err(OssError::no_such_upload());
        }
        let dir = objects::upload_dir(self.bucket, upload_id).map_err(path_error)?;
        let record: UploadRecord =
            objects::read_json(self.store(), &objects::upload_record_path(&dir))
                .await
                .map_err(io_error)?
                .ok_or_else(OssError::no_such_upload)?;
        if record.key != self.key || record.tenant_id != self.grant.tenant_id {
            return Err(OssError::no_such_upload());
        }
        Ok((dir, record))
    }

    async fn upload_part(
        &self,
        upload_id: &str,
        number: u32,
        body: Body,
    ) -> Result<Response, OssError> {
        let (dir, _) = self.upload(upload_id).await?;
        let expect = self.expect()?;
        let _place = self.body_place()?;
        let got = receive(
            self.store(),
            &objects::part_path(&dir, number),
            body,
            &expect,
        )
        .await?;
        let info = PartInfo {
            md5: hex::encode_upper(got.md5),
            size: got.size,
            crc64: got.crc64,
        };
        objects::write_json(self.store(), &objects::part_info_path(&dir, number), &info)
            .await
            .map_err(io_error)?;
        Ok(stored(
            &oss::etag_of_md5(&got.md5),
            got.crc64,
            Some(&got.md5),
        ))
    }

    async fn complete(&self, upload_id: &str, body: Body) -> Result<Response, OssError> {
        let (dir, record) = self.upload(upload_id).await?;
        let complete_all = self
            .signed
            .header("x-oss-complete-all")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let document = axum::body::to_bytes(body, MAX_COMPLETE_BODY)
            .await
            .map_err(|_| OssError::malformed_xml())?;
        let mut parts = Vec::new();
        if complete_all {
            for number in self.part_numbers(&dir).await? {
                let info = self.part_info(&dir, number).await?;
                parts.push((number, info));
            }
            if parts.is_empty() {
                return Err(OssError::invalid_part("The upload has no parts."));
            }
        } else {
            for named in multipart::parse_complete(&document)? {
                let info = self.part_info(&dir, named.number).await?;
                if info.md5 != named.etag {
                    return Err(OssError::invalid_part(format!(
                        "Part {} was not uploaded with ETag {}.",
                        named.number, named.etag
                    )));
                }
                parts.push((named.number, info));
            }
        }
        let total: u64 = parts.iter().map(|(_, p)| p.size).sum();
        if total > self.grant.max_bytes {
            return Err(OssError::entity_too_large(self.grant.max_bytes));
        }
        let (etag, crc64) = self.assemble(&dir, &parts).await?;
        self.record(&etag, total, crc64, record.content_type)
            .await?;
        objects::delete_under(self.store(), &dir)
            .await
            .map_err(io_error)?;
        tracing::info!(
            bucket = self.bucket,
            key = self.key,
            size = total,
            parts = parts.len(),
            "multipart upload completed"
        );
        let location = format!("/{}/{}", self.bucket, self.key);
        let mut response = xml(multipart::complete_result(
            &location,
            self.bucket,
            self.key,
            &etag,
        ));
        set(&mut response, "etag", &etag);
        set(&mut response, "x-oss-hash-crc64ecma", &crc64.to_string());
        Ok(response)
    }

    async fn part_info(
        &self,
        dir: &object_store::path::Path,
        number: u32,
    ) -> Result<PartInfo, OssError> {
        objects::read_json(self.store(), &objects::part_info_path(dir, number))
            .await
            .map_err(io_error)?
            .ok_or_else(|| OssError::invalid_part(format!("Part {number} was not uploaded.")))
    }

    async fn part_numbers(&self, dir: &object_store::path::Path) -> Result<Vec<u32>, OssError> {
        let mut numbers = Vec::new();
        let mut listing = self.store().list(Some(dir));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(store_failure)?;
            if let Some(n) = meta
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// Writes the parts, in order, as the object; its ETag is OSS's for a multipart object.
    async fn assemble(
        &self,
        dir: &object_store::path::Path,
        parts: &[(u32, PartInfo)],
    ) -> Result<(String, u64), OssError> {
        let target = objects::object_path(self.bucket, self.key).map_err(path_error)?;
        let upload = self
            .store()
            .put_multipart(&target)
            .await
            .map_err(store_failure)?;
        let mut sink = WriteMultipart::new_with_chunk_size(upload, receive::CHUNK_BYTES);
        let mut crc = CRC64.digest();
        let mut md5s = Md5::new();
        let copied: Result<(), OssError> = async {
            for (number, info) in parts {
                md5s.update(hex::decode(&info.md5).map_err(|_| OssError::internal_error())?);
                let got = self
                    .store()
                    .get(&objects::part_path(dir, *number))
                    .await
                    .map_err(store_failure)?;
                let mut stream = got.into_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(store_failure)?;
                    crc.update(&chunk);
                    sink.put(chunk);
                    sink.wait_for_capacity(receive::PARTS_IN_FLIGHT)
                        .await
                        .map_err(store_failure)?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = copied {
            let _ = sink.abort().await;
            return Err(e);
        }
        sink.finish().await.map_err(store_failure)?;
        let etag = format!("\"{}-{}\"", hex::encode_upper(md5s.finalize()), parts.len());
        Ok((etag, crc.finalize()))
    }

    async fn abort(&self, upload_id: &str) -> Result<Response, OssError> {
        let (dir, _) = self.upload(upload_id).await?;
        objects::delete_under(self.store(), &dir)
            .await
            .map_err(io_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    async fn info(&self) -> Result<ObjectInfo, OssError> {
        objects::object_info(self.store(), self.bucket, self.key)
            .await
            .map_err(io_error)?
            .ok_or_else(OssError::no_such_key)
    }

    async fn head(&self) -> Result<Response, OssError> {
        let info = self.info().await?;
        Ok(described(StatusCode::OK, &info, Body::empty()))
    }

    async fn get(&self) -> Result<Response, OssError> {
        let info = self.info().await?;
        let path = objects::object_path(self.bucket, self.key).map_err(path_error)?;
        let got = match self.store().get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Err(OssError::no_such_key()),
            Err(e) => return Err(store_failure(e)),
        };
        let body = Body::from_stream(got.into_stream());
        Ok(described(StatusCode::OK, &info, body))
    }

    async fn delete(&self) -> Result<Response, OssError> {
        for path in [
            objects::object_path(self.bucket, self.key).map_err(path_error)?,
            objects::info_path(self.bucket, self.key).map_err(path_error)?,
        ] {
            objects::delete_if_present(self.store(), &path)
                .await
                .map_err(store_failure)?;
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The answer to a stored body: its ETag, CRC-64 and MD5.
fn stored(etag: &str, crc64: u64, md5: Option<&[u8; 16]>) -> Response {
    let mut response = StatusCode::OK.into_response();
    set(&mut response, "etag", etag);
    set(&mut response, "x-oss-hash-crc64ecma", &crc64.to_string());
    if let Some(md5) = md5 {
        set(
            &mut response,
            "content-md5",
            &base64::engine::general_purpose::STANDARD.encode(md5),
        );
    }
    response
}

fn described(status: StatusCode, info: &ObjectInfo, body: Body) -> Response {
    let mut response = (status, body).into_response();
    set(&mut response, "etag", &info.etag);
    set(&mut response, "content-type", &info.content_type);
    set(&mut response, "content-length", &info.size.to_string());
    set(
        &mut response,
        "x-oss-hash-crc64ecma",
        &info.crc64.to_string(),
    );
    if let Some(at) = chrono::DateTime::from_timestamp_millis(info.uploaded_at) {
        set(
            &mut response,
            "last-modified",
            &at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
    }
    response
}
