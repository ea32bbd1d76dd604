//! The Python SDK's signature vectors, checked stage by stage, and the failure cases around them.

use chrono::{Duration, TimeZone, Utc};
use pop::signature::{Algorithm, HttpRequest, SigningInput, parse_request, sign_v2, sign_v3};
use pop::{ApiError, FlatParams};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/signature-vectors.json")).expect("vectors file is JSON")
}

fn vector(name: &str) -> Value {
    vectors()["vectors"]
        .as_array()
        .expect("vectors list")
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .expect("vector exists")
}

/// A request as a server receives it: path, raw query, lower-cased headers, body.
#[derive(Clone)]
struct Wire {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn from_vector(v: &Value) -> Wire {
        let request = &v["request"];
        let url = request["url"].as_str().expect("url");
        let after_scheme = url.split_once("://").map(|(_, rest)| rest).expect("scheme");
        let path_and_query = after_scheme
            .find('/')
            .map(|i| &after_scheme[i..])
            .unwrap_or("/");
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let headers = request["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.as_str().expect("header value").to_owned(),
                )
            })
            .collect();
        Wire {
            method: request["method"].as_str().expect("method").to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: request["body"].as_str().unwrap_or("").as_bytes().to_vec(),
        }
    }

    fn request(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn parse(&self) -> Result<pop::signature::SignedRequest, ApiError> {
        parse_request(&self.request())
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }
}

fn secret(v: &Value) -> &str {
    v["credentials"]["access_key_secret"]
        .as_str()
        .expect("secret")
}

fn fixed_date() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("date")
}

fn code(result: Result<impl std::fmt::Debug, ApiError>) -> String {
    result.expect_err("must fail").code.into_owned()
}

fn check_v3_vector(name: &str, algorithm: Algorithm) {
    let v = vector(name);
    let expected = &v["expected"];
    let wire = Wire::from_vector(&v);
    let parsed = wire.parse().expect("vector parses");
    assert_eq!(parsed.algorithm, algorithm);
    let canonical = parsed.canonical_v3().expect("V3");
    assert_eq!(
        canonical.hashed_payload,
        expected["hashed_payload"].as_str().expect("field")
    );
    assert_eq!(
        canonical.canonical_uri,
        expected["canonical_uri"].as_str().expect("field")
    );
    assert_eq!(
        canonical.canonical_query_string,
        expected["canonical_query_string"].as_str().expect("field")
    );
    assert_eq!(
        canonical.canonical_headers,
        expected["canonical_headers"].as_str().expect("field")
    );
    assert_eq!(
        canonical.signed_headers,
        expected["signed_headers"].as_str().expect("field")
    );
    assert_eq!(
        canonical.canonical_request,
        expected["canonical_request"].as_str().expect("field")
    );
    assert_eq!(
        canonical.hashed_canonical_request,
        expected["hashed_canonical_request"]
            .as_str()
            .expect("field")
    );
    assert_eq!(
        parsed.string_to_sign(),
        expected["string_to_sign"].as_str().expect("field")
    );
    assert_eq!(
        parsed.expected_signature(secret(&v)),
        expected["signature"].as_str().expect("field")
    );
    let authorization = wire
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str());
    assert_eq!(authorization, expected["authorization"].as_str());

    assert_eq!(
        parsed.access_key_id,
        v["credentials"]["access_key_id"].as_str().expect("ak")
    );
    assert_eq!(
        parsed.security_token.as_deref(),
        v["credentials"]["security_token"].as_str()
    );
    assert_eq!(parsed.action, "ConfigRuntimeModelTemplate");
    assert_eq!(parsed.version, "2021-09-01");
    assert_eq!(parsed.nonce, "3a7c2f0e9b8d4c1fa5e6b7c8d9e0f1a2");
    assert_eq!(parsed.timestamp, fixed_date());
    assert_eq!(parsed.params.get("RuntimeIds.2"), Some("jvs-def456"));
    parsed.verify(secret(&v)).expect("signature verifies");
    parsed.check_timestamp(fixed_date()).expect("in time");
    assert_eq!(code(parsed.verify("wrongSecret")), "SignatureDoesNotMatch");
}

