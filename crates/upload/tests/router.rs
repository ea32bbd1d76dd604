//! The upload router over an in-memory object store: what a signed client sees, and that
//! nothing a refused request sent is kept.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::BoxFuture;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use upload::{Grant, Grants, GrantsError, UploadConfig, UploadState};

const KEY_ID: &str = "STS.test";
const SECRET: &str = "secret";
const TOKEN: &str = "token";
const PREFIX: &str = "tenants/t-1/skill/";

struct OneGrant(i64);

impl Grants for OneGrant {
    fn grant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<Grant>, GrantsError>> {
        Box::pin(async move {
            Ok((key_id == KEY_ID).then(|| Grant {
                tenant_id: "t-1".into(),
                secret: SECRET.into(),
                token_hash: hex::encode(Sha256::digest(TOKEN.as_bytes())),
                bucket: "amc-skills".into(),
                prefix: PREFIX.into(),
                max_bytes: 1024,
                expires_at: self.0,
            }))
        })
    }
}

fn app(expires_at: i64) -> (axum::Router, Arc<InMemory>) {
    app_with(expires_at, 4)
}

fn app_with(expires_at: i64, bodies: usize) -> (axum::Router, Arc<InMemory>) {
    let objects = Arc::new(InMemory::new());
    let state = UploadState::new(
        Arc::new(OneGrant(expires_at)),
        objects.clone(),
        UploadConfig {
            buckets: vec!["amc-skills".into()],
            idle_timeout: Duration::from_secs(5),
            max_concurrent_bodies: bodies,
        },
    );
    (upload::router(state), objects)
}

fn later() -> i64 {
    chrono::Utc::now().timestamp_millis() + 3_600_000
}

/// A V1-signed PUT of `body` to `key`, signed with `secret`.
fn put(key: &str, body: Vec<u8>, secret: &str) -> Request<Body> {
    let length = body.len();
    signed_put(key, Body::from(body), Some(length), secret)
}

fn signed_put(key: &str, body: Body, length: Option<usize>, secret: &str) -> Request<Body> {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let headers = vec![
        ("date".to_string(), date.clone()),
        ("x-oss-security-token".to_string(), TOKEN.to_string()),
    ];
    let signed = oss::Request {
        method: "PUT",
        bucket: "amc-skills",
        key,
        query: "",
        headers: &headers,
    };
    let authorization = oss::signature::sign_v1(&signed, KEY_ID, secret);
    let request = Request::put(format!("/amc-skills/{}", oss::uri_encode_path(key)))
        .header("date", date)
        .header("x-oss-security-token", TOKEN)
        .header("authorization", authorization);
    let request = match length {
        Some(n) => request.header("content-length", n),
        None => request,
    };
    request.body(body).unwrap_or_default()
}

async fn answer(app: &axum::Router, request: Request<Body>) -> (StatusCode, String, String) {
    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    (status, etag, body)
}

async fn stored(objects: &InMemory) -> usize {
    use futures::StreamExt;
    objects.list(None).count().await
}

