//! Verifying (server) and producing (client) V3 and V2 request signatures.
//!
//! [`parse_request`] reads everything a signature covers and computes the canonical request and the
//! string to sign (neither needs the secret); [`SignedRequest::verify`] then only computes the HMAC
//! and compares it in constant time. Decisions where the protocol leaves room:
//! - no signature at all (no `Authorization: ACS3-...`, no `Signature` query parameter) gives
//!   `IncompleteSignature`;
//! - an `ACS3-` algorithm other than `ACS3-HMAC-SHA256`/`ACS3-HMAC-SM3` (e.g. `ACS3-RSA-SHA256`)
//!   gives `InvalidParameter` naming `SignatureMethod`;
//! - a nonce that is empty or longer than [`MAX_NONCE_LEN`] bytes gives `InvalidParameter` naming
//!   `SignatureNonce` (V2) or `x-acs-signature-nonce` (V3);
//! - the V2 common parameters are removed from the business parameters only for V2 requests: in V3
//!   a business parameter may legitimately be called `Version`;
//! - `SignatureDoesNotMatch` quotes the server's string to sign (clients compare it with theirs),
//!   cut at [`MAX_QUOTED_STRING_TO_SIGN`] bytes: a V2 one holds every parameter.

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::encoding::{decode_form, encode_form, percent_encode_bytes, percent_encode_rfc3986};
use crate::{ApiError, FlatParams};

/// Longest nonce accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 128;
/// Most headers a request may carry (hyper, which parses them, has the same default).
pub const MAX_HEADERS: usize = 100;
/// Longest header value accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 16 * 1024;
/// Most parameters (query and form together) a request may carry.
pub const MAX_PARAMS: usize = crate::params::MAX_PARAMS;
/// How far a request's timestamp may be from the server clock, either way, to the millisecond.
/// A nonce must be remembered for as long as a request carrying it is accepted: see
/// [`nonce_kept_until`].
pub const REPLAY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// How much of a form body is searched for the `AccessKeyId` of a V2 request whose head does not
/// name it (`@alicloud/pop-core` sends it first): a server reads no further before the key is
/// known, so a caller refused on it never has its body buffered.
pub const BODY_SIGNER_WINDOW: usize = 16 * 1024;
/// Most of the server's string to sign a `SignatureDoesNotMatch` quotes, in bytes. V2 strings to
/// sign hold every parameter, so an 8 MiB form body would otherwise be answered with three times
/// that; what clients compare (the method, the path and the first parameters) is at the start.
pub const MAX_QUOTED_STRING_TO_SIGN: usize = 4 * 1024;
/// Clock difference between replicas sharing one nonce store that replay protection tolerates:
/// a replica whose clock is this much behind still finds the nonce recorded by another.
pub const REPLICA_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// `InvalidTimeStamp.Expired` unless `now - REPLAY_WINDOW <= timestamp <= now + REPLAY_WINDOW`.
pub fn check_timestamp(timestamp: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if timestamp < now - REPLAY_WINDOW || timestamp > now + REPLAY_WINDOW {
        return Err(ApiError::timestamp_expired());
    }
    Ok(())
}

/// Until when (ms since the epoch) a nonce of a request signed at `timestamp` must be kept: the
/// last moment any replica accepts the timestamp, plus the skew between replicas. A store may
/// forget it at any time after.
pub fn nonce_kept_until(timestamp: DateTime<Utc>) -> i64 {
    (timestamp + REPLAY_WINDOW + REPLICA_CLOCK_SKEW).timestamp_millis()
}

/// The timestamp format of `x-acs-date` and V2 `Timestamp`.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The V2 common parameters, removed from a V2 request's business parameters.
pub const V2_COMMON_PARAMS: [&str; 11] = [
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
];

/// An HTTP request as received, before anything is trusted.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Header names lower-cased, values as received.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    pub fn head(&self) -> HttpHead<'a> {
        HttpHead {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
        }
    }
}

/// The head of a request (all but the body), which is all a server should trust enough to read
/// before it knows who is calling.
#[derive(Debug, Clone, Copy)]
pub struct HttpHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Header names lower-cased, values as received.
    pub headers: &'a [(String, String)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Acs3HmacSha256,
    Acs3HmacSm3,
    HmacSha1,
}

