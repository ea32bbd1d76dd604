//! Percent-encoding as the signatures need it (RFC 3986) and form decoding as the SDKs send it.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::ApiError;

/// Every byte is encoded except the RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~`.
pub(crate) const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Upper bound on the number of `name=value` pairs [`decode_form`] accepts.
pub const MAX_FORM_PAIRS: usize = 10_000;

/// RFC 3986 encoding: `A-Z a-z 0-9 - _ . ~` kept, every other byte of the UTF-8 `%XX` upper-case.
pub fn percent_encode_rfc3986(value: &str) -> String {
    utf8_percent_encode(value, RFC3986).to_string()
}

/// RFC 3986 encoding of raw bytes (for path segments, which need not be UTF-8).
pub(crate) fn percent_encode_bytes(value: &[u8]) -> String {
    percent_encoding::percent_encode(value, RFC3986).to_string()
}

/// Encodes like Python's `urllib.parse.quote_plus` with the SDKs' settings: RFC 3986 except that a
/// space becomes `+`. This is what the SDKs put on the wire for queries and form bodies.
pub fn form_urlencode_value(value: &str) -> String {
    value
        .split(' ')
        .map(percent_encode_rfc3986)
        .collect::<Vec<_>>()
        .join("+")
}

/// Encodes pairs as `application/x-www-form-urlencoded` in the given order (`quote_plus` style).
pub fn encode_form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&form_urlencode_value(name));
        out.push('=');
        out.push_str(&form_urlencode_value(value));
    }
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one form component: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        match byte {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err("invalid percent-escape".to_owned()),
                }
                i += 3;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "not valid UTF-8".to_owned())
}

/// Decodes `application/x-www-form-urlencoded` bytes (also a raw query string): `+` is a space,
/// `%XX` a byte; names and values must be UTF-8.
///
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` is a name with an empty value.
/// An invalid escape, invalid UTF-8 or more than [`MAX_FORM_PAIRS`] pairs give `InvalidParameter`.
pub fn decode_form(raw: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for segment in raw.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        if pairs.len() >= MAX_FORM_PAIRS {
            return Err(ApiError::invalid_parameter(
                "parameters",
                format!("more than {MAX_FORM_PAIRS} parameters"),
            ));
        }
        let (raw_name, raw_value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (&segment[..at], &segment[at + 1..]),
            None => (segment, &b""[..]),
        };
        let name = decode_component(raw_name).map_err(|reason| {
            let shown = String::from_utf8_lossy(&raw_name[..raw_name.len().min(64)]).into_owned();
            ApiError::invalid_parameter(&shown, reason)
        })?;
        let value = decode_component(raw_value)
            .map_err(|reason| ApiError::invalid_parameter(&name, reason))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_rfc3986() {
        assert_eq!(
            percent_encode_rfc3986("a b*c~d/e+f=g&h"),
            "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h"
        );
        assert_eq!(
            percent_encode_rfc3986("中文 ü"),
            "%E4%B8%AD%E6%96%87%20%C3%BC"
        );
        assert_eq!(percent_encode_rfc3986("AZaz09-_.~"), "AZaz09-_.~");
    }

    #[test]
    fn encodes_like_quote_plus() {
        assert_eq!(
            form_urlencode_value("a b&c=d/é~*"),
            "a+b%26c%3Dd%2F%C3%A9~%2A"
        );
    }

    #[test]
    fn decodes_forms() {
        let pairs = decode_form(b"Name=a+b%2Ac~d&Empty=&Bare&&X=%E4%B8%AD").unwrap_or_default();
        assert_eq!(
            pairs,
            vec![
                ("Name".to_owned(), "a b*c~d".to_owned()),
                ("Empty".to_owned(), String::new()),
                ("Bare".to_owned(), String::new()),
                ("X".to_owned(), "中".to_owned()),
            ]
        );
    }

    #[test]
    fn rejects_bad_escapes_and_utf8() {
        for raw in [&b"a=%"[..], b"a=%4", b"a=%zz", b"a=%FF", b"%=1", b"a=\xff"] {
            let err = decode_form(raw).err().map(|e| e.code.into_owned());
            assert_eq!(err.as_deref(), Some("InvalidParameter"), "{raw:?}");
        }
    }
}