#[tokio::test]
async fn a_signed_put_stores_the_object_and_answers_its_md5() {
    let (app, objects) = app(later());
    let key = format!("{PREFIX}weather v1.zip");
    let (status, etag, _) = answer(&app, put(&key, b"hello".to_vec(), SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(etag, "\"5D41402ABC4B2A76B9719D911017C592\"");
    let info = upload::objects::object_info(objects.as_ref(), "amc-skills", &key)
        .await
        .ok()
        .flatten();
    assert_eq!(info.map(|i| (i.size, i.tenant_id)), Some((5, "t-1".into())));
}

#[tokio::test]
async fn refusals_are_osss_xml_and_keep_nothing() {
    let (app, objects) = app(later());
    let cases = [
        (
            put(&format!("{PREFIX}a.zip"), vec![0; 1025], SECRET),
            "EntityTooLarge",
        ),
        (
            put(&format!("{PREFIX}a.zip"), b"x".to_vec(), "wrong"),
            "SignatureDoesNotMatch",
        ),
        (
            put("tenants/t-2/skill/a.zip", b"x".to_vec(), SECRET),
            "AccessDenied",
        ),
    ];
    for (request, code) in cases {
        let (status, _, body) = answer(&app, request).await;
        assert!(status.is_client_error(), "{code}: {status}");
        assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
    }
    let (status, _, body) = answer(
        &app,
        Request::put("/amc-skills/tenants/t-1/skill/x")
            .body(Body::from("x"))
            .unwrap_or_default(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("<Code>AccessDenied</Code>"));
    assert_eq!(stored(&objects).await, 0);
}

#[tokio::test]
async fn bodies_beyond_the_concurrency_bound_are_told_to_come_back() {
    let (app, _) = app_with(later(), 1);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    let slow = Body::from_stream(tokio_stream_of(receiver));
    let first = tokio::spawn({
        let app = app.clone();
        async move {
            answer(
                &app,
                signed_put(&format!("{PREFIX}slow.zip"), slow, None, SECRET),
            )
            .await
        }
    });
    let _ = sender
        .send(Ok(bytes::Bytes::from_static(b"first piece")))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, body) =
        answer(&app, put(&format!("{PREFIX}b.zip"), b"x".to_vec(), SECRET)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("<Code>ServiceUnavailable</Code>"));
    drop(sender);
    let (status, _, _) = first.await.expect("the first upload ran to its end");
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = answer(&app, put(&format!("{PREFIX}b.zip"), b"x".to_vec(), SECRET)).await;
    assert_eq!(status, StatusCode::OK, "the place is free again");
}

fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn a_bucket_path_without_a_key_is_no_such_key_not_an_error_of_the_server() {
    // Found by the proptest below: `/amc-skills/` answered 500.
    let (app, _) = app(later());
    for path in ["/amc-skills/", "/amc-skills"] {
        let request = Request::put(path).body(Body::from("x")).unwrap_or_default();
        let (status, _, body) = answer(&app, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body.contains("<Code>NoSuchKey</Code>"), "{path}: {body}");
    }
}

#[tokio::test]
async fn expired_credentials_are_refused() {
    let (app, objects) = app(chrono::Utc::now().timestamp_millis() - 1);
    let (status, _, body) =
        answer(&app, put(&format!("{PREFIX}a.zip"), b"x".to_vec(), SECRET)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("<Code>SecurityTokenExpired</Code>"));
    assert_eq!(stored(&objects).await, 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn any_path_and_authorization_is_answered_never_a_panic(
        path in "/amc-skills/[a-zA-Z0-9%./\\\\-]{0,60}",
        authorization in ".{0,80}",
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        proptest::prop_assert!(runtime.is_ok());
        if let Ok(runtime) = runtime {
            let (app, _) = app(later());
            let Ok(request) = Request::put(path.as_str())
                .header("authorization", authorization.as_str())
                .body(Body::from("x")) else {
                return Ok(());
            };
            let (status, _, _) = runtime.block_on(answer(&app, request));
            proptest::prop_assert!(status.is_client_error() || status == StatusCode::NOT_FOUND, "{}", status);
        }
    }
}

#[tokio::test]
async fn abandoned_multipart_uploads_are_swept_and_fresh_ones_kept() {
    use object_store::PutPayload;
    let objects = InMemory::new();
    for (id, created_at) in [("OLD", 1_000), ("NEW", 9_000)] {
        let dir = upload::objects::upload_dir("amc-skills", id).expect("a valid id");
        let record = upload::objects::UploadRecord {
            bucket: "amc-skills".into(),
            key: format!("{PREFIX}a.zip"),
            tenant_id: "t-1".into(),
            content_type: "application/zip".into(),
            created_at,
        };
        upload::objects::write_json(
            &objects,
            &upload::objects::upload_record_path(&dir),
            &record,
        )
        .await
        .expect("written");
        objects
            .put(
                &upload::objects::part_path(&dir, 1),
                PutPayload::from_static(b"part"),
            )
            .await
            .expect("written");
    }
    let removed = upload::objects::sweep_abandoned_uploads(&objects, "amc-skills", 5_000)
        .await
        .expect("swept");
    assert_eq!(removed, 1);
    assert_eq!(
        stored(&objects).await,
        2,
        "the fresh upload's record and part stay"
    );
}