#[test]
fn v3_python_sdk_all_headers() {
    check_v3_vector("v3_rpc_post_form_python_sdk", Algorithm::Acs3HmacSha256);
}

#[test]
fn v3_minimal_signed_headers() {
    check_v3_vector(
        "v3_rpc_post_form_minimal_signed_headers",
        Algorithm::Acs3HmacSha256,
    );
}

#[test]
fn v3_sts() {
    check_v3_vector("v3_rpc_post_form_sts", Algorithm::Acs3HmacSha256);
}

#[test]
fn v3_sm3() {
    check_v3_vector("v3_rpc_post_form_sm3", Algorithm::Acs3HmacSm3);
}

#[test]
fn v3_get_query_encoding() {
    check_v3_vector("v3_rpc_get_query_encoding", Algorithm::Acs3HmacSha256);
    let parsed = Wire::from_vector(&vector("v3_rpc_get_query_encoding"))
        .parse()
        .expect("parses");
    assert_eq!(parsed.params.get("Name"), Some("a b*c~d/e+f=g&h"));
    assert_eq!(parsed.params.get("Description"), Some("中文 ü"));
    assert_eq!(parsed.params.get("Empty"), Some(""));
}

fn check_v2_vector(name: &str) {
    let v = vector(name);
    let expected = &v["expected"];
    let parsed = Wire::from_vector(&v).parse().expect("vector parses");
    assert_eq!(parsed.algorithm, Algorithm::HmacSha1);
    assert_eq!(
        parsed.canonicalized_query_v2(),
        expected["canonicalized_query_string"].as_str(),
    );
    assert_eq!(
        parsed.string_to_sign(),
        expected["string_to_sign"].as_str().expect("field")
    );
    assert_eq!(
        format!("{}&", secret(&v)),
        expected["hmac_key"].as_str().expect("field")
    );
    assert_eq!(
        parsed.expected_signature(secret(&v)),
        expected["signature"].as_str().expect("field")
    );
    parsed.verify(secret(&v)).expect("signature verifies");
    assert_eq!(code(parsed.verify("wrongSecret")), "SignatureDoesNotMatch");

    assert_eq!(
        parsed.access_key_id,
        v["credentials"]["access_key_id"].as_str().expect("ak")
    );
    assert_eq!(
        parsed.security_token.as_deref(),
        v["credentials"]["security_token"].as_str()
    );
    assert_eq!(parsed.action, "ConfigRuntimeModelTemplate");
    assert_eq!(parsed.version, "2021-09-01");
    assert_eq!(parsed.timestamp, fixed_date());
    // Business parameters: signed parameters minus the common ones (RegionId stays).
    let signed = expected["signed_parameters"]
        .as_object()
        .expect("signed parameters");
    let business: FlatParams = signed
        .iter()
        .filter(|(k, _)| !pop::signature::V2_COMMON_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.as_str().expect("value").to_owned()))
        .collect();
    assert_eq!(parsed.params, business);
}

#[test]
fn v2_get() {
    check_v2_vector("v2_rpc_get");
    let parsed = Wire::from_vector(&vector("v2_rpc_get"))
        .parse()
        .expect("parses");
    assert_eq!(parsed.params.get("RegionId"), Some("cn-shanghai"));
}

#[test]
fn v2_post_form() {
    check_v2_vector("v2_rpc_post_form");
}

#[test]
fn v2_get_sts() {
    check_v2_vector("v2_rpc_get_sts");
}

