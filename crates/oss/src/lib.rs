//! The OSS object-storage protocol as amc's upload endpoint speaks it, pure: request signatures
//! ([`signature`]: V1 `OSS <id>:<sig>` over HMAC-SHA1 and V4 `OSS4-HMAC-SHA256`, computed exactly
//! as the official SDKs `oss2` and `alibabacloud-oss-v2` compute them), the XML error body
//! ([`OssError`]) and the multipart-upload documents ([`multipart`]).

mod error;
pub mod multipart;
pub mod signature;

pub use error::OssError;
pub use signature::{Authorization, Request, verify};

/// Characters left as they are when the protocol percent-encodes (RFC 3986 unreserved).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `s` percent-encoded as Python's `quote(s, safe='/')` does (what V4's canonical URI takes).
pub fn uri_encode_path(s: &str) -> String {
    const PATH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');
    percent_encoding::utf8_percent_encode(s, PATH).to_string()
}

/// `s` percent-encoded with nothing but the unreserved characters kept (query keys and values).
pub fn uri_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The bucket and object key of a path-style request path (`/<bucket>/<key>`, percent-encoded):
/// `None` when the path does not decode to UTF-8.
pub fn split_path(raw_path: &str) -> Option<(String, String)> {
    let decoded = percent_encoding::percent_decode_str(raw_path)
        .decode_utf8()
        .ok()?;
    let rest = decoded.strip_prefix('/')?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Some((bucket.to_string(), key.to_string()))
}

/// Whether an object key is one amc stores: 1–1023 bytes, no empty, `.` or `..` segment, no
/// backslash or control character, not starting with `/` (OSS's `InvalidObjectName` rules, and
/// what keeps a key a path inside the bucket's folder).
pub fn valid_object_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1023
        && !key.chars().any(|c| c.is_control() || c == '\\')
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// The ETag of an object put whole: its MD5, uppercase hex, quoted (as OSS returns it).
pub fn etag_of_md5(md5: &[u8]) -> String {
    format!("\"{}\"", hex::encode_upper(md5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_bucket_and_decoded_key() {
        assert_eq!(
            split_path("/amc-skills/tenants/t-1/skill/a%20b.zip"),
            Some(("amc-skills".into(), "tenants/t-1/skill/a b.zip".into()))
        );
        assert_eq!(
            split_path("/amc-skills"),
            Some(("amc-skills".into(), "".into()))
        );
        assert_eq!(split_path("/b/%FF"), None);
    }

    #[test]
    fn object_keys_stay_inside_the_bucket() {
        assert!(valid_object_key("tenants/t-1/skill/weather.zip"));
        assert!(valid_object_key("tenants/t-1/skill/天气 v2.zip"));
        for bad in ["", "/abs", "a//b", "a/../b", "./a", "a/.", "a\\b", "a\nb"] {
            assert!(!valid_object_key(bad), "{bad:?}");
        }
        assert!(!valid_object_key(&"k".repeat(1024)));
    }

    #[test]
    fn encoding_matches_python_quote() {
        assert_eq!(uri_encode_path("/b/a b/ü~.zip"), "/b/a%20b/%C3%BC~.zip");
        assert_eq!(uri_encode("a/b=c"), "a%2Fb%3Dc");
    }
}
