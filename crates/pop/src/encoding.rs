//! Percent-encoding as the signatures need it (RFC 3986) and form decoding as the SDKs send it.

use crate::ApiError;

/// RFC 3986 encoding: `A-Z a-z 0-9 - _ . ~` kept, every other byte of the UTF-8 `%XX` upper-case.
pub fn percent_encode_rfc3986(value: &str) -> String {
    let _ = value;
    unimplemented!("stub")
}

/// Decodes `application/x-www-form-urlencoded` bytes (also a raw query string): `+` is a space,
/// `%XX` a byte; names and values must be UTF-8.
pub fn decode_form(raw: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let _ = raw;
    unimplemented!("stub")
}