#[test]
fn v3_body_changed_by_one_byte() {
    let v = vector("v3_rpc_post_form_python_sdk");
    let mut wire = Wire::from_vector(&v);
    if let Some(last) = wire.body.last_mut() {
        *last ^= 1;
    }
    // The head still proves the caller: the signature is checked before the body is read...
    let request = wire.request();
    let head = pop::signature::parse_head(&request.head()).expect("head parses");
    assert_eq!(head.verify(secret(&v)), Ok(true));
    // ...and the body that arrives is not the one whose hash was signed.
    let err = head.with_body(request.body).expect_err("altered body");
    assert_eq!(err.code, "SignatureDoesNotMatch");
    assert!(
        err.message
            .contains(v["expected"]["string_to_sign"].as_str().unwrap_or("?"))
    );
}

#[test]
fn v3_head_with_a_wrong_signature_is_refused_before_the_body() {
    let v = vector("v3_rpc_post_form_python_sdk");
    let wire = Wire::from_vector(&v);
    let request = wire.request();
    let head = pop::signature::parse_head(&request.head()).expect("head parses");
    let credential = head.credential().expect("V3 names its key in the head");
    assert_eq!(
        Some(credential.access_key_id),
        v["credentials"]["access_key_id"].as_str()
    );
    assert_eq!(
        code(head.verify("another secret").map(|_| ())),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn v2_in_the_query_names_its_key_in_the_head_but_needs_the_body() {
    let v = vector("v2_rpc_post_form");
    let wire = Wire::from_vector(&v);
    let request = wire.request();
    let head = pop::signature::parse_head(&request.head()).expect("head parses");
    assert!(head.credential().is_some());
    assert_eq!(head.verify("anything"), Ok(false));
    let signed = head.with_body(request.body).expect("whole request parses");
    signed
        .verify(secret(&v))
        .expect("signature over query and body");
}

fn with_signed_headers(wire: &mut Wire, edit: impl Fn(&str) -> String) {
    let auth = wire
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone())
        .expect("auth");
    let (head, rest) = auth.split_once("SignedHeaders=").expect("signed headers");
    let (list, tail) = rest.split_once(',').expect("comma");
    let edited = format!("{head}SignedHeaders={},", edit(list)) + tail;
    wire.set_header("authorization", &edited);
}

#[test]
fn v3_signed_headers_rules() {
    let v = vector("v3_rpc_post_form_minimal_signed_headers");
    let base = Wire::from_vector(&v);

    for removed in [
        "host",
        "x-acs-date",
        "content-type",
        "x-acs-content-sha256",
        "x-acs-action",
    ] {
        let mut wire = base.clone();
        with_signed_headers(&mut wire, |list| {
            list.split(';')
                .filter(|h| *h != removed)
                .collect::<Vec<_>>()
                .join(";")
        });
        assert_eq!(
            code(wire.parse()),
            "IncompleteSignature",
            "{removed} unsigned"
        );
    }

    let mut unsorted = base.clone();
    with_signed_headers(&mut unsorted, |list| {
        let mut names: Vec<&str> = list.split(';').collect();
        names.swap(0, 1);
        names.join(";")
    });
    assert_eq!(code(unsorted.parse()), "IncompleteSignature");

    let mut upper = base.clone();
    with_signed_headers(&mut upper, |list| list.replace("host", "Host"));
    assert_eq!(code(upper.parse()), "IncompleteSignature");

    // An x-acs-* header that is present but not signed.
    let mut extra = base.clone();
    extra.set_header("x-acs-security-token", "tok");
    assert_eq!(code(extra.parse()), "IncompleteSignature");

    // A signed header that is absent.
    let mut missing = base.clone();
    missing.remove_header("x-acs-date");
    assert_eq!(code(missing.parse()), "IncompleteSignature");

    // Headers the HTTP stack adds unsigned are ignored.
    let mut added = base.clone();
    added.set_header("accept-encoding", "identity");
    added.set_header("content-length", "73");
    added
        .parse()
        .expect("parses")
        .verify(secret(&v))
        .expect("verifies");
}

#[test]
fn v3_authorization_parsing() {
    let v = vector("v3_rpc_post_form_minimal_signed_headers");
    let base = Wire::from_vector(&v);
    let auth = base
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone())
        .expect("auth");

    let mut spaced = base.clone();
    spaced.set_header("authorization", &auth.replace(",", ", "));
    spaced
        .parse()
        .expect("spaces after commas")
        .verify(secret(&v))
        .expect("verifies");

    for bad in [
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 Credential=a",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=zz",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=abcd",
        "ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature=00",
    ] {
        let mut wire = base.clone();
        wire.set_header("authorization", bad);
        assert_eq!(code(wire.parse()), "IncompleteSignature", "{bad}");
    }
    let mut rsa = base.clone();
    rsa.set_header(
        "authorization",
        &auth.replace("ACS3-HMAC-SHA256", "ACS3-RSA-SHA256"),
    );
    let err = rsa.parse().expect_err("unsupported");
    assert_eq!(err.code, "InvalidParameter");
    assert!(err.message.contains("SignatureMethod"));
}