impl Algorithm {
    /// The name as it appears on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Acs3HmacSha256 => "ACS3-HMAC-SHA256",
            Algorithm::Acs3HmacSm3 => "ACS3-HMAC-SM3",
            Algorithm::HmacSha1 => "HMAC-SHA1",
        }
    }

    /// Lower-hex digest (SHA-256 or SM3) for V3; SHA-1 for V2 (never used for V2 signing).
    fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Acs3HmacSha256 => hex::encode(sha2::Sha256::digest(data)),
            Algorithm::Acs3HmacSm3 => hex::encode(sm3::Sm3::digest(data)),
            Algorithm::HmacSha1 => hex::encode(sha1::Sha1::digest(data)),
        }
    }

    fn hmac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length, so `new_from_slice` cannot fail.
            match <M as hmac::digest::KeyInit>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(message);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Algorithm::Acs3HmacSha256 => run::<Hmac<sha2::Sha256>>(key, message),
            Algorithm::Acs3HmacSm3 => run::<Hmac<sm3::Sm3>>(key, message),
            Algorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(key, message),
        }
    }
}

/// Every intermediate value of a V3 signature, as the test vectors list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalV3 {
    /// Hash of the body as signed (`x-acs-content-sha256`), which the received body must match.
    pub hashed_payload: String,
    pub canonical_uri: String,
    pub canonical_query_string: String,
    pub canonical_headers: String,
    pub signed_headers: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
}

#[derive(Debug, Clone)]
enum Proof {
    V3 {
        canonical: CanonicalV3,
        signature: Vec<u8>,
    },
    V2 {
        canonicalized_query_string: String,
        signature: String,
    },
}

/// A request whose signature parts parsed; not yet verified.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub algorithm: Algorithm,
    pub access_key_id: String,
    pub security_token: Option<String>,
    pub nonce: String,
    pub timestamp: DateTime<Utc>,
    pub action: String,
    pub version: String,
    pub params: FlatParams,
    string_to_sign: String,
    proof: Proof,
}

/// Reads the signature parts, the action and the business parameters of a request.
///
/// No clock and no key is involved: call [`SignedRequest::check_timestamp`] and
/// [`SignedRequest::verify`] next. Errors (all 400):
/// - `IncompleteSignature`: no signature; a malformed `Authorization`; SignedHeaders not lower-case
///   and sorted, lacking a required header (`host`, `x-acs-date`, `x-acs-signature-nonce`,
///   `x-acs-action`, `x-acs-version`, `x-acs-content-sha256`, `content-type` when present, every
///   `x-acs-*` present), or naming a header the request does not have; a required V3 header sent
///   twice;
/// - `InvalidParameter`: unsupported `SignatureMethod` (V2 other than `HMAC-SHA1`, V3 other than the
///   two HMACs), `SignatureVersion` other than `1.0`, `Format` other than JSON/XML, bad nonce, a
///   parameter given twice, a bad escape or non-UTF-8 in query or form, too many parameters or
///   headers, a header too long;
/// - `MissingParameter`: a V2 common parameter is absent;
/// - `InvalidTimeStamp.Format`: `x-acs-date` / `Timestamp` is not `yyyy-MM-ddTHH:mm:ssZ`.
pub fn parse_request(request: &HttpRequest<'_>) -> Result<SignedRequest, ApiError> {
    parse_head(&request.head())?.with_body(request.body)
}

/// What the head of a request says about its signature, before the body is read: a server
/// refuses an unknown key, a stale timestamp and (V3) a wrong signature without buffering a body.
#[derive(Debug, Clone)]
pub struct Head<'a> {
    head: HttpHead<'a>,
    kind: HeadKind,
}

#[derive(Debug, Clone)]
enum HeadKind {
    /// V3: the signature covers the head and, through `x-acs-content-sha256`, the body.
    V3 {
        request: Box<SignedRequest>,
        content_sha256: String,
        query: Vec<(String, String)>,
    },
    /// V2 with its signature in the query; the signature also covers form parameters.
    V2InQuery {
        query: Vec<(String, String)>,
        credential: Option<(String, DateTime<Utc>)>,
    },
    /// V2 with everything in a form body (`@alicloud/pop-core` with `method: 'POST'`).
    V2InBody { query: Vec<(String, String)> },
}

/// Who claims to call, and when, as the head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'h> {
    pub access_key_id: &'h str,
    pub timestamp: DateTime<Utc>,
}

