//! Verifying (server) and producing (client) V3 and V2 request signatures.

use chrono::{DateTime, Utc};

use crate::{ApiError, FlatParams};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Acs3HmacSha256,
    Acs3HmacSm3,
    HmacSha1,
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
}

pub fn parse_request(request: &HttpRequest<'_>) -> Result<SignedRequest, ApiError> {
    let _ = request;
    unimplemented!("stub")
}

impl SignedRequest {
    pub fn check_timestamp(&self, now: DateTime<Utc>) -> Result<(), ApiError> {
        let _ = now;
        unimplemented!("stub")
    }
    pub fn verify(&self, access_key_secret: &str) -> Result<(), ApiError> {
        let _ = access_key_secret;
        unimplemented!("stub")
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

pub fn sign_v3(input: &SigningInput<'_>) -> SignedHttpRequest {
    let _ = input;
    unimplemented!("stub")
}

pub fn sign_v2(input: &SigningInput<'_>) -> SignedHttpRequest {
    let _ = input;
    unimplemented!("stub")
}