#[test]
fn v3_dates_and_nonces() {
    let v = vector("v3_rpc_post_form_python_sdk");
    let base = Wire::from_vector(&v);

    let mut no_date = base.clone();
    no_date.remove_header("x-acs-date");
    assert_eq!(code(no_date.parse()), "IncompleteSignature");

    let mut bad_date = base.clone();
    bad_date.set_header("x-acs-date", "2026-11-22 08:00:00");
    assert_eq!(code(bad_date.parse()), "InvalidTimeStamp.Format");

    let parsed = base.parse().expect("parses");
    parsed
        .check_timestamp(fixed_date() + Duration::minutes(15))
        .expect("15 minutes is fine");
    parsed
        .check_timestamp(fixed_date() - Duration::minutes(15))
        .expect("15 minutes is fine");
    assert_eq!(
        code(parsed.check_timestamp(fixed_date() + Duration::minutes(16))),
        "InvalidTimeStamp.Expired"
    );
    assert_eq!(
        code(parsed.check_timestamp(fixed_date() - Duration::minutes(16))),
        "InvalidTimeStamp.Expired"
    );
    // Issue 11, defect 6: the window ends at 15 minutes to the millisecond (it used to run to
    // 15:00.999), and the nonce is kept past the last moment the timestamp is accepted.
    let last_accepted = fixed_date() + pop::signature::REPLAY_WINDOW;
    parsed
        .check_timestamp(last_accepted)
        .expect("the last moment");
    for outside in [
        last_accepted + Duration::milliseconds(1),
        fixed_date() - pop::signature::REPLAY_WINDOW - Duration::milliseconds(1),
    ] {
        assert_eq!(
            code(parsed.check_timestamp(outside)),
            "InvalidTimeStamp.Expired"
        );
    }
    assert!(pop::signature::nonce_kept_until(parsed.timestamp) > last_accepted.timestamp_millis());

    let mut long_nonce = base.clone();
    long_nonce.set_header("x-acs-signature-nonce", &"n".repeat(129));
    assert_eq!(code(long_nonce.parse()), "InvalidParameter");
}

#[test]
fn duplicate_parameters() {
    let v = vector("v3_rpc_get_query_encoding");
    let mut wire = Wire::from_vector(&v);
    wire.query.push_str("&Name=again");
    let err = wire.parse().expect_err("duplicate");
    assert_eq!(err.code, "InvalidParameter");
    assert!(err.message.contains("\"Name\""));

    // Query and body giving the same name.
    let v = vector("v3_rpc_post_form_python_sdk");
    let mut wire = Wire::from_vector(&v);
    wire.query = "ModelTemplateId=x".to_owned();
    assert_eq!(code(wire.parse()), "InvalidParameter");

    // The same value in the query and the body is one parameter (aliyun-python-sdk-core sends
    // RegionId in both).
    let mut wire = Wire::from_vector(&v);
    wire.query = "ModelTemplateId=mt-0a1b2c3d".to_owned();
    let parsed = wire.parse().expect("same value twice is one parameter");
    assert_eq!(parsed.params.get("ModelTemplateId"), Some("mt-0a1b2c3d"));
}