/// Reads what a request's head says about its signature; see [`parse_request`] for the errors.
/// A request whose signature can only be in its body (V2 in a form body) is recognised here and
/// read whole by [`Head::with_body`].
pub fn parse_head<'a>(head: &HttpHead<'a>) -> Result<Head<'a>, ApiError> {
    if head.headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid_parameter(
            "headers",
            format!("more than {MAX_HEADERS} headers"),
        ));
    }
    if let Some((name, _)) = head
        .headers
        .iter()
        .find(|(name, value)| name.len() + value.len() > MAX_HEADER_LEN)
    {
        let shown: String = name.chars().take(64).collect();
        return Err(ApiError::invalid_parameter(&shown, "header too long"));
    }
    let authorization = header_values(head.headers, "authorization");
    if let Some(auth) = authorization
        .iter()
        .find(|v| v.trim_start().starts_with("ACS3-"))
    {
        if authorization.len() > 1 {
            return Err(ApiError::incomplete_signature(
                "more than one Authorization header",
            ));
        }
        return parse_v3_head(head, auth.trim());
    }
    let query = decode_form(head.query.as_bytes())?;
    let kind = if query.iter().any(|(name, _)| name == "Signature") {
        let credential = v2_query_credential(&query)?;
        HeadKind::V2InQuery { query, credential }
    } else if is_form(head.headers) {
        HeadKind::V2InBody { query }
    } else {
        return Err(ApiError::incomplete_signature("the request is not signed"));
    };
    Ok(Head { head: *head, kind })
}

/// `AccessKeyId` and `Timestamp` of a V2 query, when both are there.
fn v2_query_credential(
    query: &[(String, String)],
) -> Result<Option<(String, DateTime<Utc>)>, ApiError> {
    let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    match (get("AccessKeyId"), get("Timestamp")) {
        (Some(id), Some(timestamp)) => Ok(Some((id.clone(), parse_timestamp(timestamp)?))),
        _ => Ok(None),
    }
}

impl<'a> Head<'a> {
    /// The access key and timestamp, when the head carries them (V3, and V2 signed in the query).
    pub fn credential(&self) -> Option<Credential<'_>> {
        match &self.kind {
            HeadKind::V3 { request, .. } => Some(Credential {
                access_key_id: &request.access_key_id,
                timestamp: request.timestamp,
            }),
            HeadKind::V2InQuery {
                credential: Some((access_key_id, timestamp)),
                ..
            } => Some(Credential {
                access_key_id,
                timestamp: *timestamp,
            }),
            HeadKind::V2InQuery { .. } | HeadKind::V2InBody { .. } => None,
        }
    }

    /// For a request whose head names no credential (V2 with its common parameters in a form
    /// body): the `AccessKeyId`, from the query or else from the complete `name=value` pairs at the
    /// start of the body. `body_start` is what has arrived of the body, `complete` whether that is
    /// all of it. `Ok(None)`: not there yet, read on.
    ///
    /// Errors: `MissingParameter` (`AccessKeyId`) when the whole body has arrived, or it is no form,
    /// without one; `IncompleteSignature` when the first [`BODY_SIGNER_WINDOW`] bytes do not name it.
    pub fn body_signer(
        &self,
        body_start: &[u8],
        complete: bool,
    ) -> Result<Option<String>, ApiError> {
        let query = match &self.kind {
            HeadKind::V3 { request, .. } => return Ok(Some(request.access_key_id.clone())),
            HeadKind::V2InQuery { query, .. } | HeadKind::V2InBody { query } => query,
        };
        if let Some((_, id)) = query.iter().find(|(name, _)| name == "AccessKeyId") {
            return Ok(Some(id.clone()));
        }
        if !is_form(self.head.headers) {
            return Err(ApiError::missing_parameter("AccessKeyId"));
        }
        // Only pairs followed by `&` are whole, unless the body is.
        let whole = if complete {
            body_start
        } else {
            let end = body_start.iter().rposition(|&b| b == b'&').unwrap_or(0);
            &body_start[..end]
        };
        if let Some((_, id)) = decode_form(whole)?
            .into_iter()
            .find(|(name, _)| name == "AccessKeyId")
        {
            return Ok(Some(id));
        }
        if complete {
            Err(ApiError::missing_parameter("AccessKeyId"))
        } else if body_start.len() >= BODY_SIGNER_WINDOW {
            Err(ApiError::incomplete_signature(format!(
                "AccessKeyId must come within the first {BODY_SIGNER_WINDOW} bytes of a form body"
            )))
        } else {
            Ok(None)
        }
    }

    /// Checks the signature where the head alone proves it (V3: `Ok(true)`); `Ok(false)` when it
    /// also covers the body (V2), to be checked with [`SignedRequest::verify`].
    pub fn verify(&self, access_key_secret: &str) -> Result<bool, ApiError> {
        match &self.kind {
            HeadKind::V3 { request, .. } => request.verify(access_key_secret).map(|()| true),
            HeadKind::V2InQuery { .. } | HeadKind::V2InBody { .. } => Ok(false),
        }
    }

    /// The whole request, once its body has arrived. For V3, `SignatureDoesNotMatch` when the body
    /// is not the one whose hash was signed.
    pub fn with_body(self, body: &[u8]) -> Result<SignedRequest, ApiError> {
        match self.kind {
            HeadKind::V3 {
                mut request,
                content_sha256,
                query,
            } => {
                let actual = request.algorithm.hash_hex(body);
                if !actual.eq_ignore_ascii_case(&content_sha256) {
                    return Err(mismatch(&request.string_to_sign));
                }
                request.params = merge_params(&query, self.head.headers, body)?
                    .into_iter()
                    .collect();
                Ok(*request)
            }
            HeadKind::V2InQuery { query, .. } | HeadKind::V2InBody { query } => {
                parse_v2(&self.head, query, body)
            }
        }
    }
}