#[test]
fn v2_failures() {
    let v = vector("v2_rpc_get");
    let base = Wire::from_vector(&v);
    for name in [
        "Action",
        "Version",
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
    ] {
        let mut wire = base.clone();
        wire.query = wire
            .query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect::<Vec<_>>()
            .join("&");
        let err = wire.parse().expect_err("missing");
        assert_eq!(err.code, "MissingParameter", "{name}");
        assert!(err.message.contains(&format!("\"{name}\"")), "{name}");
    }
    let mut method = base.clone();
    method.query = method.query.replace("HMAC-SHA1", "HMAC-SHA256");
    let err = method.parse().expect_err("method");
    assert_eq!(err.code, "InvalidParameter");
    assert!(err.message.contains("SignatureMethod"));

    let mut format = base.clone();
    format.query = format.query.replace("Format=json", "Format=JSON");
    let parsed = format.parse().expect("Format is case-insensitive");
    assert_eq!(code(parsed.verify(secret(&v))), "SignatureDoesNotMatch");

    let mut bad_time = base.clone();
    bad_time.query = bad_time
        .query
        .replace("2026-11-22T08%3A00%3A00Z", "yesterday");
    assert_eq!(code(bad_time.parse()), "InvalidTimeStamp.Format");

    let mut bad_escape = base.clone();
    bad_escape.query.push_str("&X=%G1");
    assert_eq!(code(bad_escape.parse()), "InvalidParameter");

    let mut unsigned = base.clone();
    unsigned.query = "Action=X&Version=1".to_owned();
    assert_eq!(code(unsigned.parse()), "IncompleteSignature");
}

fn signing_input<'a>(query: &'a FlatParams, form: &'a FlatParams) -> SigningInput<'a> {
    SigningInput {
        method: "POST",
        host: "127.0.0.1:8080",
        action: "ConfigRuntimeModelTemplate",
        version: "2021-09-01",
        query,
        form,
        access_key_id: "testAccessKeyId",
        access_key_secret: "testAccessKeySecret",
        security_token: None,
        nonce: "3a7c2f0e9b8d4c1fa5e6b7c8d9e0f1a2",
        timestamp: fixed_date(),
    }
}

fn wire_of(signed: &pop::signature::SignedHttpRequest) -> Wire {
    let (path, query) = signed
        .path_and_query
        .split_once('?')
        .unwrap_or((&signed.path_and_query, ""));
    Wire {
        method: signed.method.clone(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: signed.headers.clone(),
        body: signed.body.clone(),
    }
}

#[test]
fn sign_v3_round_trip() {
    let query: FlatParams = [
        ("Name", "a b*c~d/e+f=g&h"),
        ("Description", "中文 ü"),
        ("Empty", ""),
    ]
    .into_iter()
    .collect();
    let form: FlatParams = [
        ("ModelTemplateId", "mt-0a1b2c3d"),
        ("RuntimeIds.1", "ecd-abc123"),
        ("RuntimeIds.2", "jvs-def456"),
    ]
    .into_iter()
    .collect();
    let signed = sign_v3(&signing_input(&query, &form));
    assert_eq!(
        signed.body,
        b"ModelTemplateId=mt-0a1b2c3d&RuntimeIds.1=ecd-abc123&RuntimeIds.2=jvs-def456"
    );
    let wire = wire_of(&signed);
    let parsed = wire.parse().expect("parses");
    parsed.verify("testAccessKeySecret").expect("verifies");
    assert_eq!(code(parsed.verify("other")), "SignatureDoesNotMatch");
    assert_eq!(parsed.params.get("Name"), Some("a b*c~d/e+f=g&h"));
    assert_eq!(parsed.params.get("RuntimeIds.1"), Some("ecd-abc123"));
    // Same hash as the vector's body (same bytes).
    let v = vector("v3_rpc_post_form_minimal_signed_headers");
    assert_eq!(
        parsed.canonical_v3().expect("V3").hashed_payload,
        v["expected"]["hashed_payload"].as_str().expect("field")
    );

    // Without a body there is no content-type.
    let empty = FlatParams::new();
    let signed = sign_v3(&signing_input(&query, &empty));
    assert!(signed.headers.iter().all(|(k, _)| k != "content-type"));
    wire_of(&signed)
        .parse()
        .expect("parses")
        .verify("testAccessKeySecret")
        .expect("verifies");
}

#[test]
fn sign_v2_matches_the_vector() {
    // The v2_rpc_post_form vector, rebuilt by the client side.
    let v = vector("v2_rpc_post_form");
    let query = FlatParams::new();
    let form: FlatParams = [
        ("ModelTemplateId", "mt-0a1b2c3d"),
        ("RuntimeIds.1", "ecd-abc123"),
        ("RuntimeIds.2", "jvs-def456"),
    ]
    .into_iter()
    .collect();
    let signed = sign_v2(&signing_input(&query, &form));
    let expected_url = v["request"]["url"].as_str().expect("url");
    assert!(
        expected_url.ends_with(&signed.path_and_query),
        "{}",
        signed.path_and_query
    );
    let parsed = wire_of(&signed).parse().expect("parses");
    parsed.verify("testAccessKeySecret").expect("verifies");
    assert_eq!(parsed.params, form);
}

/// Issue 11, defect 1: `@alicloud/pop-core`'s RPCClient with `method: 'POST'` sends every common
/// parameter, `Signature` included, in the form body and nothing in the query.
#[test]
fn v2_with_everything_in_the_form_body() {
    let query: FlatParams = [("RegionId", "cn-hangzhou")].into_iter().collect();
    let form: FlatParams = [("ModelTemplateId", "mt-0a1b2c3d")].into_iter().collect();
    let signed = sign_v2(&signing_input(&query, &form));
    let mut wire = wire_of(&signed);
    let all_in_body = format!("{}&{}", wire.query, String::from_utf8_lossy(&wire.body));
    wire.query = String::new();
    wire.body = all_in_body.into_bytes();
    wire.set_header("content-type", "application/x-www-form-urlencoded");

    let request = wire.request();
    let head = pop::signature::parse_head(&request.head()).expect("a form body may hold it all");
    assert!(
        head.credential().is_none(),
        "nothing to check before the body"
    );
    let parsed = head.with_body(request.body).expect("parses");
    parsed.verify("testAccessKeySecret").expect("verifies");
    assert_eq!(parsed.action, "ConfigRuntimeModelTemplate");
    assert_eq!(parsed.params.get("ModelTemplateId"), Some("mt-0a1b2c3d"));
    assert_eq!(parsed.params.get("RegionId"), Some("cn-hangzhou"));
    assert_eq!(parsed.params.get("Signature"), None);

    // Without a form body, an unsigned request is refused at once.
    wire.remove_header("content-type");
    assert_eq!(code(wire.parse()), "IncompleteSignature");
}

#[test]
fn a_temporary_key_signs_its_security_token() {
    let query = FlatParams::new();
    let form: FlatParams = [("RegionId", "cn-hangzhou")].into_iter().collect();
    for sign in [sign_v3, pop::signature::sign_v2] {
        let input = SigningInput {
            security_token: Some("CAIStoken"),
            ..signing_input(&query, &form)
        };
        let wire = wire_of(&sign(&input));
        let parsed = wire.parse().expect("parses");
        assert_eq!(parsed.security_token.as_deref(), Some("CAIStoken"));
        parsed.verify("testAccessKeySecret").expect("verifies");
        // The token is signed: another one does not verify.
        let mut swapped = wire.clone();
        swapped.query = swapped.query.replace("CAIStoken", "CAISother");
        for (name, value) in &mut swapped.headers {
            if name == "x-acs-security-token" {
                *value = "CAISother".into();
            }
        }
        let swapped = swapped.parse().expect("parses");
        assert_eq!(swapped.security_token.as_deref(), Some("CAISother"));
        assert_eq!(
            code(swapped.verify("testAccessKeySecret")),
            "SignatureDoesNotMatch"
        );
    }
}