/// `SignatureDoesNotMatch` quoting at most [`MAX_QUOTED_STRING_TO_SIGN`] bytes of `string_to_sign`.
fn mismatch(string_to_sign: &str) -> ApiError {
    let mut end = string_to_sign.len().min(MAX_QUOTED_STRING_TO_SIGN);
    while !string_to_sign.is_char_boundary(end) {
        end -= 1;
    }
    ApiError::signature_does_not_match(&string_to_sign[..end])
}

fn header_values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The one value of a header that must appear once.
fn single_header<'h>(headers: &'h [(String, String)], name: &str) -> Result<&'h str, ApiError> {
    match header_values(headers, name).as_slice() {
        [value] => Ok(value.trim()),
        [] => Err(ApiError::incomplete_signature(format!(
            "header {name} is missing"
        ))),
        _ => Err(ApiError::incomplete_signature(format!(
            "header {name} is given more than once"
        ))),
    }
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, ApiError> {
    NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT)
        .map(|t| t.and_utc())
        .map_err(|_| ApiError::timestamp_format())
}

fn check_nonce(nonce: &str, name: &str) -> Result<(), ApiError> {
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(ApiError::invalid_parameter(
            name,
            format!("must be 1 to {MAX_NONCE_LEN} bytes"),
        ));
    }
    Ok(())
}

fn is_form(headers: &[(String, String)]) -> bool {
    header_values(headers, "content-type")
        .first()
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Query pairs plus form-body pairs; a name given twice with different values is `InvalidParameter`.
fn merge_params(
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut all: Vec<(String, String)> = query.to_vec();
    if is_form(headers) && !body.is_empty() {
        all.extend(decode_form(body)?);
    }
    if all.len() > MAX_PARAMS {
        return Err(ApiError::invalid_parameter(
            "parameters",
            format!("more than {MAX_PARAMS} parameters"),
        ));
    }
    // Clients such as aliyun-python-sdk-core send RegionId both in the query and in the body,
    // and sign it once: the same value twice is one parameter, different values are refused.
    let mut seen: std::collections::HashMap<&str, &str> =
        std::collections::HashMap::with_capacity(all.len());
    let mut duplicates = std::collections::HashSet::new();
    for (index, (name, value)) in all.iter().enumerate() {
        match seen.insert(name.as_str(), value.as_str()) {
            None => {}
            Some(previous) if previous == value => {
                duplicates.insert(index);
            }
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    name,
                    "given more than once with different values",
                ));
            }
        }
    }
    let mut index = 0;
    all.retain(|_| {
        let keep = !duplicates.contains(&index);
        index += 1;
        keep
    });
    Ok(all)
}

struct Authorization<'a> {
    algorithm: Algorithm,
    credential: &'a str,
    signed_headers: &'a str,
    signature: Vec<u8>,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, ApiError> {
    let malformed = || ApiError::incomplete_signature("malformed Authorization header");
    let (algorithm, rest) = value.split_once(' ').ok_or_else(malformed)?;
    let algorithm = match algorithm {
        "ACS3-HMAC-SHA256" => Algorithm::Acs3HmacSha256,
        "ACS3-HMAC-SM3" => Algorithm::Acs3HmacSm3,
        other => {
            let shown: String = other.chars().take(64).collect();
            return Err(ApiError::invalid_parameter(
                "SignatureMethod",
                format!("{shown} is not supported"),
            ));
        }
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (key, value) = part.split_once('=').ok_or_else(malformed)?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed()),
        };
        if slot.replace(value).is_some() || value.is_empty() || value.contains(char::is_whitespace)
        {
            return Err(malformed());
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(malformed());
    };
    let signature = hex::decode(signature).map_err(|_| malformed())?;
    if signature.len() != 32 {
        return Err(malformed());
    }
    Ok(Authorization {
        algorithm,
        credential,
        signed_headers,
        signature,
    })
}

const V3_REQUIRED_HEADERS: [&str; 6] = [
    "host",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-action",
    "x-acs-version",
    "x-acs-content-sha256",
];

fn parse_v3_head<'a>(head: &HttpHead<'a>, authorization: &str) -> Result<Head<'a>, ApiError> {
    let auth = parse_authorization(authorization)?;
    let headers = head.headers;

    // SignedHeaders: lower-case, strictly sorted, covering what must be signed.
    let names: Vec<&str> = auth.signed_headers.split(';').collect();
    if names.len() > MAX_HEADERS {
        return Err(ApiError::incomplete_signature("too many signed headers"));
    }
    if names
        .iter()
        .any(|n| n.is_empty() || n.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(ApiError::incomplete_signature(
            "SignedHeaders must be lower-case header names",
        ));
    }
    if names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ApiError::incomplete_signature(
            "SignedHeaders must be sorted and without repeats",
        ));
    }
    let signed = |name: &str| names.binary_search(&name).is_ok();
    for required in V3_REQUIRED_HEADERS {
        if !signed(required) {
            return Err(ApiError::incomplete_signature(format!(
                "header {required} must be signed"
            )));
        }
    }
    for (name, _) in headers {
        let lower = name.to_ascii_lowercase();
        if (lower == "content-type" || lower.starts_with("x-acs-")) && !signed(&lower) {
            return Err(ApiError::incomplete_signature(format!(
                "header {lower} must be signed"
            )));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let mut values: Vec<&str> = header_values(headers, name)
            .into_iter()
            .map(str::trim)
            .collect();
        if values.is_empty() {
            return Err(ApiError::incomplete_signature(format!(
                "signed header {name} is missing"
            )));
        }
        values.sort_unstable();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }

    let action = single_header(headers, "x-acs-action")?.to_owned();
    let version = single_header(headers, "x-acs-version")?.to_owned();
    let nonce = single_header(headers, "x-acs-signature-nonce")?.to_owned();
    check_nonce(&nonce, "x-acs-signature-nonce")?;
    let timestamp = parse_timestamp(single_header(headers, "x-acs-date")?)?;
    let content_sha256 = single_header(headers, "x-acs-content-sha256")?;
    let security_token = match header_values(headers, "x-acs-security-token").as_slice() {
        [] => None,
        [token] => Some(token.trim().to_owned()),
        _ => {
            return Err(ApiError::incomplete_signature(
                "header x-acs-security-token is given more than once",
            ));
        }
    };

    let query = decode_form(head.query.as_bytes())?;

    let mut sorted_query: Vec<&(String, String)> = query.iter().collect();
    sorted_query.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical_query_string = sorted_query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode_rfc3986(k),
                percent_encode_rfc3986(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    // The signed hash of the body stands for the body until it arrives (`Head::with_body`).
    let canonical = canonical_v3(
        auth.algorithm,
        head.method,
        canonical_uri(head.path),
        canonical_query_string,
        canonical_headers,
        auth.signed_headers.to_owned(),
        content_sha256.to_owned(),
    );
    let string_to_sign = format!(
        "{}\n{}",
        auth.algorithm.name(),
        canonical.hashed_canonical_request
    );
    let request = SignedRequest {
        algorithm: auth.algorithm,
        access_key_id: auth.credential.to_owned(),
        security_token,
        nonce,
        timestamp,
        action,
        version,
        params: FlatParams::new(),
        string_to_sign,
        proof: Proof::V3 {
            canonical,
            signature: auth.signature,
        },
    };
    Ok(Head {
        head: *head,
        kind: HeadKind::V3 {
            request: Box::new(request),
            content_sha256: content_sha256.to_owned(),
            query,
        },
    })
}

/// The path decoded and re-encoded segment-wise (RFC 3986, `/` kept); `/` when empty.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    decoded
        .split(|&b| b == b'/')
        .map(percent_encode_bytes)
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_v3(
    algorithm: Algorithm,
    method: &str,
    canonical_uri: String,
    canonical_query_string: String,
    canonical_headers: String,
    signed_headers: String,
    hashed_payload: String,
) -> CanonicalV3 {
    let canonical_request = format!(
        "{method}\n{canonical_uri}\n{canonical_query_string}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}"
    );
    let hashed_canonical_request = algorithm.hash_hex(canonical_request.as_bytes());
    CanonicalV3 {
        hashed_payload,
        canonical_uri,
        canonical_query_string,
        canonical_headers,
        signed_headers,
        canonical_request,
        hashed_canonical_request,
    }
}

const V2_REQUIRED: [&str; 8] = [
    "Action",
    "Version",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
];

fn parse_v2(
    head: &HttpHead<'_>,
    query: Vec<(String, String)>,
    body: &[u8],
) -> Result<SignedRequest, ApiError> {
    let all = merge_params(&query, head.headers, body)?;
    let get = |name: &str| all.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    for name in V2_REQUIRED {
        if get(name).is_none() {
            return Err(ApiError::missing_parameter(name));
        }
    }
    let required = |name: &str| get(name).ok_or_else(|| ApiError::missing_parameter(name));
    if required("SignatureMethod")? != "HMAC-SHA1" {
        return Err(ApiError::invalid_parameter(
            "SignatureMethod",
            "only HMAC-SHA1 is supported",
        ));
    }
    if required("SignatureVersion")? != "1.0" {
        return Err(ApiError::invalid_parameter(
            "SignatureVersion",
            "only 1.0 is supported",
        ));
    }
    if let Some(format) = get("Format")
        && !format.eq_ignore_ascii_case("json")
        && !format.eq_ignore_ascii_case("xml")
    {
        return Err(ApiError::invalid_parameter("Format", "must be JSON or XML"));
    }
    let nonce = required("SignatureNonce")?.to_owned();
    check_nonce(&nonce, "SignatureNonce")?;
    let timestamp = parse_timestamp(required("Timestamp")?)?;
    let signature = required("Signature")?.to_owned();
    let access_key_id = required("AccessKeyId")?.to_owned();
    let action = required("Action")?.to_owned();
    let version = required("Version")?.to_owned();
    let security_token = get("SecurityToken").map(str::to_owned);

    let canonicalized_query_string =
        v2_canonical_query(all.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let string_to_sign = v2_string_to_sign(head.method, &canonicalized_query_string);
    let params = all
        .into_iter()
        .filter(|(k, _)| !V2_COMMON_PARAMS.contains(&k.as_str()))
        .collect();
    Ok(SignedRequest {
        algorithm: Algorithm::HmacSha1,
        access_key_id,
        security_token,
        nonce,
        timestamp,
        action,
        version,
        params,
        string_to_sign,
        proof: Proof::V2 {
            canonicalized_query_string,
            signature,
        },
    })
}

/// Sorted `enc(k)=enc(v)` of every parameter but `Signature`, joined with `&`.
fn v2_canonical_query<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params.filter(|(k, _)| *k != "Signature").collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode_rfc3986(k),
                percent_encode_rfc3986(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn v2_string_to_sign(method: &str, canonicalized_query_string: &str) -> String {
    format!(
        "{method}&%2F&{}",
        percent_encode_rfc3986(canonicalized_query_string)
    )
}

fn v2_signature(secret: &str, string_to_sign: &str) -> String {
    use base64::Engine;
    let key = format!("{secret}&");
    base64::engine::general_purpose::STANDARD
        .encode(Algorithm::HmacSha1.hmac(key.as_bytes(), string_to_sign.as_bytes()))
}

impl SignedRequest {
    /// `InvalidTimeStamp.Expired` outside the [`REPLAY_WINDOW`] around `now`.
    pub fn check_timestamp(&self, now: DateTime<Utc>) -> Result<(), ApiError> {
        check_timestamp(self.timestamp, now)
    }

    /// Checks the signature with the caller's secret: `SignatureDoesNotMatch` (with the server's
    /// string to sign) when it differs. (A V3 body that does not match its signed hash never
    /// got this far: [`Head::with_body`] refused it.)
    pub fn verify(&self, access_key_secret: &str) -> Result<(), ApiError> {
        let matches = match &self.proof {
            Proof::V3 { signature, .. } => {
                let expected = self
                    .algorithm
                    .hmac(access_key_secret.as_bytes(), self.string_to_sign.as_bytes());
                expected.ct_eq(signature).into()
            }
            Proof::V2 { signature, .. } => {
                let expected = v2_signature(access_key_secret, &self.string_to_sign);
                expected.as_bytes().ct_eq(signature.as_bytes()).into()
            }
        };
        if matches {
            Ok(())
        } else {
            Err(mismatch(&self.string_to_sign))
        }
    }

    /// The business parameters, everything else dropped.
    pub fn into_params(self) -> FlatParams {
        self.params
    }

    /// The string to sign the server computed (public: it holds no secret).
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// The V3 canonical request and its parts; `None` for V2.
    pub fn canonical_v3(&self) -> Option<&CanonicalV3> {
        match &self.proof {
            Proof::V3 { canonical, .. } => Some(canonical),
            Proof::V2 { .. } => None,
        }
    }

    /// The V2 canonicalized query string; `None` for V3.
    pub fn canonicalized_query_v2(&self) -> Option<&str> {
        match &self.proof {
            Proof::V2 {
                canonicalized_query_string,
                ..
            } => Some(canonicalized_query_string),
            Proof::V3 { .. } => None,
        }
    }

    /// The signature this secret would give (lower hex for V3, base64 for V2).
    pub fn expected_signature(&self, access_key_secret: &str) -> String {
        match self.proof {
            Proof::V3 { .. } => hex::encode(
                self.algorithm
                    .hmac(access_key_secret.as_bytes(), self.string_to_sign.as_bytes()),
            ),
            Proof::V2 { .. } => v2_signature(access_key_secret, &self.string_to_sign),
        }
    }
}

/// What a client signs.
#[derive(Debug, Clone)]
pub struct SigningInput<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub query: &'a FlatParams,
    pub form: &'a FlatParams,
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
    /// The security token of a temporary (`STS.`) key, signed with the request.
    pub security_token: Option<&'a str>,
    pub nonce: &'a str,
    pub timestamp: DateTime<Utc>,
}

/// A signed request ready to send.
#[derive(Debug, Clone)]
pub struct SignedHttpRequest {
    pub method: String,
    /// Path and query, e.g. `/?Action=...`.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

fn path_and_query(query: &str) -> String {
    if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{query}")
    }
}

/// Signs like the Python SDK's default `ACS3-HMAC-SHA256`: query in the URL, form body (keys sorted,
/// `quote_plus`), headers `host`, `x-acs-*`, `content-type` when there is a body, all of them signed.
pub fn sign_v3(input: &SigningInput<'_>) -> SignedHttpRequest {
    let algorithm = Algorithm::Acs3HmacSha256;
    let body = encode_form(input.form.iter()).into_bytes();
    let hashed_payload = algorithm.hash_hex(&body);
    let mut headers: Vec<(String, String)> = vec![
        ("host".to_owned(), input.host.to_owned()),
        ("x-acs-version".to_owned(), input.version.to_owned()),
        ("x-acs-action".to_owned(), input.action.to_owned()),
        (
            "x-acs-date".to_owned(),
            input.timestamp.format(TIMESTAMP_FORMAT).to_string(),
        ),
        ("x-acs-signature-nonce".to_owned(), input.nonce.to_owned()),
    ];
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()));
    }
    if let Some(token) = input.security_token {
        headers.push(("x-acs-security-token".to_owned(), token.to_owned()));
    }
    headers.push(("x-acs-content-sha256".to_owned(), hashed_payload.clone()));

    let mut signed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.trim()))
        .collect();
    signed.sort_unstable();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = signed.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
    let canonical_query_string = input
        .query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode_rfc3986(k),
                percent_encode_rfc3986(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let canonical = canonical_v3(
        algorithm,
        input.method,
        "/".to_owned(),
        canonical_query_string,
        canonical_headers,
        signed_headers,
        hashed_payload,
    );
    let string_to_sign = format!(
        "{}\n{}",
        algorithm.name(),
        canonical.hashed_canonical_request
    );
    let signature = hex::encode(algorithm.hmac(
        input.access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    headers.push((
        "authorization".to_owned(),
        format!(
            "{} Credential={},SignedHeaders={},Signature={signature}",
            algorithm.name(),
            input.access_key_id,
            canonical.signed_headers
        ),
    ));
    SignedHttpRequest {
        method: input.method.to_owned(),
        path_and_query: path_and_query(&encode_form(input.query.iter())),
        headers,
        body,
    }
}

/// Signs like the Python SDK with `signature_algorithm='v2'`: the common parameters (`Format=json`)
/// and the business query in the URL, the form in the body, the HMAC-SHA1 signature over both.
pub fn sign_v2(input: &SigningInput<'_>) -> SignedHttpRequest {
    let timestamp = input.timestamp.format(TIMESTAMP_FORMAT).to_string();
    let mut query: Vec<(&str, &str)> = vec![
        ("Action", input.action),
        ("Format", "json"),
        ("Version", input.version),
        ("Timestamp", &timestamp),
        ("SignatureNonce", input.nonce),
    ];
    query.extend(input.query.iter());
    query.extend([
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", input.access_key_id),
    ]);
    if let Some(token) = input.security_token {
        query.push(("SecurityToken", token));
    }
    let canonical = v2_canonical_query(query.iter().copied().chain(input.form.iter()));
    let signature = v2_signature(
        input.access_key_secret,
        &v2_string_to_sign(input.method, &canonical),
    );
    query.push(("Signature", &signature));

    let body = encode_form(input.form.iter()).into_bytes();
    let mut headers = vec![
        ("host".to_owned(), input.host.to_owned()),
        ("x-acs-version".to_owned(), input.version.to_owned()),
        ("x-acs-action".to_owned(), input.action.to_owned()),
    ];
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()));
    }
    SignedHttpRequest {
        method: input.method.to_owned(),
        path_and_query: path_and_query(&encode_form(query)),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_head<'a>(query: &'a str, headers: &'a [(String, String)]) -> Head<'a> {
        parse_head(&HttpHead {
            method: "POST",
            path: "/",
            query,
            headers,
        })
        .expect("a form body may hold the signature")
    }

    fn code<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        result.expect_err("refused").code.into_owned()
    }

    fn form_headers() -> Vec<(String, String)> {
        vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )]
    }

    /// Issue 11: a V2 request signed in its form body named its signer only once the whole body
    /// was buffered; the key is now read from the first bytes.
    #[test]
    fn the_signer_of_a_form_body_is_read_from_its_first_pairs() {
        let headers = form_headers();
        let head = form_head("", &headers);
        assert_eq!(head.body_signer(b"AccessKeyId=LTAI", false), Ok(None));
        assert_eq!(
            head.body_signer(b"AccessKeyId=LTAI%41b&Action=Describe", false),
            Ok(Some("LTAIAb".to_owned()))
        );
        assert_eq!(
            head.body_signer(b"Action=x&AccessKeyId=LTAIcomplete", true),
            Ok(Some("LTAIcomplete".to_owned()))
        );
        assert_eq!(
            code(head.body_signer(b"Action=x&Version=y", true)),
            "MissingParameter"
        );
    }

    #[test]
    fn a_form_body_that_does_not_name_its_signer_early_is_refused() {
        let headers = form_headers();
        let head = form_head("", &headers);
        let padding = vec![b'A'; BODY_SIGNER_WINDOW - 1];
        assert_eq!(head.body_signer(&padding, false), Ok(None));
        let mut late = format!("Pad={}&", "A".repeat(BODY_SIGNER_WINDOW)).into_bytes();
        assert_eq!(code(head.body_signer(&late, false)), "IncompleteSignature");
        late.extend_from_slice(b"AccessKeyId=x&");
        assert_eq!(
            head.body_signer(&late, false),
            Ok(Some("x".to_owned())),
            "a key already there is found whatever came before"
        );
    }

    /// Issue 11: the quoted string to sign grew with the body (13.5 MB for an 8 MB form).
    #[test]
    fn a_mismatch_quotes_the_start_of_a_long_string_to_sign() {
        let long = format!("POST&%2F&{}", "%2500".repeat(100_000));
        let error = mismatch(&long);
        assert!(error.message.len() < MAX_QUOTED_STRING_TO_SIGN + 200);
        assert!(error.message.ends_with(&long[..MAX_QUOTED_STRING_TO_SIGN]));
        assert!(mismatch("GET&%2F&a").message.ends_with("is:GET&%2F&a"));
        // never cut inside a character
        let wide = "é".repeat(MAX_QUOTED_STRING_TO_SIGN);
        assert!(mismatch(&wide).message.ends_with('é'));
    }

    #[test]
    fn the_query_names_the_signer_before_the_body() {
        let headers = form_headers();
        let head = form_head("Signature=abc&AccessKeyId=fromquery", &headers);
        assert_eq!(
            head.body_signer(b"", false),
            Ok(Some("fromquery".to_owned()))
        );
        let plain: Vec<(String, String)> = Vec::new();
        let head = parse_head(&HttpHead {
            method: "GET",
            path: "/",
            query: "Signature=abc",
            headers: &plain,
        })
        .expect("parses");
        assert_eq!(
            code(head.body_signer(b"AccessKeyId=x&", false)),
            "MissingParameter",
            "only a form body carries parameters"
        );
    }
}
